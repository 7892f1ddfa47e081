"""Dask LocalCluster against local numba threads on the built-in 338-city data (synthetic demo data).

Prints the rate of local threads (all cores), the rate of a LocalCluster with one single-threaded
worker process per core (started once and warmed by a first run, as a cluster is in use), the ratio
(target >= 0.8x), the cluster's start-up and first-run times, and checks that the two results are
bit-identical. Asserts nothing about time.

Usage: python benchmarks/bench_dask.py [--reps N]
"""

from __future__ import annotations

import argparse
import logging
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2_000_000)
    args = ap.parse_args()

    import numpy as np
    from distributed import Client, LocalCluster

    from weightlab.datasets import load_ai_cities
    from weightlab.robustness.engine import run_plan
    from weightlab.robustness.plan import compile_plan
    from weightlab.robustness.spec import UncertaintySpec

    spec = UncertaintySpec.from_dict({"seed": 7, "reps": args.reps, "weights": {"perturb": "uniform", "spread": 0.25},
                                      "choices": {"normalizer": ["minmax", "zscore", "rank"], "imputation": ["mean"],
                                                  "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.01}]}})
    plan = compile_plan(load_ai_cities(), spec)
    run_plan(plan)  # warm
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        local = run_plan(plan)
        best = min(best, time.perf_counter() - t)
    local_rate = args.reps / best

    cores = os.cpu_count() or 1
    t = time.perf_counter()
    cluster = LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    start_s = time.perf_counter() - t
    t = time.perf_counter()
    run_plan(plan, scheduler=client)  # first run: scatter, imports and kernel load on every worker
    first_s = time.perf_counter() - t
    best_d = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        dask = run_plan(plan, scheduler=client)
        best_d = min(best_d, time.perf_counter() - t)
    client.close()
    cluster.close()
    dask_rate = args.reps / best_d
    same = np.array_equal(local.rank_hist, dask.rank_hist) and list(local.counts.score_q2) == list(dask.counts.score_q2)
    print(f"replications: {args.reps:,}, 338 units, fixed-data spec, {cores} cores")
    print(f"local threads ({cores}): {local_rate:,.0f} rep/s")
    print(f"LocalCluster ({cores} workers x 1 thread): {dask_rate:,.0f} rep/s = {dask_rate / local_rate:.2f}x threads "
          f"(target >= 0.8x); bit-identical: {'yes' if same else 'NO'}")
    print(f"LocalCluster start-up {start_s:.1f} s; first run (scatter, imports, kernel load on the workers) "
          f"{first_s:.1f} s")


if __name__ == "__main__":
    main()
