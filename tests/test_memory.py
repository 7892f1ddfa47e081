"""Copies a run does not make (docs/performance.md, "Scale and wall time"): the compiled plan holds each
normalised matrix once, the nominal build reads it, minmax works in place, workspaces leave out
what the run never fills, and the plan is hashed only for checkpoints. Every test compares the
values with an independent computation too, so that sharing memory never changes a number."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from weightlab.aggregation import AGGREGATORS
from weightlab.index import build_index, normalise
from weightlab.normalization.minmax import MinMax
from weightlab.robustness import engine as E
from weightlab.robustness import kernels as K
from weightlab.robustness import memory
from weightlab.robustness.checks import check_nominal
from weightlab.robustness.checkpoint import run_fingerprint
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.spec import UncertaintySpec
from weightlab.treatment import impute

from .helpers import random_dataset


def _spec(**choices):
    return UncertaintySpec.from_dict({"seed": 4, "reps": 256, "weights": {"perturb": "uniform", "spread": 0.3},
                                      "choices": {"imputation": ["mean"], **choices}})


def test_plan_holds_each_normalised_matrix_once():
    """Each plan.matrices frame is a read-only view of its row of kernel.data.X, with the values that
    index.normalise gives on its own; with one arithmetic aggregator T is X itself."""
    ds = random_dataset(n_units=50, missing=6)
    plan = compile_plan(ds, _spec(normalizer=["minmax", "zscore", "rank"]))
    X, codes = plan.kernel.data.X, ds.framework.indicator_codes
    assert X.shape == (3, len(codes), 50) and X.flags.c_contiguous
    for m, (key, frame) in enumerate(plan.matrices.items()):
        assert np.shares_memory(frame.to_numpy(), X[m])
        own = normalise(ds, key.normalizer, key.imputation)[codes]
        np.testing.assert_array_equal(frame.to_numpy(), own.to_numpy())
        pd.testing.assert_index_equal(frame.index, own.index)
        with pytest.raises(ValueError):
            frame.iloc[0, 0] = 5.0
    assert plan.kernel.data.T.shape == (3, 1, len(codes), 50) and np.shares_memory(plan.kernel.data.T, X)
    np.testing.assert_array_equal(plan.kernel.data.T[:, 0], X)


def test_other_aggregators_get_their_own_transformed_matrices():
    """With several aggregators T is computed apart: T[m, a] = g_a(prepare(x)) of each normalised
    matrix, as the aggregator objects compute it on the nominal path's table."""
    ds = random_dataset(n_units=40)
    aggs = ["arithmetic", {"name": "geometric", "shift": 0.05}, {"name": "harmonic", "shift": 0.1}]
    plan = compile_plan(ds, _spec(normalizer=["minmax", "zscore"], aggregator=aggs))
    T, codes = plan.kernel.data.T, ds.framework.indicator_codes
    assert not np.shares_memory(T, plan.kernel.data.X)
    objs = [AGGREGATORS.resolve("arithmetic"), AGGREGATORS.resolve("geometric", shift=0.05),
            AGGREGATORS.resolve("harmonic", shift=0.1)]
    for m, key in enumerate(plan.matrices):
        x = normalise(ds, key.normalizer, key.imputation)[codes].to_numpy(dtype=float)
        for a, agg in enumerate(objs):
            v = agg.prepare(x, members=codes)
            with np.errstate(divide="ignore"):
                want = np.log(v) if agg.power == 0 else v ** agg.power
            np.testing.assert_array_equal(T[m, a], want.T)


def test_nominal_build_reads_the_plans_matrix():
    """check_nominal with the plan holds no normalised copy of its own and builds what the
    plain build_index gives (same scores at every level, same ranks)."""
    ds = random_dataset(n_units=45, missing=5)
    spec = _spec(normalizer=["zscore", "minmax"], scheme=["entropy", "equal"])
    plan = compile_plan(ds, spec)
    shared, alone = check_nominal(ds, spec, plan), check_nominal(ds, spec)
    assert np.shares_memory(shared.normalised.to_numpy(), plan.kernel.data.X[0])
    assert not np.shares_memory(alone.normalised.to_numpy(), plan.kernel.data.X)
    plain = build_index(ds, normalizer="zscore", scheme="entropy", imputation="mean")
    for level, frame in plain.scores.items():
        pd.testing.assert_frame_equal(shared.scores[level], frame, check_exact=True)
    pd.testing.assert_series_equal(shared.ranks, plain.ranks)
    pd.testing.assert_series_equal(shared.weights.values, plain.weights.values, check_exact=True)


def test_minmax_in_place_equals_the_formula():
    """MinMax (which now scales its own array in place) against the formula on z = s x, with a
    cost column, NaN and a constant column."""
    rng = np.random.default_rng(5)
    x = rng.lognormal(size=(30, 4)) * [1.0, 10.0, 100.0, 1.0]
    x[[2, 7], 1] = np.nan
    x[:, 3] = 4.2
    x[5, 3] = np.nan
    s = np.array([1.0, -1.0, 1.0, 1.0])
    got = MinMax(range=(2.0, 7.0), directions=s.tolist()).fit_transform(pd.DataFrame(x)).to_numpy()
    z = s * x
    lo, hi = np.nanmin(z, axis=0), np.nanmax(z, axis=0)
    want = 2.0 + (z[:, :3] - lo[:3]) / (hi[:3] - lo[:3]) * 5.0
    np.testing.assert_array_equal(got[:, :3], want)
    np.testing.assert_array_equal(got[:, 3], np.where(np.isnan(x[:, 3]), np.nan, 4.5))


