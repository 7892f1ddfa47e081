"""The ranking kernel against scipy/pandas on awkward vectors."""

from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from weightlab.robustness.ranking import make_rank_workspace, make_wide_rank_workspace, rank_min_into


def _rank(s: np.ndarray, wide: bool = False) -> np.ndarray:
    s = np.ascontiguousarray(s, dtype=float)
    out = np.empty(len(s), dtype=np.int32)
    rank_min_into(s, out, (make_wide_rank_workspace if wide else make_rank_workspace)(len(s)))
    return out


def _expected(s: np.ndarray) -> np.ndarray:
    return pd.Series(s).rank(ascending=False, method="min", na_option="bottom").to_numpy(dtype=np.int64)


def _vectors():
    rng = np.random.default_rng(42)
    for n in (1, 2, 3, 17, 338, 1000):
        yield rng.uniform(size=n)
        yield rng.lognormal(sigma=2.0, size=n)
        yield rng.integers(0, 4, size=n).astype(float)  # many exact ties
        yield np.full(n, 3.25)
        x = np.full(n, 1.0)
        x[::2] = np.nextafter(1.0, 2.0)  # differ only in the last ulp
        yield x
    v = rng.normal(size=50)
    v[[3, 7]] = np.inf
    v[[5, 9]] = -np.inf
    v[[11, 13, 17]] = np.nan
    yield v
    yield np.array([np.nan, np.nan])
    yield np.array([1e308, -1e308, 0.0, 1e308])
    yield np.array([0.0, 5e-324, 0.0])  # denormal range (1/span overflows)
    skew = np.concatenate([np.zeros(60), rng.lognormal(-6, 0.1, 200), [5.0, 1.0]])
    yield rng.permutation(skew)


@pytest.mark.parametrize("wide", [False, True], ids=["16-bit", "wide"])
@pytest.mark.parametrize("s", list(_vectors()), ids=lambda s: f"n{len(s)}")
def test_matches_pandas_min_rank(s, wide):
    np.testing.assert_array_equal(_rank(s, wide), _expected(s))


def _many_units():
    """Vectors of many units: heavy-tailed (most scores crowd near the bottom of the range, as in
    the generated benchmark case), with exact ties, near-ties one ulp apart, and a few leaders."""
    rng = np.random.default_rng(11)
    n = 30_000
    yield np.exp(rng.normal(size=n) * 1.5)
    x = np.round(rng.lognormal(sigma=2.0, size=n), 2)  # many exact ties
    yield x
    x = rng.lognormal(sigma=1.0, size=n)
    x[1::3] = np.nextafter(x[::3][:len(x[1::3])], np.inf)
    yield x
    yield np.concatenate([rng.uniform(0, 1e-9, n - 3), [1.0, 0.5, 0.5]])  # nearly all below 2**-15 of the range


@pytest.mark.parametrize("s", list(_many_units()), ids=["lognormal", "ties", "ulps", "crowd"])
def test_wide_ranking_of_many_units_matches_argsort(s):
    """The wide kernel (22-bit keys) against ranks from numpy's sort: rank = 1 + how many scores are greater."""
    srt = np.sort(s)
    expected = 1 + len(s) - np.searchsorted(srt, s, side="right")
    np.testing.assert_array_equal(_rank(s, wide=True), expected)
    np.testing.assert_array_equal(_rank(s), expected)


def test_wide_workspace_takes_the_wide_kernel():
    """Guard for the dispatch: the engine's buffers are wide from WIDE_UNITS units, and with a wide
    workspace rank_min_into writes 22-bit keys (above 2**16) into the workspace's keys."""
    from weightlab.robustness import ranking

    assert ranking.rank_buffers(ranking.WIDE_UNITS, 2).dtype == np.uint64
    assert ranking.rank_buffers(ranking.WIDE_UNITS - 1, 2).dtype == np.uint32
    s = np.linspace(0.0, 1.0, 1000)
    for make, wide in ((make_wide_rank_workspace, True), (make_rank_workspace, False)):
        ws = make(len(s))
        rank_min_into(s, np.empty(len(s), dtype=np.int32), ws)
        assert (ws[0][:len(s)].max() >= 1 << 16) == wide


def test_tie_groups_of_every_length_at_every_offset():
    """Runs of equal scores of 1..9 units at every position of the sorted vector, so that runs start,
    end and cross the boundaries of the eight-flag words the kernel scans."""
    rng = np.random.default_rng(3)
    for shift in range(9):
        sizes = np.concatenate([np.ones(shift, dtype=int), np.tile(np.arange(1, 10), 5)])
        s = np.repeat(np.arange(len(sizes), dtype=float), sizes)
        s = rng.permutation(s)
        np.testing.assert_array_equal(_rank(s), rankdata(-s, method="min"))


