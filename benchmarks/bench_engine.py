"""Engine benchmark on the built-in 338-city data (synthetic demo data). Prints figures; asserts nothing
about time.

For each spec (fixed-data, full demo, bootstrap data-driven weights) it times (best of 3), in this
one process, the numba engine, the batched-numpy baseline (same random streams; fixed-data specs
only) and the per-replication pandas rebuild (small R), checks that they agree on the rank
histograms, and prints replications/second and the ratios. Then, in fresh processes: peak RSS at
1M and 10M replications, JIT load time with a warm cache, the time of ``weightlab --help``, the
whole-process start-up of a 1,024-replication run against ``import pandas, numba``, and the cold
compile time (empty numba cache).

Usage: python benchmarks/bench_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from numpy_baseline import run_numpy  # noqa: E402

from weightlab.datasets import load_ai_cities  # noqa: E402
from weightlab.robustness.engine import debug_replication, run_plan  # noqa: E402
from weightlab.robustness.plan import compile_plan  # noqa: E402
from weightlab.robustness.reference import rebuild  # noqa: E402
from weightlab.robustness.spec import UncertaintySpec, demo_spec  # noqa: E402

FIXED = {"seed": 7, "weights": {"perturb": "uniform", "spread": 0.25},
         "choices": {"normalizer": ["minmax", "zscore", "rank"], "imputation": ["mean"],
                     "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.01}]}}
BOOTSTRAP = {"seed": 7, "weights": {"perturb": "uniform", "spread": 0.25}, "bootstrap": {"units": True},
             "choices": {"normalizer": ["minmax"], "imputation": ["mean"], "scheme": ["entropy", "critic"],
                         "scheme_levels": [1]}}


ROUNDS = 3  # each rate is the best of this many timed runs (this machine's speed drifts by ±10 % and more)


def _time(fn, *args, **kw):
    """``(result, seconds)`` of the fastest of ``ROUNDS`` calls."""
    best = float("inf")
    for _ in range(ROUNDS):
        t = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t)
    return out, best


def _rss_run(spec: dict, reps: int) -> float:
    """Peak RSS (MiB) of a fresh process that runs ``reps`` replications."""
    code = f"""
