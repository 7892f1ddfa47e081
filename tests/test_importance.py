"""Importance of members (weightlab.importances): estimators against analytic main effects and
scipy, the table on built indices, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightlab.data import Dataset
from weightlab.errors import InputError
from weightlab.framework import Framework
from weightlab.importances import importance
from weightlab.importances.smoothers import (ReinschGCV, SplineBasis, category_main_effect,
                                             local_linear_main_effects, spline_main_effect)
from weightlab.importances.table import bootstrap_counts, weighted_pearson
from weightlab.index import build_index


def _flat(codes, weights=None, n_units=0):
    """A framework index -> indicators ``codes`` (one level)."""
    w = weights or [1.0] * len(codes)
    return Framework.from_dict({"index": {"code": "idx"},
                                "indicators": [{"code": c, "parent": "idx", "weight": wi} for c, wi in zip(codes, w)]})


def _dataset(values: np.ndarray, fw: Framework) -> Dataset:
    units = pd.Index([f"u{i}" for i in range(len(values))], name="unit")
    df = pd.DataFrame(values, columns=fw.indicator_codes, index=units)
    return Dataset(df, fw, pd.Series(units, index=units, name="name"))


# ---------------------------------------------------------------------------------- estimators
def _scipy_gcv_lambda(x, y, w):
    """scipy's own GCV search (make_smoothing_spline without lam), intercepted."""
    import scipy.interpolate._bsplines as B
    from scipy.interpolate import make_smoothing_spline

    seen = {}
    original = B._compute_optimal_gcv_parameter

    def spy(*args):
        seen["lam"] = original(*args)
        return seen["lam"]

    B._compute_optimal_gcv_parameter = spy
    try:
        make_smoothing_spline(x, y, w=w)
    finally:
        B._compute_optimal_gcv_parameter = original
    return seen["lam"]


@pytest.mark.parametrize("n, decimals", [(40, None), (120, 1), (338, None)])
def test_gcv_parameter_is_scipys(n, decimals):
    rng = np.random.default_rng(n)
    x = rng.uniform(-1, 1, n)
    if decimals is not None:
        x = np.round(x, decimals)  # ties: averaged, weighted by count
    y = np.sin(3 * x) + 0.3 * rng.normal(size=n)
    xu, inv, count = np.unique(x, return_inverse=True, return_counts=True)
    yu = np.bincount(inv, y) / count
    ours = ReinschGCV(xu, count.astype(float)).best_lambda(yu)
    theirs = _scipy_gcv_lambda(xu, yu, count.astype(float))
    # the same criterion and search: equal up to Brent's absolute tolerance (1e-5) on a flat minimum
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_main_effect_of_quadratic_with_zero_correlation():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 800)
    x = np.r_[x, -x]  # symmetric: r(x, x^2) = 0 exactly
    noise = 0.1
    y = x ** 2 + noise * rng.normal(size=x.size)
    expected = (4 / 45) / (4 / 45 + noise ** 2)  # Var(x^2) = 1/5 - 1/9 for x ~ U(-1, 1)
    assert abs(np.corrcoef(x, x ** 2)[0, 1]) < 1e-12
    assert spline_main_effect(x, y) == pytest.approx(expected, abs=0.02)
    assert local_linear_main_effects(x, y[None])[0] == pytest.approx(expected, abs=0.02)
    assert SplineBasis(x).main_effects(np.ones((1, x.size)), y[None])[0, 0] == pytest.approx(expected, abs=0.02)


def test_straight_line_main_effect_is_r_squared():
    rng = np.random.default_rng(2)
    x = rng.normal(size=600)
    y = 2 * x + rng.normal(size=600)
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    for S in (spline_main_effect(x, y), local_linear_main_effects(x, y[None])[0],
              SplineBasis(x).main_effects(np.ones((1, 600)), y[None])[0, 0]):
        assert S == pytest.approx(r2, abs=0.01)


