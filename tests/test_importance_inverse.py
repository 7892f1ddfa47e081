"""Weights from target importance: the exact linear solution, feasibility, the nonlinear version,
COINr's get_opt_weights (R's Nelder-Mead) and the ``balanced`` scheme in the commands."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from weightlab.errors import ParameterError
from weightlab.importances.inverse import linear_balance, nonlinear_balance, r_nelder_mead, target_shares


def _r_shares(X, w):
    y = X @ w
    r = np.array([np.corrcoef(X[:, j], y)[0, 1] for j in range(X.shape[1])])
    return r / r.sum()


def test_two_members_equal_r_weights_are_inverse_sd():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 2))
    X = np.column_stack([z[:, 0], 0.6 * z[:, 0] + 0.8 * z[:, 1]]) * [1.0, 5.0] + 3.0
    sol = linear_balance(X, np.array([0.5, 0.5]))
    sd = X.std(axis=0, ddof=1)
    np.testing.assert_allclose(sol.weights, (1 / sd) / (1 / sd).sum(), rtol=1e-12)
    np.testing.assert_allclose(_r_shares(X, sol.weights), [0.5, 0.5], atol=1e-12)


def test_linear_solution_balances_correlations_when_feasible():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(400, 1))
    X = latent + rng.normal(size=(400, 4)) * [0.5, 1.0, 1.5, 0.8]
    target = target_shares({"a": 1, "b": 1.1, "c": 1.05, "d": 0.95}, ["a", "b", "c", "d"])
    assert (np.linalg.solve(np.cov(X, rowvar=False), X.std(axis=0, ddof=1) * target) > 0).all()  # feasible
    sol = linear_balance(X, target, ["a", "b", "c", "d"])
    assert sol.feasible and (sol.weights >= 0).all() and sol.weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(_r_shares(X, sol.weights), target, atol=1e-9)
    assert sol.gap < 1e-9


def test_infeasible_target_names_members_and_gives_nearest_simplex_weights():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(600, 2))
    X = np.column_stack([z[:, 0], z[:, 1], (z[:, 0] + z[:, 1]) / np.sqrt(2) + 0.05 * rng.normal(size=600)])
    target = np.full(3, 1 / 3)
    raw = np.linalg.solve(np.cov(X, rowvar=False), X.std(axis=0, ddof=1) * target)
    assert raw[2] < 0 < raw[0]  # independent check: the exact solution needs a negative weight for c
    sol = linear_balance(X, target, ["a", "b", "c"])
    assert not sol.feasible and sol.negative == ["c"]
    assert (sol.weights >= 0).all() and sol.weights.sum() == pytest.approx(1.0)
    assert sol.gap > 0.01
    # no simplex point on a fine grid does better than the constrained optimum
    grid = [np.array([a, b, 1 - a - b]) for a in np.linspace(0, 1, 41) for b in np.linspace(0, 1, 41) if a + b <= 1]
    best = min(np.sum((_r_shares(X, w) - target) ** 2) for w in grid if (X @ w).std() > 0)
    assert np.sum((_r_shares(X, sol.weights) - target) ** 2) <= best + 1e-9


def test_nonlinear_solution_improves_on_the_linear_start():
    from weightlab.aggregation import AGGREGATORS

    rng = np.random.default_rng(3)
    latent = rng.normal(size=(300, 1))
    X = np.exp(latent * [0.3, 0.8, 1.2] + 0.4 * rng.normal(size=(300, 3)))
    X = (X - X.min(0)) / np.ptp(X, axis=0) * 99 + 1  # positive: a geometric mean
    geo = AGGREGATORS.get("geometric")
    target = np.full(3, 1 / 3)
    start = linear_balance(X, target).weights
    sol = nonlinear_balance(X, target, lambda w: geo.aggregate(X, w), start)
    assert sol.objective < sol.objective_start
    assert sol.objective == pytest.approx(np.sum((sol.achieved - target) ** 2), rel=1e-9)
    assert (sol.weights >= 0).all() and sol.weights.sum() == pytest.approx(1.0)


def test_r_nelder_mead_reproduces_rs_optim_example():
    """R's ?optim example: optim(c(-1.2, 1), fr) on Rosenbrock's function prints par 1.000260
    1.000506, value 8.825241e-08, counts 195 (R's default reltol = sqrt(.Machine$double.eps))."""
    def fr(x):
        return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2

    res = r_nelder_mead(fr, np.array([-1.2, 1.0]), reltol=np.sqrt(np.finfo(float).eps))
    np.testing.assert_allclose(res.par, [1.000260, 1.000506], atol=5e-7)
    assert res.value == pytest.approx(8.825241e-08, rel=1e-6)
    assert res.fncount == 195 and res.convergence == 0


def test_targets_by_name_only():
    assert target_shares("equal", ["a", "b"]).tolist() == [0.5, 0.5]
    with pytest.raises(ParameterError, match="not a member"):
        target_shares({"a": 1, "z": 1}, ["a", "b"], "g")
    with pytest.raises(ParameterError, match="leaves out b"):
        target_shares({"a": 1}, ["a", "b"], "g")
    with pytest.raises(ParameterError, match="> 0"):
        target_shares({"a": 1, "b": 0}, ["a", "b"], "g")


# ---------------------------------------------------------------------------------- COINr
@pytest.fixture(scope="module")
def asem_build():
    import weightlab as wl

    return wl.asem_pipeline().run(wl.load_asem(), "expert")


def _coinr_level3(build, **params):
    from weightlab.weighting.balanced import Balanced

    fw = build.raw.framework
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # COINr's negative weights are announced by a warning
        return Balanced(mode="coinr", **params).fit(build.result.normalised, fw, level=3,
                                                    aggregator=build.pipeline.aggregators(fw))


def test_coinr_mode_matches_coinrs_own_tests(asem_build):
    """COINr's tests/testthat/test-weights.R on its example coin (ASEM, Level 3): equal targets give
    normalised correlations that round to (0.5, 0.5); c(1, 2) with toler = 0.01 to (0.33, 0.67)."""
    eq = _coinr_level3(asem_build).coinr_results_[3]
    assert np.round(eq["obtained"].to_numpy(), 2).tolist() == [0.5, 0.5]
    assert eq["result"].convergence == 0
    uneq = _coinr_level3(asem_build, target={"Conn": 1, "Sust": 2}, toler=0.01).coinr_results_[3]
    assert np.round(uneq["obtained"].to_numpy(), 2).tolist() == [0.33, 0.67]


def test_coinr_mode_recomputed_independently(asem_build):
    """The reported correlations are those of the index rebuilt with the returned weights."""
    from weightlab.index import build_index

    fitted = _coinr_level3(asem_build)
    res = build_index(asem_build.result.dataset, normalised=asem_build.result.normalised,
                      weights=fitted.weights_, aggregator="arithmetic")
    y = res.index_scores.to_numpy()
    r = np.array([np.corrcoef(res.scores[3][c], y)[0, 1] for c in ("Conn", "Sust")])
    np.testing.assert_allclose(r / r.sum(), fitted.coinr_results_[3]["obtained"].to_numpy(), rtol=1e-10)


# ---------------------------------------------------------------------------------- the scheme
def test_balanced_scheme_in_build_index_balances_every_group(asem_build):
    from weightlab.index import build_index

    res = build_index(asem_build.result.dataset, normalised=asem_build.result.normalised, scheme="balanced")
    fw = res.dataset.framework
    for lvl in fw.aggregation_levels():
        for g in fw.groups_at(lvl):
            members = fw.children(g)
            if len(members) < 2:
                continue
            X = res.scores[lvl - 1][members].to_numpy()
            w = res.weights.values[members].to_numpy()
            assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
            note = next(n for n in res.weights.notes if n.startswith(f"{g}:"))
            if "negative" not in note:
                np.testing.assert_allclose(_r_shares(X, w), np.full(len(members), 1 / len(members)), atol=1e-9)


def test_balanced_scheme_level_keeps_other_levels(asem_build):
    from weightlab.index import build_index

    res = build_index(asem_build.result.dataset, normalised=asem_build.result.normalised, scheme="balanced",
                      scheme_level=3)
    fw = res.dataset.framework
    nominal = fw.nominal_weights()
    others = [c for lvl in (1, 2) for c in fw.codes_at(lvl)]
    pd.testing.assert_series_equal(res.weights.values[others], nominal[others], check_names=False)


def test_balanced_scheme_refuses_bad_targets(asem_build):
    from weightlab.index import build_index

    ds, X = asem_build.result.dataset, asem_build.result.normalised
    with pytest.raises(ParameterError, match="not a node"):
        build_index(ds, normalised=X, scheme="balanced", scheme_params={"target": {"Nope": 1}})
    with pytest.raises(ParameterError, match="leaves out"):
        build_index(ds, normalised=X, scheme="balanced", scheme_params={"target": {"Conn": 1}})
    with pytest.raises(ParameterError, match="NAME:VALUE"):
        build_index(ds, normalised=X, scheme="balanced", scheme_params={"target": ["Conn=1"]})


def test_robustness_engine_refuses_bootstrap_of_units_with_balanced():
    import weightlab as wl
    from weightlab.errors import SpecError
    from weightlab.robustness.plan import compile_plan
    from tests.helpers import random_dataset

    ds = random_dataset(40)
    spec = wl.UncertaintySpec.from_dict({"choices": {"scheme": ["equal", "balanced"]},
                                         "bootstrap": {"units": True}})
    with pytest.raises(SpecError, match="balanced"):
        compile_plan(ds, spec)
    plain = wl.UncertaintySpec.from_dict({"choices": {"scheme": ["equal", "balanced"]}})
    plan = compile_plan(ds, plain)  # fitted once per matrix and aggregator pattern, fixed across replications
    assert plan is not None


# ---------------------------------------------------------------------------------- the commands
def test_cli_importance_and_weights(tmp_path):
    import json

    from weightlab.cli import main
    from weightlab.datasets import asem_pipeline  # noqa: F401 (the files of the built-in ASEM data)
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "weightlab" / "datasets"
    data, meta, pipe = here / "asem_iData.csv", here / "asem_iMeta.csv", here / "asem_pipeline.toml"
    out = tmp_path / "imp"
    assert main(["importance", str(data), "-f", str(meta), "--pipeline", str(pipe), "--scheme", "expert",
                 "--n-boot", "20", "--out", str(out), "--no-report"]) == 0
    table = pd.read_csv(out / "importance.csv")
    for col in ("level", "group", "member", "weight", "effective_weight", "r", "r_share", "S_spline", "S_lo",
                "S_hi", "S_local_linear", "S_linear", "pratt", "flag"):
        assert col in table.columns
    assert json.loads((out / "manifest.json").read_text())["kind"] == "importance"
    csv = tmp_path / "w.csv"
    assert main(["weights", str(data), "-f", str(meta), "--pipeline", str(pipe), "--scheme", "balanced",
                 "--level", "3", "--param", "target=equal", "--format", "csv", "--out", str(csv)]) == 0
    w = pd.read_csv(csv)
    assert set(w["member"]) == {"Conn", "Sust"} and w["weight"].sum() == pytest.approx(1.0)


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    from pathlib import Path

    from weightlab.cli import main

    here = Path(__file__).resolve().parents[1] / "weightlab" / "datasets"
    data, meta = here / "asem_iData.csv", here / "asem_iMeta.csv"
    code = main(["weights", str(data), "-f", str(meta), "--scheme", "balanced", "--imputation", "mean",
                 "--param", "target=Nope:1"])
    err = capsys.readouterr().err
    assert code == 2 and "Nope" in err and "Traceback" not in err
    code = main(["importance", str(data), "-f", str(meta), "--imputation", "mean", "--n-boot", "-1",
                 "--out", str(tmp_path / "x")])
    assert code == 2 and "--n-boot" in capsys.readouterr().err


def test_balanced_weights_follow_the_units_of_a_member():
    """unit_free = False: multiplying a member by c divides its balanced weight by c (renormalised),
    which leaves the group score's shape and every correlation unchanged."""
    rng = np.random.default_rng(5)
    latent = rng.normal(size=(200, 1))
    X = latent + rng.normal(size=(200, 3)) * [0.5, 1.0, 0.8]
    w = linear_balance(X, np.full(3, 1 / 3)).weights
    c = np.array([1.0, 4.0, 0.25])
    w_scaled = linear_balance(X * c, np.full(3, 1 / 3)).weights
    expected = (w / c) / (w / c).sum()
    np.testing.assert_allclose(w_scaled, expected, rtol=1e-9)
