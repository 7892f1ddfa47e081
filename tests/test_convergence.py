"""Run until converged: the batch-means standard errors against a direct computation from every
replication's ranks, the stopping rule, determinism and equality with a fixed run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from weightlab.errors import ParameterError
from weightlab.robustness.convergence import Convergence
from weightlab.robustness.engine import evaluate, run, run_plan
from weightlab.robustness.design import StreamDesign
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.spec import UncertaintySpec

from .helpers import random_dataset

SPEC = {"seed": 4, "weights": {"perturb": "uniform", "spread": 0.4}, "choices": {"normalizer": ["minmax", "zscore"]}}


def _rule(tolerance: float, max_reps: int = 256 * 40) -> Convergence:
    return Convergence((0.05, 0.5, 0.95), tolerance=tolerance, max_reps=max_reps, batch_reps=256, min_batches=5)


def _inverted_cdf(ranks: np.ndarray, q: float) -> np.ndarray:
    return np.quantile(ranks, q, axis=0, method="inverted_cdf")


def test_standard_errors_equal_batch_means_of_every_replications_ranks():
    ds = random_dataset()
    spec = UncertaintySpec.from_dict({**SPEC, "reps": 1})
    plan = compile_plan(ds, spec)
    rule = _rule(tolerance=0.8)
    acc = run_plan(plan, until=rule)
    B = rule.n_batches
    assert acc.reps == B * 256 and 5 <= B <= 40
    ranks, _ = evaluate(plan, StreamDesign(plan.columns.n_cols), n_rows=acc.reps)
    batches = ranks.reshape(B, 256, -1)
    for j, q in enumerate((0.05, 0.5, 0.95)):
        per_batch = np.stack([_inverted_cdf(b, q) for b in batches])
        want = per_batch.std(axis=0, ddof=1) / np.sqrt(B)
        np.testing.assert_allclose(rule.standard_errors()[:, j], want, rtol=1e-12)
    se = rule.standard_errors()
    assert (se < 0.8).all()  # stopped because converged ...
    if B > 5:  # ... and not one batch later than needed
        first = Convergence((0.05, 0.5, 0.95), 0.8, 256 * 40, 256, 5)
        first.restore(rule.batch_quantiles[:-1])
        assert not first.converged()


def test_converged_run_is_deterministic_and_equals_a_fixed_run_of_the_same_size():
    ds = random_dataset()
    spec = UncertaintySpec.from_dict({**SPEC, "reps": 1})
    a = run(ds, spec, until=_rule(0.8), threads=1)
    b = run(ds, spec, until=_rule(0.8), threads=2, chunk_size=128)
    pd.testing.assert_frame_equal(a.ranks, b.ranks)
    n = a.manifest["reps"]
    fixed = run(ds, UncertaintySpec.from_dict({**SPEC, "reps": n}))
    cols = [c for c in fixed.ranks.columns]
    pd.testing.assert_frame_equal(a.ranks[cols], fixed.ranks)
    assert {"median_rank_se", "p05_rank_se", "p95_rank_se"} <= set(a.ranks.columns)
    stop = a.manifest["stopping"]
    assert stop["converged"] and stop["batches"] * 256 == n and stop["largest_se"] < 0.8
    assert "batch means" in stop["estimator"]


def test_max_reps_stops_an_unconverged_run():
    ds = random_dataset()
    spec = UncertaintySpec.from_dict({**SPEC, "reps": 1})
    res = run(ds, spec, until=_rule(1e-6, max_reps=256 * 7 + 100))
    assert res.manifest["reps"] == 256 * 7 and not res.manifest["stopping"]["converged"]
    with pytest.raises(ParameterError, match="--max-reps must be at least 5 batches"):
        _rule(0.5, max_reps=1000)
    with pytest.raises(ParameterError, match="--tolerance"):
        _rule(0.0)


def test_cli_until_converged_writes_standard_errors_and_rule(tmp_path):
    from weightlab.cli import main

    ds = random_dataset()
    data = tmp_path / "d.csv"
    ds.values.to_csv(data)
    fw = tmp_path / "f.toml"
    ds.framework.to_toml(fw)
    spec = tmp_path / "s.toml"
    spec.write_text('seed = 4\n[weights]\nperturb = "uniform"\nspread = 0.4\n')
    out = tmp_path / "res"
    code = main(["robustness", str(data), "-f", str(fw), "--spec", str(spec), "--until-converged",
                 "--tolerance", "2", "--max-reps", "200000", "--out", str(out)])
    assert code == 0
    ranks = pd.read_csv(out / "ranks.csv")
    assert (ranks["median_rank_se"] < 2).all() and (ranks["p95_rank_se"] < 2).all()
    m = json.loads((out / "manifest.json").read_text())
    assert m["stopping"]["converged"] and m["reps"] == m["stopping"]["batches"] * m["stopping"]["batch_reps"]
