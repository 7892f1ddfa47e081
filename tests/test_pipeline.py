"""The build pipeline: steps against hand-worked examples and plain formulas, COINr's ASEM build
against COINr's published results, the CLI around it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from weightlab.cli import main
from weightlab.data import read_dataset
from weightlab.datasets import asem_pipeline, export, load_asem
from weightlab.denominate import denominate
from weightlab.errors import InputError, ParameterError
from weightlab.framework import Framework
from weightlab.pipeline import Pipeline, PipelineError, compare_builds, variant_tables
from weightlab.screening import screen
from weightlab.treatment import TreatmentRule, impute, impute_by_group, log_ct, skew_kurt, treat

# COINr's results article for build_example_coin (ASEM README, transcribed): rank, uCode, Index, Conn, Sust
ASEM_PUBLISHED = [
    (1, "CHE", 68.38, 62.79, 73.98),
    (2, "NLD", 64.82, 61.94, 67.70),
    (3, "DNK", 64.80, 57.10, 72.51),
    (4, "NOR", 64.47, 57.44, 71.50),
    (5, "BEL", 63.54, 63.99, 63.09),
    (6, "SWE", 63.00, 53.87, 72.12),
    (45, "IND", 39.79, 28.60, 50.99),
]
TWO_DECIMALS = 0.005 + 1e-9


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# ASEM, COINr's example, from raw data
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def asem_build():
    return asem_pipeline().run(load_asem(), scheme="expert")


def test_asem_reproduces_coinr_published_results(asem_build):
    table = asem_build.table().set_index("unit")
    for rank, code, index, conn, sust in ASEM_PUBLISHED:
        row = table.loc[code]
        assert row["rank"] == rank, code
        assert abs(row["score"] - index) <= TWO_DECIMALS, (code, row["score"], index)
        assert abs(row["Conn"] - conn) <= TWO_DECIMALS, (code, row["Conn"], conn)
        assert abs(row["Sust"] - sust) <= TWO_DECIMALS, (code, row["Sust"], sust)
        # and each rounds to the published figure
        assert [round(float(row[c]), 2) for c in ("score", "Conn", "Sust")] == [index, conn, sust], code


def test_asem_build_steps_as_the_readme_describes(asem_build):
    raw = asem_build.dataset("raw")
    assert raw.shape == (51, 49) and int(raw.isna().sum().sum()) == 63
    den = asem_build.report("denominate")
    assert len(den) == 17 and dict(zip(den.indicator, den.denominator))["Flights"] == "Population"
    ds = load_asem()
    np.testing.assert_allclose(asem_build.dataset("denominated")["Flights"],
                               raw["Flights"] / ds.meta["Population"].astype(float), rtol=1e-15)
    imp = asem_build.report("impute")
    # 63 raw gaps plus Elec and Gas of the unit whose Energy denominator is missing
    assert int(pd.to_numeric(ds.meta["Energy"], errors="coerce").isna().sum()) == 1
    assert imp["missing"].sum() == 65 and imp["imputed"].sum() == 65 and imp["still_missing"].sum() == 0
    assert asem_build.report("screen")["kept"].all() and len(asem_build.dataset("screened")) == 51
    # pillar scores are the plain means of their normalised indicators, the index the mean of Conn and Sust
    fw = ds.framework
    agg, norm = asem_build.dataset("aggregated"), asem_build.dataset("normalised")
    for pillar in fw.groups_at(2):
        np.testing.assert_allclose(agg[pillar], norm[fw.children(pillar)].mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(agg["Index"], (agg["Conn"] + agg["Sust"]) / 2, rtol=1e-12)
    assert norm.min().min() == 0 and norm.max().max() == 100


def test_asem_from_the_cli(tmp_path, capsys):
    code, _, _ = run(["datasets", "export", "asem", tmp_path], capsys)
    assert code == 0
    for name in ("data.csv", "framework_imeta.csv", "framework.toml", "pipeline.toml"):
        assert (tmp_path / name).exists()
    out = tmp_path / "scores.csv"
    code, _, err = run(["score", tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--pipeline",
                        tmp_path / "pipeline.toml", "--format", "csv", "--out", out], capsys)
    assert code == 0, err
    assert "pipeline" in err and "mean_group(EurAsia_group)" in err
    df = pd.read_csv(out).set_index("unit")
    for rank, code_, index, conn, sust in ASEM_PUBLISHED:
        assert df.loc[code_, "rank"] == rank
        assert abs(df.loc[code_, ["score", "Conn", "Sust"]].to_numpy() - [index, conn, sust]).max() <= TWO_DECIMALS
    # the iMeta CSV gives the same build
    code, csv_out, _ = run(["score", tmp_path / "data.csv", "-f", tmp_path / "framework_imeta.csv", "--pipeline",
                            tmp_path / "pipeline.toml", "--format", "csv"], capsys)
    from io import StringIO

    pd.testing.assert_frame_equal(pd.read_csv(StringIO(csv_out)).set_index("unit"), df)


def test_raw_asem_without_the_pipeline_differs(asem_build):
    plain = Pipeline({"normalise": {"method": "minmax", "range": [0, 100]}}).run(load_asem())
    diff = (plain.table().set_index("unit")["score"] - asem_build.table().set_index("unit")["score"]).abs()
    assert diff.max() > 5  # why the pipeline matters


def test_ucode_is_the_id_and_roles_are_listed(capsys):
    ds = load_asem()
    assert ds.units[0] == "AUT" and ds.names.iloc[0] == "Austria"
    assert ds.framework.grouping_columns == ["GDP_group", "GDPpc_group", "Pop_group", "EurAsia_group"]
    assert ds.framework.denominator_columns == ["Area", "Energy", "GDP", "Population"]
    from weightlab.datasets import _path

    code, out, _ = run(["validate", _path("asem_iData.csv"), "-f", _path("asem_iMeta.csv")], capsys)
    assert code == 0
    assert "grouping columns: GDP_group, GDPpc_group, Pop_group, EurAsia_group" in out
    assert "denominator columns: Area, Energy, GDP, Population" in out
    assert "other columns (kept as metadata): Time" in out


def test_framework_toml_round_trip_keeps_denominators_and_targets(tmp_path):
    fw = load_asem().framework
    path = tmp_path / "fw.toml"
    fw.to_toml(path)
    back = Framework.read(path)
    assert back.node("Flights").denominator == "Population" and back.node("LPI").denominator == ""
    assert back.node("LPI").target == pytest.approx(4.11803135)
    assert back.grouping_columns == fw.grouping_columns and back.denominator_columns == fw.denominator_columns


# ---------------------------------------------------------------------------------------------
# the steps
# ---------------------------------------------------------------------------------------------

def _framework(denominators=None, targets=None) -> Framework:
    doc = {"index": {"code": "I"}, "groups": [{"code": "G", "parent": "I"}, {"code": "H", "parent": "I"}],
           "indicators": [{"code": c, "parent": p, "direction": d} for c, p, d in
                          (("a", "G", 1), ("b", "G", -1), ("c", "H", 1))]}
    for ind in doc["indicators"]:
        if denominators and ind["code"] in denominators:
            ind["denominator"] = denominators[ind["code"]]
        if targets and ind["code"] in targets:
            ind["target"] = targets[ind["code"]]
    return Framework.from_dict(doc)


def _small(denominators=None, targets=None):
    table = pd.DataFrame({"unit": list("pqrstu"), "grp": ["x", "x", "x", "y", "y", "y"],
                          "pop": [1.0, 2.0, 4.0, 5.0, 10.0, 20.0],
                          "a": [2.0, 4.0, np.nan, 10.0, 20.0, np.nan], "b": [1.0, 3.0, 2.0, 5.0, np.nan, 4.0],
                          "c": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    return read_dataset(table, _framework(denominators, targets))


def test_denominate_divides_by_the_named_column():
    ds = _small({"a": "pop"})
    out, table = denominate(ds)
    np.testing.assert_allclose(out["a"], [2.0, 2.0, np.nan, 2.0, 2.0, np.nan])
    pd.testing.assert_series_equal(out["b"], ds.values["b"])
    assert table.to_dict("records") == [{"indicator": "a", "denominator": "pop"}]
    out2, _ = denominate(ds, {"a": "", "c": "pop"})  # overrides: drop one, add one
    pd.testing.assert_series_equal(out2["a"], ds.values["a"])
    np.testing.assert_allclose(out2["c"], [0, 0.5, 0.5, 0.6, 0.4, 0.25])


def test_denominate_errors_name_the_column_and_unit():
    with pytest.raises(InputError, match="no denominator column 'gdp'.*'a'"):
        denominate(_small({"a": "gdp"}))
    ds = _small({"a": "pop"})
    ds.meta.loc["r", "pop"] = 0
    with pytest.raises(InputError, match="'pop' is 0 for unit 'r'"):
        denominate(ds)


def test_group_mean_and_median_imputation_by_hand():
    ds = _small()
    groups = ds.meta["grp"]
    mean = impute_by_group(ds.values, groups, "mean")
    assert mean.loc["r", "a"] == 3.0 and mean.loc["u", "a"] == 15.0 and mean.loc["t", "b"] == 4.5
    values = ds.values.copy()
    values.loc["p", "c"] = np.nan
    med = impute_by_group(values, groups, "median")
    assert med.loc["p", "c"] == 1.5
    # a group without any value for the indicator stays missing
    values.loc[["s", "t", "u"], "a"] = np.nan
    assert impute_by_group(values, groups, "mean")[["a"]].loc[["s", "t", "u"]].isna().all().all()


def test_iterative_imputation_recovers_a_linear_relation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    df = pd.DataFrame({"x": x, "y": 3.0 * x + 1.0, "z": rng.normal(size=40)})
    df.loc[[3, 17], "y"] = np.nan
    out = impute(df, "iterative")
    np.testing.assert_allclose(out.loc[[3, 17], "y"], 3.0 * x[[3, 17]] + 1.0, atol=1e-3)
    assert out.notna().all().all()


def test_screen_by_availability():
    values = pd.DataFrame({"a": [1, np.nan, np.nan, 4.0], "b": [1, 2, np.nan, 0.0], "c": [1, 2, 3, 0.0]},
                          index=list("wxyz"))
    kept, report = screen(values, 0.6)
    assert list(kept) == ["w", "x", "z"]
    np.testing.assert_allclose(report["availability"], [1, 2 / 3, 1 / 3, 1])
    kept, _ = screen(values, 0.6, by="missing_or_zeros")
    assert list(kept) == ["w", "x"]  # z has two zeros: 1/3 present
    kept, _ = screen(values, 0.6, keep=["y"])
    assert "y" in kept
    with pytest.raises(ParameterError, match="threshold"):
        screen(values, 90)


def _e1071_type2(x):
    """Skewness and kurtosis as e1071 type 2, written out from the formulas (independent of scipy)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    d = x - x.mean()
    m2, m3, m4 = (d ** 2).mean(), (d ** 3).mean(), (d ** 4).mean()
    g1, g2 = m3 / m2 ** 1.5, m4 / m2 ** 2 - 3
    return g1 * math.sqrt(n * (n - 1)) / (n - 2), ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))


