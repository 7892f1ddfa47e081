"""Checkpoint and resume: a run interrupted anywhere (even by SIGKILL) and resumed ends bit-identical
to an unbroken run; a resume with other inputs is refused."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from weightlab.errors import InputError
from weightlab.robustness.checkpoint import load_checkpoint, run_fingerprint
from weightlab.robustness.design import StreamDesign
from weightlab.robustness.engine import run_plan
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.spec import UncertaintySpec

from .helpers import random_dataset

SPEC = {"seed": 11, "weights": {"perturb": "uniform", "spread": 0.3},
        "choices": {"normalizer": ["minmax", "zscore"], "imputation": ["mean", "median"],
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.05}]}}
ROOT = Path(__file__).resolve().parents[1]


def _plan(reps: int, seed: int = 11):
    return compile_plan(random_dataset(missing=5), UncertaintySpec.from_dict({**SPEC, "reps": reps, "seed": seed}))


def assert_same(a, b) -> None:
    assert a.reps == b.reps
    np.testing.assert_array_equal(a.rank_hist, b.rank_hist)
    np.testing.assert_array_equal(a.counts.score_hist, b.counts.score_hist)
    assert list(a.counts.score_q) == list(b.counts.score_q) and list(a.counts.score_q2) == list(b.counts.score_q2)
    np.testing.assert_array_equal(a.counts.nan_count, b.counts.nan_count)
    np.testing.assert_array_equal(a.counts.choice_count, b.counts.choice_count)
    np.testing.assert_array_equal(a.bin_lo, b.bin_lo)
    np.testing.assert_array_equal(a.bin_hi, b.bin_hi)


class _Stop(Exception):
    pass


def test_interrupted_run_resumes_to_the_unbroken_result(tmp_path):
    plan = _plan(5000)
    whole = run_plan(plan, threads=2)
    ckpt = tmp_path / "run.ckpt"
    calls = []

    def stop_after_three(done, total):
        if done == 0:  # the replications start (the kernels are compiled): not a chunk
            return
        calls.append(done)
        if len(calls) == 3:
            raise _Stop

    with pytest.raises(_Stop):
        run_plan(plan, threads=1, chunk_size=512, progress=stop_after_three, checkpoint=ckpt, checkpoint_every=0)
    state = load_checkpoint(ckpt, run_fingerprint(plan, StreamDesign(plan.columns.n_cols)))
    assert state.next_block == 3 * 512 // 128  # saved after every chunk (checkpoint_every=0)
    assert state.accumulators.rank_hist.sum() == 3 * 512 * plan.n_units
    resumed = run_plan(plan, threads=2, chunk_size=1024, resume=ckpt, checkpoint=ckpt)
    assert_same(whole, resumed)
    # the final checkpoint holds the whole run: resuming it again changes nothing
    assert_same(whole, run_plan(plan, resume=ckpt))


def test_resume_with_other_inputs_is_refused(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    run_plan(_plan(300), checkpoint=ckpt)
    for other in (_plan(300, seed=12), _plan(400)):
        with pytest.raises(InputError, match="written for other inputs"):
            run_plan(other, resume=ckpt)
    with pytest.raises(InputError, match="no such file"):
        run_plan(_plan(300), resume=tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a weightlab checkpoint"):
        run_plan(_plan(300), resume=tmp_path / "junk.ckpt")


CHILD = textwrap.dedent("""
    import sys, time
    from tests.test_checkpoint import _plan
    from weightlab.robustness.engine import run_plan

    def slow(done, total):
        if done == 0:  # the replications start (the kernels are compiled): not a chunk
            return
        print(done, flush=True)
        time.sleep(0.03)

    run_plan(_plan(int(sys.argv[2])), threads=1, chunk_size=128, progress=slow, checkpoint=sys.argv[1],
             checkpoint_every=0)
    print("finished", flush=True)
""")


@pytest.mark.slow
def test_sigkill_at_a_random_point_then_resume_is_bit_identical(tmp_path):
    reps = 128 * 60
    ckpt = tmp_path / "run.ckpt"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ckpt), str(reps)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == "128"  # compiled and running
        time.sleep(random.Random().uniform(0.0, 1.0))  # a random point of a ~2 s run
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL
    plan = _plan(reps)
    state = load_checkpoint(ckpt, run_fingerprint(plan, StreamDesign(plan.columns.n_cols)))
    assert 0 < state.next_block < reps // 128  # killed in the middle
    resumed = run_plan(plan, threads=2, resume=ckpt)
    assert_same(run_plan(plan, threads=2), resumed)



def test_cold_cache_notice_once_on_stderr_and_silent_when_cached(tmp_path, capsys):
    """A cached kernel in a fresh module: cold before its first call (one notice on stderr, even
    when stderr is not a terminal), warm after it, and warm in a new process that finds the cache."""
    from weightlab.robustness import jit

    (tmp_path / "tiny_kernel.py").write_text("import numba\n@numba.njit(cache=True)\ndef f(x):\n    return x + 1\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import tiny_kernel\n"
            "from weightlab.robustness.jit import is_cold\n"
            "cold = is_cold(tiny_kernel.f); tiny_kernel.f(1); print(cold, is_cold(tiny_kernel.f))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True)
            for _ in range(2)]
    assert [r.stdout.split() for r in runs] == [["True", "False"], ["False", "False"]]
    monkey = jit._NOTIFIED
    try:
        jit._NOTIFIED = False

        class Cold:  # a dispatcher with nothing compiled and no cache
            signatures = []
            _cache = None

        assert jit.notify_if_cold(Cold()) and not jit.notify_if_cold(Cold())  # once per process
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and "compiling the Monte Carlo kernels" in err[0]
    finally:
        jit._NOTIFIED = monkey
