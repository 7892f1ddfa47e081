"""Dask schedulers: chunks run on the workers of a LocalCluster give the result of local threads,
bit for bit (robustness runs, converged runs and Saltelli evaluations)."""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from weightlab.errors import ParameterError  # noqa: E402
from weightlab.robustness.convergence import Convergence  # noqa: E402
from weightlab.robustness.design import SaltelliDesign  # noqa: E402
from weightlab.robustness.engine import evaluate, run_plan  # noqa: E402
from weightlab.robustness.sensitivity import factors  # noqa: E402

from .test_checkpoint import _plan, assert_same  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two workers in this process (threads: quick to start; each worker runs one chunk at a time)."""
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as c:
        yield c


def test_dask_run_is_bit_identical_to_local_threads(client):
    plan = _plan(6000)
    seen = []
    got = run_plan(plan, scheduler=client, chunk_size=700, progress=lambda done, total: seen.append(done))
    assert_same(run_plan(plan, threads=2), got)
    # 0 when the replications start (compilation excluded from rates), then per chunk, in order
    assert seen == sorted(seen) and seen[0] == 0 and seen[-1] == 6000 and len(seen) == 9
    assert len(client.scheduler_info()["workers"]) == 2


def test_dask_converged_run_and_saltelli_evaluations_match(client):
    plan = _plan(1)
    rule = lambda: Convergence((0.05, 0.5, 0.95), tolerance=0.8, max_reps=256 * 30, batch_reps=256, min_batches=5)
    a, b = rule(), rule()
    assert_same(run_plan(plan, until=a), run_plan(plan, until=b, scheduler=client))
    np.testing.assert_array_equal(a.batch_quantiles, b.batch_quantiles)
    design = SaltelliDesign(plan.columns.n_cols, list(factors(plan).values()), 64, seed=3)
    r1, s1 = evaluate(plan, design, scores=True)
    r2, s2 = evaluate(plan, design, scores=True, scheduler=client, chunk_size=300)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(s1, s2)


def test_dask_coarse_counts_and_exact_pass_match_local_threads(client):
    """Coarse rank counts (many units) on workers: both passes and the exact segments."""
    plan = _plan(3000)
    local, got = run_plan(plan, bands="coarse"), run_plan(plan, bands="coarse", scheduler=client, chunk_size=700)
    assert got.coarse and got.exact is not None
    for a, b in zip((*local.counts, local.exact_counts), (*got.counts, got.exact_counts)):
        np.testing.assert_array_equal(a, b)


def test_bad_scheduler_address_is_one_clear_error():
    with pytest.raises(ParameterError, match="threads, local or a Dask scheduler address"):
        run_plan(_plan(100), scheduler="myhost:8786")


@pytest.mark.slow
def test_cli_scheduler_local_writes_the_threads_result(tmp_path):
    """``--scheduler local`` starts a LocalCluster of worker processes (slow to start: imports)."""
    import pandas as pd

    from weightlab.cli import main

    from .helpers import random_dataset

    ds = random_dataset()
    ds.values.to_csv(tmp_path / "d.csv")
    ds.framework.to_toml(tmp_path / "f.toml")
    (tmp_path / "s.toml").write_text('seed = 9\nreps = 3000\n[weights]\nperturb = "uniform"\nspread = 0.4\n')
    args = [str(tmp_path / "d.csv"), "-f", str(tmp_path / "f.toml"), "--spec", str(tmp_path / "s.toml")]
    assert main(["robustness", *args, "--out", str(tmp_path / "a")]) == 0
    assert main(["robustness", *args, "--scheduler", "local", "--chunk-size", "1024",
                 "--out", str(tmp_path / "b")]) == 0
    for name in ("ranks.csv", "choice_shares.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / name), pd.read_csv(tmp_path / "b" / name))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "rank_frequency.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "rank_frequency.parquet"))


def test_repeated_runs_on_one_client_do_not_lose_the_scattered_plan(client):
    """Each run scatters its plan under its own key: an earlier run's payload being released must not
    take the next run's with it."""
    plan = _plan(2000)
    want = run_plan(plan, threads=1)
    for _ in range(3):
        assert_same(want, run_plan(plan, scheduler=client, chunk_size=512))
