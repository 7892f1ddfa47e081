"""Bit-identity check of the engine's results before and after a change meant to leave them alone.

Usage: run it on the tree before the change and on the tree after it (the tree under test is the
one ``import weightlab`` finds, e.g. through PYTHONPATH or a git worktree), then compare:

    PYTHONPATH=../before python benchmarks/bit_identity.py --out /tmp/before.json
    python benchmarks/bit_identity.py --out /tmp/after.json --against /tmp/before.json

    options: --quick (skip the slow many-units / Dask / sensitivity cases), --only NAME[,NAME...]

It runs ``weightlab.robustness.engine.run`` (public entry point) on every spec of tests/test_engine.py
(taken from the tree under test, so keep SPECS there unchanged) on the tests' random dataset, plus: one
and two threads and odd chunk sizes, until-converged, checkpoint + resume, band counts (3,000 units),
coarse counts (30,000 units), the demo spec on the built-in AI cities (synthetic values), the treatment
factor, Sobol' sensitivity, and a Dask LocalCluster run. For each case it hashes every result table
(ranks, rank_frequency, choice_shares; sensitivity's tables) as bytes of their values + column names.
Timing and manifest fields are not hashed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import weightlab

TREE = Path(weightlab.__file__).resolve().parents[1]
sys.path.insert(0, str(TREE))

from tests.helpers import random_dataset  # noqa: E402
from tests.test_engine import SPECS  # noqa: E402

from weightlab.robustness.engine import run  # noqa: E402
from weightlab.robustness.spec import UncertaintySpec  # noqa: E402


def frame_hash(df: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr(list(map(str, df.columns))).encode())
    for c in df.columns:
        col = df[c]
        if col.dtype.kind in "fiub":
            h.update(np.ascontiguousarray(col.to_numpy()).tobytes())
        else:
            h.update("\x1f".join(map(str, col.tolist())).encode())
    h.update(repr(list(map(str, df.index[:5]))).encode())
    return h.hexdigest()[:16]


def result_hashes(res) -> dict:
    out = {}
    for name in ("ranks", "rank_frequency", "choice_shares"):
        df = getattr(res, name, None)
        if isinstance(df, pd.DataFrame):
            out[name] = frame_hash(df)
    return out


def spec(doc: dict, reps: int) -> UncertaintySpec:
    return UncertaintySpec.from_dict({"reps": reps, **doc}, source="bit-identity")


def cases(quick: bool):
    small = random_dataset(missing=0)
    missing = random_dataset(missing=12)
    for name, doc in SPECS.items():
        ds = missing if ("missing" in name or "bootstrap" in name) else small
        yield f"engine:{name}", lambda ds=ds, doc=doc: result_hashes(run(ds, spec(doc, 3000), threads=2))
    base = SPECS["uniform-noise-normalizers"]
    yield "threads1-chunk333", lambda: result_hashes(run(small, spec(base, 5000), threads=1, chunk_size=333))
    yield "threads2-chunk700", lambda: result_hashes(run(small, spec(base, 5000), threads=2, chunk_size=700))

    def converged():
        from weightlab.robustness.convergence import Convergence
        rule = Convergence((0.05, 0.5, 0.95), tolerance=0.8, max_reps=256 * 60, batch_reps=256, min_batches=5)
        return result_hashes(run(small, spec(base, 256 * 60), threads=2, until=rule))
    yield "until-converged", converged

    class _Stop(Exception):
        pass

    def resumed():
        with tempfile.TemporaryDirectory() as d:
            ck = Path(d) / "run.ckpt"
            seen = []

            def stop(done, total):
                if done == 0:
                    return
                seen.append(done)
                if len(seen) == 3:
                    raise _Stop
            try:
                run(missing, spec(SPECS["missing-imputation"], 20000), threads=2, chunk_size=512, progress=stop,
                    checkpoint=ck, checkpoint_every=0)
            except _Stop:
                pass
            return result_hashes(run(missing, spec(SPECS["missing-imputation"], 20000), threads=2,
                                     resume=ck, checkpoint=ck))
    yield "checkpoint-resume", resumed

    def demo():  # the built-in AI cities (synthetic indicator values)
        from weightlab.robustness.spec import demo_spec
        from weightlab.datasets import load_ai_cities
        ds = load_ai_cities()
        return result_hashes(run(ds, demo_spec(reps=20000, seed=7), threads=2))
    yield "demo-spec", demo

    def treatment():
        doc = {"seed": 31, "weights": {"perturb": "uniform", "spread": 0.2},
               "choices": {"treatment": ["none", "coinr", {"name": "coinr", "winmax": 3}, "log1p"], "normalizer": ["minmax", "zscore"]}}
        return result_hashes(run(missing, spec(doc, 4000), threads=2))
    yield "treatment", treatment

    if quick:
        return
    yield "bands-3000", lambda: result_hashes(run(random_dataset(n_units=3000, missing=30), spec(base, 3000), threads=2))
    yield "coarse-30000", lambda: result_hashes(run(random_dataset(n_units=30000, missing=30),
                                                    spec(base, 2000), threads=2))

    def sensitivity():
        from weightlab.robustness.sensitivity import run_sensitivity
        res = run_sensitivity(missing, spec(SPECS["missing-imputation"], 10), base_samples=512, n_boot=100,
                              seed=5, threads=2)
        return {k: frame_hash(v) for k, v in vars(res).items() if isinstance(v, pd.DataFrame)}
    yield "sensitivity", sensitivity

    def dask():
        import logging
        import distributed
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as c:
            return result_hashes(run(small, spec(base, 6000), chunk_size=700, scheduler=c))
    yield "dask", dask


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--against")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only")
    a = ap.parse_args()
    only = set(a.only.split(",")) if a.only else None
    got = {}
    print(f"tree: {TREE}", flush=True)
    for name, fn in cases(a.quick):
        if only and name not in only:
            continue
        t = time.perf_counter()
        try:
            got[name] = fn()
        except Exception as exc:  # a case that fails is reported, not hidden
            got[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"{name:45s} {time.perf_counter() - t:6.1f} s  {got[name]}", flush=True)
    Path(a.out).write_text(json.dumps(got, indent=1, sort_keys=True))
    if a.against:
        want = json.loads(Path(a.against).read_text())
        bad = [k for k in got if k in want and want[k] != got[k]]
        missing = [k for k in want if k not in got and (not only or k in only)]
        for k in bad:
            print(f"DIFFERS: {k}\n  base: {want[k]}\n  this: {got[k]}")
        print(f"{len(got) - len(bad)} of {len(got)} cases identical; {len(bad)} differ; "
              f"{len(missing)} not run here")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