def test_bootstrap_basis_solves_the_penalised_least_squares_problem():
    """The Demmler-Reinsch shortcut against a direct solve at every grid lam (brute force)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 150)
    y = np.exp(2 * x) + rng.normal(scale=0.5, size=150)
    basis = SplineBasis(x)
    counts = bootstrap_counts(150, 3, seed=5)
    S = basis.main_effects(counts, y[None], fixed_lambda=False)[:, 0]
    for r, c in enumerate(counts):
        B, N = basis.B, c.sum()
        G = B.T @ (c[:, None] * B)
        G += np.eye(basis.K) * 1e-10 * np.trace(G)
        best = None
        for lam in basis.lams:
            A = G + lam * basis.omega
            beta = np.linalg.solve(A, B.T @ (c * y))
            f = B @ beta
            rss = c @ (y - f) ** 2
            tr = np.trace(np.linalg.solve(A, G))
            gcv = N * rss / (N - tr) ** 2
            if best is None or gcv < best[0]:
                best = (gcv, f)
        f = best[1]
        mean = c @ f / N
        expected = (c @ (f - mean) ** 2 / N) / (c @ (y - c @ y / N) ** 2 / N)
        assert S[r] == pytest.approx(expected, rel=1e-6)


def test_discrete_member_gets_the_exact_correlation_ratio():
    x = np.repeat([0.0, 1.0, 2.0], 20)
    y = np.r_[np.zeros(20), np.ones(20) * 3, np.ones(20)] + np.tile(np.linspace(-1, 1, 20), 3)
    means = np.array([0.0, 3.0, 1.0])[np.repeat([0, 1, 2], 20)]
    expected = np.var(means) / np.var(y)
    assert category_main_effect(x, y) == pytest.approx(expected, rel=1e-12)
    assert spline_main_effect(x, y) == pytest.approx(expected, rel=1e-12)


def test_weighted_pearson_matches_repeated_rows():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=30), rng.normal(size=30)
    counts = bootstrap_counts(30, 4, seed=1)
    for c, r in zip(counts, weighted_pearson(counts, x, y)):
        rows = np.repeat(np.arange(30), c.astype(int))
        assert r == pytest.approx(np.corrcoef(x[rows], y[rows])[0, 1], rel=1e-10)


# ---------------------------------------------------------------------------------- the table
def test_linear_index_of_independent_indicators():
    """S_i = w_i^2 sigma_i^2 / Var(y) for y = sum w_i x_i with independent x_i.

    A full factorial design makes the members exactly independent in the sample (E[y | x_i] is
    exactly linear), so the analytic value holds for the sample itself."""
    levels = [np.linspace(0, 1, 11), np.r_[0, np.full(9, 0.5) + np.linspace(-0.1, 0.1, 9), 1],
              np.r_[np.linspace(0, 0.2, 5), np.linspace(0.8, 1, 6)]]
    X = np.array(np.meshgrid(*levels, indexing="ij")).reshape(3, -1).T
    fw = _flat(["a", "b", "c"], [1.0, 2.0, 3.0])
    res = build_index(_dataset(X, fw), scheme="expert")
    w = res.weights.values[["a", "b", "c"]].to_numpy()
    Xn = res.normalised[["a", "b", "c"]].to_numpy()
    np.testing.assert_allclose(Xn, X, atol=1e-12)  # min-max leaves them as they are
    expected = w ** 2 * X.var(axis=0) / np.var(X @ w)
    t = importance(res, n_boot=200, seed=1).table.set_index("member")
    assert set(t["against"]) == {"index"}  # the parent is the index: no second row
    np.testing.assert_allclose(t.loc[["a", "b", "c"], "S_linear"], expected, rtol=1e-10)
    np.testing.assert_allclose(t.loc[["a", "b", "c"], "S_spline"], expected, atol=1e-6)
    np.testing.assert_allclose(t.loc[["a", "b", "c"], "S_local_linear"], expected, atol=0.01)
    pratt = w * np.array([np.cov(X[:, j], X @ w, bias=True)[0, 1] for j in range(3)]) / np.var(X @ w)
    np.testing.assert_allclose(t.loc[["a", "b", "c"], "pratt"], pratt, rtol=1e-10)
    assert t["pratt"].sum() == pytest.approx(1.0, abs=1e-12)
    assert t["r_share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (t["S_lo"] <= t["S_spline"] + 0.02).all() and (t["S_spline"] <= t["S_hi"] + 0.02).all()
    assert (t["r_lo"] <= t["r"]).all() and (t["r"] <= t["r_hi"]).all()


def test_quadratic_relation_is_flagged():
    """x2 cancels x1's linear part: the index is 0.5 (0.75 + (x1 - 0.5)^2), r(x1, index) = 0, S = 1."""
    rng = np.random.default_rng(8)
    u = rng.uniform(size=300)
    x1 = np.r_[0.0, 1.0, u, 1 - u]  # symmetric around 0.5 with min 0 and max 1
    x2 = 1 - x1 + (x1 - 0.5) ** 2  # range 1: min-max only shifts it
    fw = _flat(["x1", "x2"])
    res = build_index(_dataset(np.column_stack([x1, x2]), fw))
    row = importance(res, n_boot=50).table.set_index("member").loc["x1"]
    assert abs(row["r"]) < 1e-12
    assert row["S_spline"] > 0.99 and row["S_local_linear"] > 0.95
    assert "nonlinear" in row["flag"]


def test_demo_table_shape_columns_and_determinism(demo_ds):
    res = build_index(demo_ds)
    a = importance(res, n_boot=30, seed=3)
    b = importance(res, n_boot=30, seed=3)
    pd.testing.assert_frame_equal(a.table, b.table)
    fw = demo_ds.framework
    members = sum(len(fw.codes_at(lvl)) for lvl in range(1, fw.n_levels))
    assert a.table["member"].nunique() == members
    top = fw.n_levels - 1
    assert len(a.table) == 2 * members - len(fw.codes_at(top))  # top-level members: only vs the index
    for col in ("level", "group", "member", "weight", "effective_weight", "r", "r_share", "S_spline", "S_lo",
                "S_hi", "S_local_linear", "S_linear", "pratt", "flag"):
        assert col in a.table.columns
    assert a.label == "synthetic demo data"
    # effective weights in the index are the framework's products of weights
    eff = res.weights.effective()
    ind = a.table[(a.table["level"] == 1) & (a.table["against"] == "index")].set_index("member")
    np.testing.assert_allclose(ind["effective_weight"], eff[ind.index], rtol=1e-12)
    # the only member of a group: trivial against the group, and said so
    lone = a.table[(a.table["member"] == "policy_releases") & (a.table["against"] == "parent")].iloc[0]
    assert lone["S_spline"] == 1.0 and "only member" in lone["remark"]


