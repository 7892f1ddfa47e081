"""The command line, run in a subprocess-free way through main(), checked against plain numpy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weightlab.cli import main

from .helpers import TWO_GROUP_FRAMEWORK

FRAMEWORK = TWO_GROUP_FRAMEWORK + "weight = 3\n"  # indicator d (the last table) weighs 3
DATA = {"unit": ["u1", "u2", "u3", "u4", "u5"], "a": [1.0, 2.0, 3.0, 4.0, 10.0], "b": [5.0, 4.0, 3.0, 2.0, 1.0],
        "c": [0.0, 1.0, 0.0, 2.0, 4.0], "d": [3.0, 1.0, 2.0, 5.0, 4.0]}


@pytest.fixture()
def files(tmp_path: Path):
    (tmp_path / "fw.toml").write_text(FRAMEWORK)
    pd.DataFrame(DATA).to_csv(tmp_path / "data.csv", index=False)
    return tmp_path / "data.csv", tmp_path / "fw.toml"


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def expected_equal_minmax() -> pd.Series:
    df = pd.DataFrame(DATA).set_index("unit")
    mm = (df - df.min()) / (df.max() - df.min())
    mm["b"] = 1 - mm["b"]  # cost indicator
    return ((mm["a"] + mm["b"]) / 2 + (mm["c"] + mm["d"]) / 2) / 2


def test_validate(files, capsys):
    code, out, _ = run(["validate", files[0], "-f", files[1]], capsys)
    assert code == 0 and "5 units x 4 indicators" in out and "missing cells: 0" in out


def test_validate_counts_missing_cells_and_score_states_imputation(files, capsys):
    df = pd.DataFrame(DATA).astype({"a": float, "c": float})
    df.loc[1, "a"] = np.nan
    df.loc[[0, 3], "c"] = np.nan
    df.to_csv(files[0], index=False)
    code, out, _ = run(["validate", files[0], "-f", files[1]], capsys)
    assert code == 0 and "missing cells: 3 (a: 1, c: 2)" in out
    for imputation in ("none", "mean", "median", "knn"):
        code, _, err = run(["score", files[0], "-f", files[1], "--imputation", imputation, "--format", "json"], capsys)
        assert code == 0 and f"imputation {imputation}" in err


def test_weights_level_and_json(files, capsys):
    code, out, _ = run(["weights", files[0], "-f", files[1], "--scheme", "entropy", "--level", "1", "--format", "json"],
                       capsys)
    assert code == 0
    rows = json.loads(out)
    assert {r["member"] for r in rows} == set("abcd") and {r["group"] for r in rows} == {"g1", "g2"}
    assert sum(r["effective_weight"] for r in rows) == pytest.approx(1.0)


def test_id_column_option(files, capsys, tmp_path):
    df = pd.DataFrame(DATA)
    df.insert(0, "region", ["r1", "r1", "r2", "r2", "r2"])  # the first column is not the id any more
    df.to_csv(tmp_path / "by_region.csv", index=False)
    code, _, err = run(["validate", tmp_path / "by_region.csv", "-f", files[1]], capsys)
    assert code == 2 and "'r1' appears more than once in column 'region'" in err and err.count("\n") == 1
    code, out, _ = run(["score", tmp_path / "by_region.csv", "-f", files[1], "--id-column", "unit", "--format", "csv"],
                       capsys)
    assert code == 0
    got = pd.read_csv(pd.io.common.StringIO(out)).set_index("unit")["score"]
    want = expected_equal_minmax()
    np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-12)
    code, _, err = run(["validate", files[0], "-f", files[1], "--id-column", "nope"], capsys)
    assert code == 2 and "no id column 'nope'" in err and "--id-column" in err


def test_score_csv_matches_numpy(files, capsys):
    code, out, _ = run(["score", files[0], "-f", files[1], "--format", "csv"], capsys)
    assert code == 0
    df = pd.read_csv(pd.io.common.StringIO(out))
    assert df.columns[:4].tolist() == ["unit", "name", "score", "rank"]
    assert {"g1", "g2"} <= set(df.columns)
    want = expected_equal_minmax()
    got = df.set_index("unit")["score"]
    np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-12)
    assert df.set_index("unit").loc[want.idxmax(), "rank"] == 1


def test_weights_csv_and_effective_sum(files, capsys):
    code, out, _ = run(["weights", files[0], "-f", files[1], "--scheme", "expert", "--format", "csv"], capsys)
    assert code == 0
    df = pd.read_csv(pd.io.common.StringIO(out))
    assert df.columns.tolist() == ["group", "member", "weight", "effective_weight"]
    ind = df[df["member"].isin(list("abcd"))].set_index("member")
    np.testing.assert_allclose(ind["effective_weight"].sum(), 1.0)
    np.testing.assert_allclose(ind.loc["d", "weight"], 0.75)
    assert df[~df["member"].isin(list("abcd"))]["effective_weight"].isna().all()


def test_param_routing(files, capsys, tmp_path):
    out_file = tmp_path / "s.csv"
    code, _, _ = run(["score", files[0], "-f", files[1], "--param", "range=0,100", "--format", "csv",
                      "--out", out_file], capsys)
    assert code == 0
    got = pd.read_csv(out_file).set_index("unit")["score"]
    np.testing.assert_allclose(got.loc[expected_equal_minmax().index], 100 * expected_equal_minmax(), rtol=1e-12)
    code, _, _ = run(["weights", files[0], "-f", files[1], "--scheme", "pca", "--param", "n_factors=1",
                      "--format", "csv"], capsys)
    assert code == 0
    # repeated --param: goalposts [0, 5], clipped, for every indicator (b is a cost: (5 - x) / 5)
    code, out, _ = run(["score", files[0], "-f", files[1], "--normalizer", "goalposts", "--param", "lower=0",
                        "--param", "upper=5", "--format", "csv"], capsys)
    assert code == 0
    df = pd.DataFrame(DATA).set_index("unit")
    g = (df.clip(0, 5) / 5).assign(b=(5 - df["b"].clip(0, 5)) / 5)
    want = ((g["a"] + g["b"]) / 2 + (g["c"] + g["d"]) / 2) / 2
    got = pd.read_csv(pd.io.common.StringIO(out)).set_index("unit")["score"]
    np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-12)
    code, _, err = run(["score", files[0], "-f", files[1], "--param", "bogus=1"], capsys)
    assert code == 2 and "bogus" in err and err.count("\n") == 1
    code, _, err = run(["score", files[0], "-f", files[1], "--aggregator", "genmean", "--normalizer", "minmax",
                        "--param", "scheme.p=1"], capsys)
    assert code == 2 and "no chosen method" in err


@pytest.mark.parametrize("case", ["missing-file", "non-numeric", "unknown-scheme", "bad-param", "bad-format",
                                  "geometric-zeros", "table-with-out", "out-is-directory", "bad-level",
                                  "bad-framework-direction", "bad-ahp-matrix"])
def test_bad_input_one_line_exit_2_no_file(files, capsys, tmp_path, case):
    data, fw = files
    out_file = tmp_path / "out.csv"
    args = ["score", data, "-f", fw, "--format", "csv", "--out", out_file]
    if case == "missing-file":
        args[1] = tmp_path / "nope.csv"
    elif case == "non-numeric":
        df = pd.DataFrame(DATA).astype(object)
        df.loc[2, "c"] = "n/k?"
        df.to_csv(data, index=False)
    elif case == "unknown-scheme":
        args += ["--scheme", "magic"]
    elif case == "bad-param":
        args += ["--param", "range"]
    elif case == "bad-format":
        args[5] = "xml"
    elif case == "geometric-zeros":
        args += ["--aggregator", "geometric"]
    elif case == "table-with-out":
        args[5] = "table"
    elif case == "out-is-directory":
        out_file = tmp_path / "results"
        out_file.mkdir()
        args[7] = out_file
    elif case == "bad-level":
        args += ["--level", "7"]
    elif case == "bad-framework-direction":
        fw.write_text(FRAMEWORK.replace("direction = -1", "direction = 0.5"))
    elif case == "bad-ahp-matrix":
        (tmp_path / "ahp.toml").write_text('[groups.g1]\nmembers = ["a", "b"]\nmatrix = [[1, "x"], [1, 1]]\n')
        args += ["--scheme", "expert", "--param", f"ahp={tmp_path / 'ahp.toml'}"]
    code, _, err = run(args, capsys)
    assert code == 2
    assert err.startswith("weightlab: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out_file.exists() or out_file.is_dir() and not any(out_file.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind
    if case == "non-numeric":
        assert "'c'" in err and "row 4" in err


def test_compare(files, capsys):
    code, out, err = run(["compare", files[0], "-f", files[1], "--schemes", "equal,expert,entropy", "--format", "csv",
                          "--imputation", "median"], capsys)
    assert code == 0 and "imputation median" in err  # the missing-value handling is stated
    df = pd.read_csv(pd.io.common.StringIO(out))
    assert {"equal", "expert", "entropy", "shift_expert", "shift_entropy"} <= set(df.columns)
    np.testing.assert_array_equal(df["shift_expert"], df["equal"] - df["expert"])


def test_datasets_export_round_trip(capsys, tmp_path):
    code, out, _ = run(["datasets", "list"], capsys)
    assert code == 0 and "ai-cities" in out
    code, _, _ = run(["datasets", "export", "ai-cities", tmp_path / "x"], capsys)
    assert code == 0
    head = (tmp_path / "x" / "data.csv").read_text().splitlines()[0]
    assert head.startswith("unit,")
    code, out, _ = run(["validate", tmp_path / "x" / "data.csv", "-f", tmp_path / "x" / "framework.toml"], capsys)
    assert code == 0 and "338 units x 25 indicators" in out and "synthetic demo data" in out


def test_scores_of_exported_demo_data_keep_the_label(capsys, tmp_path):
    run(["datasets", "export", "ai-cities", tmp_path], capsys)
    code, out, err = run(["score", tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--format", "csv",
                          "--imputation", "mean"], capsys)
    assert code == 0 and "imputation mean" in err
    df = pd.read_csv(pd.io.common.StringIO(out))
    # name second; a stand-alone export has no manifest, so the label travels in a last column
    assert df.columns[:4].tolist() == ["unit", "name", "score", "rank"] and df.columns[-1] == "note"
    assert (df["note"] == "synthetic demo data").all() and df.loc[0, "name"] == "Beijing"


@pytest.mark.parametrize("command", [["validate"], ["weights"], ["score"], ["compare"], ["robustness"], ["demo"],
                                     ["report"], ["datasets", "list"], ["datasets", "export"]])
def test_every_command_help_has_an_example(capsys, command):
    code, out, _ = run([*command, "--help"], capsys)
    assert code == 0 and "Example" in out and "weightlab " + " ".join(command) in " ".join(out.split())


RANKS_COLUMNS = ["unit", "name", "nominal_rank", "median_rank", "mean_rank", "p05_rank", "p95_rank", "best_rank",
                 "worst_rank", "p_top10", "p_top50", "mean_score", "p05_score", "p95_score"]


def test_robustness_outputs(files, capsys, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('seed = 3\nreps = 500\n[weights]\nperturb = "uniform"\nspread = 0.3\n'
                    '[choices]\nnormalizer = ["minmax", "rank"]\n')
    out = tmp_path / "res"
    code, stdout, _ = run(["robustness", files[0], "-f", files[1], "--spec", spec, "--reps", 2000, "--out", out],
                          capsys)
    assert code == 0, stdout
    ranks = pd.read_csv(out / "ranks.csv")
    assert ranks.columns[:len(RANKS_COLUMNS)].tolist() == RANKS_COLUMNS
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reps"] == 2000 and manifest["seed"] == 3
    assert manifest["threads"] >= 1 and manifest["reps_per_s"] > 0
    freq = pd.read_parquet(out / "rank_frequency.parquet")
    assert (freq.sum(axis=1) == 2000).all()
    code, _, err = run(["robustness", files[0], "-f", files[1], "--spec", spec, "--threads", 99, "--out",
                        tmp_path / "r2"], capsys)
    assert code == 2 and "--threads" in err and not (tmp_path / "r2" / "ranks.csv").exists()


def test_cli_import_is_lazy():
    """--help must not pay for numba/pandas imports (its time is reported by the benchmark)."""
    code = "import sys, weightlab.cli; print(sorted(m for m in ('numba', 'pandas', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_demo_small(capsys, tmp_path):
    code, out, _ = run(["demo", "--reps", 20000, "--out", tmp_path / "demo"], capsys)
    assert code == 0 and "synthetic demo data" in out
    # COINr's default treatment, stated indicator by indicator
    treatment = pd.read_csv(tmp_path / "demo" / "treatment.csv")
    treated = treatment[treatment["transformation"] != "none"]["indicator"]
    assert f"{len(treated)} of 25 indicators treated" in out and all(code_ in out for code_ in treated)
    ranks = pd.read_csv(tmp_path / "demo" / "robustness" / "ranks.csv")
    assert len(ranks) == 338 and ranks.columns[1] == "name" and "note" not in ranks.columns
    assert ranks.iloc[0]["name"] == "Beijing"
    assert (tmp_path / "demo" / "nominal_pca.csv").exists() and (tmp_path / "demo" / "manifest.json").exists()
    # every registered scheme, found through the registry (the demo once listed 7 of 9 by hand)
    from weightlab.weighting import SCHEMES

    for scheme in SCHEMES.available():
        assert (tmp_path / "demo" / f"nominal_{scheme}.csv").exists(), scheme
    assert set(pd.read_csv(tmp_path / "demo" / "weights.csv")["variant"]) == set(SCHEMES.available())
    assert f"nominal index under {len(SCHEMES.available())} schemes" in out
    # the treatment table's path as printed is where it is once the run ends, not in the staging directory
    shown = re.search(r"table in (\S+treatment\.csv)", out).group(1)
    assert ".partial" not in shown and Path(shown).resolve() == (tmp_path / "demo" / "treatment.csv").resolve()
    for manifest in ("manifest.json", "robustness/manifest.json"):  # the label lives in the manifests
        assert json.loads((tmp_path / "demo" / manifest).read_text())["label"] == "synthetic demo data"
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "synthetic demo data" in html and html.count('<tr data-unit="') == 338
    assert 'id="sensitivity"' in html and "mean_abs_rank_shift" in html  # the demo's Sobol run, reported
