"""Indicator analysis against hand-worked examples, analytic cases and plain formulas."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from weightlab.analysis import (analyse, correlation_flags, cronbach_alpha, group_cronbach, group_pca,
                                indicator_correlations, indicator_stats, unit_availability)
from weightlab.cli import main
from weightlab.data import read_dataset
from weightlab.datasets import export
from weightlab.framework import Framework
from weightlab.pipeline import Pipeline


def _dataset(table: pd.DataFrame) -> "object":
    doc = {"index": {"code": "I"}, "groups": [{"code": "G", "parent": "I"}, {"code": "H", "parent": "I"}],
           "indicators": [{"code": "a", "parent": "G"}, {"code": "b", "parent": "G"}, {"code": "c", "parent": "G"},
                          {"code": "d", "parent": "H"}, {"code": "e", "parent": "H"}]}
    return read_dataset(table, Framework.from_dict(doc))


@pytest.fixture
def build():
    rng = np.random.default_rng(4)
    f = rng.normal(size=60)
    g = rng.normal(size=60)
    table = pd.DataFrame({"unit": [f"u{i}" for i in range(60)], "a": f + 0.3 * rng.normal(size=60),
                          "b": f + 0.3 * rng.normal(size=60), "c": -f + 0.3 * rng.normal(size=60),  # against its group
                          "d": g + 0.3 * rng.normal(size=60), "e": g + 0.3 * rng.normal(size=60)})
    table.loc[3, "a"] = np.nan
    return Pipeline({}).run(_dataset(table))


def test_indicator_stats_by_formula():
    table = pd.DataFrame({"unit": list("pqrstuvw"), "a": [0, 0, 1, 2, 3, 4, 5, 40.0],
                          "b": [1, 2, np.nan, 4, 5, 6, 7, 8.0],
                          "c": [1.0] * 8, "d": [3, 1, 4, 1, 5, 9, 2, 6.0], "e": [2, 7, 1, 8, 2, 8, 1, 8.0]})
    with pytest.warns(UserWarning, match="constant"):
        ds = _dataset(table)
    stats = indicator_stats(ds.values).set_index("indicator")
    a = np.array([0, 0, 1, 2, 3, 4, 5, 40.0])
    row = stats.loc["a"]
    assert row["n"] == 8 and row["missing_share"] == 0 and row["zeros"] == 2 and row["zeros_share"] == 0.25
    assert row["min"] == 0 and row["max"] == 40 and row["mean"] == pytest.approx(a.mean())
    assert row["sd"] == pytest.approx(math.sqrt(((a - a.mean()) ** 2).sum() / 7))
    n, d = 8, a - a.mean()
    g1 = (d ** 3).mean() / (d ** 2).mean() ** 1.5
    assert row["skew"] == pytest.approx(g1 * math.sqrt(n * (n - 1)) / (n - 2))
    # Tukey's fences: Q1 = 0.75, Q3 = 4.25 (linear interpolation), IQR 3.5 -> fences -4.5, 9.5: one outlier
    assert row["outliers_iqr"] == 1 and bool(row["skew_kurt_flag"])
    assert stats.loc["b", "missing_share"] == 1 / 8 and stats.loc["b", "n"] == 7
    assert math.isnan(stats.loc["c", "skew"]) and not stats.loc["c", "skew_kurt_flag"]


def test_cronbach_alpha_formulas():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 1)) + 0.8 * rng.normal(size=(50, 4)))
    C = np.cov(X.to_numpy(), rowvar=False)
    k = 4
    mean_cov = (C.sum() - np.trace(C)) / (k * (k - 1))
    standard = k * mean_cov / (np.trace(C) / k + (k - 1) * mean_cov)  # the covariance form of alpha
    assert cronbach_alpha(X) == pytest.approx(standard, rel=1e-12)
    same = pd.DataFrame({"x": [1.0, 2, 3, 5], "y": [1.0, 2, 3, 5]})
    assert cronbach_alpha(same) == pytest.approx(1.0)
    assert math.isnan(cronbach_alpha(same[["x"]]))
    with_gap = X.copy()
    with_gap.iloc[0, 0] = np.nan
    assert cronbach_alpha(with_gap) == pytest.approx(cronbach_alpha(X.iloc[1:]))


def test_group_pca_two_members_is_analytic(build):
    summary, loadings = group_pca(build.result)
    # group H: two standardised members with correlation r -> eigenvalues 1 +- r, loadings sqrt((1 + r) / 2)
    norm = build.result.normalised
    r = norm["d"].corr(norm["e"])
    row = summary.set_index("group").loc["H"]
    assert row["pc1_share"] == pytest.approx((1 + abs(r)) / 2, rel=1e-10)
    assert row["eigen_above_1"] == 1
    h = loadings[loadings.group == "H"].set_index("member")
    np.testing.assert_allclose(h["pc1"], [math.sqrt((1 + r) / 2)] * 2, rtol=1e-10)
    assert set(summary["group"]) == {"G", "H", "I"}


def test_correlations_and_flags(build):
    res = build.result
    pearson = indicator_correlations(res)
    g = res.scores[2]["G"]
    np.testing.assert_allclose(pearson.loc["a", "G"], res.normalised["a"].corr(g))
    spear = indicator_correlations(res, "spearman")
    ok = res.normalised["b"].notna()
    want = pd.Series(res.normalised["b"][ok].rank()).corr(pd.Series(g[ok].rank()))
    assert spear.loc["b", "G"] == pytest.approx(want, rel=1e-12)
    flags = correlation_flags(res).set_index("indicator")
    assert "negative with own group" in flags.loc["c", "flag"]
    assert flags.loc["d", "flag"] == "" and flags.loc["a", "pearson_group"] > 0.5
    assert flags.loc["a", "closest_other_group"] == "H"


def test_group_cronbach_and_availability(build):
    cron = group_cronbach(build.result).set_index("group")
    norm = build.result.normalised
    assert cron.loc["H", "alpha"] == pytest.approx(cronbach_alpha(norm[["d", "e"]]))
    assert cron.loc["G", "complete_units"] == 59
    avail = unit_availability(build.dataset("raw")).set_index("unit")
    assert avail.loc["u3", "availability"] == pytest.approx(4 / 5) and avail.loc["u0", "availability"] == 1


def test_analyse_returns_every_table(build):
    tables = analyse(build)
    assert set(tables) == {"indicator_stats", "correlations_pearson", "correlations_spearman", "correlation_flags",
                           "cronbach", "pca_groups", "pca_loadings", "availability"}
    assert all(isinstance(t, pd.DataFrame) and len(t) for t in tables.values())


def test_analyse_command(tmp_path, capsys):
    export("asem", tmp_path)
    code = main(["analyse", str(tmp_path / "data.csv"), "-f", str(tmp_path / "framework.toml"), "--pipeline",
                 str(tmp_path / "pipeline.toml"), "--out", str(tmp_path / "an")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Cronbach's alpha" in out and "TBTs (in Instit" in out
    code = main(["analyse", str(tmp_path / "data.csv"), "-f", str(tmp_path / "framework.toml"), "--stage", "cooked"])
    assert code == 2 and "--stage cooked" in capsys.readouterr().err
    stats = pd.read_csv(tmp_path / "an" / "indicator_stats.csv")
    assert len(stats) == 49
    manifest = json.loads((tmp_path / "an" / "manifest.json").read_text())
    assert manifest["pipeline"]["steps"]["treat"]["method"] == "coinr"
