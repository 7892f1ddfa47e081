"""The Monte Carlo engine against an independent plain rebuild, and its determinism."""

from __future__ import annotations

import numpy as np
import pytest

from weightlab.data import Dataset
from weightlab.index import rank_descending
from weightlab.robustness.engine import debug_replication, run, run_plan
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.summaries import histogram_quantile
from weightlab.robustness.spec import UncertaintySpec

from weightlab.robustness.reference import rebuild

from .helpers import assert_replications_match_rebuild, random_dataset

SPECS = {
    "uniform-noise-normalizers": {
        "seed": 11, "weights": {"perturb": "uniform", "spread": 0.3},
        "choices": {"normalizer": ["minmax", "zscore", "rank", "percentile"]},
    },
    "geometric-harmonic-genmean": {
        "seed": 12, "weights": {"perturb": "uniform", "spread": 0.2, "levels": [1, 2]},
        "choices": {"normalizer": ["minmax", "zscore"],
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.05},
                                   {"name": "harmonic", "shift": 0.1}, {"name": "genmean", "p": 0.5, "shift": 0.1}]},
    },
    "mixed-aggregators-per-level": {
        "seed": 13, "weights": {"perturb": "uniform", "spread": 0.25},
        "choices": {"normalizer": ["minmax", "zscore"], "aggregator_per_level": True,
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.01}]},
    },
    "schemes-all-levels": {
        "seed": 14, "weights": {"perturb": "uniform", "spread": 0.1},
        "choices": {"scheme": ["equal", "expert", "entropy", "critic", "pca", "pca1", "std"],
                    "normalizer": ["minmax", "zscore"]},
    },
    "dirichlet-drop": {
        "seed": 15, "weights": {"perturb": "dirichlet", "concentration": 20.0},
        "choices": {"drop_indicator": True, "scheme": ["equal", "entropy"]},
    },
    "missing-imputation": {
        "seed": 16, "weights": {"perturb": "uniform", "spread": 0.25},
        "choices": {"imputation": ["none", "mean", "median"], "normalizer": ["minmax", "rank"],
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.02}], "drop_indicator": True},
    },
    "bootstrap": {
        "seed": 17, "weights": {"perturb": "uniform", "spread": 0.2}, "bootstrap": {"units": True},
        "choices": {"scheme": ["entropy", "critic", "std", "equal"], "normalizer": ["minmax", "zscore"],
                    "imputation": ["none", "mean"]},
    },
    "bootstrap-pca": {
        "seed": 19, "weights": {"perturb": "uniform", "spread": 0.2}, "bootstrap": {"units": True},
        "choices": {"scheme": ["pca", "pca1", {"name": "pca", "n_factors": 1, "rotation": "none"}],
                    "normalizer": ["minmax", "zscore"], "imputation": ["none", "mean"]},
    },
    "bootstrap-indicator-level": {
        "seed": 20, "weights": {"perturb": "uniform", "spread": 0.2}, "bootstrap": {"units": True},
        "choices": {"scheme": ["entropy", "critic", "std", "pca"], "normalizer": ["minmax", "zscore"],
                    "scheme_levels": [1]},
    },
    "bootstrap-upper-levels-geometric": {
        "seed": 18, "bootstrap": {"units": True},
        "choices": {"scheme": ["entropy", "critic"], "normalizer": ["zscore"], "scheme_levels": [2, 3],
                    "aggregator": [{"name": "geometric", "shift": 0.05}], "imputation": ["none"]},
    },
}


def _spec(name: str, reps: int = 200) -> UncertaintySpec:
    return UncertaintySpec.from_dict({"reps": reps, **SPECS[name]}, source=name)


@pytest.mark.parametrize("name", list(SPECS))
def test_replications_match_plain_rebuild(name):
    missing = 12 if "missing" in name or "bootstrap" in name else 0
    ds = random_dataset(missing=missing)
    spec = _spec(name)
    plan = compile_plan(ds, spec)
    seen = assert_replications_match_rebuild(ds, spec, plan, 25)
    # every kind of choice was exercised (more than one option drawn where there are several)
    for factor, options in plan.factor_options.items():
        if len(options) > 1 and factor != "drop_indicator":
            assert len(seen[factor]) > 1, factor