import json
from weightlab.datasets import load_ai_cities
from weightlab.robustness.spec import UncertaintySpec
from weightlab.robustness.engine import run
spec = UncertaintySpec.from_dict(json.loads({json.dumps(json.dumps(spec))}))
spec = spec.with_overrides(reps={reps})
res = run(load_ai_cities(), spec)
# VmHWM is this process's own peak (ru_maxrss would inherit the parent's peak across fork)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"rss_mib": int(hwm) / 1024, "rate": res.manifest["reps_per_s"]}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fresh_jit_load() -> float:
    code = """
import time
from weightlab.datasets import load_ai_cities
from weightlab.robustness.spec import UncertaintySpec
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.engine import run_plan
plan = compile_plan(load_ai_cities(), UncertaintySpec.from_dict({"reps": 1}))
t = time.perf_counter()
run_plan(plan)
print(time.perf_counter() - t)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _help_time() -> float:
    exe = Path(sys.executable).with_name("weightlab")
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def _best_process_time(cmd: list[str], env: dict | None = None, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        best = min(best, time.perf_counter() - t)
    return best


def _startup() -> tuple[float, float, float]:
    """Whole-process seconds of a 1,024-replication ``weightlab robustness`` run on the demo data
    (default spec; with its report.html, and with --no-report) and of ``python -c "import pandas,
    numba"`` (best of 5 each)."""
    import tempfile

    exe = str(Path(sys.executable).with_name("weightlab"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([exe, "datasets", "export", "ai-cities", tmp], capture_output=True, check=True)
        cmd = [exe, "robustness", f"{tmp}/data.csv", "-f", f"{tmp}/framework.toml", "--reps", "1024", "--out",
               f"{tmp}/res"]
        subprocess.run(cmd, capture_output=True, check=True)  # kernels cached
        run_s = _best_process_time(cmd, rounds=5)
        bare_s = _best_process_time(cmd + ["--no-report"], rounds=5)
    return run_s, bare_s, _best_process_time([sys.executable, "-c", "import pandas, numba"], rounds=5)


def _cold_compile() -> tuple[float, float, float]:
    """CPU seconds of the first 1,024-replication run of the demo spec in a fresh process with an
    empty numba cache (compilation of the slot kernel and everything it calls, plus the run), and
    wall seconds of a whole ``weightlab demo --reps 100000 --base-samples 1024 --no-report`` with
    an empty cache and then with the cache it filled (their difference is what compiling costs a
    new user: plan, engine, rank summaries and Sobol' estimators)."""
    import tempfile

    code = ("import time\nfrom weightlab.datasets import load_ai_cities\n"
            "from weightlab.robustness.spec import demo_spec\nfrom weightlab.robustness.plan import compile_plan\n"
            "from weightlab.robustness.engine import run_plan\n"
            "plan = compile_plan(load_ai_cities(), demo_spec(reps=1024))\n"
            "t = time.process_time()\nrun_plan(plan, threads=1)\nprint(time.process_time() - t)\n")
    exe = str(Path(sys.executable).with_name("weightlab"))
    demo = [exe, "demo", "--reps", "100000", "--base-samples", "1024", "--no-report", "--threads", "1"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": f"{tmp}/cache"}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "NUMBA_CACHE_DIR": f"{tmp}/kernel-cache"})
        walls = []
        for i in range(2):
            t = time.perf_counter()
            subprocess.run(demo + ["--out", f"{tmp}/demo{i}"], capture_output=True, check=True, env=env)
            walls.append(time.perf_counter() - t)
    return float(out.stdout.strip().splitlines()[-1]), walls[0], walls[1]


def bench_spec(label: str, spec: UncertaintySpec, ds, engine_reps: int, numpy_reps: int, pandas_reps: int):
    plan = compile_plan(ds, spec.with_overrides(reps=engine_reps))
    run_plan(compile_plan(ds, spec.with_overrides(reps=1000)))  # JIT warm-up
    acc, t_engine = _time(run_plan, plan)
    rate_engine = engine_reps / t_engine
    row = {"spec": label, "engine": rate_engine}
    if numpy_reps:
        small = compile_plan(ds, spec.with_overrides(reps=numpy_reps))
        with threadpool_limits(1, user_api="blas"):  # BLAS threads only slow these small products down
            hist_np, t_np = _time(run_numpy, small.kernel, numpy_reps)
        row["numpy"] = numpy_reps / t_np
        row["numpy_agrees"] = bool(np.array_equal(hist_np, run_plan(small).rank_hist))
    t0 = time.perf_counter()
    agree = True
    for r in range(pandas_reps):
        want = rebuild(ds, plan.spec, r)["ranks"]
        agree &= bool(np.array_equal(want, debug_replication(plan, r)["ranks"]))
    row["pandas"] = pandas_reps / (time.perf_counter() - t0)
    row["pandas_agrees"] = agree
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer replications (smoke run)")
    args = ap.parse_args()
    scale = 0.1 if args.quick else 1.0
    ds = load_ai_cities()
    print(f"weightlab engine benchmark — {ds.n_units} units x {ds.n_indicators} indicators "
          f"({ds.label}); threads={os.environ.get('NUMBA_NUM_THREADS', 'all')}")
    rows = [
        bench_spec("fixed data: weights ±25 % + 3 normalizers + 2 aggregators",
                   UncertaintySpec.from_dict(FIXED), ds, int(4_000_000 * scale), int(200_000 * scale), 100),
        bench_spec("full demo spec (+ 4 schemes)", demo_spec(), ds, int(4_000_000 * scale), int(200_000 * scale), 100),
        bench_spec("bootstrap entropy/CRITIC weights", UncertaintySpec.from_dict(BOOTSTRAP), ds,
                   int(1_000_000 * scale), 0, 30),
    ]
    print()
    print("| spec | engine rep/s | numpy rep/s | pandas rep/s | engine/numpy | engine/pandas | agree |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        np_rate = row.get("numpy")
        agree = "yes" if row["pandas_agrees"] and row.get("numpy_agrees", True) else "NO"
        np_cell = "" if np_rate is None else f"{np_rate:,.0f}"
        ratio_np = "" if np_rate is None else f"{row['engine'] / np_rate:.1f}x"
        print(f"| {row['spec']} | {row['engine']:,.0f} | {np_cell} | {row['pandas']:,.0f} | {ratio_np} | "
              f"{row['engine'] / row['pandas']:,.0f}x | {agree} |")
    print()
    for reps in ((1_000_000, 10_000_000) if not args.quick else (100_000, 1_000_000)):
        out = _rss_run(FIXED, reps)
        mib = out["rss_mib"]
        print(f"peak RSS, fixed-data spec, {reps:,} reps: {mib:.1f} MiB = {mib * 1.048576:.0f} MB "
              f"({out['rate']:,.0f} rep/s)")
    print(f"JIT load with warm cache (first chunk in a fresh process): {_fresh_jit_load():.2f} s")
    print(f"weightlab --help: {_help_time():.2f} s (best of 3)")
    run_s, bare_s, import_s = _startup()
    print(f"start-up: 'weightlab robustness' demo data, 1,024 reps, whole process {run_s:.2f} s; "
          f"'python -c \"import pandas, numba\"' {import_s:.2f} s ({run_s / import_s:.1f}x; target <= 2x); "
          f"with --no-report (no report.html drawn) {bare_s:.2f} s ({bare_s / import_s:.1f}x)")
    kernel_s, cold_s, warm_s = _cold_compile()
    print(f"cold compile: first 1,024-rep run of the demo spec with an empty numba cache: {kernel_s:.1f} s of CPU "
          f"(target <= 20 s); whole 'weightlab demo --reps 100000 --base-samples 1024 --no-report --threads 1' "
          f"{cold_s:.1f} s cold, {warm_s:.1f} s warm: {cold_s - warm_s:.1f} s of compilation")
    print(f"warm rates: see the table above (engine rep/s, kernels loaded, best of {ROUNDS})")


if __name__ == "__main__":
    main()
