"""Report benchmark on the built-in 338-city data (synthetic demo data). Prints figures; asserts nothing
about time.

Makes a results directory with ``weightlab robustness`` (1,024 replications, default spec,
``--no-report``), then times, in fresh processes:

- each figure of ``report.html`` (drawn and encoded as the report embeds it) and the whole
  :func:`weightlab.report.write_report` call, inside one process (its imports apart);
- the whole ``weightlab report DIR`` command, ``weightlab robustness`` with its default report and
  with ``--no-report``, and ``python -c "import pandas, numba"`` (the start-up yardstick of issue 13).

With ``--baseline REV`` (a git revision, e.g. ``main``) the report package of that revision
(``weightlab/report/`` only, read with ``git archive``) is timed too, in runs alternating with
the working tree's so that both see the same load on a shared machine; the ratios are "after /
before" of the same run. The load average is printed at the start and the end.

Usage: python benchmarks/bench_report.py [--baseline REV] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Imports weightlab.report from BASE (a directory holding a weightlab/report/ tree), the rest of
# weightlab from the working tree; nothing is imported before the command asks for it.
PRELUDE = """\
import importlib.machinery, sys
class _Baseline:
    def find_spec(self, name, path=None, target=None):
        if name == "weightlab.report":
            return importlib.machinery.PathFinder.find_spec(name, [{base!r} + "/weightlab"])
        return None
sys.meta_path.insert(0, _Baseline())
"""

FIGURES = """\
import json, sys, time
from weightlab.report import html as H
t0 = time.perf_counter()
times, call = {}, H._Figures.__call__
def timed(self, name, draw, caption):
    t = time.perf_counter()
    out = call(self, name, draw, caption)
    times[name] = time.perf_counter() - t
    return out
H._Figures.__call__ = timed
H.write_report(sys.argv[1])
print(json.dumps({"figures": times, "total": time.perf_counter() - t0}))
"""


def _python(code: str, base: Path | None) -> list[str]:
    return [sys.executable, "-c", (PRELUDE.format(base=str(base)) if base else "") + code]


def _weightlab(base: Path | None) -> list[str]:
    return _python("from weightlab.cli import console\nconsole()\n", base)


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - t


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _baseline_tree(rev: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "weightlab/report"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", metavar="REV", help="also time the report package of this git revision")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each command per variant (default 3)")
    args = ap.parse_args()
    print(f"weightlab report benchmark — load average at start {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        variants: dict[str, Path | None] = {"after": None}
        if args.baseline:
            variants = {"before": _baseline_tree(args.baseline, tmp / "baseline"), **variants}
        subprocess.run(_weightlab(None) + ["datasets", "export", "ai-cities", str(tmp / "data")], capture_output=True,
                       check=True)
        run = ["robustness", str(tmp / "data" / "data.csv"), "-f", str(tmp / "data" / "framework.toml"), "--reps",
               "1024"]
        subprocess.run(_weightlab(None) + run + ["--out", str(tmp / "res"), "--no-report"], capture_output=True,
                       check=True)  # kernels cached, and the results directory for the report
        commands = {
            "import pandas, numba": lambda b: [sys.executable, "-c", "import pandas, numba"],
            "weightlab report DIR": lambda b: _weightlab(b) + ["report", str(tmp / "res")],
            "weightlab robustness (1,024 reps)": lambda b: _weightlab(b) + run + ["--out", str(tmp / "run")],
            "weightlab robustness --no-report": lambda b: _weightlab(b) + run + ["--out", str(tmp / "bare"),
                                                                                 "--no-report"],
        }
        walls: dict[tuple[str, str], list[float]] = {}
        figures: dict[str, list[dict]] = {v: [] for v in variants}
        for _ in range(args.rounds):  # alternate the variants round by round
            for v, base in variants.items():
                out = subprocess.run(_python(FIGURES, base) + [str(tmp / "res")], capture_output=True, text=True,
                                     check=True)
                figures[v].append(json.loads(out.stdout.strip().splitlines()[-1]))
                for name, cmd in commands.items():
                    if name.startswith("import") and v != "after":
                        continue
                    walls.setdefault((name, v), []).append(_wall(cmd(base)))
        size = (tmp / "res" / "report.html").stat().st_size
    names = list(figures["after"][0]["figures"])
    for v in variants:
        names += [n for n in figures[v][0]["figures"] if n not in names]
    best = {v: {n: min(r["figures"].get(n, float("nan")) for r in figures[v]) for n in names} for v in variants}
    total = {v: min(r["total"] for r in figures[v]) for v in variants}
    print(f"\nper figure, drawn and encoded in one process (best of {args.rounds}, seconds):\n")
    print("| figure | " + " | ".join(variants) + (" | after / before |" if len(variants) > 1 else " |"))
    print("|---" * (len(variants) + 1 + (len(variants) > 1)) + "|")
    for n in names + ["write_report (whole)"]:
        vals = {v: (total[v] if n.startswith("write_report") else best[v][n]) for v in variants}
        ratio = f" | {vals['after'] / vals['before']:.2f}x" if len(variants) > 1 else ""
        print(f"| {n} | " + " | ".join(f"{vals[v]:.3f}" for v in variants) + ratio + " |")
    imp = min(walls[("import pandas, numba", "after")])
    print(f"\nwhole processes (best of {args.rounds}; median in brackets; x = against import pandas, numba "
          f"{imp:.2f} s):\n")
    for name in commands:
        if name.startswith("import"):
            continue
        cells = []
        for v in variants:
            w = walls[(name, v)]
            cells.append(f"{v} {min(w):.2f} s ({statistics.median(w):.2f}) = {min(w) / imp:.1f}x")
        ratio = (f"; after / before {min(walls[(name, 'after')]) / min(walls[(name, 'before')]):.2f}"
                 if len(variants) > 1 else "")
        print(f"- {name}: " + ", ".join(cells) + ratio)
    print(f"\nreport.html of the last 'weightlab report DIR' run: {size / 1e6:.2f} MB; "
          f"load average at the end {_load()}")


if __name__ == "__main__":
    main()
