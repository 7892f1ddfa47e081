"""Outlier treatment as an uncertain factor of the robustness spec (issue 11).

The engine's replications are compared with the plain rebuild of ``robustness/reference.py``, which
imputes and treats the raw values by calling :mod:`weightlab.treatment` itself; specs without a
treatment keep their design columns, stream positions and results.
"""

from __future__ import annotations

import numpy as np
import pytest

from weightlab.errors import SpecError
from weightlab.robustness import rng
from weightlab.robustness.columns import Columns
from weightlab.robustness.factors import FACTORS
from weightlab.robustness.engine import debug_replication, make_design, run, run_plan
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.reference import rebuild
from weightlab.robustness.spec import UncertaintySpec

from .helpers import assert_replications_match_rebuild, random_dataset

TREATMENTS = ["none", "coinr", "log1p", {"name": "coinr", "winmax": 1, "skew_thresh": 1.0}]
TREATMENT_SPEC = {
    "seed": 41, "weights": {"perturb": "uniform", "spread": 0.25},
    "choices": {"treatment": TREATMENTS, "normalizer": ["minmax", "zscore", "rank"],
                "imputation": ["mean", "median", "none"], "scheme": ["equal", "entropy"],
                "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.05}], "drop_indicator": True},
}


def _spec(doc: dict, reps: int = 256, **over) -> UncertaintySpec:
    return UncertaintySpec.from_dict({"reps": reps, **doc, **over}, source="treatment-spec")


@pytest.mark.slow  # 20-30 s with a warm kernel cache: not in make test-fast
def test_replications_match_plain_rebuild_treatment_imputation_normalizer():
    ds = random_dataset(missing=8)  # heavy-tailed columns: the coinr rule winsorises or logs them
    spec = _spec(TREATMENT_SPEC)
    plan = compile_plan(ds, spec)
    assert len(plan.matrices) == 4 * 3 * 3 and plan.factor_options["treatment"] == [
        "none", "coinr", "log1p", "coinr(skew_thresh=1.0, winmax=1)"]
    seen = assert_replications_match_rebuild(ds, spec, plan, 160)
    assert seen["treatment"] == set(plan.factor_options["treatment"])
    assert seen["imputation"] == {"mean", "median", "none"} and len(seen["normalizer"]) == 3
    # the treatments do change the data (else the comparison above would prove little)
    none = plan.matrix(treatment="none", imputation="mean", normalizer="minmax")
    for t in ("coinr", "log1p"):
        assert np.abs(plan.matrix(treatment=t, imputation="mean").to_numpy() - none.to_numpy()).max() > 0.05


def test_log1p_matrix_is_the_numpy_formula_after_imputation():
    """Plan matrix (log1p, mean, minmax) = min-max of log(1 + x) of the mean-imputed raw values
    (the pipeline's order: impute, then treat, then normalise), cost indicator reversed."""
    ds = random_dataset(missing=8)
    plan = compile_plan(ds, _spec({"choices": {"treatment": ["none", "log1p"], "imputation": ["mean"]}}))
    x = ds.values.to_numpy(dtype=float)
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    y = np.log(1.0 + x)
    mm = (y - y.min(axis=0)) / (y.max(axis=0) - y.min(axis=0))
    cost = np.asarray(ds.framework.directions) < 0
    mm[:, cost] = 1.0 - mm[:, cost]
    got = plan.matrix(treatment="log1p", imputation="mean", normalizer="minmax")[ds.framework.indicator_codes]
    got = got.to_numpy()
    np.testing.assert_allclose(got, mm, rtol=0, atol=1e-13)


def test_sobol_design_rows_match_plain_rebuild():
    ds = random_dataset(missing=6)
    spec = _spec(TREATMENT_SPEC, sampling={"method": "sobol"}, bootstrap={"units": True},
                 choices={**TREATMENT_SPEC["choices"], "imputation": ["mean", "none"],
                          "probabilities": {"treatment": [1, 2, 2, 1]}})
    plan = compile_plan(ds, spec)
    design = make_design(plan)
    rows = design.rows(0, 256)
    seen = set()
    for r in list(range(24)) + [200, 255]:
        got = debug_replication(plan, r, design)
        want = rebuild(ds, spec, r, row=rows[r])
        assert got["choices"] == want["choices"], r
        seen.add(want["choices"]["treatment"])
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-12, atol=1e-12, err_msg=f"r={r}")
        np.testing.assert_array_equal(got["ranks"], want["ranks"], err_msg=f"r={r}")
    assert len(seen) >= 3