def test_skew_kurt_is_the_small_sample_statistic():
    x = [1.0, 2.0, 2.5, 3.0, 7.0, 8.0, 30.0, np.nan]
    np.testing.assert_allclose(skew_kurt(x), _e1071_type2(x[:-1]), rtol=1e-12)
    assert all(math.isnan(v) for v in skew_kurt([1.0, 1.0, 1.0, 1.0, 1.0]))


def test_coinr_rule_winsorises_one_point_at_a_time():
    # 19 values 1..19 and one outlier: winsorising the outlier to 19 passes at once
    x = np.r_[np.arange(1.0, 20.0), 500.0]
    out, table = treat(pd.DataFrame({"v": x}))
    row = table.iloc[0]
    assert not row["passed_before"] and row["transformation"] == "winsorised"
    assert row["winsorised_high"] == 1 and row["winsorised_low"] == 0
    np.testing.assert_array_equal(out["v"], np.r_[np.arange(1.0, 20.0), 19.0])
    assert row["passed_after"]
    np.testing.assert_allclose([row["skew_after"], row["kurt_after"]], _e1071_type2(out["v"]), rtol=1e-12)
    # negative skew: the smallest value is raised to the next smallest
    out, table = treat(pd.DataFrame({"v": -x}))
    assert table.iloc[0]["winsorised_low"] == 1 and out["v"].min() == -19.0


