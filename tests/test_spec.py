"""Parsing and validation of the uncertainty spec."""

from __future__ import annotations

import numpy as np
import pytest

from weightlab.errors import SpecError
from weightlab.robustness.spec import Option, UncertaintySpec, demo_spec

EXAMPLE = """
seed = 7
reps = 1_000_000

[weights]
perturb = "uniform"
spread = 0.25
levels = "all"

[choices]
normalizer = ["minmax", "zscore", "rank"]
aggregator = ["arithmetic", {name = "geometric", shift = 0.01}]
scheme     = ["equal", "entropy", "critic", "pca"]
imputation = ["mean", "median"]
drop_indicator = true

[choices.probabilities]
normalizer = [2, 1, 1]

[bootstrap]
units = false

[outputs]
quantiles = [0.05, 0.5, 0.95]
top_k = [10, 50]
"""


def test_example_parses(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(EXAMPLE)
    spec = UncertaintySpec.from_toml(path)
    assert spec.seed == 7 and spec.reps == 1_000_000
    assert spec.weights.perturb == "uniform" and spec.weights.spread == 0.25
    assert [o.name for o in spec.choices.normalizer] == ["minmax", "zscore", "rank"]
    assert spec.choices.aggregator[1] == Option("geometric", {"shift": 0.01}, "aggregator")
    assert spec.choices.aggregator[1].label == "geometric(shift=0.01)"
    assert spec.choices.drop_indicator and not spec.bootstrap_units
    np.testing.assert_allclose(spec.choices.probs("normalizer"), [0.5, 0.25, 0.25])
    np.testing.assert_allclose(spec.choices.probs("scheme"), [0.25] * 4)
    assert spec.outputs.top_k == (10, 50)
    assert spec.uncertain_factors() == ["weights", "normalizer", "aggregator", "scheme", "imputation",
                                        "drop_indicator"]
    assert UncertaintySpec.from_dict(spec.to_dict(), spec.source) == spec


def test_defaults_mean_not_uncertain():
    spec = UncertaintySpec.from_dict({})
    assert spec.uncertain_factors() == []
    assert spec.choices.normalizer[0].name == "minmax" and spec.weights.perturb == "none"


def test_round_trip_with_level_lists():
    spec = UncertaintySpec.from_dict({"weights": {"perturb": "uniform", "levels": [2, 1]},
                                      "choices": {"scheme_levels": [1]}, "bootstrap": {"units": True}})
    assert spec.weights.levels == (1, 2) and spec.choices.scheme_levels == (1,)
    assert spec.with_overrides(reps=5) == UncertaintySpec.from_dict({**spec.to_dict(), "reps": 5})


def test_overrides():
    spec = demo_spec(reps=10).with_overrides(reps=99, seed=3)
    assert (spec.reps, spec.seed) == (99, 3)
    assert spec.with_overrides().reps == 99


@pytest.mark.parametrize("doc, key", [
    ({"weights": {"spread": 1.7}}, "spread"),
    ({"weights": {"perturb": "gaussian"}}, "perturb"),
    ({"weights": {"perturb": "dirichlet", "concentration": 0}}, "concentration"),
    ({"weights": {"levels": [0]}}, "levels"),
    ({"choices": {"normalizer": []}}, "normalizer"),
    ({"choices": {"normalizer": ["minmax", "minmax"]}}, "twice"),
    ({"choices": {"scheme": ["magic"]}}, "magic"),
    ({"choices": {"aggregator": [{"name": "geometric", "shift": -1}]}}, "shift"),
    ({"choices": {"aggregator": [{"name": "geometric", "power": 2}]}}, "power"),
    ({"choices": {"imputation": ["zero"]}}, "imputation"),
    ({"choices": {"normalizer": ["minmax", "rank"], "probabilities": {"normalizer": [1]}}}, "probabilities"),
    ({"choices": {"probabilities": {"scheme": [-1]}}}, "probabilities"),
    ({"outputs": {"quantiles": [0.5, 1.0]}}, "quantiles"),
    ({"outputs": {"top_k": [0]}}, "top_k"),
    ({"reps": 0}, "reps"),
    ({"reps": 1.5}, "reps"),
    ({"seed": -1}, "seed"),
    ({"wieghts": {}}, "weights"),
    ({"weights": {"sprad": 0.1}}, "spread"),
    ({"bootstrap": {"units": "yes"}}, "units"),
])
def test_one_clear_error_per_problem(doc, key):
    with pytest.raises(SpecError) as info:
        UncertaintySpec.from_dict(doc, source="s.toml")
    msg = str(info.value)
    assert msg.startswith("s.toml: ") and key in msg and "\n" not in msg


def test_bad_files(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        UncertaintySpec.from_toml(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("seed = = 1")
    with pytest.raises(SpecError, match="not valid TOML"):
        UncertaintySpec.from_toml(tmp_path / "bad.toml")


def test_levels_checked_against_framework():
    from weightlab.datasets import load_ai_cities

    spec = UncertaintySpec.from_dict({"weights": {"perturb": "uniform", "levels": [1, 5]}})
    with pytest.raises(SpecError, match="levels"):
        spec.check_against(load_ai_cities().framework)