def test_existing_stream_positions_and_columns_unchanged():
    """Results of specs without treatment stay bit-identical: every existing factor keeps its stream
    index and its design column, and no column is added unless the treatment varies."""
    stream = {f.name: f.stream for f in FACTORS}
    assert [stream[f] for f in ("imputation", "normalizer", "scheme", "drop_indicator")] == [0, 1, 2, 3]
    assert (stream["aggregator"], rng.STREAM_NOISE, rng.STREAM_DIRICHLET, rng.STREAM_BOOTSTRAP) == (
        8, 64, 1 << 20, 1 << 32)
    assert stream["treatment"] == 4
    assert list(Columns(3, 12).stream_indices()) == [0, 1, 2, 3, 8, 9, 10]
    assert list(Columns(3, 12, ("treatment",)).stream_indices()) == [0, 1, 2, 3, 8, 9, 10, 4]
    ds = random_dataset()
    for choices in ({"normalizer": ["minmax", "zscore"]}, {"normalizer": ["minmax"], "treatment": ["coinr"]}):
        plan = compile_plan(ds, _spec({"weights": {"perturb": "uniform"}, "choices": choices}))
        k = plan.kernel
        assert plan.columns.col("treatment") == -1 and k.columns.col_boot == 5 and k.columns.col_w == 6
        assert k.columns.n_cols == 6 + k.tree.n_nodes - 1
    plan = compile_plan(ds, _spec({"choices": {"treatment": ["none", "log1p"]}}))
    assert (plan.columns.col("treatment"), plan.kernel.columns.col_boot) == (5, 6)


@pytest.mark.slow  # 20-30 s with a warm kernel cache: not in make test-fast
def test_spec_without_treatment_rank_histogram_equals_reference():
    ds = random_dataset(missing=5)
    doc = {"seed": 9, "weights": {"perturb": "uniform", "spread": 0.3},
           "choices": {"normalizer": ["minmax", "zscore"], "imputation": ["mean", "median"],
                       "scheme": ["equal", "entropy"]}}
    spec = _spec(doc, reps=300)
    acc = run_plan(compile_plan(ds, spec), threads=1)
    ranks = np.array([rebuild(ds, spec, r)["ranks"] for r in range(spec.reps)])
    hist = np.zeros_like(acc.rank_hist)
    for i in range(ds.n_units):
        np.add.at(hist[i], ranks[:, i] - 1, 1)
    np.testing.assert_array_equal(acc.rank_hist, hist)
    # naming the default treatment explicitly changes nothing
    explicit = run_plan(compile_plan(ds, _spec(doc, reps=300, choices={**doc["choices"], "treatment": ["none"]})),
                        threads=1)
    np.testing.assert_array_equal(explicit.rank_hist, acc.rank_hist)
    np.testing.assert_array_equal(explicit.counts.score_hist, acc.counts.score_hist)


def test_bit_identical_for_threads_and_chunks():
    ds = random_dataset(missing=6)
    plan = compile_plan(ds, _spec(TREATMENT_SPEC, reps=3000))
    runs = [run_plan(plan, threads=t, chunk_size=c) for t, c in [(1, 3000), (2, 3000), (2, 257)]]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].rank_hist, other.rank_hist)
        np.testing.assert_array_equal(runs[0].counts.score_hist, other.counts.score_hist)
        assert list(runs[0].counts.score_q) == list(other.counts.score_q)
        np.testing.assert_array_equal(runs[0].counts.choice_count, other.counts.choice_count)


