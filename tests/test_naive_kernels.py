"""The engine's compiled kernels against their plain numpy twins in tests/naive.py, and splitmix64
against its published outputs.

Data: ties, missing cells, a constant column, negative values and bootstrap counts with zeros. Which
tests call kernel internals (and so follow a change of their arguments): the statistics fillers
(``fill_member``, ``fill_cov``: the documented contract of weighting/statistics.py), a scheme's
``weights_function``, ``rng._mix`` and ``rng.gamma``; the tree and ranking tests go through
``debug_replication`` and ``rank_min_into`` only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from weightlab.aggregation import AGGREGATORS
from weightlab.framework import Framework
from weightlab.weighting import SCHEMES, StatisticsScheme

from . import naive
from .helpers import random_dataset
from .test_ranking_kernel import _rank, _vectors

# The first outputs of splitmix64 from state 0, as Sebastiano Vigna's reference implementation
# splitmix64.c (https://prng.di.unimi.it/splitmix64.c, after Steele, Lea and Flood 2014) gives them:
# the same four numbers are pinned by independent projects (e.g. as the xoshiro256** state that
# splitmix64 seeded with 0 produces), found with the search tool; they are not computed here.
SPLITMIX64_SEED0 = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]


def test_splitmix64_gives_its_published_outputs():
    from weightlab.robustness.reference import GOLD, mix
    from weightlab.robustness.rng import GOLD as KERNEL_GOLD, _mix

    assert naive.splitmix64(0, 4) == SPLITMIX64_SEED0
    # splitmix64.c's next(): state += golden gamma, then the finalizer, which is the engine's _mix
    assert int(KERNEL_GOLD) == GOLD == naive.GOLDEN
    with np.errstate(over="ignore"):
        kernel = [int(_mix(np.uint64(k) * KERNEL_GOLD)) for k in range(1, 5)]
    assert kernel == SPLITMIX64_SEED0
    assert [mix(k * GOLD) for k in range(1, 5)] == SPLITMIX64_SEED0


@pytest.mark.parametrize("seed, r, i", [(0, 0, 0), (7, 12345, 64), (2**63 - 1, 10**9, (1 << 32) + 5), (42, 3, 1 << 20)])
def test_uniforms_match_the_naive_stream(seed, r, i):
    from weightlab.robustness.rng import uniform

    key = naive.splitmix64_finalizer(seed ^ naive.splitmix64_finalizer((r + 1) * naive.GOLDEN))
    assert uniform(np.uint64(seed), r, i) == naive.uniform_at(key, i)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5, 40.0])
def test_gamma_matches_the_plain_twin_and_the_gamma_law(alpha):
    """The kernel's gamma against the reference rebuild's plain-Python Marsaglia-Tsang (whose
    uniforms are pinned to splitmix64's published outputs above) and against the Gamma law."""
    from weightlab.robustness.reference import gamma as plain_gamma
    from weightlab.robustness.rng import gamma

    keys = [naive.splitmix64_finalizer(7 * j + 1) for j in range(3000)]
    got = np.array([gamma(np.uint64(k), 1 << 20, alpha) for k in keys])
    want = np.array([plain_gamma(int(k), 1 << 20, alpha) for k in keys[:300]])
    np.testing.assert_allclose(got[:300], want, rtol=1e-12)
    # and the draws follow Gamma(alpha, 1) (an independent check of twin and kernel alike)
    assert stats.kstest(got, stats.gamma(alpha).cdf).pvalue > 1e-3


@pytest.mark.parametrize("s", list(_vectors()), ids=lambda s: f"n{len(s)}")
def test_rank_kernel_matches_the_naive_min_rank(s):
    want = naive.rank_min(s)
    np.testing.assert_array_equal(want, pd.Series(s).rank(ascending=False, method="min", na_option="bottom"))
    np.testing.assert_array_equal(_rank(s), want)


AGG_OPTIONS = {"arithmetic": {"name": "arithmetic"}, "geometric(shift=0.05)": {"name": "geometric", "shift": 0.05},
               "harmonic(shift=0.05)": {"name": "harmonic", "shift": 0.05},
               "genmean(p=2.0, shift=0.05)": {"name": "genmean", "p": 2.0, "shift": 0.05}}


def test_tree_aggregation_matches_the_naive_power_means():
    """The kernels' scores (power means per level, missing members skipped, the shift rule, perturbed
    weights) against the naive tree on the same normalised values and the replication's weights."""
    from weightlab.index import normalise
    from weightlab.robustness.engine import debug_replication
    from weightlab.robustness.plan import compile_plan
    from weightlab.robustness.spec import UncertaintySpec

    ds = random_dataset(n_units=20, seed=4, missing=6)
    spec = UncertaintySpec.from_dict({"reps": 64, "seed": 5, "weights": {"perturb": "uniform", "spread": 0.4},
                                      "choices": {"aggregator": list(AGG_OPTIONS.values()),
                                                  "aggregator_per_level": True}})
    plan = compile_plan(ds, spec)
    X = normalise(ds, "minmax")
    fw = ds.framework
    levels = fw.aggregation_levels()
    seen = set()
    for r in range(24):
        got = debug_replication(plan, r)
        labels = got["choices"]["aggregator"].split(" / ")
        aggs = {}
        for level, label in zip(levels, labels):
            opt = AGG_OPTIONS[label]
            agg = AGGREGATORS.get(opt["name"], **{k: v for k, v in opt.items() if k != "name"})
            aggs[level] = (agg.power, agg.shift)
            seen.add(label)
        scores = naive.scores_tree({c: X[c].to_numpy() for c in fw.indicator_codes}, fw, got["member_weights"], aggs)
        np.testing.assert_allclose(got["scores"], scores[fw.index.code], rtol=1e-12, atol=1e-14, err_msg=f"r={r}")
    assert seen == set(AGG_OPTIONS)


# ------------------------------------------------------------------ statistics and schemes
def _members(negative: bool = False, seed: int = 0) -> np.ndarray:
    """24 units x 4 members: ties, two missing cells, a constant member; positive unless ``negative``."""
    rng = np.random.default_rng(seed)
    X = np.round(rng.lognormal(size=(24, 4)), 2) + 0.05
    X[:3] = X[3]  # ties
    X[5, 0] = X[9, 2] = np.nan
    X[:, 3] = 1.5  # constant
    if negative:
        X[:, 1] -= 1.0
    return X


def _counts(n: int, seed: int = 1) -> np.ndarray:
    """Bootstrap multiplicities: n draws with replacement (some units 0 times, some several)."""
    return np.bincount(np.random.default_rng(seed).integers(0, n, size=n), minlength=n).astype(float)


def _fill(X: np.ndarray, counts: np.ndarray, needs: int):
    """The bootstrap fillers on the sample ``counts > 0``: statistics, cross-products and the sample."""
    from weightlab.weighting.statistics import N_STATS, NEED_COV, fill_cov, fill_member

    Xt = np.ascontiguousarray(X.T)
    m, n = Xt.shape
    sample = np.flatnonzero(counts > 0).astype(np.int64)
    st, cov = np.zeros((N_STATS, m)), np.zeros((max(m, 2), max(m, 2)))
    xs, buf = np.zeros((m, n)), np.zeros((2, n))
    for a in range(m):
        fill_member(Xt[a], sample, len(sample), counts, float(counts.sum()), needs, st, a, xs, buf)
    if needs & NEED_COV:
        fill_cov(Xt, np.arange(m, dtype=np.int64), sample, len(sample), counts, st, cov)
    return st, cov, xs, sample


@pytest.mark.parametrize("negative", [False, True])
def test_bootstrap_fillers_match_the_naive_statistics(negative):
    from weightlab.weighting.statistics import ABSDIFF, M2, MAX, MEAN, MIN, NEED_ABSDIFF, NEED_COV, NEED_M2, \
        NEED_SAMPLE, NEED_YLNY, YLNY

    X = _members(negative)
    counts = _counts(len(X))
    st, cov, xs, sample = _fill(X, counts, NEED_M2 | NEED_YLNY | NEED_ABSDIFF | NEED_COV | NEED_SAMPLE)
    for a in range(X.shape[1]):
        want = naive.member_statistics(X[:, a], counts)
        for row, key in [(MEAN, "mean"), (M2, "m2"), (MIN, "min"), (MAX, "max"), (YLNY, "ylny"), (ABSDIFF, "absdiff")]:
            np.testing.assert_allclose(st[row, a], want[key], rtol=1e-11, atol=1e-9, err_msg=f"{key} of member {a}")
        filled = np.where(np.isnan(X[sample, a]), want["mean"], X[sample, a])
        np.testing.assert_allclose(xs[a, :len(sample)], filled, rtol=1e-15)
    np.testing.assert_allclose(cov[:4, :4], naive.cross_products(X, counts), rtol=1e-11, atol=1e-11)


def _statistics_schemes() -> list[str]:
    return [n for n in SCHEMES.available() if issubclass(SCHEMES.get_class(n), StatisticsScheme)]


def test_every_statistics_scheme_has_a_naive_twin():
    """A scheme registered on the statistics contract needs its plain numpy formula in tests/naive.py."""
    missing = [n for n in _statistics_schemes() if n not in naive.SCHEME_TWINS]
    assert not missing, f"add a twin of {missing} to tests/naive.py SCHEME_TWINS"
    assert _statistics_schemes(), "no statistics scheme found: the registry test would be vacuous"


def _flat(m: int) -> Framework:
    return Framework.from_dict({"index": {"code": "idx"}, "groups": [{"code": "g", "parent": "idx"}],
                                "indicators": [{"code": f"c{j}", "parent": "g"} for j in range(m)]})


@pytest.mark.parametrize("negative", [False, True], ids=["positive", "negative-member"])
@pytest.mark.parametrize("name", _statistics_schemes())
def test_statistics_scheme_matches_its_naive_twin(name, negative):
    """The scheme's weights on all units (its public fit) and on a bootstrap resample (the fillers and
    its compiled function, as the engine's bootstrap calls them) against its twin on the repeated rows."""
    cls = SCHEMES.get_class(name)
    if negative and cls.requires_positive:
        pytest.skip(f"{name} refuses values <= 0 (its shift rule is tested with the positive data)")
    twin = naive.SCHEME_TWINS[name]
    scheme = SCHEMES.get(name, **cls.example_params)
    X = _members(negative)
    counts = _counts(len(X))
    rtol = 1e-6 if name in ("pca", "pca1") else 1e-10  # the twin's varimax converges to ~sqrt(eps)
    fw = _flat(X.shape[1])
    with pytest.warns(UserWarning, match="missing cells"):
        nominal = scheme.fit(pd.DataFrame(X, columns=fw.indicator_codes), fw).weights_.group("g").to_numpy()
    params = scheme.get_params()
    np.testing.assert_allclose(nominal, twin(naive.resample(X, np.ones(len(X))), **params), rtol=rtol, atol=1e-12)
    st, cov, xs, sample = _fill(X, counts, scheme.needs())
    out, work = np.zeros(4), np.zeros((5, 4, 4))
    cls.weights_function(float(counts.sum()), st, cov, xs, counts[sample].copy(), len(sample),
                         np.arange(4, dtype=np.int64), scheme.parameters(), out, work)
    np.testing.assert_allclose(out, twin(naive.resample(X, counts), **params), rtol=rtol, atol=1e-12)
    assert not np.allclose(out, nominal), "the resample did not change the weights: the test would be vacuous"