def test_missing_groups_and_units_match_plain_rebuild():
    """Level by level with "none" imputation: a unit with no value in one group (that group's score is
    missing and its weight goes to the others) and a unit with no value at all (NaN score, last rank),
    under arithmetic and geometric means, against the plain rebuild."""
    ds = random_dataset(missing=6)
    values = ds.values.copy()
    values.loc[values.index[7], ["x1", "x2", "x3"]] = np.nan  # all of group a1
    values.iloc[9] = np.nan
    ds = Dataset(values, ds.framework, ds.names)
    spec = UncertaintySpec.from_dict({
        "reps": 100, "seed": 21, "weights": {"perturb": "uniform", "spread": 0.25},
        "choices": {"imputation": ["none"], "normalizer": ["minmax", "zscore"], "aggregator_per_level": True,
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.05}]}})
    plan = compile_plan(ds, spec)
    for r in range(20):
        got = debug_replication(plan, r)
        want = rebuild(ds, spec, r)
        assert np.isnan(got["scores"][9]) and not np.isnan(got["scores"][7])
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-12, atol=1e-12, err_msg=f"r={r}")
        np.testing.assert_array_equal(got["ranks"], want["ranks"], err_msg=f"r={r}")


def test_ranks_from_debug_equal_rank_of_scores():
    ds = random_dataset()
    plan = compile_plan(ds, _spec("geometric-harmonic-genmean"))
    for r in range(10):
        got = debug_replication(plan, r)
        np.testing.assert_array_equal(got["ranks"], rank_descending(got["scores"]))


def test_histogram_equals_direct_count_of_debug_ranks():
    ds = random_dataset(missing=5)
    spec = _spec("missing-imputation", reps=300)
    plan = compile_plan(ds, spec)
    acc = run_plan(plan)
    n = ds.n_units
    direct = np.zeros((n, n), dtype=np.int64)
    scores = []
    for r in range(spec.reps):
        d = debug_replication(plan, r)
        direct[np.arange(n), d["ranks"] - 1] += 1
        scores.append(d["scores"])
    np.testing.assert_array_equal(acc.rank_hist, direct)
    result = run(ds, spec)
    # mean score from quantised integer sums vs the plain mean (resolution (hi - lo) / 2**24)
    by_unit = result.ranks.set_index("unit")
    mean = np.mean(scores, axis=0)
    res = (plan.kernel.scale.score_hi - plan.kernel.scale.score_lo) / 2 ** 24
    np.testing.assert_allclose(by_unit.loc[ds.units, "mean_score"].to_numpy(), mean, atol=res)
    # score quantiles from the per-unit histograms: within one bin of numpy's, and inside each unit's
    # observed range
    acc_scores = np.array(scores)
    width = (result.accumulators.bin_hi - result.accumulators.bin_lo) / result.accumulators.counts.score_hist.shape[1]
    for q in (0.05, 0.95):
        got = by_unit.loc[ds.units, f"p{int(q * 100):02d}_score"].to_numpy()
        want = np.quantile(acc_scores, q, axis=0)
        assert np.all(np.abs(got - want) <= width + 1e-12), np.max(np.abs(got - want) / width)
    assert (acc_scores.std(axis=0) > 0).sum() > ds.n_units // 2  # the check above is not vacuous
    # quantiles: inverted CDF, as numpy defines it
    ranks = np.array([debug_replication(plan, r)["ranks"] for r in range(spec.reps)])
    for q in (0.05, 0.5, 0.95):
        want = np.quantile(ranks, q, axis=0, method="inverted_cdf")
        np.testing.assert_array_equal(histogram_quantile(direct, q), want)
    np.testing.assert_array_equal(by_unit.loc[ds.units, "median_rank"].to_numpy(),
                                  np.quantile(ranks, 0.5, axis=0, method="inverted_cdf"))
    np.testing.assert_array_equal(by_unit.loc[ds.units, "best_rank"].to_numpy(), ranks.min(axis=0))
    np.testing.assert_array_equal(by_unit.loc[ds.units, "worst_rank"].to_numpy(), ranks.max(axis=0))
    np.testing.assert_allclose(by_unit.loc[ds.units, "p_top10"].to_numpy(), (ranks <= 10).mean(axis=0))