def test_choice_shares_and_nominal_treatment():
    """Shares follow the probabilities; the nominal ranks are those of the first treatment (built
    independently through the pipeline: impute, treat, normalise)."""
    import weightlab as wl

    ds = random_dataset()
    spec = _spec({"seed": 3, "choices": {"treatment": ["coinr", "none", "log1p"],
                                         "probabilities": {"treatment": [0.5, 0.3, 0.2]}}}, reps=20000)
    res = run(ds, spec, threads=1)
    shares = res.choice_shares.set_index(["factor", "option"])["share"]
    np.testing.assert_allclose(shares.loc["treatment"].to_numpy(), [0.5, 0.3, 0.2], atol=0.015)
    build = wl.Pipeline.from_dict({"treat": {"method": "coinr"}, "normalise": {"method": "minmax"}}).run(ds)
    want = build.table().set_index("unit")["rank"]
    got = res.ranks.set_index("unit")["nominal_rank"]
    assert (got == want.reindex(got.index)).all()
    plain = wl.build_index(ds).table().set_index("unit")["rank"]
    assert (plain.reindex(got.index) != got).any()  # the treatment matters on these data


def test_spec_validation_of_treatment():
    ok = UncertaintySpec.from_dict({"choices": {"treatment": ["none", {"name": "coinr", "winmax": 3}]}})
    assert [o.label for o in ok.choices.treatment] == ["none", "coinr(winmax=3)"]
    assert UncertaintySpec.from_dict(ok.to_dict()) == ok
    assert UncertaintySpec.from_dict({"choices": {"treatment": ["log1p"]}}).uncertain_factors() == []
    bad = [({"treatment": ["none", "winsor"]}, "Unknown treatment 'winsor'"),
           ({"treatment": ["log1p", "log1p"]}, "lists 'log1p' twice"),
           ({"treatment": [{"name": "log1p", "base": 2}]}, "takes no parameters"),
           ({"treatment": [{"name": "coinr", "winmax": -1}]}, "'winmax' parameter of TreatmentRule must be an integer"),
           ({"treatment": [{"name": "coinr", "skew": 1}]}, "parameters are: winmax, skew_thresh, kurt_thresh"),
           ({"treatment": ["none", "coinr"], "probabilities": {"treatment": [1]}}, "must list 2 numbers")]
    for choices, msg in bad:
        with pytest.raises(SpecError, match=msg):
            UncertaintySpec.from_dict({"choices": choices})


def test_treatment_the_data_cannot_take_is_refused():
    ds = random_dataset()
    values = ds.values.copy()
    values.iloc[5, 0] = -3.0
    from weightlab.data import Dataset

    bad = Dataset(values, ds.framework, ds.names)
    with pytest.raises(SpecError, match=r"treatment 'log1p' after imputation 'none'.*x1"):
        compile_plan(bad, _spec({"choices": {"treatment": ["none", "log1p"]}}))


def test_robustness_inputs_leave_the_treatment_to_the_spec():
    from weightlab.pipeline import Pipeline
    from weightlab.robustness.pipeline import robustness_inputs

    ds = random_dataset(missing=4)
    pipe = Pipeline.from_dict({"impute": {"method": "mean"}, "treat": {"method": "coinr"}})
    varied = _spec({"choices": {"treatment": ["coinr", "none"]}})
    prepared, _, outcomes = robustness_inputs(ds, varied, pipe)
    assert "treated" not in outcomes and prepared.values.isna().sum().sum() == 0  # imputed, not treated
    fixed, _, outcomes = robustness_inputs(ds, _spec({}), pipe)
    assert outcomes["treated"] and not np.allclose(fixed.values.to_numpy(), prepared.values.to_numpy())
