"""MEREC and Gini weights against pymcdm (test-only reference), on the same matrices.

weightlab's values are direction-adjusted (higher is better), so pymcdm is called with every
criterion a benefit ("profit", type 1) unless a test says otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightlab.errors import InputError
from weightlab.weighting import SCHEMES

from .helpers import random_dataset
from .test_weighting import CLASSIC, fit_flat, flat_framework

pymcdm_weights = pytest.importorskip("pymcdm.weights")


def _positive(seed: int, n: int, m: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(size=(n, m)) * rng.uniform(0.2, 1.5, size=m)) * rng.uniform(0.5, 50, size=m)


@pytest.mark.parametrize("seed", range(6))
def test_merec_matches_pymcdm_on_positive_data(seed):
    X = _positive(seed, 8 + 7 * seed, 2 + seed % 5)
    want = pymcdm_weights.merec_weights(X, np.ones(X.shape[1], dtype=int))
    np.testing.assert_allclose(fit_flat("merec", X), want, rtol=1e-12, atol=1e-15)


def test_merec_classic_matrix_and_cost_convention():
    """pymcdm normalises a cost column by x / max x; that is MEREC's benefit rule on 1 / x."""
    np.testing.assert_allclose(fit_flat("merec", CLASSIC), pymcdm_weights.merec_weights(CLASSIC, np.ones(4, int)),
                               rtol=1e-12)
    types = np.array([1, -1, 1, -1])
    Y = CLASSIC.copy()
    Y[:, types < 0] = 1.0 / Y[:, types < 0]
    np.testing.assert_allclose(fit_flat("merec", Y), pymcdm_weights.merec_weights(CLASSIC, types), rtol=1e-12)
    # and the cost direction matters: treating the column as a benefit gives other weights
    assert np.max(np.abs(fit_flat("merec", CLASSIC) - fit_flat("merec", Y))) > 1e-3


def test_merec_refuses_non_positive_values_unless_shifted():
    X = _positive(1, 20, 3)
    X[4, 1] = 0.0
    with pytest.raises(InputError, match="strictly positive.*'c1'.*shift"):
        fit_flat("merec", X)
    shifted = X.copy()
    shifted[:, 1] += 0.01  # minimum 0 -> 0.01; the other columns are positive and stay
    np.testing.assert_allclose(fit_flat("merec", X, shift=0.01),
                               pymcdm_weights.merec_weights(shifted, np.ones(3, int)), rtol=1e-12)


def test_merec_constant_member_gets_zero_and_all_constant_equal():
    X = _positive(2, 15, 3)
    X[:, 2] = 4.0  # |ln(min / x)| = 0 for every unit: removing it changes nothing
    w = fit_flat("merec", X)
    assert w[2] == 0.0
    np.testing.assert_allclose(w, pymcdm_weights.merec_weights(X, np.ones(3, int)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fit_flat("merec", np.full((5, 3), 2.0)), [1 / 3] * 3)


@pytest.mark.parametrize("seed", range(6))
def test_gini_matches_pymcdm(seed):
    X = _positive(10 + seed, 5 + 9 * seed, 2 + seed % 6)
    X[X < np.quantile(X, 0.15)] = 0.0  # zeros and ties, as counts have
    np.testing.assert_allclose(fit_flat("gini", X), pymcdm_weights.gini_weights(X), rtol=1e-12, atol=1e-15)


def test_gini_plain_double_sum_and_translation_of_negative_columns():
    """G_j = sum_i sum_k |x_ij - x_kj| / (2 n**2 mean_j), written out; a column with negative values
    is translated to minimum 0 first (pymcdm would use its raw mean)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    Y = X - np.minimum(X.min(axis=0), 0.0)
    n = len(Y)
    G = np.abs(Y[:, None, :] - Y[None, :, :]).sum(axis=(0, 1)) / (2 * n ** 2 * Y.mean(axis=0))
    np.testing.assert_allclose(fit_flat("gini", X), G / G.sum(), rtol=1e-12)
    np.testing.assert_allclose(fit_flat("gini", X), pymcdm_weights.gini_weights(Y), rtol=1e-12)


def test_gini_zero_and_constant_columns():
    X = _positive(3, 12, 3)
    X[:, 0] = 0.0  # pymcdm divides 0 by 0 here; weightlab gives it weight 0
    X[:, 1] = 7.0
    w = fit_flat("gini", X)
    assert w[0] == 0.0 and w[1] == 0.0 and w[2] == pytest.approx(1.0)
    np.testing.assert_allclose(fit_flat("gini", np.zeros((4, 3))), [1 / 3] * 3)


def test_merec_and_gini_in_the_nominal_build_and_the_cli_registry():
    from weightlab import build_index

    ds = random_dataset(n_units=25)
    for scheme in ("gini", SCHEMES.get("merec", shift=0.01)):
        res = build_index(ds, normalizer="minmax", scheme=scheme, aggregator="arithmetic")
        w = res.weights.values
        for group in [ds.framework.index.code] + [g.code for g in ds.framework.groups]:
            assert w[ds.framework.children(group)].sum() == pytest.approx(1.0)
        assert not np.allclose(w[["x1", "x2", "x3"]], 1 / 3)  # data-driven, not equal
    assert {"merec", "gini"} <= set(SCHEMES.available())
    fw = flat_framework(2)
    df = pd.DataFrame([[1.0, 2.0], [3.0, 1.0]], columns=fw.indicator_codes)
    assert SCHEMES.get("gini").fit(df, fw).weights_.group("g").sum() == pytest.approx(1.0)