def test_bootstrap_moment_columns_are_the_count_weighted_sums():
    """c @ mom_cov[m] and c @ mom_ent[m] against the sums written out with numpy, pair index formula included."""
    ds = random_dataset()
    plan = compile_plan(ds, _spec("bootstrap-indicator-level"))
    k_ = plan.kernel
    k, n = k_.tree.n_indicators, k_.tree.n_units
    c = np.random.default_rng(0).multinomial(n, np.ones(n) / n).astype(float)
    fw = ds.framework
    for m in range(k_.data.X.shape[0]):
        x = k_.data.X[m]
        cov = c @ k_.data.mom_cov[m]
        np.testing.assert_allclose(cov[:k], (c * x).sum(axis=1), rtol=1e-13)
        np.testing.assert_allclose(cov[k:2 * k], (c * x * x).sum(axis=1), rtol=1e-13)
        n_pairs = 0
        for g, code in enumerate(plan.node_codes[k:]):
            members = [plan.node_codes.index(ch) for ch in fw.children(code)]
            if any(j >= k for j in members):
                continue
            nm = len(members)
            for a in range(nm):
                for b in range(a + 1, nm):
                    col = 2 * k + k_.data.pair_ptr[g] + a * nm - a * (a + 1) // 2 + b - a - 1
                    np.testing.assert_allclose(cov[col], (c * x[members[a]] * x[members[b]]).sum(), rtol=1e-13)
                    n_pairs += 1
        assert k_.data.mom_cov.shape[2] == 2 * k + n_pairs
        if np.nanmin(x) >= 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                xlnx = np.where(x > 0, x * np.log(x), 0.0)
            np.testing.assert_allclose((c @ k_.data.mom_ent[m])[k:], (c * xlnx).sum(axis=1), rtol=1e-13)
    from weightlab.robustness.boot_weights import LAYOUT_COV
    entropy = plan.factor_options["scheme"].index("entropy")
    assert (k_.schemes.mom_layout[entropy] == LAYOUT_COV).any()  # z-scores: entropy there takes the covariance layout


@pytest.mark.parametrize("nan_unit", [False, True])
def test_score_accumulators_equal_direct_binning_of_debug_scores(nan_unit):
    """Score histogram, quantised score sums and NaN counts, against numpy on the debug scores."""
    ds = random_dataset(missing=5)
    if nan_unit:  # a unit with no value at all: its score is NaN in every replication ("none")
        values = ds.values.copy()
        values.iloc[5] = np.nan
        ds = Dataset(values, ds.framework, ds.names)
    spec = UncertaintySpec.from_dict({"reps": 300, "seed": 3, "weights": {"perturb": "uniform", "spread": 0.2},
                                      "choices": {"imputation": ["none"], "normalizer": ["minmax", "rank"]}})
    plan = compile_plan(ds, spec)
    acc = run(ds, spec).accumulators
    S = np.array([debug_replication(plan, r)["scores"] for r in range(spec.reps)])
    finite = ~np.isnan(S)
    assert finite.all() != nan_unit
    np.testing.assert_array_equal(acc.counts.nan_count, (~finite).sum(axis=0))
    n_bins = acc.counts.score_hist.shape[1]
    scale = n_bins / (acc.bin_hi - acc.bin_lo)
    with np.errstate(invalid="ignore"):
        bins = np.clip(np.floor((S - acc.bin_lo) * scale), 0, n_bins - 1)
    direct = np.zeros_like(acc.counts.score_hist)
    for i in range(ds.n_units):
        np.add.at(direct[i], bins[finite[:, i], i].astype(np.int64), 1)
    np.testing.assert_array_equal(acc.counts.score_hist, direct)
    k = plan.kernel
    with np.errstate(invalid="ignore"):
        lo, hi, q_max = k.scale.score_lo, k.scale.score_hi, k.scale.q_max
        q = np.clip(np.floor((S - lo) * (q_max / (hi - lo)) + 0.5), 0, q_max)
    q = np.where(finite, q, 0).astype(np.int64)
    assert list(acc.counts.score_q) == list(q.sum(axis=0))
    assert list(acc.counts.score_q2) == list((q * q).sum(axis=0))