NORMALIZER_PARAMS = {"goalposts": {"lower": 0.0, "upper": 100.0}, "dist_to_ref": {"ref": "u07"},
                     "dist_to_target": {"targets": 50.0}}


def _normalizer_cases():
    from weightlab.aggregation import AGGREGATORS
    from weightlab.normalization import NORMALIZERS

    return ([(n, "arithmetic") for n in NORMALIZERS.available()]
            + [("minmax", a) for a in AGGREGATORS.available() if a != "arithmetic"])


@pytest.mark.parametrize("normalizer, aggregator", _normalizer_cases())
def test_every_normaliser_and_aggregator(normalizer, aggregator):
    """Importance is measured on the built scores: r against numpy's on the build's own columns."""
    from tests.helpers import random_dataset

    ds = random_dataset(60)
    res = build_index(ds, normalizer=normalizer, aggregator=aggregator,
                      normalizer_params=NORMALIZER_PARAMS.get(normalizer),
                      aggregator_params={"shift": 0.01} if aggregator != "arithmetic" else None)
    t = importance(res, n_boot=20).table
    index = res.index_scores.to_numpy()
    for lvl in (1, 2):
        for code in ds.framework.codes_at(lvl):
            row = t[(t["member"] == code) & (t["against"] == "index")].iloc[0]
            x = res.scores[lvl][code].to_numpy()
            if np.ptp(x) > 0:
                assert row["r"] == pytest.approx(np.corrcoef(x, index)[0, 1], rel=1e-12)
                assert row["S_linear"] == pytest.approx(row["r"] ** 2, rel=1e-12)
                assert np.isfinite(row["S_spline"]) and np.isfinite(row["S_local_linear"])


def test_constant_member_and_too_few_units():
    rng = np.random.default_rng(9)
    X = np.column_stack([rng.uniform(size=40), rng.uniform(size=40), np.full(40, 3.0)])
    fw = _flat(["a", "b", "c"])
    res = build_index(_dataset(X, fw), normalizer="zscore")
    t = importance(res, n_boot=10).table.set_index("member")
    assert np.isnan(t.loc["c", "S_spline"]) and "constant" in t.loc["c", "remark"]
    small = build_index(_dataset(X[:8], fw), normalizer="zscore")
    with pytest.raises(InputError, match="at least 10"):
        importance(small, n_boot=10)


def test_build_importance_and_public_name():
    import weightlab as wl
    from tests.helpers import random_dataset

    ds = random_dataset(50)
    build = wl.Pipeline.from_dict({"normalise": {"method": "minmax"}}).run(ds)
    via_build = build.importance(n_boot=10)
    via_function = wl.importance(build, n_boot=10)
    pd.testing.assert_frame_equal(via_build.table, via_function.table)
    assert isinstance(via_build, wl.ImportanceResult)


def test_saved_table_keeps_remarks_and_the_data_caveat(demo_ds, tmp_path):
    imp = importance(build_index(demo_ds), n_boot=5)
    paths = imp.save(tmp_path)
    assert {p.name for p in paths} >= {"importance.csv", "scores.csv", "weights.csv", "manifest.json"}
    saved = pd.read_csv(tmp_path / "importance.csv", keep_default_na=False)
    assert (saved["note"] == "synthetic demo data").all()
    lone = saved[(saved["member"] == "policy_releases") & (saved["against"] == "parent")].iloc[0]
    assert "only member" in lone["remark"]


def test_bootstrap_keeps_the_full_sample_smoothing_parameter():
    """fixed_lambda (the default): every resample uses the lam GCV picks on all units (brute force)."""
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, 120)
    y = np.sin(4 * x) + rng.normal(scale=0.4, size=120)
    basis = SplineBasis(x)
    B = basis.B

    def fit(c, lam):
        G = B.T @ (c[:, None] * B)
        G += np.eye(basis.K) * 1e-10 * np.trace(G)
        A = G + lam * basis.omega
        return B @ np.linalg.solve(A, B.T @ (c * y)), np.trace(np.linalg.solve(A, G))

    ones = np.ones(120)
    gcvs = [120 * np.sum((y - f) ** 2) / (120 - tr) ** 2 for f, tr in (fit(ones, lam) for lam in basis.lams)]
    lam = basis.lams[int(np.argmin(gcvs))]
    counts = bootstrap_counts(120, 3, seed=2)
    S = basis.main_effects(counts, y[None])[:, 0]
    for r, c in enumerate(counts):
        f, _ = fit(c, lam)
        N = c.sum()
        expected = (c @ (f - c @ f / N) ** 2 / N) / (c @ (y - c @ y / N) ** 2 / N)
        assert S[r] == pytest.approx(expected, rel=1e-6)
