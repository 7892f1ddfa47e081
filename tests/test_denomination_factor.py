"""Denomination (COINr's Denominate on or off) as an uncertain factor, added through the factor table.

The engine's replications are compared with the plain rebuild of ``robustness/reference.py``, which
divides the raw values itself (:func:`weightlab.denominate.denominate`) and builds the index with
:func:`weightlab.index.build_index`; the denominated matrix is checked against a division written
here in numpy from the iMeta file; specs without the factor keep their columns, tables and TOML.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightlab.data import Dataset
from weightlab.datasets import _path, load_asem
from weightlab.errors import SpecError
from weightlab.index import build_index
from weightlab.robustness.engine import debug_replication, run
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.sensitivity import factors, run_sensitivity
from weightlab.robustness.spec import UncertaintySpec

from .helpers import assert_replications_match_rebuild, random_dataset

DOC = {"seed": 5, "weights": {"perturb": "uniform", "spread": 0.2},
       "choices": {"denomination": ["none", "framework"], "normalizer": ["minmax", "zscore"],
                   "imputation": ["mean"], "treatment": ["none", "coinr"], "scheme": ["equal", "entropy"]}}


def _spec(doc: dict, reps: int = 256, **over) -> UncertaintySpec:
    return UncertaintySpec.from_dict({"reps": reps, **doc, **over}, source="denomination-spec")


@pytest.fixture(scope="module")
def asem() -> Dataset:
    return load_asem()


def test_replications_match_plain_rebuild(asem):
    spec = _spec(DOC)
    plan = compile_plan(asem, spec)
    assert len(plan.matrices) == 2 * 2 * 1 * 2 and plan.factor_options["denomination"] == ["none", "framework"]
    seen = assert_replications_match_rebuild(asem, spec, plan, 48)
    assert seen["denomination"] == {"none", "framework"} and seen["treatment"] == {"none", "coinr"}


def test_denominated_matrix_is_the_numpy_division(asem):
    """Matrix (framework, mean, minmax) = min-max of x / d, d the iMeta Denominator column of each
    indicator, then mean-imputed; cost indicators reversed."""
    plan = compile_plan(asem, _spec({"choices": {"denomination": ["none", "framework"], "imputation": ["mean"]}}))
    meta = pd.read_csv(_path("asem_iMeta.csv"))
    data = pd.read_csv(_path("asem_iData.csv")).set_index("uCode")
    codes = list(asem.framework.indicator_codes)
    denom = meta.set_index("iCode")["Denominator"].reindex(codes)
    assert denom.notna().sum() > 10  # the factor matters on these data
    x = data.loc[asem.units, codes].to_numpy(dtype=float)
    for j, col in enumerate(denom):
        if isinstance(col, str):
            x[:, j] = x[:, j] / data.loc[asem.units, col].to_numpy(dtype=float)
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    mm = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    cost = np.asarray(asem.framework.directions) < 0
    mm[:, cost] = 1.0 - mm[:, cost]
    got = plan.matrix(denomination="framework")[codes].to_numpy()
    np.testing.assert_allclose(got, mm, rtol=0, atol=1e-12)
    plain = plan.matrix(denomination="none")[codes].to_numpy()
    assert np.abs(got - plain).max() > 0.1


def test_framework_replication_is_build_index_on_denominated_data(asem):
    """A replication that draws ``framework`` scores as build_index on the data divided by hand."""
    spec = _spec({"seed": 2, "choices": {"denomination": ["none", "framework"], "imputation": ["mean"]}}, reps=64)
    plan = compile_plan(asem, spec)
    divided = asem.values.copy()
    for ind in asem.framework.indicators:
        if ind.denominator:
            divided[ind.code] = divided[ind.code] / pd.to_numeric(asem.meta[ind.denominator], errors="coerce")
    want = build_index(Dataset(divided, asem.framework, asem.names, asem.meta), imputation="mean").index_scores
    drawn = [debug_replication(plan, r) for r in range(16)]
    hits = [d for d in drawn if d["choices"]["denomination"] == "framework"]
    assert hits and len(hits) < len(drawn)
    for d in hits:
        np.testing.assert_allclose(d["scores"], want.to_numpy(), rtol=1e-12, atol=1e-12)


def test_run_counts_the_factor_and_specs_without_it_are_unchanged(asem):
    res = run(asem, _spec(DOC, reps=512), threads=1)
    shares = res.choice_shares.set_index(["factor", "option"])["count"]
    assert shares.loc[("denomination", "none")] + shares.loc[("denomination", "framework")] == 512
    assert 150 < shares.loc[("denomination", "framework")] < 362
    # a spec that does not vary it: no column, no listed factor, no TOML key, no choice-table row
    ds = random_dataset()
    for doc in ({"choices": {"normalizer": ["minmax", "zscore"]}},
                {"choices": {"normalizer": ["minmax", "zscore"], "denomination": ["none"]}}):
        spec = _spec(doc)
        plan = compile_plan(ds, spec)
        assert "denomination" not in plan.factor_options and plan.columns.col("denomination") == -1
        assert "denomination" not in spec.to_dict()["choices"] and spec.uncertain_factors() == ["normalizer"]
        assert plan.kernel.columns.col_boot == 5 and plan.kernel.columns.n_cols == 6 + plan.kernel.tree.n_nodes - 1
    varied = compile_plan(asem, _spec(DOC))
    assert varied.columns.col("denomination") == varied.columns.col("treatment") + 1
    spec = _spec(DOC)
    assert UncertaintySpec.from_dict(spec.to_dict(), source=spec.source) == spec


@pytest.mark.parametrize("factor, data, choices", [
    ("treatment", random_dataset, {"treatment": ["none", "log1p", "coinr"], "normalizer": ["minmax"]}),
    ("denomination", load_asem, {"denomination": ["none", "framework"], "imputation": ["mean"]}),
], ids=["treatment", "denomination"])
def test_sensitivity_lists_a_varied_data_stage_as_its_one_factor(factor, data, choices):
    """A data stage varied alone is the spec's one uncertain factor, one design column, and explains
    all the rank variance (Sobol' ST), whatever the stage."""
    ds = data()
    spec = _spec({"seed": 4, "choices": choices})
    plan = compile_plan(ds, spec)
    assert spec.uncertain_factors() == [factor]
    assert factors(plan) == {factor: [plan.columns.col(factor)]}
    res = run_sensitivity(ds, spec, base_samples=64, n_boot=50, threads=1)
    table = res.sobol[res.sobol["output"] == "all_ranks"].set_index("factor")
    assert list(table.index) == [factor, "dummy"]
    assert table.loc[factor, "ST"] > 0.9  # the only uncertain input explains all the variance


def test_denomination_without_denominators_is_refused():
    spec = _spec({"choices": {"denomination": ["none", "framework"]}})
    with pytest.raises(SpecError, match="denomination 'framework': the framework names no denominator"):
        compile_plan(random_dataset(), spec)
    with pytest.raises(SpecError, match="Unknown denomination 'gdp'"):
        _spec({"choices": {"denomination": ["none", "gdp"]}})


def test_cli_robustness_and_sensitivity_take_the_option(tmp_path, capsys):
    from weightlab.cli import main

    assert main(["datasets", "export", "asem", str(tmp_path / "asem")]) == 0
    spec = tmp_path / "spec.toml"
    spec.write_text('seed = 3\nreps = 256\n[choices]\ndenomination = ["none", "framework"]\nimputation = ["mean"]\n')
    data, fw = str(tmp_path / "asem" / "data.csv"), str(tmp_path / "asem" / "framework.toml")
    assert main(["robustness", data, "-f", fw, "--spec", str(spec), "--out", str(tmp_path / "rob"), "--no-report"]) == 0
    shares = pd.read_csv(tmp_path / "rob" / "choice_shares.csv")
    assert shares[shares["factor"] == "denomination"]["count"].sum() == 256
    assert main(["sensitivity", data, "-f", fw, "--spec", str(spec), "--base-samples", "64", "--bootstrap", "20",
                 "--out", str(tmp_path / "sens"), "--no-report"]) == 0
    assert "denomination" in set(pd.read_csv(tmp_path / "sens" / "sobol.csv")["factor"])
    # with a pipeline whose later data steps the engine would have to follow: refused, exit 2
    code = main(["robustness", data, "-f", fw, "--pipeline", str(tmp_path / "asem" / "pipeline.toml"), "--spec",
                 str(spec), "--out", str(tmp_path / "rob2"), "--no-report"])
    assert code == 2 and "varies the denomination" in capsys.readouterr().err