@pytest.mark.parametrize("name", ["missing-imputation", "bootstrap", "dirichlet-drop"])
def test_bit_identical_for_threads_and_chunks(name):
    ds = random_dataset(missing=6)
    spec = _spec(name, reps=3000)
    plan = compile_plan(ds, spec)
    runs = [run_plan(plan, threads=t, chunk_size=c) for t, c in [(1, 3000), (2, 3000), (2, 257), (1, 1000)]]
    first = runs[0]
    for other in runs[1:]:
        np.testing.assert_array_equal(first.rank_hist, other.rank_hist)
        np.testing.assert_array_equal(first.counts.score_hist, other.counts.score_hist)
        assert list(first.counts.score_q) == list(other.counts.score_q)
        assert list(first.counts.score_q2) == list(other.counts.score_q2)
        np.testing.assert_array_equal(first.counts.choice_count, other.counts.choice_count)


def test_choice_shares_follow_probabilities():
    ds = random_dataset()
    spec = UncertaintySpec.from_dict({"reps": 20000, "seed": 5, "choices": {
        "normalizer": ["minmax", "zscore", "rank"], "probabilities": {"normalizer": [0.5, 0.25, 0.25]}}})
    shares = run(ds, spec).choice_shares.set_index(["factor", "option"])["share"]
    np.testing.assert_allclose(shares.loc["normalizer"].to_numpy(), [0.5, 0.25, 0.25], atol=0.015)


def test_no_uncertainty_reproduces_nominal_ranks():
    ds = random_dataset()
    result = run(ds, UncertaintySpec.from_dict({"reps": 50}))
    r = result.ranks
    assert (r["best_rank"] == r["nominal_rank"]).all() and (r["worst_rank"] == r["nominal_rank"]).all()
    assert (r["rank_shift"] == 0).all()


def test_kernel_random_numbers_match_independent_splitmix():
    from weightlab.robustness.reference import uniform as reference_uniform
    from weightlab.robustness.rng import uniform

    for seed, r, i in [(0, 0, 0), (7, 12345, 64), (2**63 - 1, 10**9, (1 << 32) + 5), (42, 3, 1 << 20)]:
        assert uniform(np.uint64(seed), r, i) == reference_uniform(seed, r, i)


def test_debug_bootstrap_counts_are_the_drawn_units():
    """The multiplicities debug_replication reports, against the draws rebuilt from the reference RNG."""
    from weightlab.robustness.reference import uniform as reference_uniform

    ds = random_dataset()
    spec = _spec("bootstrap")
    plan = compile_plan(ds, spec)
    n = ds.n_units
    kinds = set()
    for r in range(40):
        got = debug_replication(plan, r)
        fixed = got["choices"]["scheme"] == "equal"
        kinds.add(fixed)
        if fixed:
            assert got["bootstrap_counts"] is None
            continue
        rows = [min(int(reference_uniform(spec.seed, r, (1 << 32) + j) * n), n - 1) for j in range(n)]
        np.testing.assert_array_equal(got["bootstrap_counts"], np.bincount(rows, minlength=n))
    assert kinds == {True, False}


def test_exp_into_matches_numpy():
    """The vectorised exp of the kernels against numpy, to 2 ulp, across its whole range."""
    import numba

    from weightlab.robustness.tree import exp_into

    @numba.njit
    def call(x, out, scratch):
        exp_into(x, out, scratch, x.shape[0])

    x = np.concatenate([np.random.default_rng(0).uniform(-700, 700, 100_000), [-700.0, 0.0, 1e-300, 700.0]])
    out = np.empty_like(x)
    call(x, out, np.empty(2 * x.shape[0]))
    want = np.exp(x)
    assert np.max(np.abs(out - want) / np.spacing(want)) <= 2
    assert out[-3] == 1.0


def test_exact_sum_of_slot_counters_near_the_int64_limit():
    """accumulators.exact_sum adds per-slot int64 counters exactly, as Python integers do, also where their
    total passes 2**63 and 2**64."""
    from weightlab.robustness.accumulators import exact_sum

    rng = np.random.default_rng(3)
    x = rng.integers(0, 2**63 - 1, size=(3, 50), dtype=np.int64)
    x[:, 0] = 2**63 - 1
    x[:, 1] = 0
    got = exact_sum(x)
    assert [int(v) for v in got] == [sum(int(v) for v in col) for col in x.T]
    assert got[0] == 3 * (2**63 - 1) and got[1] == 0
