"""Many units: replications x units per second and peak RSS on generated cases (benchmarks/scale_case.py).

Each case runs in a fresh process (so peak RSS is its own): warm-up runs on small cases of the
same shape load the kernels (dense, banded and coarse counts; for cases of ``ranking.WIDE_UNITS``
units or more the wide ranking's), then ``run`` is timed (plan compile
apart; the rate counts both passes of coarse counts, and is printed also with the rank-band
pilot counted, which many units need and 338 do not). Spec: weights-only,
+-25 %, arithmetic. Replications per case are chosen for a few seconds of work.
Prints one line per case; asserts nothing about time.

Usage: python benchmarks/bench_scale.py [--units 338,3000,30000,100000] [--wide] [--work 3e8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
from scale_case import make_case
from weightlab.robustness.engine import run, run_plan
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.results import RobustnessResult
from weightlab.robustness.spec import UncertaintySpec
n, wide, reps = {n}, {wide}, {reps}
spec = {{"seed": 3, "weights": {{"perturb": "uniform", "spread": 0.25}}, "choices": {{"imputation": ["mean"]}}}}
run(make_case(400, wide), UncertaintySpec.from_dict({{**spec, "reps": 2000}}))  # kernels loaded
from weightlab.robustness.ranking import WIDE_UNITS  # the banded variant too, and the wide ranking's if used
run(make_case(WIDE_UNITS if n >= WIDE_UNITS else 4000, wide), UncertaintySpec.from_dict({{**spec, "reps": 300}}))
small = compile_plan(make_case(400, wide), UncertaintySpec.from_dict({{**spec, "reps": 300}}))
RobustnessResult.from_run(small, run_plan(small, bands="coarse"), {{}})  # and the coarse one's helpers
ds = make_case(n, wide)
res = run(ds, UncertaintySpec.from_dict({{**spec, "reps": reps}}))
m = res.manifest
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"run_s": m["run_s"], "pilot_s": m["pilot_s"], "plan_s": m["compile_plan_s"], "reps": m["reps"],
                  "rss_mib": int(hwm) / 1024, "bands": m["rank_counts"], "second": m["second_pass_units"],
                  "band_total": int(res.accumulators.bands.total) + (0 if res.accumulators.exact is None
                                                                     else int(res.accumulators.exact.total))}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", default="338,3000,30000,100000")
    ap.add_argument("--wide", action="store_true", help="the 400-indicator case")
    ap.add_argument("--work", type=float, default=3e8, help="replications x units per case")
    args = ap.parse_args()
    base = None
    print(f"{'400' if args.wide else '25'} indicators; weights-only ±25 %")
    for n in [int(v) for v in args.units.split(",")]:
        reps = max(1024, int(args.work / n) // 128 * 128)
        code = CHILD.format(here=str(HERE), n=n, wide=args.wide, reps=reps)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or [f"killed (return code {out.returncode})"])[-1]
            print(f"n = {n:,}: failed: {last}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rate = r["reps"] * n / r["run_s"]
        with_pilot = r["reps"] * n / (r["run_s"] + r["pilot_s"])  # the rank-band pilot counted as work too
        base = base or rate
        width = r["band_total"] / n
        mode = next(m for m in ("dense", "coarse", "bands") if r["bands"].startswith(m) or m == "bands")
        print(f"n = {n:>7,}: {r['reps']:>9,} reps in {r['run_s']:6.2f} s = {rate / 1e6:7.1f} M rep x units/s "
              f"({rate / base:.2f}x the first; counting the {r['pilot_s']:.2f} s rank-band pilot: "
              f"{with_pilot / base:.2f}x), peak RSS {r['rss_mib']:7.1f} MiB, plan {r['plan_s']:.1f} s, "
              f"{width:,.0f} count cells per unit ({mode}), second pass {r['second']} units")


if __name__ == "__main__":
    main()