def test_imputation_copies_only_what_it_writes():
    """impute without a copy up front still never writes into the caller's table."""
    values = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [4.0, 5.0, 6.0]})
    before = values.copy()
    for method in ("none", "mean"):
        out = impute(values, method)
        out.iloc[0, 0] = -1.0
        pd.testing.assert_frame_equal(values, before)


def test_level_by_level_scratch_only_where_a_run_fills_it():
    """Workspace.vals is empty for plans scored by matrix products alone, full-size where some
    replication is scored level by level (mixed aggregators, missing cells) or re-estimates weights."""
    ds = random_dataset(n_units=30, missing=3)
    n_nodes = len(ds.framework.indicator_codes) + 5 + 1
    cases = [(_spec(), 0),
             (_spec(aggregator=["arithmetic", {"name": "geometric", "shift": 0.05}], aggregator_per_level=True), 30),
             (UncertaintySpec.from_dict({"seed": 1, "reps": 256, "choices": {"imputation": ["none"]}}), 30),
             (UncertaintySpec.from_dict({"seed": 1, "reps": 256, "choices": {"imputation": ["mean"],
                                                                             "scheme": ["entropy"]},
                                         "bootstrap": {"units": True}}), 30)]
    for spec, width in cases:
        p = compile_plan(ds, spec).kernel
        assert K.scores_by_level(p) == (width > 0)
        assert K.make_workspaces(p, 2).vals.shape == (2, n_nodes, width)


def test_array_bytes_counts_each_buffer_once():
    X = np.zeros((2, 3, 50))
    assert memory.array_bytes([X, X[:, None], X[1], X.copy(), "not an array", np.zeros(7, dtype=np.int32)]) == (
        2 * X.nbytes + 28)


def test_plan_is_hashed_only_for_checkpoints(monkeypatch, tmp_path):
    """A run without checkpoint or resume does not hash the plan (hashing reads every matrix); the
    hash reads each array's bytes, so a view (T of X) and a copy of it hash alike."""
    plan = compile_plan(random_dataset(n_units=30), _spec())
    design = E.make_design(plan)
    copied = replace(plan, kernel=plan.kernel._replace(data=plan.kernel.data._replace(T=plan.kernel.data.T.copy())))
    assert run_fingerprint(plan, design) == run_fingerprint(copied, design)
    moved = replace(plan, kernel=plan.kernel._replace(data=plan.kernel.data._replace(X=plan.kernel.data.X + 1e-12)))
    assert run_fingerprint(plan, design) != run_fingerprint(moved, design)
    hashed = []
    monkeypatch.setattr(E, "run_fingerprint", lambda *a: hashed.append(1) or run_fingerprint(*a))
    E.run_plan(plan, threads=1)
    assert hashed == []
    E.run_plan(plan, threads=1, checkpoint=tmp_path / "c.npz")
    assert hashed == [1]


def test_scores_table_of_many_indicators_is_one_frame_that_copies_on_write():
    """scores_table: the columns the docstring lists (numpy from the result's scores), no pandas
    fragmentation warning at 150 indicators, and writing to it leaves the result unchanged."""
    import warnings

    from weightlab.data import Dataset
    from weightlab.framework import Framework
    from weightlab.index import build_index

    k, n = 150, 30
    fw = Framework.from_dict({"index": {"code": "idx"},
                              "groups": [{"code": "g1", "parent": "idx"}, {"code": "g2", "parent": "idx"}],
                              "indicators": [{"code": f"x{j}", "parent": "g1" if j % 2 else "g2"} for j in range(k)]})
    values = pd.DataFrame(np.random.default_rng(4).random((n, k)), columns=[f"x{j}" for j in range(k)],
                          index=pd.Index([f"u{i}" for i in range(n)], name="unit"))
    res = build_index(Dataset(values, fw, pd.Series([f"City {i}" for i in range(n)], index=values.index)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = res.scores_table()
    assert list(table.columns) == ["unit", "name", "rank", "idx", "g1", "g2", *fw.indicator_codes]
    np.testing.assert_array_equal(table["unit"], values.index)
    for level, frame in res.scores.items():
        for code in frame.columns:
            np.testing.assert_array_equal(table[code].to_numpy(), frame[code].to_numpy())
    before = res.scores[1]["x0"].to_numpy().copy()
    table.loc[0, "x0"] = -1.0
    np.testing.assert_array_equal(res.scores[1]["x0"].to_numpy(), before)


def test_data_hash_is_that_of_the_whole_table_read_in_slices():
    """manifest.dataframe_sha256 hashes 1 MiB of rows at a time: the digest of a 4.8 MB table (in
    pandas' column-major blocks) is SHA-256 of its column names, ids and C-order float64 bytes."""
    import hashlib
    import json

    from weightlab.results.manifest import dataframe_sha256

    rng = np.random.default_rng(6)
    df = pd.DataFrame(rng.random((200_000, 3)), columns=["a", "b", "c"], index=[f"u{i}" for i in range(200_000)])
    df.iloc[7, 1] = np.nan
    h = hashlib.sha256()
    h.update(json.dumps(["a", "b", "c"]).encode())
    h.update(json.dumps([f"u{i}" for i in range(200_000)]).encode())
    h.update(np.stack([df[c].to_numpy() for c in df.columns], axis=1).tobytes())
    assert dataframe_sha256(df) == h.hexdigest()
