"""The numba PCA weights kernel ("pca", "pca1") against scikit-learn's PCA and a numpy varimax.

OECD/JRC (2008) Handbook on Constructing Composite Indicators §6.1 (retention rule, TAI example);
Kaiser (1958) varimax; eigenvalues by cyclic Jacobi (Golub & Van Loan, Matrix Computations §8.5).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from weightlab.weighting.pca import PCA, FirstComponent
from weightlab.weighting.pca_kernel import make_pca_work, pca_weights_from_cov

from .helpers import random_dataset
from .naive_pca import first_component_weights, pca_weights
from .test_weighting import TAI

TOL = 1e-10



def correlation_of(X: np.ndarray) -> np.ndarray:
    """ddof=1 covariance of the z-scores, standardised as weightlab.weighting.pca._standardise.

    Z is centred again before the product, as sklearn's PCA does: a constant column whose mean is
    inexact in floating point (60 x 4.2) has sd ~ 1e-15 > 0 and standardises to a constant ~0.99,
    which only the re-centring turns into (numerically) zero.
    """
    X = np.asarray(X, dtype=float)
    sd = X.std(axis=0, ddof=1)
    Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    Z = Z - Z.mean(axis=0)
    return Z.T @ Z / (X.shape[0] - 1)


def kernel(C: np.ndarray, n_factors=None, rotation="varimax", min_variance=0.6, min_share=0.1,
           first_only=False, pad: int = 2) -> np.ndarray:
    """Run the kernel with C embedded in a larger garbage-filled matrix and oversized buffers."""
    nm = C.shape[0]
    big = np.full((nm + pad, nm + pad), 7.5)
    big[:nm, :nm] = C
    out = np.full(nm + pad, -3.0)
    work = make_pca_work(nm + pad)
    work[:] = 11.0  # stale scratch must not matter
    pca_weights_from_cov(big, nm, 0 if n_factors is None else n_factors, rotation == "varimax",
                         min_variance, min_share, first_only, out, work)
    assert np.all(out[nm:] == -3.0)  # only the first nm entries are written
    return out[:nm]


def reference(X: np.ndarray, first_only=False, **params) -> tuple[np.ndarray, int]:
    """scikit-learn's PCA weights (tests/naive_pca.py) and the number of factors kept (0 for pca1)."""
    if first_only:
        return first_component_weights(X), 0
    return pca_weights(X, **params)