def test_coinr_rule_falls_back_to_log_of_the_original_values():
    # a lognormal sample (sigma 2): five winsorised points are not enough
    x = np.exp(np.random.default_rng(1).normal(0.0, 2.0, 200))
    rule = TreatmentRule(winmax=5)
    out, table = treat(pd.DataFrame({"v": x}), rule=rule)
    assert table.iloc[0]["transformation"] == "log_CT"
    want = np.log(x - x.min() + 0.01 * (x.max() - x.min()))
    np.testing.assert_allclose(out["v"], want, rtol=1e-15)
    # with winmax 0 the rule goes straight to the log, with thresholds relaxed nothing happens
    assert treat(pd.DataFrame({"v": x}), rule=TreatmentRule(winmax=0))[1].iloc[0]["transformation"] == "log_CT"
    relaxed = TreatmentRule(skew_thresh=100, kurt_thresh=100)
    assert treat(pd.DataFrame({"v": x}), rule=relaxed)[1].iloc[0]["transformation"] == "none"
    np.testing.assert_allclose(log_ct(np.array([0.0, 1.0, np.nan])), [math.log(0.01), math.log(1.01), np.nan])


def test_log1p_boxcox_none_and_per_indicator():
    x = np.r_[np.arange(1.0, 20.0), 500.0]
    df = pd.DataFrame({"a": x, "b": x, "c": x})
    out, table = treat(df, "log1p", per_indicator={"b": "boxcox", "c": "none"})
    np.testing.assert_allclose(out["a"], np.log1p(x))
    lam = stats.boxcox(x)[1]
    np.testing.assert_allclose(out["b"], (x ** lam - 1) / lam, rtol=1e-10)
    assert table.set_index("indicator").loc["b", "transformation"].startswith(f"boxcox(lambda={lam:.4g}")
    pd.testing.assert_series_equal(out["c"], df["c"])
    with pytest.raises(ParameterError, match="Unknown treatment"):
        treat(df, "winsor")
    with pytest.raises(InputError, match="log1p of 'a' needs values > -1"):
        treat(pd.DataFrame({"a": [-2.0, 1.0, 2.0, 3.0]}), "log1p")


