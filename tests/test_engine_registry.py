"""Every registered normalizer, weighting scheme and aggregator through the engine, against the plain
per-replication rebuild (weightlab/robustness/reference.py).

The methods come from the registries, never from a hand list: a new plug-in is run through the
engine by this file as soon as it is registered. Data: ties (three units at zero everywhere), a
constant indicator, and missing cells (imputation "none" keeps them: the engine's level-by-level
and sparse bootstrap paths; "mean" fills them: the matrix-product and dense bootstrap paths).
"""

from __future__ import annotations

import numpy as np
import pytest

from weightlab.aggregation import AGGREGATORS
from weightlab.data import Dataset
from weightlab.normalization import NORMALIZERS
from weightlab.robustness import boot_weights as BW
from weightlab.robustness.engine import debug_replication
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.spec import UncertaintySpec
from weightlab.weighting import SCHEMES

from .helpers import assert_replications_match_rebuild, random_dataset

REPS = 12  # replications compared per spec (each rebuilt with pandas)


def _dataset() -> Dataset:
    ds = random_dataset(n_units=30, seed=5, missing=8)
    values = ds.values.copy()
    values["x6"] = 2.5  # constant indicator (in a 3-member group)
    return Dataset(values, ds.framework, ds.names)


DS = _dataset()


def _normalizer_option(name: str) -> dict:
    """Parameters a normalizer cannot do without, taken from the data: goalposts at the data's range,
    as reference unit the first unit observed and positive in every (reflected) column, and as
    targets one beyond each indicator's best value."""
    cls = NORMALIZERS.get_class(name)
    params = {}
    if "lower" in cls().get_params() and "upper" in cls().get_params():
        params = {"lower": 0.0, "upper": float(np.nanmax(DS.values.to_numpy()))}
    if "ref" in cls().get_params():  # positive also after reflecting cost columns (min + max - x)
        v = DS.values
        cost = [DS.framework.node(c).direction < 0 for c in v.columns]
        reflected = v.where(~np.broadcast_to(cost, v.shape), v.min() + v.max() - v)
        positive = (reflected > 0).all(axis=1)
        params = {"ref": str(positive.index[positive.to_numpy()][0])}
    if "targets" in cls().get_params():  # one beyond each indicator's best value (also for a constant one)
        v = DS.values
        params = {"targets": {c: float(v[c].max() + 1 if DS.framework.node(c).direction > 0 else v[c].min() - 1)
                              for c in v.columns}}
    return {"name": name, **params}


def _aggregator_option(name: str) -> dict:
    """An aggregator that needs positive (or non-negative) values gets the shift rule."""
    agg = AGGREGATORS.get(name)
    return {"name": name, "shift": 0.05} if agg.needs_positive() or agg.needs_nonnegative() else {"name": name}


def _scheme_option(name: str) -> dict:
    """A scheme that refuses values <= 0 takes the shift rule (its ``shift`` parameter)."""
    return {"name": name, "shift": 0.01} if SCHEMES.get_class(name).requires_positive else {"name": name}


def _cases() -> list:
    base = {"weights": {"perturb": "uniform", "spread": 0.2}}
    cases = []
    for name in NORMALIZERS.available():
        cases.append(pytest.param({**base, "choices": {"normalizer": [_normalizer_option(name)],
                                                       "imputation": ["none", "mean"],
                                                       "scheme": ["equal", "entropy"]}},
                                  id=f"normalizer-{name}"))
    for name in AGGREGATORS.available():
        cases.append(pytest.param({**base, "choices": {"aggregator": [_aggregator_option(name)],
                                                       "normalizer": ["minmax", "zscore"],
                                                       "imputation": ["none", "mean"]}},
                                  id=f"aggregator-{name}"))
    for name in SCHEMES.available():
        choices = {"scheme": [_scheme_option(name)], "normalizer": ["minmax", "zscore"],
                   "imputation": ["none", "mean"]}
        cases.append(pytest.param({**base, "choices": choices}, id=f"scheme-{name}"))
        # schemes without a compiled statistics function (balanced) are refused under the bootstrap
        # (test_bootstrap_refuses_schemes_the_engine_cannot_re_estimate, tests/test_importance_inverse.py)
        if SCHEMES.get_class(name).data_driven and BW.function_index(SCHEMES.get_class(name)) >= 0:
            for levels in ("all", [1]):
                cases.append(pytest.param({**base, "bootstrap": {"units": True},
                                           "choices": {**choices, "scheme_levels": levels}},
                                          id=f"scheme-{name}-bootstrap-levels-{levels if levels == 'all' else 1}"))
    return cases


@pytest.mark.parametrize("doc", _cases())
def test_engine_matches_plain_rebuild_for_every_registered_method(doc):
    spec = UncertaintySpec.from_dict({"reps": 200, "seed": 23, **doc}, source="registry")
    plan = compile_plan(DS, spec)
    seen = assert_replications_match_rebuild(DS, spec, plan, REPS)
    for factor, options in plan.factor_options.items():
        if len(options) > 1 and factor != "drop_indicator":
            assert len(seen[factor]) > 1, factor  # both paths (missing and filled cells) were exercised
    if spec.bootstrap_units:  # re-estimated weights, not the fixed ones: the same replications without
        fixed = compile_plan(DS, UncertaintySpec.from_dict(  # the bootstrap draw the same noise
            {"reps": 200, "seed": 23, **{**doc, "bootstrap": {"units": False}}}, source="registry"))
        moved = 0.0
        for r in range(REPS):
            a, b = debug_replication(plan, r)["member_weights"], debug_replication(fixed, r)["member_weights"]
            moved = max(moved, max(abs(a[c] - b[c]) for c in DS.framework.indicator_codes))
        assert moved > 1e-6


def test_bootstrap_refuses_schemes_the_engine_cannot_re_estimate(monkeypatch):
    """A data-driven plug-in written in Python only, and a statistics scheme registered after the engine
    was imported, are refused under [bootstrap] units = true with a message that says why."""
    import numba

    from weightlab.errors import SpecError
    from weightlab.weighting.base import StatisticsScheme, WeightingScheme

    class PythonOnly(WeightingScheme):
        data_driven = True

        def group_weights(self, X, members, group, framework):
            return np.full(len(members), 1.0 / len(members))

    @numba.njit
    def late_weights(n, st, cov, xs, cs, ns, members, prm, out, work):
        for a in range(members.shape[0]):
            out[a] = 1.0 / members.shape[0]

    class Late(StatisticsScheme):
        weights_function = staticmethod(late_weights)

    for name, cls, why in [("python_only", PythonOnly, "in Python only"),
                           ("late", Late, "registered after the engine was imported")]:
        cls.name = name
        monkeypatch.setitem(SCHEMES._classes, name, cls)
        spec = UncertaintySpec.from_dict({"reps": 10, "bootstrap": {"units": True}, "choices": {"scheme": [name]}},
                                         source="spec.toml")
        with pytest.raises(SpecError, match=f"spec.toml: .*'{name}' .*{why}.*units = false"):
            compile_plan(DS, spec)
        fixed = UncertaintySpec.from_dict({"reps": 10, "choices": {"scheme": [name]}})
        assert compile_plan(DS, fixed).kernel.schemes.scheme_code.max() == 0  # fine without the bootstrap