def correlated(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """m columns driven by 1-3 latent factors with member-specific noise and scales."""
    n_lat = min(3, max(1, m // 2))
    f = rng.normal(size=(n, n_lat))
    load = rng.normal(size=(n_lat, m)) * (rng.random((n_lat, m)) < 0.7)
    return (f @ load + rng.normal(scale=rng.uniform(0.3, 1.2, size=m), size=(n, m))) \
        * rng.uniform(0.5, 20, size=m) + rng.uniform(-5, 5, size=m)


def two_member_tie(C: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Admissible weights when only 2 members vary and 2+ factors are kept.

    Their correlation block has eigenvectors (1, +-1)/sqrt2, so both load exactly alike on both
    factors (scaled squared loading 1/2 each): each member's factor is decided by rounding, in the
    scikit-learn reference as in the kernel, and any assignment is valid. Varimax keeps this tie when a
    constant member adds a zero row (the unrotated loadings are then optimal for r**2 > 3/4) and
    otherwise gives 1/2, 1/2, which is one of the assignments too.
    """
    eig = np.sort(np.linalg.eigvalsh(C[np.ix_(active, active)]))[::-1]
    fw = eig / eig.sum()
    out = []
    for f in itertools.product((0, 1), repeat=2):
        w = np.zeros(len(C))
        w[active] = fw[list(f)] / fw[list(f)].sum()
        out.append(w)
    return np.array(out)


def check(X: np.ndarray, C: np.ndarray | None = None, **params) -> float:
    """Kernel and reference weights agree to TOL (up to the 2-member tie); returns the deviation."""
    C = correlation_of(X) if C is None else C
    want, k = reference(X, **params)
    got = kernel(C, **params)
    assert got.sum() == pytest.approx(1.0, abs=1e-13)
    active = np.diag(C) > 0.5
    if active.sum() == 2 and k >= 2 and (params.get("rotation") == "none" or len(C) > 2):
        admissible = two_member_tie(C, active)
        for w in (got, want):
            assert np.min(np.max(np.abs(admissible - w), axis=1)) < TOL, (w, admissible)
        return 0.0
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    DEVIATIONS.append(float(np.max(np.abs(got - want))))
    return DEVIATIONS[-1]


DEVIATIONS: list[float] = []


SETTINGS = [dict(n_factors=nf, rotation=rot) for nf in (None, 1, 2, 3) for rot in ("varimax", "none")]


@pytest.mark.parametrize("m", range(2, 9))
@pytest.mark.parametrize("seed", range(6))
def test_random_correlated_data(m, seed):
    rng = np.random.default_rng(1000 * m + seed)
    X = correlated(rng, int(rng.integers(max(12, m + 3), 120)), m)
    for params in SETTINGS:
        check(X, **params)
    check(X, first_only=True)
    check(X, min_variance=0.9, min_share=0.2)
    check(X, min_variance=0.3, min_share=0.5)


@pytest.mark.parametrize("m", range(2, 9))
def test_independent_columns(m):
    """Eigenvalues all near 1: the retention rule and varimax on a nearly spherical matrix."""
    X = np.random.default_rng(m).normal(size=(400, m))
    for params in SETTINGS:
        check(X, **params)
    check(X, first_only=True)


@pytest.mark.parametrize("m", [2, 3, 5, 8])
@pytest.mark.parametrize("seed", range(5))
def test_bootstrap_resample_with_duplicate_rows(m, seed):
    rng = np.random.default_rng(50 + seed)
    X = correlated(rng, 40, m)
    for _ in range(4):
        Xb = X[rng.integers(0, len(X), size=len(X))]
        for params in SETTINGS:
            check(Xb, **params)
        check(Xb, first_only=True)


@pytest.mark.parametrize("m", [2, 3, 4, 6])
@pytest.mark.parametrize("where", [0, -1])
@pytest.mark.parametrize("value", [4.0, 4.2])  # 4.2: mean inexact, sd ~ 1e-15 (see correlation_of)
def test_constant_column(m, where, value):
    rng = np.random.default_rng(7 + m)
    X = correlated(rng, 60, m)
    X[:, where] = value
    C = correlation_of(X)
    assert np.all(np.abs(C[where]) < 1e-28)
    C0 = C.copy()  # the engine's form: the constant member's row and column exactly 0
    C0[where] = 0.0
    C0[:, where] = 0.0
    for params in SETTINGS + [dict(first_only=True)]:
        check(X, C, **params)
        check(X, C0, **params)
        assert kernel(C0, **params)[where] == 0.0


@pytest.mark.parametrize("seed", range(40))
def test_two_varying_members_and_a_constant_one(seed):
    rng = np.random.default_rng(seed)
    X = correlated(rng, 30, 3)
    X[:, seed % 3] = 0.0
    for params in SETTINGS + [dict(first_only=True)]:
        check(X, **params)


@pytest.mark.parametrize("m", [3, 4, 6])
def test_fewer_distinct_units_than_members(m):
    """Rank-deficient resample: the default rule never keeps a zero-eigenvalue factor, so kernel
    and reference agree. Forcing n_factors = m keeps one, whose eigenvalue is rounding noise (~1e-32
    in sklearn, ~1e-16 in Jacobi): scikit-learn may then give a member to that noise factor
    (weight ~1e-33), the kernel treats the eigenvalue as 0 and never does."""
    rng = np.random.default_rng(m)
    X = correlated(rng, m, m)[rng.integers(0, m, size=40)]
    for rot in ("varimax", "none"):
        check(X, rotation=rot)
        check(X, rotation=rot, n_factors=m - 2)
    check(X, first_only=True)
    w = kernel(correlation_of(X), n_factors=m)
    assert np.all(w > 1e-6), w


def test_all_constant_and_single_member():
    for m in (1, 2, 4):
        C = np.zeros((m, m))
        np.testing.assert_array_equal(kernel(C), np.full(m, 1.0 / m))
        np.testing.assert_array_equal(kernel(C, n_factors=2, rotation="none"), np.full(m, 1.0 / m))
        np.testing.assert_array_equal(reference(np.ones((5, m)))[0], np.full(m, 1.0 / m))
    np.testing.assert_array_equal(kernel(np.ones((1, 1))), [1.0])
    np.testing.assert_array_equal(kernel(np.ones((1, 1)), first_only=True), [1.0])


def test_two_members_have_equal_first_component_weights():
    X = correlated(np.random.default_rng(3), 30, 2)
    np.testing.assert_allclose(kernel(correlation_of(X), first_only=True), [0.5, 0.5], atol=1e-15)
    check(X, first_only=True)


def test_repeated_eigenvalues():
    """Two identical blocks: eigenvalue pairs are exactly repeated, the eigenvectors inside each pair
    arbitrary; with both members of each pair retained the weights do not depend on that choice."""
    rng = np.random.default_rng(11)
    base = correlated(rng, 80, 2)
    X = np.column_stack([base, base[rng.permutation(80)]])  # independent copy of the same margins
    C = correlation_of(X)
    C[2:, 2:] = C[:2, :2]
    C[:2, 2:] = 0.0
    C[2:, :2] = 0.0
    vals = np.linalg.eigvalsh(C)
    assert abs(vals[3] - vals[2]) < 1e-14 and abs(vals[1] - vals[0]) < 1e-14
    for rot in ("varimax", "none"):
        w4 = kernel(C, n_factors=4, rotation=rot)
        np.testing.assert_allclose(w4, [0.25] * 4, atol=TOL)
    w2 = kernel(C, n_factors=2)  # the two large eigenvalues: one factor per copy after varimax
    np.testing.assert_allclose(w2, [0.25] * 4, atol=TOL)


def test_realistic_dataset_groups():
    """The shared 7-indicator dataset (many zero cells and ties) and its sub-pillar a1."""
    X = random_dataset(n_units=60).values.to_numpy(dtype=float)
    for cols in (slice(None), slice(0, 3), slice(4, 7)):
        for params in SETTINGS:
            check(X[:, cols], **params)
        check(X[:, cols], first_only=True)


def test_handbook_tai_example():
    """The Handbook 2008 TAI data (23 countries x 8 indicators, section 6.1): the kernel keeps the
    reference number of factors (4 by default, 2 when only eigenvalues > 1 qualify) and gives the
    reference weights, for the rule, no rotation and a forced number of factors."""
    C = correlation_of(TAI)
    for params in [{}, dict(min_share=0.5), dict(rotation="none"), dict(n_factors=3), dict(first_only=True)]:
        want, _ = reference(TAI, **params)
        np.testing.assert_allclose(kernel(C, **params), want, rtol=0, atol=TOL)
    assert reference(TAI)[1] == 4 and reference(TAI, min_share=0.5)[1] == 2
    # the retention matters: 4 factors and 2 factors give different weights
    np.testing.assert_allclose(kernel(C), kernel(C, n_factors=4), atol=1e-15)
    np.testing.assert_allclose(kernel(C, min_share=0.5), kernel(C, n_factors=2), atol=1e-15)
    assert np.max(np.abs(kernel(C) - kernel(C, min_share=0.5))) > 1e-3


def test_comparison_discriminates():
    """The check fails when kernel and reference are run with different settings."""
    X = correlated(np.random.default_rng(5), 100, 6)
    C = correlation_of(X)
    assert np.max(np.abs(kernel(C, n_factors=2) - reference(X, n_factors=3)[0])) > 1e-3
    assert np.max(np.abs(kernel(C, rotation="none", n_factors=2) - reference(X, n_factors=2)[0])) > 1e-3
    assert np.max(np.abs(kernel(C, first_only=True) - reference(X, n_factors=1, rotation="none")[0])) > 1e-3


@pytest.mark.parametrize("seed", range(4))
def test_schemes_build_the_correlation_from_their_statistics(seed):
    """PCA / pca1 group_weights (statistics filled from the data, then the kernel) against scikit-learn,
    constant member included."""
    rng = np.random.default_rng(seed)
    X = correlated(rng, 50, 5)
    X[:, seed % 5] = 3.7
    members = [f"c{j}" for j in range(5)]
    for params in SETTINGS:
        scheme = PCA(**params)
        scheme.notes_ = []
        want, k = reference(X, **params)
        np.testing.assert_allclose(scheme.group_weights(X, members, "g", None), want, rtol=0, atol=TOL)
        assert f"{k} factor(s)" in scheme.notes_[0]
    np.testing.assert_allclose(FirstComponent().group_weights(X, members, "g", None), reference(X, True)[0],
                               rtol=0, atol=TOL)
