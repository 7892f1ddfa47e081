"""Outputs complete or absent, interrupts, permissions and the record of every run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from weightlab.cli import main
from weightlab.data import Dataset
from weightlab.errors import InputError
from weightlab.robustness.engine import run
from weightlab.robustness.jit import COMPILE_NOTICE
from weightlab.results import write_results
from weightlab.robustness.spec import UncertaintySpec

from .helpers import TWO_GROUP_FRAMEWORK as FW
from .helpers import random_dataset



@pytest.fixture()
def inputs(tmp_path: Path):
    rng = np.random.default_rng(5)
    rows = ["unit,a,b,c,d"] + [f"u{i}," + ",".join(f"{v:.4f}" for v in rng.random(4)) for i in range(30)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "fw.toml").write_text(FW)
    (tmp_path / "spec.toml").write_text('seed = 4\nreps = 3000\n[weights]\nperturb = "uniform"\nspread = 0.3\n'
                                        '[choices]\nnormalizer = ["minmax", "rank"]\n')
    return tmp_path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def robustness_args(d: Path, out: str = "res") -> list[str]:
    return ["robustness", str(d / "data.csv"), "-f", str(d / "fw.toml"), "--spec", str(d / "spec.toml"),
            "--out", str(d / out)]


def test_manifest_records_inputs_command_versions_machine_and_timing(inputs, capsys):
    args = robustness_args(inputs)
    assert main(args) == 0
    printed = capsys.readouterr().out
    m = json.loads((inputs / "res" / "manifest.json").read_text())
    assert m["tool"] == "weightlab" and m["kind"] == "robustness"
    assert m["command_line"] == ["weightlab", *args]
    assert m["inputs"]["data_sha256"] == sha256(inputs / "data.csv")
    assert m["inputs"]["framework_sha256"] == sha256(inputs / "fw.toml")
    assert m["inputs"]["spec_sha256"] == sha256(inputs / "spec.toml")
    for pkg in ("numpy", "pandas", "scipy", "scikit-learn", "numba", "llvmlite", "pyarrow"):
        assert m["versions"][pkg] not in ("", "not installed"), pkg
    assert m["weightlab"]["version"]
    assert "git_commit" in m["weightlab"]
    assert m["machine"]["cpu"] and m["machine"]["threads"] >= 1 and m["machine"]["threading_layer"]
    assert m["seed"] == 4 and m["reps"] == 3000
    assert m["compile_s"] >= 0 and m["run_s"] > 0
    assert m["reps_per_s"] == pytest.approx(3000 / m["run_s"])  # the rate counts replications only
    assert f"{m['reps_per_s']:,.0f}/s" in printed and "compilation" in printed


def test_python_path_with_a_dataframe_records_its_content_hash(tmp_path):
    ds = random_dataset(n_units=20)
    spec = UncertaintySpec.from_dict({"reps": 300, "seed": 2, "weights": {"perturb": "uniform"}})
    write_results(run(ds, spec), tmp_path / "a")
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert m["command_line"] is None and m["tool"] == "weightlab"
    assert m["inputs"]["data_hash_of"].startswith("content")
    values = ds.values.copy()
    values.iloc[3, 2] += 1.0
    changed = Dataset(values, ds.framework, ds.names)
    write_results(run(changed, spec), tmp_path / "b")
    m2 = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m2["inputs"]["data_sha256"] != m["inputs"]["data_sha256"]
    assert m2["inputs"]["framework_sha256"] == m["inputs"]["framework_sha256"]
    write_results(run(Dataset(ds.values.copy(), ds.framework, ds.names), spec), tmp_path / "c")
    m3 = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert m3["inputs"]["data_sha256"] == m["inputs"]["data_sha256"]


def test_an_earlier_result_is_replaced_whole_and_nothing_else_is(inputs, capsys):
    assert main(robustness_args(inputs)) == 0
    (inputs / "res" / "stale.txt").write_text("from an older run")
    assert main(robustness_args(inputs)) == 0
    assert not (inputs / "res" / "stale.txt").exists() and (inputs / "res" / "ranks.csv").exists()
    assert sorted(p.name for p in inputs.iterdir() if p.name.startswith(".")) == []
    capsys.readouterr()
    (inputs / "mine").mkdir()
    (inputs / "mine" / "notes.txt").write_text("keep")
    assert main(robustness_args(inputs, "mine")) == 2
    assert (inputs / "mine" / "notes.txt").read_text() == "keep"
    (inputs / "empty").mkdir()
    assert main(robustness_args(inputs, "empty")) == 0 and (inputs / "empty" / "manifest.json").exists()


def test_a_failure_while_writing_leaves_neither_result_nor_stage(inputs, monkeypatch, capsys):
    import weightlab.results.write as output

    calls = []

    def failing(df, path, fmt=None, index=False):
        calls.append(path)
        if len(calls) == 2:
            raise InputError("disk full (simulated)")
        return original(df, path, fmt, index)

    original = output.write_table_atomic
    monkeypatch.setattr(output, "write_table_atomic", failing)
    assert main(robustness_args(inputs)) == 2
    assert "disk full" in capsys.readouterr().err
    assert sorted(p.name for p in inputs.iterdir()) == ["data.csv", "fw.toml", "spec.toml"]


def test_files_and_directories_honour_the_umask(inputs, capsys):
    old = os.umask(0o027)
    try:
        assert main(robustness_args(inputs)) == 0
        assert main(["score", str(inputs / "data.csv"), "-f", str(inputs / "fw.toml"), "--format", "csv",
                     "--out", str(inputs / "score.csv")]) == 0
    finally:
        os.umask(old)
    assert (inputs / "res").stat().st_mode & 0o777 == 0o750
    for f in (inputs / "res").iterdir():
        assert f.stat().st_mode & 0o777 == 0o640, f
    assert (inputs / "score.csv").stat().st_mode & 0o777 == 0o640


def test_datasets_export_overwrites_only_with_force(tmp_path, capsys):
    target = tmp_path / "mine"
    assert main(["datasets", "export", "ai-cities", str(target)]) == 0
    (target / "data.csv").write_text("my edits")
    assert main(["datasets", "export", "ai-cities", str(target)]) == 2
    assert (target / "data.csv").read_text() == "my edits"
    assert main(["datasets", "export", "ai-cities", str(target), "--force"]) == 0
    assert (target / "data.csv").read_text().startswith("unit,")


def test_drop_indicator_that_empties_a_group_is_stated(tmp_path):
    ds = random_dataset(n_units=20)  # x4 is the only indicator of a2
    spec = UncertaintySpec.from_dict({"reps": 200, "choices": {"drop_indicator": True}})
    with pytest.warns(UserWarning, match="x4 \\(the only indicator of a2\\)"):
        res = run(ds, spec)
    assert any("x4" in n for n in res.manifest["notes"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_exits_130_with_one_line_and_nothing_written(sig, inputs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "weightlab.cli", *robustness_args(inputs)[:-2], "--reps", str(10 ** 10), "--yes",
           "--out", str(inputs / "res")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=inputs)
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".partial") for p in inputs.iterdir()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        time.sleep(1.5)  # well inside the run (loading, compiling or replicating)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    # a cold kernel cache adds its one notice line before the work starts (CI's first run)
    assert err.replace(COMPILE_NOTICE + "\n", "") == "weightlab: interrupted, nothing written\n"
    assert sorted(p.name for p in inputs.iterdir()) == ["data.csv", "fw.toml", "spec.toml"]


def test_python_dataset_with_an_empty_unit_is_stated_by_the_engine():
    ds = random_dataset(n_units=10)
    values = ds.values.copy()
    values.iloc[4] = np.nan
    with pytest.warns(UserWarning, match="u04 have no indicator value"):
        res = run(Dataset(values, ds.framework, ds.names), UncertaintySpec.from_dict({"reps": 200}))
    assert any("u04" in n for n in res.manifest["notes"])
    assert res.ranks.set_index("unit").loc["u04", "best_rank"] == 10


@pytest.mark.parametrize("n", [12, 60, 338])
def test_bootstrap_distinct_unit_floor_matches_simulation(n):
    """The bootstrap-PCA guard uses mean - 5 sd of the distinct units in a resample of n units:
    n (1 - 1/e) and sqrt(n (e^-1 - 2 e^-2)); compare with 20,000 simulated resamples."""
    from weightlab.robustness.checks import min_distinct_units

    rng = np.random.default_rng(0)
    draws = rng.integers(0, n, size=(20_000, n))
    distinct = np.array([len(np.unique(row)) for row in draws])
    simulated = distinct.mean() - 5 * distinct.std()
    assert min_distinct_units(n) == pytest.approx(simulated, abs=0.5)
    assert min_distinct_units(n) < distinct.min()  # no simulated resample fell below the floor