# ---------------------------------------------------------------------------------------------
# Pipeline object and Build
# ---------------------------------------------------------------------------------------------

def test_build_keeps_every_stage_and_with_step_changes_one():
    ds = _small({"a": "pop"})
    pipe = Pipeline.from_dict({"denominate": {}, "impute": {"method": "mean_group", "group": "grp"},
                               "treat": {"method": "none"}, "normalise": {"method": "minmax", "range": [0, 100]}})
    build = pipe.run(ds)
    assert build.dataset("denominated").loc["q", "a"] == 2.0
    assert build.dataset("imputed").loc["r", "a"] == 2.0  # group x: 2, 2 -> mean 2
    assert build.report("impute").set_index("indicator").loc["a", "imputed"] == 2
    pd.testing.assert_frame_equal(build.dataset("screened"), build.dataset("imputed"))
    norm = build.dataset("normalised")
    b = build.dataset("treated")["b"]
    np.testing.assert_allclose(norm["b"], 100 * (b.max() - b) / (b.max() - b.min()))  # cost indicator
    other = build.with_step("normalise", method="zscore")
    assert other.dataset("normalised")["c"].mean() == pytest.approx(0.0)
    pd.testing.assert_frame_equal(other.dataset("treated"), build.dataset("treated"))
    cmp = compare_builds(build, other)
    assert list(cmp.columns) == ["unit", "name", "score_a", "score_b", "rank_a", "rank_b", "rank_shift"]
    assert build.without("denominate").dataset("denominated").equals(build.dataset("raw"))
    with pytest.raises(ParameterError, match="Unknown stage"):
        build.dataset("cooked")


def test_per_indicator_normalisation_and_targets_from_the_framework():
    ds = _small(targets={"a": 30.0, "b": 0.5, "c": 10.0})
    pipe = Pipeline.from_dict({"impute": {"method": "mean"},
                               "normalise": {"method": "minmax", "indicators": {
                                   "c": {"method": "zscore", "mean": 10, "sd": 2},
                                   "a": {"method": "dist_to_target"}}}})
    build = pipe.run(ds)
    norm, treated = build.dataset("normalised"), build.dataset("treated")
    c = treated["c"]
    np.testing.assert_allclose(norm["c"], 10 + 2 * (c - c.mean()) / c.std(ddof=1))
    a = treated["a"]
    np.testing.assert_allclose(norm["a"], (a - a.min()) / (30.0 - a.min()))
    b = treated["b"]
    np.testing.assert_allclose(norm["b"], (b.max() - b) / (b.max() - b.min()))
    whole = Pipeline.from_dict({"impute": {"method": "mean"}, "normalise": {"method": "dist_to_target"}}).run(ds)
    np.testing.assert_allclose(whole.dataset("normalised")["b"], (b.max() - b) / (b.max() - 0.5))
    with pytest.raises(PipelineError, match="needs a target for 'a'"):
        Pipeline.from_dict({"normalise": {"method": "dist_to_target"}}).run(_small())


