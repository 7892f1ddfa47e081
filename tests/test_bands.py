"""Rank bands: counts kept only inside each unit's reachable ranks (plus an exact second pass for
ranks outside) give exactly the dense histograms and summaries; the long rank-frequency format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightlab.robustness import bands as B
from weightlab.robustness import results as RS
from weightlab.robustness.engine import run_plan
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.results import RobustnessResult
from weightlab.robustness.summaries import histogram_quantile
from weightlab.robustness.spec import UncertaintySpec

from .helpers import random_dataset

SPEC = {"seed": 8, "weights": {"perturb": "uniform", "spread": 0.5},
        "choices": {"normalizer": ["minmax", "zscore", "rank"], "imputation": ["mean"],
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.05}]}}


def _plan(reps: int = 6000):
    return compile_plan(random_dataset(n_units=60, missing=4), UncertaintySpec.from_dict({**SPEC, "reps": reps}))


def _same(a, b):
    np.testing.assert_array_equal(a.rank_hist, b.rank_hist)
    np.testing.assert_array_equal(a.counts.score_hist, b.counts.score_hist)
    assert list(a.counts.score_q2) == list(b.counts.score_q2)


@pytest.mark.parametrize("pad", [(8, 0.5), (0, 0.0)])
def test_banded_counts_equal_dense_counts(monkeypatch, pad):
    """Default padding, and none at all (ranks outside the pilot's range then need the second pass)."""
    monkeypatch.setattr(B, "MIN_PAD", pad[0])
    monkeypatch.setattr(B, "PAD", pad[1])
    plan = _plan()
    dense = run_plan(plan, bands=False)
    banded = run_plan(plan, bands=True, chunk_size=1000)
    assert dense.bands.is_dense and not banded.bands.is_dense
    _same(dense, banded)
    if pad[0] == 0:
        assert banded.second_pass_units > 0
    timing = {"run_s": 1.0}
    r1 = RobustnessResult.from_run(plan, dense, timing).ranks
    r2 = RobustnessResult.from_run(plan, banded, timing).ranks
    pd.testing.assert_frame_equal(r1, r2)


def test_band_width_follows_the_pilot_and_is_far_below_dense():
    plan = _plan(3000)
    acc = run_plan(plan, bands=True)
    assert acc.second_pass_units == 0 and acc.bands.total < 0.8 * plan.n_units ** 2
    hist = acc.rank_hist
    # every count lies inside the unit's band
    for i in range(plan.n_units):
        lo, w = acc.bands.lo[i], acc.bands.width[i]
        assert hist[i, :lo - 1].sum() == 0 and hist[i, lo - 1 + w:].sum() == 0


def test_band_quantiles_and_summary_against_dense_numpy():
    rng = np.random.default_rng(0)
    n = 30
    lo = rng.integers(1, 10, n)
    width = rng.integers(1, 20, n)
    width = np.minimum(width, n - lo + 1)
    bands = B.RankBands(lo.astype(np.int64), width.astype(np.int64))
    counts = rng.integers(0, 4, bands.total).astype(np.int64)
    counts[bands.off[:-1]] += 1  # every unit counted at least once
    dense = B.dense_of(bands, counts)
    qs = np.array([0.05, 0.5, 0.95, 0.999])
    got = B.band_quantiles(counts, bands.off, bands.lo, qs)
    for j, q in enumerate(qs):
        np.testing.assert_array_equal(got[:, j], histogram_quantile(dense, q))
    ks = np.array([1, 5, 12], dtype=np.int64)
    rank_sum, best, worst, below = B.band_summary(counts, bands.off, bands.lo, ks)
    ranks = np.arange(1, n + 1)
    np.testing.assert_array_equal(rank_sum, (dense * ranks).sum(axis=1))
    np.testing.assert_array_equal(best, [ranks[row > 0].min() for row in dense])
    np.testing.assert_array_equal(worst, [ranks[row > 0].max() for row in dense])
    for j, k in enumerate(ks):
        np.testing.assert_array_equal(below[:, j], dense[:, :k].sum(axis=1))


def test_long_rank_frequency_above_the_band_threshold(monkeypatch, tmp_path):
    plan = _plan(2000)
    acc = run_plan(plan, bands=True)
    dense = RobustnessResult.from_run(plan, acc, {"run_s": 1.0}).rank_frequency
    monkeypatch.setattr(B, "BAND_UNITS", 10)  # the layout's frequency table and the manifest's note
    monkeypatch.setattr(RS, "BAND_UNITS", 10)
    res = RobustnessResult.from_run(plan, acc, {"run_s": 1.0})
    long = res.rank_frequency
    assert list(long.columns) == ["unit", "rank", "count"]
    melted = dense.reset_index().melt(id_vars="unit", var_name="rank", value_name="count")
    melted["rank"] = melted["rank"].astype(int)
    melted = melted[melted["count"] > 0].sort_values(["unit", "rank"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(long.reset_index(drop=True), melted, check_dtype=False)
    assert res.manifest["rank_frequency_format"].startswith("long")
    from weightlab.results import write_results

    write_results(res, tmp_path)
    back = pd.read_parquet(tmp_path / "rank_frequency.parquet")
    assert list(back.columns) == ["unit", "rank", "count"] and back["count"].sum() == 2000 * plan.n_units
