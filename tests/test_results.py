"""The results package: one data record in every kind of manifest, every file name from the layout,
directories read back by ``load_results``, and a ``save`` that loads the report only when asked."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import weightlab as wl
from weightlab.results import layout, write_results, write_sensitivity

SPEC = {"seed": 5, "reps": 256, "weights": {"perturb": "uniform", "spread": 0.3},
        "choices": {"normalizer": ["minmax", "zscore"]}}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A nominal build, a comparison, a Monte Carlo run and a sensitivity run of the built-in data,
    read from files, each written to its own directory; and the input files."""
    from weightlab.datasets import export

    root = tmp_path_factory.mktemp("results")
    data, framework = export("ai-cities", root / "in")
    ds = wl.read_dataset(data, framework)
    spec = wl.UncertaintySpec.from_dict(SPEC)
    dirs = {kind: root / kind for kind in ("score", "compare", "robustness", "sensitivity")}
    wl.build_index(ds).save(dirs["score"], report=False)
    wl.compare_schemes(ds, ["equal", "expert"]).save(dirs["compare"], report=False)
    write_results(wl.run_robustness(ds, spec, threads=1), dirs["robustness"])
    write_sensitivity(wl.run_sensitivity(ds, spec, base_samples=64, n_boot=20, threads=1), dirs["sensitivity"])
    return dirs, data, framework


def _manifest(directory) -> dict:
    return json.loads((directory / layout.MANIFEST).read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["score", "compare", "robustness", "sensitivity"])
def test_every_manifest_holds_the_same_data_record(written, kind):
    """label, data (file, SHA-256, units, indicators) and framework, computed here from the files."""
    dirs, data, framework = written
    m = _manifest(dirs[kind])
    n_indicators = len(tomllib.loads(framework.read_text(encoding="utf-8"))["indicators"])
    assert m["kind"] == kind and m["label"] == "synthetic demo data"
    assert m["data"] == {"source": str(data), "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
                         "units": len(pd.read_csv(data)), "indicators": n_indicators}
    assert m["framework"] == str(framework)
    keys = list(m)  # the run record, then the data's items, then the result's own
    at = keys.index("label")
    assert keys[at:at + 3] == ["label", "data", "framework"] and at > keys.index("inputs")


@pytest.mark.parametrize("kind", ["score", "compare", "robustness", "sensitivity"])
def test_the_files_are_those_the_manifest_lists_and_the_layout_names(written, kind):
    dirs, _, _ = written
    listed = _manifest(dirs[kind])["files"]
    named = {v for k, v in vars(layout).items() if k.isupper() and isinstance(v, str)}
    assert sorted(p.name for p in dirs[kind].iterdir()) == sorted(listed)
    assert set(listed) <= named, set(listed) - named


def test_load_results_reads_each_directory_back(written):
    dirs, data, _ = written
    units = set(pd.read_csv(data, dtype={"unit": str})["unit"])
    expected = {"score": {"scores", "weights"}, "compare": {"compare", "rank_correlation", "scores", "weights"},
                "robustness": {"ranks", "rank_frequency", "choice_shares", "scores", "weights"},
                "sensitivity": {"sobol", "sobol_units"}}
    for kind, tables in expected.items():
        res = wl.load_results(dirs[kind])
        assert set(res.tables) == tables, kind
        assert res.label == "synthetic demo data" and res.manifests[""]["kind"] == kind
        first = res.tables["sobol_units" if kind == "sensitivity" else "scores"]
        assert set(first["unit"]) == units
    assert wl.load_results(dirs["compare"]).tables["rank_correlation"].shape == (2, 2)


def test_save_without_the_report_loads_no_plotting_library(tmp_path):
    """``save(dir, report=False)`` writes through weightlab.results and never imports the report's
    drawing code; ``save(dir)`` does (the probe can fail)."""
    probe = ("import sys, json\nimport weightlab as wl\nfrom tests.helpers import random_dataset\n"
             "r = wl.build_index(random_dataset())\nr.save(sys.argv[1], report=sys.argv[2] == 'report')\n"
             "print(json.dumps(sorted(m for m in ('matplotlib', 'jinja2') if m in sys.modules)))\n")
    for arg, loaded in (("none", []), ("report", ["jinja2", "matplotlib"])):
        out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / arg), arg], capture_output=True,
                             text=True, cwd=Path(__file__).parent.parent)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout.strip().splitlines()[-1]) == loaded