def test_per_level_aggregators():
    ds = _small()
    build = Pipeline.from_dict({"impute": {"method": "mean"}, "normalise": {"range": [1, 2]},
                                "aggregate": {"levels": {"3": "geometric"}}}).run(ds)
    agg = build.dataset("aggregated")
    np.testing.assert_allclose(agg["I"], np.sqrt(agg["G"] * agg["H"]))
    norm = build.dataset("normalised")
    np.testing.assert_allclose(agg["G"], (norm["a"] + norm["b"]) / 2)


def test_pipeline_file_errors(tmp_path):
    cases = [({"treat": {"method": "winsor"}}, "treat.*'winsor'"), ({"cook": {}}, "unknown step \\[cook\\]"),
             ({"impute": {"method": "mean_group"}}, "needs group"), ({"screen": {}}, "threshold"),
             ({"impute": {"methd": "mean"}}, "no key 'methd'"),
             ({"normalise": {"method": "minmax", "rang": [0, 1]}}, "has no parameter 'rang'"),
             ({"aggregate": {"method": "nope"}}, "Unknown aggregator"),
             ({"impute": "mean"}, "must be a table"), ({"treat": {"skew_thresh": "two"}}, "skew_thresh"),
             ({"treat": {"winmax": 2.5}}, "winmax"), ({"screen": {"threshold": 0.5, "keep": "LAO"}}, "keep"),
             ({"impute": {"method": "knn", "n_neighbors": 0}}, "n_neighbors")]
    for doc, match in cases:
        with pytest.raises(PipelineError, match=match):
            Pipeline.from_dict(doc, source="p.toml")
    with pytest.raises(InputError, match="group column 'region' is not in the data"):
        Pipeline.from_dict({"impute": {"method": "mean_group", "group": "region"}}).run(_small())
    path = tmp_path / "p.toml"
    pipe = asem_pipeline()
    pipe.to_toml(path)
    assert Pipeline.from_toml(path).to_dict() == pipe.to_dict()


