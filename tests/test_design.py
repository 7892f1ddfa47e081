"""Designs: replications evaluated from quasi-random and user rows, against the plain rebuild."""

from __future__ import annotations

import numpy as np
import pytest

from weightlab.errors import ParameterError
from weightlab.robustness.design import SobolDesign
from weightlab.robustness.engine import debug_replication, evaluate, make_design, run, run_plan
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.reference import rebuild
from weightlab.robustness.sensitivity import factors
from weightlab.robustness.spec import UncertaintySpec

from .helpers import random_dataset

DESIGN_SPECS = {
    "sobol-uniform-choices": {
        "seed": 31, "sampling": {"method": "sobol"}, "weights": {"perturb": "uniform", "spread": 0.3},
        "choices": {"normalizer": ["minmax", "zscore", "rank"], "scheme": ["equal", "entropy"],
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.05}], "drop_indicator": True,
                    "aggregator_per_level": True},
    },
    "sobol-dirichlet": {
        "seed": 32, "sampling": {"method": "sobol"}, "weights": {"perturb": "dirichlet", "concentration": 30.0},
        "choices": {"normalizer": ["minmax", "zscore"]},
    },
    "sobol-bootstrap": {
        "seed": 33, "sampling": {"method": "sobol"}, "weights": {"perturb": "uniform", "spread": 0.2},
        "bootstrap": {"units": True}, "choices": {"scheme": ["entropy", "critic"], "imputation": ["none", "mean"]},
    },
}


@pytest.mark.parametrize("name", list(DESIGN_SPECS))
def test_sobol_rows_match_plain_rebuild(name):
    """Each replication of a Sobol' design, replayed by the kernels, equals the plain rebuild fed the
    same row of uniforms (choices, Dirichlet keys and bootstrap keys all read from the row)."""
    ds = random_dataset(missing=8 if "bootstrap" in name else 0)
    spec = UncertaintySpec.from_dict({"reps": 256, **DESIGN_SPECS[name]}, source=name)
    plan = compile_plan(ds, spec)
    design = make_design(plan)
    assert isinstance(design, SobolDesign)
    rows = design.rows(0, 256)
    for r in list(range(0, 20)) + [130, 255]:
        got = debug_replication(plan, r, design)
        np.testing.assert_array_equal(got["uniforms"], rows[r])
        want = rebuild(ds, spec, r, row=rows[r])
        for factor, option in want["choices"].items():
            assert got["choices"][factor] == option, (r, factor)
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-12, atol=1e-12, err_msg=f"r={r}")
        np.testing.assert_array_equal(got["ranks"], want["ranks"], err_msg=f"r={r}")


def test_sobol_run_is_bit_identical_for_threads_and_chunks():
    ds = random_dataset()
    spec = UncertaintySpec.from_dict({"reps": 3000, **DESIGN_SPECS["sobol-uniform-choices"]})
    plan = compile_plan(ds, spec)
    a = run_plan(plan, threads=1)
    b = run_plan(plan, threads=2, chunk_size=300)
    assert a.design == b.design == "sobol"
    np.testing.assert_array_equal(a.rank_hist, b.rank_hist)
    np.testing.assert_array_equal(a.counts.score_hist, b.counts.score_hist)
    assert list(a.counts.score_q) == list(b.counts.score_q)


def test_sobol_run_differs_from_stream_and_is_recorded():
    ds = random_dataset()
    doc = {"reps": 2000, **DESIGN_SPECS["sobol-uniform-choices"]}
    sob = run(ds, UncertaintySpec.from_dict(doc))
    doc["sampling"] = {"method": "stream"}
    stream = run(ds, UncertaintySpec.from_dict(doc))
    assert "Sobol" in sob.manifest["sampling"] and "counter-based" in stream.manifest["sampling"]
    assert not np.array_equal(sob.rank_frequency.to_numpy(), stream.rank_frequency.to_numpy())
    # both estimate the same distribution: median ranks agree closely
    diff = np.abs(sob.ranks.set_index("unit")["median_rank"] - stream.ranks.set_index("unit")["median_rank"])
    assert diff.mean() < 1.0


def test_evaluate_own_design_equals_debug_replications():
    """A user's rows evaluated in bulk give, row by row, the ranks of the replayed replication."""
    ds = random_dataset()
    spec = UncertaintySpec.from_dict({"reps": 10, **DESIGN_SPECS["sobol-uniform-choices"]})
    plan = compile_plan(ds, spec)
    U = np.random.default_rng(4).random((300, plan.columns.n_cols))
    ranks, scores = evaluate(plan, U, scores=True, chunk_size=128)
    from weightlab.robustness.design import ArrayDesign

    design = ArrayDesign(U, plan.columns.n_cols)
    for r in (0, 1, 127, 128, 299):
        got = debug_replication(plan, r, design)
        np.testing.assert_array_equal(ranks[r], got["ranks"])
        np.testing.assert_array_equal(scores[r], got["scores"])


def test_own_design_is_checked():
    plan = compile_plan(random_dataset(), UncertaintySpec.from_dict(DESIGN_SPECS["sobol-dirichlet"]))
    with pytest.raises(ParameterError, match="columns"):
        evaluate(plan, np.zeros((4, 3)))
    with pytest.raises(ParameterError, match=r"\[0, 1\)"):
        evaluate(plan, np.ones((4, plan.columns.n_cols)))


def test_factor_columns_and_weight_groups():
    ds = random_dataset()
    doc = {"weights": {"perturb": "uniform", "spread": 0.2, "levels": [1, 2]},
           "choices": {"normalizer": ["minmax", "rank"], "scheme": ["equal", "entropy"], "imputation": ["mean", "median"],
                       "aggregator": ["arithmetic", {"name": "harmonic", "shift": 0.1}],
                       "drop_indicator": True}}
    plan = compile_plan(ds, UncertaintySpec.from_dict({**doc, "choices": {**doc["choices"],
                                                                          "aggregator": ["arithmetic"]}}))
    cols = factors(plan)
    w0 = plan.columns.weights
    fw = ds.framework
    assert cols["normalizer"] == [1] and cols["scheme"] == [2]  # the columns of the module docstring
    assert cols["imputation"] == [0] and cols["drop_indicator"] == [3]
    assert "aggregator" not in cols  # a single option is not uncertain
    # weights: the nodes of member levels 1 and 2 (indicators and sub-pillars), not the pillars
    assert cols["weights"] == [w0 + i for i, c in enumerate(plan.node_codes[:-1]) if fw.level_of(c) in (1, 2)]
    by_level = factors(compile_plan(ds, UncertaintySpec.from_dict({**doc, "sensitivity": {"weight_groups": "level"}})))
    assert [k for k in by_level if k.startswith("weights")] == ["weights_level1", "weights_level2"]
    assert by_level["aggregator"] == [4]
    by_group = factors(compile_plan(ds, UncertaintySpec.from_dict({**doc, "sensitivity": {"weight_groups": "group"}})))
    groups = sorted(k for k in by_group if k.startswith("weights_"))
    assert groups == sorted(f"weights_{g}" for g in ("a1", "a2", "b1", "A", "B"))
    assert sorted(sum((by_group[g] for g in groups), [])) == cols["weights"]
