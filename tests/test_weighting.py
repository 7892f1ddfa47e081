"""Weighting schemes: common contract over the registry, and conformance with independent formulas."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from weightlab.errors import InputError, ParameterError
from weightlab.framework import Framework
from weightlab.weighting import SCHEMES
from weightlab.weighting.expert import ahp_weights

from .helpers import random_dataset

# A classic 5 alternatives x 4 benefit criteria decision matrix (hand-worked examples of the
# entropy and CRITIC methods use matrices of this shape).
CLASSIC = np.array([
    [250.0, 16.0, 12.0, 5.0],
    [200.0, 16.0, 8.0, 3.0],
    [300.0, 32.0, 16.0, 4.0],
    [275.0, 32.0, 8.0, 4.0],
    [225.0, 16.0, 16.0, 2.0],
])


def flat_framework(m: int) -> Framework:
    return Framework.from_dict({"index": {"code": "idx"}, "groups": [{"code": "g", "parent": "idx"}],
                                "indicators": [{"code": f"c{j}", "parent": "g"} for j in range(m)]})


def fit_flat(name: str, X: np.ndarray, **params) -> np.ndarray:
    fw = flat_framework(X.shape[1])
    df = pd.DataFrame(X, columns=fw.indicator_codes)
    return SCHEMES.get(name, **params).fit(df, fw).weights_.group("g").to_numpy()


# ------------------------------------------------------------------ common contract
# The contract of every registered scheme (weights >= 0 summing to 1 per group, idempotence, unit
# permutation, data scale, constant members, members without values) is in weightlab.testing, run by
# tests/test_common_checks.py; the property test below adds arbitrary data.
@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SCHEMES.available()),
       arrays(np.float64, st.tuples(st.integers(3, 12), st.just(7)),
              elements=st.one_of(st.just(0.0), st.floats(0.0, 1e3, allow_nan=False, allow_subnormal=False))))
def test_weights_are_non_negative_and_sum_to_one_in_every_group(name, values):
    """Invariant over arbitrary non-negative data, ties, zeros and constant columns included."""
    fw = random_dataset(n_units=3).framework
    X = pd.DataFrame(values, columns=fw.indicator_codes)
    if name in ("pca", "pca1") and len(X) <= 3:  # no more units than the 3 members of group a1: refused
        with pytest.raises(InputError, match="3 members"):
            SCHEMES.get(name).fit(X, fw)
        return
    if SCHEMES.get_class(name).requires_positive:
        X = X + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        w = SCHEMES.get(name).fit(X, fw).weights_
    assert np.isfinite(w.values).all() and (w.values >= 0).all()
    for group in [fw.index.code] + [g.code for g in fw.groups]:
        assert w.group(group).sum() == pytest.approx(1.0, abs=1e-9)
    assert w.effective().sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", [n for n in SCHEMES.available() if "cov" in getattr(SCHEMES.get_class(n), "statistics", ())])
@pytest.mark.parametrize("scale", [1e-132, 1e130])
def test_correlation_schemes_do_not_depend_on_the_data_scale(name, scale):
    """CRITIC and PCA read Pearson correlations and min-max spreads, which a common scale factor leaves
    unchanged: values near 1e-132 (the product of two members' squared deviations underflows) or 1e130
    (it overflows) give the weights of the unscaled data, not a ZeroDivisionError or zero correlations."""
    fw = random_dataset(n_units=3).framework
    X = pd.DataFrame(np.random.default_rng(4).lognormal(size=(20, 7)), columns=fw.indicator_codes)
    w = SCHEMES.get(name).fit(X, fw).weights_.values
    np.testing.assert_allclose(SCHEMES.get(name).fit(X * scale, fw).weights_.values, w, rtol=1e-9, atol=1e-12)


def _all_methods():
    from weightlab.aggregation import AGGREGATORS
    from weightlab.normalization import NORMALIZERS

    return [(reg, name) for reg in (NORMALIZERS, SCHEMES, AGGREGATORS) for name in reg.available()]


@pytest.mark.parametrize("registry, name", _all_methods(), ids=lambda v: getattr(v, "kind", v))
def test_every_registered_method_documents_formula_and_source(registry, name):
    doc = registry.get_class(name).__doc__ or ""
    assert "=" in doc, f"{registry.kind} {name}: no formula in the docstring"
    assert "References" in doc, f"{registry.kind} {name}: no source in the docstring"


def test_level_selection_keeps_nominal_elsewhere():
    ds = random_dataset(n_units=30)
    X = ds.values / ds.values.max()
    w = SCHEMES.get("entropy").fit(X, ds.framework, level=1).weights_.values
    nominal = ds.framework.nominal_weights()
    np.testing.assert_allclose(w[["A", "B", "a1", "a2"]], nominal[["A", "B", "a1", "a2"]])
    assert not np.allclose(w[["x1", "x2", "x3"]], nominal[["x1", "x2", "x3"]])


# ------------------------------------------------------------------ conformance
def test_entropy_matches_plain_formula():
    X = CLASSIC
    p = X / X.sum(axis=0)
    e = -(p * np.log(p)).sum(axis=0) / np.log(X.shape[0])
    want = (1 - e) / (1 - e).sum()
    np.testing.assert_allclose(fit_flat("entropy", X), want, rtol=1e-12)


def test_entropy_negative_columns_equal_minmax_entropy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    mm = (X - X.min(0)) / (X.max(0) - X.min(0))
    np.testing.assert_allclose(fit_flat("entropy", X), fit_flat("entropy", mm), rtol=1e-12)


def test_critic_matches_plain_formula():
    X = CLASSIC
    Z = (X - X.min(0)) / (X.max(0) - X.min(0))
    sd = Z.std(axis=0, ddof=1)
    r = np.corrcoef(Z, rowvar=False)
    C = sd * (1 - r).sum(axis=1)
    np.testing.assert_allclose(fit_flat("critic", X), C / C.sum(), rtol=1e-12)


def test_std_matches_plain_formula():
    X = CLASSIC
    Z = (X - X.min(0)) / (X.max(0) - X.min(0))
    sd = Z.std(axis=0, ddof=1)
    np.testing.assert_allclose(fit_flat("std", X), sd / sd.sum(), rtol=1e-12)


def test_rounding_noise_never_becomes_a_weight():
    # entropy: a uniform column has e = 1 up to rounding (1 - e = +-1e-15), which must count as 0
    X = np.ones((12, 3))
    X[0, 0] = 0.0
    np.testing.assert_array_equal(fit_flat("entropy", X), [1.0, 0.0, 0.0])
    # CRITIC: perfectly correlated members are identical after min-max rescaling: every C_j is 0
    x = np.random.default_rng(1).uniform(size=7)
    np.testing.assert_allclose(fit_flat("critic", np.column_stack([x, 2 * x + 1, 3 * x + 0.5, 7 * x])), [0.25] * 4,
                               rtol=1e-12)


def test_constant_columns():
    X = np.column_stack([np.ones(6), np.arange(6.0), np.arange(6.0) ** 2])
    assert fit_flat("critic", X)[0] == 0.0
    assert fit_flat("std", X)[0] == 0.0
    assert fit_flat("entropy", X)[0] == pytest.approx(0.0, abs=1e-12)  # uniform p: no information
    np.testing.assert_allclose(fit_flat("critic", np.ones((5, 3))), [1 / 3] * 3)


def _varimax_reference(L, gamma=1.0, iters=200_000, tol=1e-15):
    """Varimax by the SVD iteration (Kaiser's criterion), independent of the planar form in pca.py."""
    p, k = L.shape
    R = np.eye(k)
    d = 0.0
    for _ in range(iters):
        Lr = L @ R
        u, s, vh = np.linalg.svd(L.T @ (Lr ** 3 - (gamma / p) * Lr @ np.diag((Lr ** 2).sum(axis=0))))
        R = u @ vh
        d_old, d = d, s.sum()
        if d_old != 0 and d < d_old * (1 + tol):
            break
    return L @ R


def test_pca_matches_direct_eigendecomposition_and_varimax():
    rng = np.random.default_rng(4)
    f = rng.normal(size=(200, 2))
    X = np.column_stack([f[:, 0] + 0.3 * rng.normal(size=200) for _ in range(3)]
                        + [f[:, 1] + 0.4 * rng.normal(size=200) for _ in range(3)])
    R = np.corrcoef(X, rowvar=False)
    vals, vecs = np.linalg.eigh(R)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    k = int((vals > 1).sum())
    assert k == 2
    L = _varimax_reference(vecs[:, :k] * np.sqrt(vals[:k]))
    sq = L ** 2
    scaled = sq / sq.sum(axis=0)
    fac = scaled.argmax(axis=1)
    fw_ = sq.sum(axis=0) / sq.sum()
    want = fw_[fac] * scaled[np.arange(6), fac]
    # the SVD iteration pins the angle only to ~sqrt(machine eps), hence rtol 1e-6
    np.testing.assert_allclose(fit_flat("pca", X), want / want.sum(), rtol=1e-6)
    # first-component variant
    v1 = np.abs(vecs[:, 0])
    np.testing.assert_allclose(fit_flat("pca1", X), v1 / v1.sum(), rtol=1e-10)
    # forcing one factor, no rotation: squared first-PC loadings
    w1 = fit_flat("pca", X, n_factors=1, rotation="none")
    np.testing.assert_allclose(w1, vecs[:, 0] ** 2 / (vecs[:, 0] ** 2).sum(), rtol=1e-10)


# The Technology Achievement Index data of the OECD/JRC Handbook (2008) section 6.1: 23 countries x
# patents, royalties, internet hosts, high-tech exports, telephones (log), electricity (log), schooling,
# university enrolment (UNDP Human Development Report 2001), as reproduced in public course material.
TAI = np.array([
    [187, 125.6, 200.2, 50.7, 3.08, 4.15, 10.0, 27.4], [289, 130.0, 179.1, 66.2, 3.00, 4.07, 12.0, 13.9],
    [271, 156.6, 125.8, 59.7, 3.10, 4.14, 11.4, 15.3], [994, 64.6, 49.0, 80.8, 3.00, 3.86, 9.5, 10.0],
    [779, 9.8, 4.8, 66.7, 2.97, 3.65, 10.8, 23.2], [189, 151.2, 136.0, 50.9, 3.02, 3.77, 9.4, 9.5],
    [82, 134.0, 57.4, 61.9, 3.02, 3.73, 9.4, 14.9], [31, 38.6, 108.0, 48.7, 2.94, 4.18, 11.6, 14.2],
    [75, 18.2, 125.9, 16.2, 2.94, 3.94, 10.9, 25.3], [8, 25.5, 72.3, 74.9, 2.95, 3.83, 7.1, 24.2],
    [235, 36.8, 41.2, 64.2, 2.94, 3.75, 10.2, 14.4], [103, 20.2, 193.6, 19.0, 3.12, 4.39, 11.9, 11.2],
    [106, 110.3, 48.6, 53.6, 2.97, 3.68, 9.4, 12.3], [72, 73.9, 58.9, 47.6, 2.91, 3.86, 9.3, 13.6],
    [103, 13.0, 146.7, 15.4, 2.86, 3.91, 11.7, 13.1], [165, 14.8, 84.2, 50.3, 2.99, 3.79, 8.4, 13.6],
    [205, 33.6, 36.4, 58.9, 2.97, 3.80, 7.9, 12.6], [74, 43.6, 43.2, 45.0, 2.96, 3.74, 9.6, 11.0],
    [42, 8.6, 21.0, 53.4, 2.86, 3.62, 7.3, 15.6], [13, 9.8, 30.4, 51.0, 3.00, 3.65, 7.2, 13.0],
    [28, 4.2, 25.0, 51.7, 2.75, 3.68, 9.5, 8.2], [26, 6.2, 21.6, 63.5, 2.73, 3.46, 9.1, 7.7],
    [105, 4.0, 20.3, 49.5, 2.84, 3.71, 7.1, 10.6],
])


def test_pca_on_the_handbook_tai_data():
    """Handbook Tables 16-17 on the TAI data, then the full weights against the direct procedure."""
    vals, vecs = np.linalg.eigh(np.corrcoef(TAI, rowvar=False))
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    # Table 16: variance shares (%) of the eight components
    np.testing.assert_allclose(100 * vals / 8, [41.9, 21.8, 12.3, 11.1, 6.0, 3.7, 2.2, 0.9], atol=0.15)
    # Table 17: four factors retained; patents load 0.97 on theirs, 0.67 once squared and scaled
    L = _varimax_reference(vecs[:, :4] * np.sqrt(vals[:4]))
    sq = L ** 2
    scaled = sq / sq.sum(axis=0)
    assert np.abs(L[0]).max() == pytest.approx(0.97, abs=0.01)
    assert scaled[0].max() == pytest.approx(0.67, abs=0.015)
    fac = np.abs(L).argmax(axis=1)  # each indicator joins the factor it loads highest on
    want = (sq.sum(axis=0) / sq.sum())[fac] * scaled[np.arange(8), fac]
    fw = flat_framework(8)
    scheme = SCHEMES.get("pca").fit(pd.DataFrame(TAI, columns=fw.indicator_codes), fw)
    assert any("4 factor(s)" in n for n in scheme.notes_), scheme.notes_
    np.testing.assert_allclose(scheme.weights_.group("g").to_numpy(), want / want.sum(), rtol=1e-6)


# Handbook 2008 Table 18: PCA/FA weights of the TAI indicators (patents, royalties, internet, exports,
# telephones, electricity, schooling, university), as printed (two decimals)
HANDBOOK_TABLE_18 = np.array([0.17, 0.15, 0.11, 0.07, 0.08, 0.12, 0.14, 0.16])
# Handbook 2008 Table 17 as printed: squared rotated loadings scaled to unity sum per factor, of each
# indicator on the factor it loads highest on, and the factors' shares of explained variance
# (Expl.Var/Expl.Tot); the factors are (Internet/electricity/schooling, patents, university,
# royalties/telephones); exports joins the first one (loading 0.65, against 0.55 on patents).
HANDBOOK_TABLE_17_SCALED = np.array([0.68, 0.49, 0.24, 0.16, 0.27, 0.25, 0.29, 0.78])
HANDBOOK_TABLE_17_FACTOR = np.array([1, 3, 0, 0, 3, 0, 0, 2])
HANDBOOK_TABLE_17_SHARE = np.array([0.38, 0.20, 0.17, 0.25])


def test_pca_gives_handbook_table_18_weights():
    """The pca scheme on the TAI data gives the Handbook's Table 18 within its rounding.

    The Handbook computes Table 18 from the two-decimal figures of Table 17, so a weight may differ
    from ours by the two-decimal rounding of Table 18 (0.005) plus the propagated rounding of
    Table 17 (a few thousandths). Recomputing from Table 17's printed figures reproduces Table 18
    exactly, which pins the reading of the procedure (assignment by highest loading); the old rule
    (largest scaled squared loading) put exports on the patents factor and gave it 0.054."""
    from_table_17 = HANDBOOK_TABLE_17_SHARE[HANDBOOK_TABLE_17_FACTOR] * HANDBOOK_TABLE_17_SCALED
    np.testing.assert_array_equal(np.round(from_table_17 / from_table_17.sum(), 2), HANDBOOK_TABLE_18)
    fw = flat_framework(8)
    w = SCHEMES.get("pca").fit(pd.DataFrame(TAI, columns=fw.indicator_codes), fw).weights_.group("g").to_numpy()
    np.testing.assert_allclose(w, HANDBOOK_TABLE_18, atol=0.006)
    np.testing.assert_allclose(w, from_table_17 / from_table_17.sum(), atol=0.0025)
    assert w[3] == pytest.approx(0.0746, abs=5e-4)  # exports, 0.054 under the old assignment


def test_pca_retention_follows_handbook_tai_shares():
    """Handbook 2008 Table 16 (TAI): eigenvalues 3.3, 1.7, 1.0, 0.9, 0.5, 0.3, 0.2, 0.1 (shares 41.9,
    21.8, 12.3, 11.1, 6.0, 3.7, 2.2, 0.9 %); the Handbook retains 4 factors (Table 17). The kernel is
    given a matrix with exactly these eigenvalues and reports the factors it retained."""
    from weightlab.weighting.pca_kernel import make_pca_work, pca_weights_from_cov

    eig = np.array([3.3, 1.7, 1.0, 0.9, 0.5, 0.3, 0.2, 0.1])
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    C = q @ np.diag(eig) @ q.T

    def retained(min_share):
        work = make_pca_work(8)
        pca_weights_from_cov(C, 8, 0, True, 0.6, min_share, False, np.zeros(8), work)
        return int(np.isfinite(work[3, 1, :8]).sum())

    assert retained(0.1) == 4
    assert retained(0.5) == 2  # eigenvalue > 1 and 60 % only


def test_pca_default_rule_adds_factors_for_min_variance():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 4))  # nearly spherical: eigenvalues near 1
    w = SCHEMES.get("pca", min_variance=0.9)
    fw = flat_framework(4)
    w.fit(pd.DataFrame(X, columns=fw.indicator_codes), fw)
    assert any("4 factor(s)" in n or "3 factor(s)" in n for n in w.notes_)


