"""Aggregators over the registry, the nominal index and its invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightlab.aggregation import AGGREGATORS
from weightlab.compare import compare, compare_schemes
from weightlab.data import Dataset
from weightlab.errors import InputError
from weightlab.index import build_index, rank_descending

from .helpers import random_dataset

# The power mean of every registered aggregator (numpy formula, missing members, mean properties,
# monotonicity, positivity and shift rules) is checked by weightlab.testing (tests/test_common_checks.py).


@pytest.mark.parametrize("p", [2.0, 3.0, 0.5])
def test_power_means_refuse_negative_members(p):
    # with p = 2 the unit (-3, 1) would outscore (0.5, 0.5); with p = 3 the cube root of a negative mean is NaN
    x = np.array([[-3.0, 1.0], [0.5, 0.5], [1.0, 2.0]])
    with pytest.raises(InputError, match="non-negative.*'m0' has minimum -3"):
        AGGREGATORS.get("genmean", p=p).aggregate(x, np.array([0.5, 0.5]), members=["m0", "m1"])
    shifted = AGGREGATORS.get("genmean", p=p, shift=0.5).aggregate(x, np.array([0.5, 0.5]))
    y = np.column_stack([x[:, 0] + 3.5, x[:, 1]])
    np.testing.assert_allclose(shifted, ((y ** p) @ [0.5, 0.5]) ** (1 / p), rtol=1e-12)
    assert AGGREGATORS.get("arithmetic").aggregate(x, np.array([0.5, 0.5]))[0] == -1.0  # p = 1 needs nothing


def test_ranks_min_method_and_nan_last():
    np.testing.assert_array_equal(rank_descending([3.0, 5.0, 3.0, np.nan, 1.0]), [2, 1, 2, 5, 4])


def test_build_index_hand_worked():
    ds = random_dataset(n_units=6, seed=2)
    fw = ds.framework
    res = build_index(ds)
    v = ds.values
    mm = (v - v.min()) / (v.max() - v.min())
    mm["x3"] = 1 - mm["x3"]  # cost indicator
    a1 = (mm["x1"] + mm["x2"] + mm["x3"]) / 3  # equal scheme: framework weights ignored
    A = (a1 + mm["x4"]) / 2
    B = (mm["x5"] + mm["x6"] + mm["x7"]) / 3
    np.testing.assert_allclose(res.index_scores, (A + B) / 2, rtol=1e-12)
    expert = build_index(ds, scheme="expert").index_scores
    a1e = (mm["x1"] + 2 * mm["x2"] + mm["x3"]) / 4
    Ae = (a1e + 0.5 * mm["x4"]) / 1.5
    Be = (mm["x5"] + mm["x6"] + 3 * mm["x7"]) / 5
    np.testing.assert_allclose(expert, (2 * Ae + Be) / 3, rtol=1e-12)
    assert list(res.table().columns[:4]) == ["unit", "name", "score", "rank"]
    assert fw.n_levels == 4


def test_mixed_aggregators_per_level():
    ds = random_dataset(n_units=10)
    res = build_index(ds, aggregator={2: "arithmetic", 3: "geometric", 4: "harmonic"},
                      normalizer_params={"range": (1.0, 100.0)})
    s2 = res.scores[2]
    A = np.exp((np.log(s2["a1"]) + np.log(s2["a2"])) / 2)
    B = s2["b1"]
    np.testing.assert_allclose(res.scores[3]["A"], A, rtol=1e-12)
    np.testing.assert_allclose(res.index_scores, 2 / (1 / A + 1 / B), rtol=1e-12)


def test_imputation_options_are_stated():
    ds = random_dataset(missing=6)
    for imp in ("none", "mean", "median", "knn"):
        res = build_index(ds, imputation=imp)
        assert res.settings["imputation"] == imp
        assert res.index_scores.notna().all()


def test_scores_and_ranks_at_every_level():
    ds = random_dataset(n_units=12, seed=5)
    res = build_index(ds)
    fw = ds.framework
    for level in range(1, fw.n_levels + 1):
        scores = res.scores[level]
        assert scores.columns.tolist() == fw.codes_at(level) and scores.index.equals(ds.units)
        ranks = res.level_ranks(level)
        for code in scores.columns:  # rank 1 = best, ties share the lowest rank ("min")
            want = scores[code].rank(ascending=False, method="min", na_option="bottom").astype(int)
            np.testing.assert_array_equal(ranks[code], want)
    np.testing.assert_array_equal(res.level_ranks(fw.n_levels)[fw.index.code], res.ranks)


def test_compare_normalizers_and_aggregators():
    ds = random_dataset(n_units=15)
    variants = {"minmax": {}, "rank": {"normalizer": "rank"},
                "geometric": {"aggregator": "geometric", "normalizer_params": {"range": (1.0, 2.0)}}}
    cmp = compare(ds, variants)
    for label, kw in variants.items():
        np.testing.assert_array_equal(cmp.ranks.set_index("unit")[label].loc[ds.units],
                                      build_index(ds, **kw).ranks.loc[ds.units])
    from scipy.stats import kendalltau

    s = {k: r.index_scores for k, r in cmp.results.items()}
    assert cmp.kendall.loc["rank", "geometric"] == pytest.approx(kendalltau(s["rank"], s["geometric"]).statistic)


def test_compare_schemes_correlations():
    ds = random_dataset(n_units=25)
    cmp = compare_schemes(ds, ["equal", "entropy", "critic"])
    assert cmp.spearman.loc["equal", "equal"] == pytest.approx(1.0)
    r_eq, r_en = cmp.results["equal"].ranks, cmp.results["entropy"].ranks
    from scipy.stats import kendalltau, spearmanr

    s_eq, s_en = cmp.results["equal"].index_scores, cmp.results["entropy"].index_scores
    assert cmp.spearman.loc["equal", "entropy"] == pytest.approx(spearmanr(s_eq, s_en).statistic)
    assert cmp.kendall.loc["equal", "entropy"] == pytest.approx(kendalltau(s_eq, s_en).statistic)
    shifts = cmp.shifts.set_index("unit")["entropy"]
    np.testing.assert_array_equal(shifts.loc[r_eq.index], (r_eq - r_en).loc[r_eq.index])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 39), st.integers(0, 6), st.floats(0.01, 100.0))
def test_raising_a_benefit_indicator_never_lowers_the_score(unit, col, bump):
    ds = random_dataset()
    code = ds.framework.indicator_codes[col]
    if ds.framework.node(code).direction < 0:
        bump = -bump  # for the cost indicator "better" is lower
    before = build_index(ds).index_scores.iloc[unit]
    values = ds.values.copy()
    values.iloc[unit, col] += bump
    after = build_index(Dataset(values, ds.framework, ds.names)).index_scores.iloc[unit]
    assert after >= before - 1e-12


@settings(max_examples=15, deadline=None)
@given(st.permutations(list(range(40))), st.sampled_from(["equal", "entropy", "critic", "pca"]))
def test_ranks_are_permutation_invariant(order, scheme):
    ds = random_dataset()
    base = build_index(ds, scheme=scheme).ranks
    shuffled = ds.subset(ds.units[list(order)])
    again = build_index(shuffled, scheme=scheme).ranks
    pd.testing.assert_series_equal(again.loc[base.index], base)
