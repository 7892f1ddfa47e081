"""``weightlab sensitivity`` from the command line: files, columns, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from weightlab.cli import main

from .helpers import random_dataset

SPEC = """
seed = 3
[weights]
perturb = "uniform"
spread = 0.3
[choices]
scheme = ["equal", "entropy"]
"""


def _files(tmp_path):
    ds = random_dataset()
    data = ds.values.copy()
    data.insert(0, "unit", data.index)
    data.to_csv(tmp_path / "data.csv", index=False)
    ds.framework.to_toml(tmp_path / "fw.toml")
    (tmp_path / "spec.toml").write_text(SPEC)
    return ds


def test_sensitivity_writes_global_and_unit_tables(tmp_path, capsys):
    ds = _files(tmp_path)
    out = tmp_path / "sens"
    code = main(["sensitivity", str(tmp_path / "data.csv"), "-f", str(tmp_path / "fw.toml"), "--spec",
                 str(tmp_path / "spec.toml"), "--base-samples", "256", "--bootstrap", "100", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "factors by total effect" in printed.out
    g = pd.read_csv(out / "sobol.csv")
    assert list(g.columns) == ["output", "factor", "S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi"]
    assert set(g["output"]) == {"mean_abs_rank_shift", "all_ranks"}
    assert list(g["factor"].unique()) == ["weights", "scheme", "dummy"]
    assert (g["S1_lo"] <= g["S1"] + 1e-12).all() and (g["S1"] <= g["S1_hi"] + 1e-12).all()
    u = pd.read_csv(out / "sobol_units.csv", dtype={"unit": str})
    assert list(u.columns) == ["unit", "name", "factor", "S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi"]
    assert len(u) == ds.n_units * 3 and set(u["unit"]) == set(ds.units)
    # the normalizer is fixed, so unit scores get indices too
    s = pd.read_csv(out / "sobol_unit_scores.csv")
    assert len(s) == ds.n_units * 3
    m = json.loads((out / "manifest.json").read_text())
    assert m["base_samples"] == 256 and m["evaluations"] == 256 * 4 and m["bootstrap"] == 100
    assert m["memory_bytes"] == 256 * 4 * ds.n_units * 12
    # the ranks the indices were computed from are the design's: a unit that never moves has zeros
    zero = u.groupby("unit")["ST"].apply(lambda x: np.all(x == 0))
    assert zero.sum() < ds.n_units


def test_sensitivity_errors_are_one_line(tmp_path, capsys):
    _files(tmp_path)
    base = ["sensitivity", str(tmp_path / "data.csv"), "-f", str(tmp_path / "fw.toml"), "--out", str(tmp_path / "o")]
    code = main(base)  # default spec: nothing uncertain
    err = capsys.readouterr().err
    assert code == 2 and "nothing is uncertain" in err and err.count("\n") == 1
    code = main(base + ["--spec", str(tmp_path / "spec.toml"), "--base-samples", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "--base-samples" in err and err.count("\n") == 1
    code = main(base + ["--spec", str(tmp_path / "spec.toml"), "--base-samples", "256", "--bootstrap-block", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "--bootstrap-block" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_bootstrap_block_option_reaches_the_intervals(tmp_path, capsys):
    """--bootstrap-block 1 resamples single base samples; the default at N = 4,096 blocks of 4 (manifest)."""
    _files(tmp_path)
    base = ["sensitivity", str(tmp_path / "data.csv"), "-f", str(tmp_path / "fw.toml"), "--spec",
            str(tmp_path / "spec.toml"), "--base-samples", "4096", "--bootstrap", "50", "--no-report"]
    widths = {}
    for name, extra in (("auto", []), ("single", ["--bootstrap-block", "1"])):
        assert main(base + extra + ["--out", str(tmp_path / name)]) == 0, capsys.readouterr().err
        m = json.loads((tmp_path / name / "manifest.json").read_text())
        widths[name] = m
    assert widths["auto"]["bootstrap_block"] == 4 and "1,024 blocks of 4" in widths["auto"]["intervals"]
    assert widths["single"]["bootstrap_block"] == 1 and "blocks" not in widths["single"]["intervals"]
    a = pd.read_csv(tmp_path / "auto" / "sobol.csv")
    b = pd.read_csv(tmp_path / "single" / "sobol.csv")
    np.testing.assert_allclose(a["ST"], b["ST"], rtol=1e-12)  # same estimates, other resamples
    assert not np.allclose(a["ST_lo"], b["ST_lo"])


def test_sensitivity_with_a_pipeline_runs_on_the_built_data(tmp_path, capsys):
    """COINr's ASEM build (denominate, impute, screen, treat, normalise) feeds the sensitivity run."""
    assert main(["datasets", "export", "asem", str(tmp_path / "asem")]) == 0
    (tmp_path / "spec.toml").write_text(SPEC)
    out = tmp_path / "sens"
    code = main(["sensitivity", str(tmp_path / "asem" / "data.csv"), "-f", str(tmp_path / "asem" / "framework.toml"),
                 "--pipeline", str(tmp_path / "asem" / "pipeline.toml"), "--spec", str(tmp_path / "spec.toml"),
                 "--base-samples", "64", "--bootstrap", "20", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "manifest.json").read_text())
    assert "pipeline" in m and m["pipeline_sha256"]
    units = pd.read_csv(out / "sobol_units.csv")["unit"]
    assert set(units) <= set(pd.read_csv(tmp_path / "asem" / "data.csv")["uCode"]) and units.nunique() > 40