def test_variant_tables_for_treatment_options():
    ds = load_asem()
    pipe = asem_pipeline()
    tables = variant_tables(ds, pipe, "treat", ["coinr", "none", {"method": "log1p"}])
    assert list(tables) == ["coinr", "none", "log1p"]
    full = pipe.run(ds, scheme="expert")
    pd.testing.assert_frame_equal(tables["coinr"], full.dataset("normalised"))
    pd.testing.assert_frame_equal(tables["none"], pipe.without("treat").run(ds).dataset("normalised"))
    assert not tables["log1p"].equals(tables["none"])


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def test_pipeline_refuses_conflicting_cli_options(tmp_path, capsys):
    export("asem", tmp_path)
    code, _, err = run(["score", tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--pipeline",
                        tmp_path / "pipeline.toml", "--normalizer", "zscore"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--normalizer zscore cannot be combined" in err


def test_compare_with_pipeline_refuses_param_instead_of_dropping_it(tmp_path, capsys):
    """The pipeline's normaliser and aggregators take no --param: compare used to check it against the
    default minmax normalizer, then build with the pipeline's and drop it without a word."""
    export("asem", tmp_path)
    common = [tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--pipeline", tmp_path / "pipeline.toml"]
    code, out, err = run(["compare", *common, "--schemes", "expert,entropy", "--param", "range=1,100"], capsys)
    assert code == 2 and err.count("\n") == 1 and out == ""
    assert "--param range=1,100 cannot be combined with --pipeline" in err and "[normalise]" in err


def test_weights_compare_robustness_with_pipeline(tmp_path, capsys):
    export("asem", tmp_path)
    common = [tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--pipeline", tmp_path / "pipeline.toml"]
    code, out, err = run(["weights", *common, "--scheme", "entropy", "--format", "csv"], capsys)
    assert code == 0 and "pipeline" in err
    code, out, err = run(["compare", *common, "--schemes", "expert,entropy", "--format", "csv"], capsys)
    assert code == 0
    df = pd.read_csv(__import__("io").StringIO(out)).set_index("unit")
    assert df.loc["IND", "expert"] == 45 and df.loc["CHE", "expert"] == 1
    code, out, err = run(["robustness", *common, "--reps", 256, "--out", tmp_path / "mc"], capsys)
    assert code == 0, err
    ranks = pd.read_csv(tmp_path / "mc" / "ranks.csv").set_index("unit")
    # nothing uncertain: every replication is the nominal pipeline build
    assert ranks.loc["IND", "nominal_rank"] == 45 and (ranks["median_rank"] == ranks["nominal_rank"]).all()
    manifest = __import__("json").loads((tmp_path / "mc" / "manifest.json").read_text())
    assert manifest["pipeline"]["steps"]["impute"]["group"] == "EurAsia_group" and manifest["pipeline_sha256"]


def test_treat_command(tmp_path, capsys):
    export("asem", tmp_path)
    out = tmp_path / "treated.csv"
    code, stdout, err = run(["treat", tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--pipeline",
                             tmp_path / "pipeline.toml", "--out", out], capsys)
    assert code == 0, err
    assert "15 of 49 indicators treated: winsorised Flights (1)" in stdout
    treated = pd.read_csv(out).set_index("unit")
    table = pd.read_csv(tmp_path / "treated_treatment.csv").set_index("indicator")
    assert len(treated) == 51 and table.loc["Flights", "transformation"] == "winsorised"
    assert table["passed_after"].all()
    # without a pipeline: COINr's rule on the raw table; --method with a [treat] step is refused
    code, stdout, _ = run(["treat", tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--method", "log1p",
                           "--out", tmp_path / "t2.csv", "--report", tmp_path / "r2.csv"], capsys)
    assert code == 0 and "log1p" in stdout
    code, _, err = run(["treat", tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--pipeline",
                        tmp_path / "pipeline.toml", "--method", "none", "--out", tmp_path / "t3.csv"], capsys)
    assert code == 2 and "cannot be combined" in err and not (tmp_path / "t3.csv").exists()


def test_robustness_inputs_follow_the_pipeline_unless_the_spec_varies_the_step():
    from weightlab.robustness.engine import run as run_engine
    from weightlab.robustness.spec import UncertaintySpec
    from weightlab.robustness.pipeline import robustness_inputs

    ds = load_asem()
    pipe = asem_pipeline().with_step("normalise", method="minmax", range=[0, 100],
                                     indicators={"Renew": {"method": "zscore", "mean": 50, "sd": 10}})
    nominal = pipe.run(ds, scheme="equal").table().set_index("unit")["rank"]
    prepared, spec, outcomes = robustness_inputs(ds, UncertaintySpec.from_dict({"reps": 128}), pipe)
    assert spec.choices.normalizer[0].label == "per_indicator" and outcomes["imputed_cells"] == 65
    result = run_engine(prepared, spec, threads=1)
    ranks = result.ranks.set_index("unit")
    assert (ranks["nominal_rank"] == nominal.reindex(ranks.index)).all()
    # a spec that varies the imputation gets the data before the pipeline's impute step
    varied = UncertaintySpec.from_dict({"reps": 128, "choices": {"imputation": ["mean", "median"],
                                                                 "normalizer": ["minmax", "rank"]}})
    prepared, spec, outcomes = robustness_inputs(ds, varied, pipe)
    assert prepared.values.isna().sum().sum() == 65 and "imputed_cells" not in outcomes
    assert prepared.n_units == 51 and outcomes["screened_out"] == []  # the units the whole pipeline keeps
    assert [o.label for o in spec.choices.normalizer] == ["minmax", "rank"]
    with pytest.raises(Exception, match="different aggregators per level"):
        robustness_inputs(ds, UncertaintySpec.from_dict({"reps": 128}),
                          pipe.with_step("aggregate", levels={"4": "geometric"}))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=6, max_size=30),
       st.floats(0.01, 100.0), st.floats(-50.0, 50.0))
def test_winsorisation_commutes_with_positive_affine_maps(values, scale, shift):
    """Skewness and kurtosis do not change under x -> a x + b (a > 0), so COINr's rule winsorises
    the same points: treat(a x + b) = a treat(x) + b whenever it winsorises (or leaves x alone)."""
    x = np.round(np.asarray(values), 3)
    out, table = treat(pd.DataFrame({"v": x}))
    out2, table2 = treat(pd.DataFrame({"v": scale * x + shift}))
    row, row2 = table.iloc[0], table2.iloc[0]
    if row["transformation"] in ("none", "winsorised") and row2["transformation"] == row["transformation"]:
        np.testing.assert_allclose(out2["v"], scale * out["v"] + shift, rtol=1e-9, atol=1e-9 * (1 + abs(shift)))
        assert row["winsorised_high"] + row["winsorised_low"] == row2["winsorised_high"] + row2["winsorised_low"]


def _naive_coinr_build(raw: pd.DataFrame, meta: pd.DataFrame, imeta: pd.DataFrame) -> pd.DataFrame:
    """COINr's build_example_coin as the ASEM README describes it, in plain pandas (no weightlab
    code): pillar, sub-index and index scores."""
    ind = imeta[imeta["Type"] == "Indicator"].set_index("iCode")
    x = raw[ind.index].astype(float).copy()
    for code, den in ind["Denominator"].dropna().items():  # 1. denominate
        x[code] = x[code] / pd.to_numeric(meta[den], errors="coerce")
    grp = meta["EurAsia_group"]
    x = x.fillna(x.groupby(grp).transform("mean"))  # 2. group mean
    # 3. screen: every unit has all its indicators after imputation
    for code in x.columns:  # 4. treat
        v = x[code].to_numpy().copy()

        def ok(w):
            s, k = _e1071_type2(w)
            return abs(s) < 2 or k < 3.5

        if ok(v):
            continue
        w = v.copy()
        for _ in range(5):
            s, _k = _e1071_type2(w)
            if s >= 0:
                top = w.max()
                w[w == top] = w[w < top].max()
            else:
                bottom = w.min()
                w[w == bottom] = w[w > bottom].min()
            if ok(w):
                break
        x[code] = w if ok(w) else np.log(v - v.min() + 0.01 * (v.max() - v.min()))
    d = ind["Direction"].astype(float)  # 5. min-max 0-100 with directions
    z = x * d
    norm = (z - z.min()) / (z.max() - z.min()) * 100
    out = {}
    agg = imeta[imeta["Type"] == "Aggregate"].sort_values("Level")
    scores = norm
    for level in (2, 3, 4):  # 6. arithmetic means (all weights 1, nothing missing)
        level_codes = agg[agg["Level"] == level]["iCode"]
        parents = imeta.set_index("iCode")["Parent"]
        new = pd.DataFrame({g: scores[[c for c in scores.columns if parents[c] == g]].mean(axis=1)
                            for g in level_codes})
        out.update(new.to_dict("series"))
        scores = new
    return pd.DataFrame(out)


def test_asem_pillars_agree_with_a_plain_reimplementation_of_the_readme_steps(asem_build):
    """COINr's article publishes no pillar scores: the pillar level is checked against the README's
    steps written out in plain pandas (and the published sub-index rows above close the loop)."""
    from weightlab.datasets import _path

    raw = pd.read_csv(_path("asem_iData.csv")).set_index("uCode")
    imeta = pd.read_csv(_path("asem_iMeta.csv"))
    want = _naive_coinr_build(raw, raw, imeta)
    got = asem_build.dataset("aggregated")
    pd.testing.assert_frame_equal(got[want.columns].loc[want.index], want, check_names=False, rtol=1e-11, atol=1e-9)


def test_validate_checks_a_pipeline_before_printing(tmp_path, capsys):
    export("asem", tmp_path)
    args = ["validate", tmp_path / "data.csv", "-f", tmp_path / "framework.toml", "--pipeline"]
    code, out, _ = run([*args, tmp_path / "pipeline.toml"], capsys)
    assert code == 0 and "65 cell(s) imputed (Elec 1, Gas 1, ConSpeed 8" in out and "0 unit(s) screened out" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('[impute]\nmethod = "mean_group"\ngroup = "Region"\n')
    code, out, err = run([*args, bad], capsys)
    assert code == 2 and out == "" and "group column 'Region'" in err