def test_ahp_published_example():
    # Saaty's three-criteria example: A = [[1, 3, 5], [1/3, 1, 3], [1/5, 1/3, 1]];
    # published priorities (0.637, 0.258, 0.105), lambda_max = 3.039, CR = 0.033.
    A = np.array([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    w, lam, ci, cr = ahp_weights(A)
    v = np.ones(3)
    for _ in range(200):  # power iteration, independent of numpy.linalg.eig
        v = A @ v
        v /= v.sum()
    np.testing.assert_allclose(w, v, rtol=1e-10)
    np.testing.assert_allclose(w, [0.637, 0.258, 0.105], atol=6e-4)
    assert lam == pytest.approx(3.039, abs=1e-3)
    assert cr == pytest.approx(0.033, abs=1e-3)


def test_ahp_in_scheme_warns_on_inconsistency_and_checks_matrices():
    fw = flat_framework(3)
    X = pd.DataFrame(np.ones((4, 3)), columns=fw.indicator_codes)
    bad = {"g": {"members": ["c0", "c1", "c2"], "matrix": [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]}}
    with pytest.warns(UserWarning, match="consistency ratio"):
        s = SCHEMES.get("expert", ahp=bad).fit(X, fw)
    assert any("CR=" in n for n in s.notes_)
    with pytest.raises(ParameterError, match="reciprocal"):
        SCHEMES.get("expert", ahp={"g": {"members": ["c0", "c1", "c2"],
                                         "matrix": [[1, 2, 3], [2, 1, 3], [1 / 3, 1 / 3, 1]]}}).fit(X, fw)
    with pytest.raises(ParameterError, match="lists members"):
        SCHEMES.get("expert", ahp={"g": {"members": ["c0", "c1"], "matrix": [[1, 2], [0.5, 1]]}}).fit(X, fw)


@pytest.mark.parametrize("ahp, match", [
    ({"g": {"members": ["c0", "c1", "c2"]}}, "needs 'members'.*and 'matrix'"),
    ({"g": [[1, 2], [0.5, 1]]}, "needs 'members'"),
    ({"g": {"members": ["c0", "c1", "c2"], "matrix": [[1, 2], [0.5, 1, 3], [1, 1, 1]]}}, "square table"),
    ({"g": {"members": ["c0", "c1", "c2"], "matrix": [[1, "x", 1], [1, 1, 1], [1, 1, 1]]}}, "square table"),
    ({"gg": {"members": ["c0", "c1", "c2"], "matrix": np.ones((3, 3)).tolist()}}, "unknown group.*gg"),
])
def test_ahp_malformed_input_is_a_parameter_error(ahp, match):
    fw = flat_framework(3)
    X = pd.DataFrame(np.ones((4, 3)), columns=fw.indicator_codes)
    with pytest.raises(ParameterError, match=match):
        SCHEMES.get("expert", ahp=ahp).fit(X, fw)


def test_ahp_consistency_ratio_above_order_ten():
    """An inconsistent 11 x 11 matrix must be flagged: Saaty's RI for order 11 is 1.51."""
    rng = np.random.default_rng(3)
    A = np.ones((11, 11))
    for i, j in itertools.combinations(range(11), 2):
        A[i, j] = rng.choice([1 / 9, 1 / 5, 1 / 3, 3, 5, 9])
        A[j, i] = 1 / A[i, j]
    v = np.ones(11)
    for _ in range(2000):  # power iteration for lambda_max, independent of numpy.linalg.eig
        v = A @ v
        v /= v.sum()
    lam = float((A @ v / v).mean())
    cr = (lam - 11) / 10 / 1.51
    assert cr > 0.1
    _, lam_w, _, cr_w = ahp_weights(A)
    assert lam_w == pytest.approx(lam, rel=1e-9) and cr_w == pytest.approx(cr, rel=1e-9)
    fw = flat_framework(11)
    with pytest.warns(UserWarning, match="consistency ratio"):
        SCHEMES.get("expert", ahp={"g": {"members": fw.indicator_codes, "matrix": A.tolist()}}).fit(
            pd.DataFrame(np.ones((3, 11)), columns=fw.indicator_codes), fw)
    with pytest.raises(ParameterError, match="order 16"):
        ahp_weights(np.ones((16, 16)))


def test_expert_rejects_unknown_members_and_bad_weights(tmp_path):
    fw = flat_framework(2)
    X = pd.DataFrame(np.ones((3, 2)), columns=fw.indicator_codes)
    with pytest.raises(ParameterError, match="unknown member.*cx"):
        SCHEMES.get("expert", weights={"cx": 2}).fit(X, fw)
    with pytest.raises(ParameterError, match="'c0' is -1"):
        SCHEMES.get("expert", weights={"c0": -1}).fit(X, fw)
    (tmp_path / "w.csv").write_text("member,weight\nc0,1\nc1,-2\n")
    with pytest.raises(InputError, match=r"'c1' \(row 3\)"):
        SCHEMES.get("expert", weights=str(tmp_path / "w.csv")).fit(X, fw)
    (tmp_path / "w.csv").write_text("member,weight\nc0,1\nc1,3\n")
    np.testing.assert_allclose(SCHEMES.get("expert", weights=str(tmp_path / "w.csv")).fit(X, fw).weights_.group("g"),
                               [0.25, 0.75])


def test_expert_overrides_and_nominal():
    fw = Framework.from_dict({"index": {"code": "idx"}, "groups": [{"code": "g", "parent": "idx"}],
                              "indicators": [{"code": "a", "parent": "g", "weight": 1},
                                             {"code": "b", "parent": "g", "weight": 3}]})
    X = pd.DataFrame(np.ones((3, 2)), columns=["a", "b"])
    np.testing.assert_allclose(SCHEMES.get("expert").fit(X, fw).weights_.group("g"), [0.25, 0.75])
    np.testing.assert_allclose(SCHEMES.get("expert", weights={"a": 3}).fit(X, fw).weights_.group("g"), [0.5, 0.5])


def test_missing_cells_filled_with_mean_for_weights_only():
    X = CLASSIC.copy()
    Xn = X.copy()
    Xn[1, 2] = np.nan
    filled = Xn.copy()
    filled[1, 2] = np.nanmean(Xn[:, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(fit_flat("critic", Xn), fit_flat("critic", filled), rtol=1e-12)
