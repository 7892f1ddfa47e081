"""Sobol' estimators against closed forms, scipy, explicit resamples and a brute-force decomposition."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import qmc, sobol_indices

from weightlab.robustness import sobol
from weightlab.robustness.design import SaltelliDesign
from weightlab.robustness.engine import evaluate
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.sensitivity import factors, run_sensitivity
from weightlab.robustness.spec import UncertaintySpec

from .helpers import random_dataset


def _saltelli_inputs(n: int, d: int, seed: int = 1, qmc_points: bool = True):
    """A, B and AB_i input matrices (independent uniforms: scrambled Sobol' points, or pseudo-random)."""
    base = (qmc.Sobol(2 * d, scramble=True, seed=seed).random(n) if qmc_points
            else np.random.default_rng(seed).random((n, 2 * d)))
    A, B = base[:, :d], base[:, d:]
    AB = np.repeat(A[None], d, axis=0)
    for i in range(d):
        AB[i, :, i] = B[:, i]
    return A, B, AB


def _outputs(model, A, B, AB):
    return model(A), model(B), np.stack([model(AB[i]) for i in range(len(AB))])


def ishigami(x, a=7.0, b=0.1):
    x = -np.pi + 2 * np.pi * x
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_linear_model_of_independent_uniforms():
    """Y = sum a_i X_i with X_i ~ U(0, 1): S1_i = ST_i = a_i**2 / sum a_j**2."""
    a = np.array([1.0, 2.0, 3.0, 0.0])
    fA, fB, fAB = _outputs(lambda x: x @ a, *_saltelli_inputs(1 << 14, 4))
    want = a ** 2 / (a ** 2).sum()
    ix = sobol.analyze(fA, fB, fAB, n_boot=200, seed=3)
    np.testing.assert_allclose(ix.S1[:4, 0], want, atol=0.01)
    np.testing.assert_allclose(ix.ST[:4, 0], want, atol=0.01)
    assert ix.S1[3, 0] == 0 and ix.ST[3, 0] == 0  # a factor the model ignores: exactly 0


def test_ishigami_closed_form_inside_intervals():
    """Ishigami (a = 7, b = 0.1): closed-form indices (Saltelli et al. 2008, Global Sensitivity Analysis:
    The Primer, §4.8) lie inside the 99 % intervals and near the estimates."""
    a, b = 7.0, 0.1
    v1 = 0.5 * (1 + b * np.pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * np.pi ** 8 * (1 / 18 - 1 / 50)
    V = v1 + v2 + v13
    S1 = np.array([v1, v2, 0.0]) / V
    ST = np.array([v1 + v13, v2, v13]) / V
    np.testing.assert_allclose(S1, [0.3139, 0.4424, 0.0], atol=1e-4)  # the published values
    fA, fB, fAB = _outputs(ishigami, *_saltelli_inputs(1 << 14, 3))
    ix = sobol.analyze(fA, fB, fAB, n_boot=500, seed=5, conf=0.99)
    np.testing.assert_allclose(ix.S1[:3, 0], S1, atol=0.02)
    np.testing.assert_allclose(ix.ST[:3, 0], ST, atol=0.02)
    assert np.all((ix.S1_lo[:3, 0] <= S1) & (S1 <= ix.S1_hi[:3, 0]))
    assert np.all((ix.ST_lo[:3, 0] <= ST) & (ST <= ix.ST_hi[:3, 0]))


def test_constant_output_gives_zero_indices_and_zero_width_intervals():
    n, d = 256, 3
    f = np.full(n, 4.2)
    ix = sobol.analyze(f, f, np.tile(f, (d, 1)), n_boot=100)
    for field in sobol.Indices._fields:
        assert np.all(getattr(ix, field) == 0.0), field


def test_estimates_equal_scipy_sobol_indices_on_the_same_outputs():
    """scipy.stats.sobol_indices (Saltelli 2010 / Jansen, outputs centred) given the same f_A, f_B, f_AB."""
    fA, fB, fAB = _outputs(ishigami, *_saltelli_inputs(1 << 10, 3, seed=7))
    two = lambda x: np.stack([x, x ** 2 + 3 * x])  # noqa: E731 - two outputs at once
    ref = sobol_indices(func={"f_A": two(fA), "f_B": two(fB), "f_AB": np.stack([two(f) for f in fAB])}, n=1 << 10)
    ix = sobol.analyze(two(fA).T, two(fB).T, np.stack([two(f).T for f in fAB]), n_boot=0)
    np.testing.assert_allclose(ix.S1[:3].T, ref.first_order, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ix.ST[:3].T, ref.total_order, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sobol.first_order(fA, fB, fAB), ix.S1[:3, 0], rtol=1e-12)
    np.testing.assert_allclose(sobol.total_order(fA, fB, fAB), ix.ST[:3, 0], rtol=1e-12)


@pytest.mark.parametrize("n, block", [(512, 1), (4096, 4)])
def test_each_resample_is_the_estimator_on_the_drawn_base_samples(n, block):
    """The one-matrix-product bootstrap equals recomputing the indices on fA[idx], fB[idx], fAB[:, idx],
    also when base samples are resampled in blocks."""
    fA, fB, fAB = _outputs(ishigami, *_saltelli_inputs(n, 3, seed=2))
    idx = sobol.resampling_indices(n, 6, seed=11, block=block)
    counts = sobol.resampling_counts(n, 6, seed=11, block=block)
    assert counts.shape == (6, n // block) and (counts.sum(axis=1) == n // block).all()
    s1, st = sobol.resampled_indices(fA[:, None], fB[:, None], fAB[:, :, None], counts)
    for r in range(6):
        j = idx[r]
        assert (j.reshape(-1, block) % block == np.arange(block)).all()  # whole blocks of consecutive samples
        np.testing.assert_allclose(s1[:3, r, 0], sobol.first_order(fA[j], fB[j], fAB[:, j]), atol=2e-5)
        np.testing.assert_allclose(st[:3, r, 0], sobol.total_order(fA[j], fB[j], fAB[:, j]), atol=2e-5)
        ds1, dst = sobol.dummy_indices(fA[j], fB[j])
        np.testing.assert_allclose([s1[3, r, 0], st[3, r, 0]], [ds1, dst], atol=2e-5)


def test_bootstrap_block_rule():
    # the largest power of two dividing N that leaves >= 1,024 blocks
    assert [sobol.bootstrap_block(n) for n in (1000, 2047, 2048, 8192, 8191, 65536, 3 * 4096)] == [1, 1, 2, 8, 1, 64, 8]


def test_blocks_of_independent_samples_spread_like_single_samples():
    """For independent base samples, resampling blocks of 8 gives the same bootstrap spread as
    resampling single samples (a block size applied to the counts but not to the terms, or the
    other way round, would change it by a factor near sqrt(8))."""
    n = 8192
    single, blocks = [], []
    for s in range(8):
        fA, fB, fAB = _outputs(ishigami, *_saltelli_inputs(n, 3, seed=100 + s, qmc_points=False))
        for block, acc in ((1, single), (8, blocks)):
            s1, st = sobol.resampled_indices(fA, fB, fAB, sobol.resampling_counts(n, 300, seed=s, block=block))
            acc.append(np.r_[s1[:, :, 0].std(axis=1), st[:, :, 0].std(axis=1)])
    np.testing.assert_allclose(np.mean(blocks, axis=0), np.mean(single, axis=0), rtol=0.12)


def test_dummy_factor_is_noise_around_zero():
    fA, fB, fAB = _outputs(ishigami, *_saltelli_inputs(1 << 12, 3, seed=4))
    ix = sobol.analyze(fA, fB, fAB, n_boot=300, seed=1)
    assert abs(ix.S1[3, 0]) < 0.05 and abs(ix.ST[3, 0]) < 0.05
    assert ix.S1_lo[3, 0] <= 0.0 <= ix.S1_hi[3, 0]
    assert ix.S1_hi[3, 0] - ix.S1_lo[3, 0] > 0  # a noise floor, not an exact zero


def test_pooled_output_is_the_variance_weighted_share():
    rng = np.random.default_rng(0)
    fA, fB, fAB = rng.normal(size=(64, 3)), rng.normal(size=(64, 3)), rng.normal(size=(2, 64, 3))
    fA[:, 2] *= 5
    ix = sobol.analyze(fA, fB, fAB, n_boot=0, pooled=True)
    var = sobol.pooled_variance(fA, fB)
    np.testing.assert_allclose(ix.ST[:2, 3], (ix.ST[:2, :3] * var).sum(axis=1) / var.sum(), rtol=1e-12)
    np.testing.assert_allclose(ix.S1[:2, 3], (ix.S1[:2, :3] * var).sum(axis=1) / var.sum(), rtol=1e-12)


def test_saltelli_rows_are_a_b_and_ab():
    des = SaltelliDesign(5, [[0], [2, 3]], base_samples=8, seed=3)
    rows = des.rows(0, des.n_rows)
    base = qmc.Sobol(10, scramble=True, seed=np.random.default_rng(3)).random(8)
    A, B = base[:, :5], base[:, 5:]
    np.testing.assert_array_equal(rows[0::4], A)
    np.testing.assert_array_equal(rows[1::4], B)
    ab0 = A.copy()
    ab0[:, 0] = B[:, 0]
    ab1 = A.copy()
    ab1[:, [2, 3]] = B[:, [2, 3]]
    np.testing.assert_array_equal(rows[2::4], ab0)
    np.testing.assert_array_equal(rows[3::4], ab1)
    np.testing.assert_array_equal(des.rows(5, 19), rows[5:19])  # any chunk gives the same rows


# ----------------------------------------------------------------------------- on an index
TWO_FACTORS = {"seed": 5, "weights": {"perturb": "uniform", "spread": 0.4},
               "choices": {"normalizer": ["minmax", "rank"]}}


def test_two_factor_index_against_brute_force_decomposition():
    """Weights noise x normalizer (2 options): every weight draw evaluated under both normalizers gives
    the exact conditional variances; the Saltelli estimates' 99 % intervals must contain them."""
    ds = random_dataset()
    spec = UncertaintySpec.from_dict(TWO_FACTORS)
    plan = compile_plan(ds, spec)
    cols = factors(plan)
    assert list(cols) == ["weights", "normalizer"]
    M = 6000
    W = np.random.default_rng(9).random((M, plan.columns.n_cols))
    grid = np.repeat(W, 2, axis=0)
    grid[:, cols["normalizer"][0]] = np.tile([0.25, 0.75], M)  # option 0, then option 1
    ranks, _ = evaluate(plan, grid)
    Y = ranks.reshape(M, 2, -1).astype(float)  # (weight draw, normalizer, unit)
    varY = Y.reshape(2 * M, -1).var(axis=0)
    keep = varY > 0.5
    exact = {
        ("normalizer", "S1"): Y.mean(axis=0).var(axis=0), ("normalizer", "ST"): Y.var(axis=1).mean(axis=0),
        ("weights", "S1"): Y.mean(axis=1).var(axis=0), ("weights", "ST"): Y.var(axis=0).mean(axis=0),
    }
    res = run_sensitivity(ds, spec, base_samples=4096, n_boot=300, conf=0.99)
    units = res.sobol_units.set_index(["unit", "factor"])
    checked = 0
    for (factor, kind), v in exact.items():
        truth = v / np.where(varY > 0, varY, 1.0)
        t = units.xs(factor, level="factor").loc[ds.units]
        lo, hi = t[f"{kind}_lo"].to_numpy(), t[f"{kind}_hi"].to_numpy()
        inside = (lo - 0.02 <= truth) & (truth <= hi + 0.02)  # brute force has its own error (M draws)
        assert inside[keep].mean() >= 0.95, (factor, kind, np.flatnonzero(~inside & keep))
        checked += keep.sum()
    assert checked > 100


def test_sensitivity_is_deterministic_for_threads_and_chunks():
    ds = random_dataset()
    spec = UncertaintySpec.from_dict(TWO_FACTORS)
    a = run_sensitivity(ds, spec, base_samples=256, n_boot=50, threads=1)
    b = run_sensitivity(ds, spec, base_samples=256, n_boot=50, threads=2, chunk_size=128)
    assert a.sobol.equals(b.sobol) and a.sobol_units.equals(b.sobol_units)


def test_nothing_uncertain_is_refused():
    from weightlab.errors import SpecError

    with pytest.raises(SpecError, match="nothing is uncertain"):
        run_sensitivity(random_dataset(), UncertaintySpec(), base_samples=64)