def test_matches_scipy_without_nan():
    rng = np.random.default_rng(0)
    for _ in range(200):
        s = np.round(rng.lognormal(size=338), 2)
        np.testing.assert_array_equal(_rank(s), rankdata(-s, method="min"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, -1.0])),
                min_size=1, max_size=80))
def test_property_against_pandas(values):
    s = np.array(values, dtype=float)
    np.testing.assert_array_equal(_rank(s), _expected(s))


def test_callable_from_njit_loop():
    @nb.njit
    def many(mat):
        out = np.empty(mat.shape, dtype=np.int32)
        ws = make_rank_workspace(mat.shape[1])
        for r in range(mat.shape[0]):
            rank_min_into(mat[r], out[r], ws)
        return out

    mat = np.random.default_rng(1).normal(size=(20, 338))
    got = many(mat)
    for r in range(20):
        np.testing.assert_array_equal(got[r], rankdata(-mat[r], method="min"))


def test_long_runs_of_equal_keys_are_sorted_exactly():
    # 300 distinct scores within 2**-20 of the range below the minimum's key threshold share one key
    # (t < 2**-15): the run is ordered by the exact scores (Shell sort), not by the key
    rng = np.random.default_rng(3)
    s = np.concatenate([1.0 + rng.uniform(0, 1e-7, 300), [2e3, 1e3]])
    s[[5, 17, 250]] = s[40]  # exact ties inside the run
    s = rng.permutation(s)
    np.testing.assert_array_equal(_rank(s), rankdata(-s, method="min"))


def test_fast_path_declines_non_finite_scores():
    from weightlab.robustness.ranking import rank_finite

    out = np.full(5, -7, dtype=np.int32)
    s = np.array([1.0, np.nan, 3.0, 2.0, 0.5])
    assert not rank_finite(s, out, make_rank_workspace(5))
    assert (out == -7).all()


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_fast_path_declines_each_special_value_anywhere(special):
    from weightlab.robustness.ranking import rank_finite

    for pos in range(7):
        s = np.linspace(-3.0, 3.0, 7)
        s[pos] = special
        assert not rank_finite(s, np.empty(7, dtype=np.int32), make_rank_workspace(7))


def test_fast_path_on_signs_zeros_and_denormals():
    """The fast path (min and max found on the integer images of the bits) ranks negative numbers,
    both zeros and denormals exactly."""
    from weightlab.robustness.ranking import rank_finite

    s = np.array([-0.0, 0.0, -5e-324, 5e-324, -1e-310, 1e-310, -2.5, 7.0, -1e300, 1e300, 0.0, -0.0])
    rng = np.random.default_rng(5)
    for _ in range(20):
        v = rng.permutation(s)
        out = np.empty(len(v), dtype=np.int32)
        assert rank_finite(v, out, make_rank_workspace(len(v)))
        np.testing.assert_array_equal(out, rankdata(-v, method="min"))
    lo_only = np.array([-3.0, -1.0, -2.0, -1.0])  # all negative: min and max both from flipped bits
    out = np.empty(4, dtype=np.int32)
    assert rank_finite(lo_only, out, make_rank_workspace(4))
    np.testing.assert_array_equal(out, [4, 1, 3, 1])


def test_engine_rank_rows_with_the_engines_wide_buffers():
    """kernels._rank_rows (the engine's ranking of a block) on a workspace in the buffers the engine
    allocates for WIDE_UNITS units: the wide kernel ranks the finite rows (22-bit keys written),
    declines the row with a NaN, which the general path then ranks."""
    from weightlab.robustness import kernels as K
    from weightlab.robustness import ranking

    n = ranking.WIDE_UNITS
    rng = np.random.default_rng(8)
    S = np.stack([np.exp(rng.normal(size=n) * 1.5), np.round(rng.lognormal(sigma=2.0, size=n), 1),
                  rng.normal(size=n)])
    S[2, 17] = np.nan
    bufs = ranking.rank_buffers(n, 2)
    ws = ranking._workspace(bufs[1], n)
    R, ok = np.zeros((3, n), dtype=np.int32), np.zeros(3, dtype=np.bool_)
    K._rank_rows(2, S, R, ok, ws)  # the finite rows only
    assert ok[:2].all() and ws[0][:n].max() >= 1 << 16  # the wide kernel's keys
    R[:] = 0
    K._rank_rows(3, S, R, ok, ws)  # the row with a NaN: declined by the wide kernel, ranked by the general path
    np.testing.assert_array_equal(ok, [True, True, False])
    for q in range(3):
        np.testing.assert_array_equal(R[q], _expected(S[q]))
