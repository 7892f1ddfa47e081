"""Sensitivity and quasi-random sampling on the built-in 338-city data (synthetic demo data). Prints
figures; asserts nothing about time.

1. ``weightlab sensitivity`` with 6 factors (weights, normalizer, aggregator, scheme, imputation,
   dropped indicator) and N = 8,192 base samples (65,536 evaluations), in a fresh process with a warm
   cache: whole-process wall time with ``--no-report`` and with the report (best of 3 each,
   alternating), evaluations per second, analysis time, and the interval half-widths reached.
2. ``robustness`` with scrambled Sobol' points against the counter-based stream: for each method and
   size R, eight runs with different seeds; the error of a run is the RMSE over units of its median,
   p05 and p95 ranks against a 4-million-replication stream run. The replications each method needs
   to reach the stream's error at 65,536 are read off by log-log interpolation.

Usage: python benchmarks/bench_sensitivity.py [--quick] [--sensitivity-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from weightlab.datasets import load_ai_cities
from weightlab.robustness.design import SobolDesign, StreamDesign
from weightlab.robustness.engine import run_plan
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.summaries import histogram_quantile
from weightlab.robustness.spec import UncertaintySpec, demo_spec

SIX = """
seed = 7
[weights]
perturb = "uniform"
spread = 0.25
[choices]
normalizer = ["minmax", "zscore", "rank"]
aggregator = ["arithmetic", {name = "geometric", shift = 0.01}]
scheme = ["equal", "entropy", "critic", "pca"]
imputation = ["mean", "median"]
drop_indicator = true
"""


def sensitivity_run(base_samples: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "weightlab.cli", "datasets", "export", "ai-cities", str(tmp / "d")],
                       check=True, capture_output=True)
        (tmp / "spec.toml").write_text(SIX)
        cmd = [sys.executable, "-m", "weightlab.cli", "sensitivity", str(tmp / "d" / "data.csv"), "-f",
               str(tmp / "d" / "framework.toml"), "--spec", str(tmp / "spec.toml"), "--base-samples",
               str(base_samples), "--out", str(tmp / "out")]
        subprocess.run(cmd, check=True, capture_output=True)  # warm the kernel cache
        walls: dict[str, list[float]] = {"--no-report": [], "with the report": []}
        for _ in range(rounds):  # alternating, so that both see the same machine
            for how, extra in (("--no-report", ["--no-report"]), ("with the report", [])):
                t = time.perf_counter()
                subprocess.run(cmd + extra, check=True, capture_output=True)
                walls[how].append(time.perf_counter() - t)
        m = json.loads((tmp / "out" / "manifest.json").read_text())
        import pandas as pd

        units = pd.read_csv(tmp / "out" / "sobol_units.csv")
        glob = pd.read_csv(tmp / "out" / "sobol.csv")
    half_u = (units["ST_hi"] - units["ST_lo"]) / 2
    half_g = (glob["ST_hi"] - glob["ST_lo"]) / 2
    print(f"sensitivity, 338 cities, {len(m['factors'])} factors, N = {base_samples:,} "
          f"({m['evaluations']:,} evaluations), warm cache:")
    for how, w in walls.items():
        print(f"  whole process, {how}: {min(w):.2f} s (best of {rounds}; all: {', '.join(f'{x:.2f}' for x in w)})")
    print(f"  plan {m['compile_plan_s']:.2f} s, evaluate {m['evaluate_s']:.2f} s "
          f"({m['evaluations_per_s']:,.0f} evaluations/s), analyze {m['analyze_s']:.2f} s "
          f"({m['bootstrap']} resamples, {m['threads']} threads)")
    print(f"  ST interval half-width: global outputs max {half_g.max():.3f}; units median {half_u.median():.3f}, "
          f"90th percentile {half_u.quantile(0.9):.3f}, max {half_u.max():.3f}")


def _band(acc) -> np.ndarray:
    return np.stack([histogram_quantile(acc.rank_hist, q) for q in (0.05, 0.5, 0.95)])


def sampling_precision(sizes: list[int], seeds: int, ref_reps: int) -> None:
    ds = load_ai_cities()
    spec = demo_spec(reps=ref_reps)
    plan = compile_plan(ds, spec)
    ref = _band(run_plan(plan))

    def error(method: str, reps: int, seed: int) -> float:
        p = dataclasses.replace(plan, kernel=plan.kernel._replace(seed=np.uint64(seed)),
                                spec=spec.with_overrides(reps=reps, seed=seed))
        cols = plan.columns.n_cols
        design = SobolDesign(cols, seed) if method == "sobol" else StreamDesign(cols)
        return float(np.sqrt(np.mean((_band(run_plan(p, design=design)) - ref) ** 2)))

    print(f"\nrobustness, demo spec: RMSE over units of (p05, median, p95) rank against a {ref_reps:,}-replication "
          f"stream run, mean of {seeds} seeds")
    print("| replications | stream | sobol | stream/sobol |")
    print("|---|---|---|---|")
    table = {}
    for n in sizes:
        e = {m: np.mean([error(m, n, 100 + s) for s in range(seeds)]) for m in ("stream", "sobol")}
        table[n] = e
        print(f"| {n:,} | {e['stream']:.3f} | {e['sobol']:.3f} | {e['stream'] / e['sobol']:.2f} |")
    target_n = sizes[len(sizes) // 2]
    target = table[target_n]["stream"]
    logn = np.log([*table])
    for m in ("stream", "sobol"):
        loge = np.log([table[n][m] for n in table])
        # replications at which the method's error reaches the target (log-log interpolation)
        need = float(np.exp(np.interp(-np.log(target), -loge, logn)))
        print(f"{m}: about {need:,.0f} replications for the stream's error at {target_n:,} ({target:.3f} ranks)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sensitivity-only", action="store_true", help="skip the Sobol'-vs-stream precision table")
    a = ap.parse_args()
    sensitivity_run(1024 if a.quick else 8192, 1 if a.quick else 3)
    if a.sensitivity_only:
        return
    if a.quick:
        sampling_precision([4096, 16384, 65536], 3, 1 << 19)
    else:
        sampling_precision([4096, 16384, 65536, 262144], 8, 1 << 22)


if __name__ == "__main__":
    main()
