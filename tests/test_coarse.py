"""Coarse-then-exact rank counts (many units): every summary equals the dense histograms' (quantiles,
mean, best, worst, P(top k), batch standard errors), checkpoints and resumes keep the exact pass,
and the rank-frequency bins add up to the dense counts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from weightlab.robustness import bands as B
from weightlab.robustness import coarse as C
from weightlab.robustness import engine as E
from weightlab.robustness.convergence import Convergence
from weightlab.robustness.engine import run_plan
from weightlab.robustness.plan import compile_plan
from weightlab.robustness.pool import LocalPool
from weightlab.robustness.accumulators import SCORE_BINS, Accumulators
from weightlab.robustness.results import RobustnessResult
from weightlab.robustness.spec import UncertaintySpec

from .helpers import random_dataset

SPEC = {"seed": 8, "weights": {"perturb": "uniform", "spread": 0.5},
        "choices": {"normalizer": ["minmax", "zscore", "rank"], "imputation": ["mean"],
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.05}]},
        "outputs": {"quantiles": [0.05, 0.25, 0.5, 0.95, 0.99], "top_k": [1, 7, 20, 45]}}
TIMING = {"run_s": 1.0}


def _plan(reps: int = 4000, n_units: int = 60):
    return compile_plan(random_dataset(n_units=n_units, missing=4), UncertaintySpec.from_dict({**SPEC, "reps": reps}))


@pytest.fixture
def narrow_bins(monkeypatch):
    """Bins wider than one rank even on small cases (by default bands of <= 256 ranks are exact)."""
    monkeypatch.setattr(C, "EXACT_WIDTH", 0)


def test_summaries_from_numpy_ranks_equal_the_inverted_cdf(narrow_bins):
    """select_segments and coarse_summary on coarse counts made with numpy from a ranks matrix."""
    rng = np.random.default_rng(5)
    n, reps = 40, 500
    centre = rng.integers(1, n + 1, n)
    ranks = np.clip(centre + rng.integers(-9, 10, (reps, n)) * rng.integers(0, 2, (reps, n)), 1, n)
    lo = np.clip(centre - 4, 1, n)  # narrow bands: many ranks below and above them
    bands = B.RankBands(lo.astype(np.int64), np.minimum(9, n - lo + 1).astype(np.int64))
    coarse = C.CoarseBins(bands.lo, -(-bands.width // 4), np.full(n, 2, dtype=np.int64))  # bins of 4 ranks
    counts = np.zeros(coarse.total, dtype=np.int64)
    off = coarse.off
    for i in range(n):
        k = ranks[:, i] - lo[i]
        cell = np.where(k < 0, 0, np.minimum((k >> 2) + 1, coarse.nbins[i] + 1))
        np.add.at(counts, off[i] + cell, 1)
    stats = np.stack([ranks.sum(axis=0), ranks.min(axis=0), ranks.max(axis=0)]).astype(np.int64)
    qs, ks = np.array([0.05, 0.5, 0.9, 0.95]), np.array([3, 10, 25], dtype=np.int64)
    seg = C.select_segments(coarse, counts, stats, qs, ks, n)
    exact = np.zeros(seg.total, dtype=np.int64)
    for i in range(n):
        for s in range(seg.ptr[i], seg.ptr[i + 1]):
            k = ranks[:, i] - seg.lo[s]
            np.add.at(exact, seg.off[s] + k[(k >= 0) & (k < seg.width[s])], 1)
    quant, rank_sum, best, worst, below = C.coarse_summary(coarse, counts, stats, seg, exact, qs, ks, n)
    for j, q in enumerate(qs):
        np.testing.assert_array_equal(quant[:, j], np.quantile(ranks, q, axis=0, method="inverted_cdf"))
    np.testing.assert_array_equal(rank_sum, ranks.sum(axis=0))
    np.testing.assert_array_equal(best, ranks.min(axis=0))
    np.testing.assert_array_equal(worst, ranks.max(axis=0))
    for j, k in enumerate(ks):
        np.testing.assert_array_equal(below[:, j], (ranks <= k).sum(axis=0))
    assert seg.width.max() > 1 and (seg.lo < lo[np.repeat(np.arange(n), np.diff(seg.ptr))]).any()


@pytest.mark.parametrize("pad", [(8, 0.5), (0, 0.0)])
def test_coarse_run_reports_what_the_dense_run_reports(monkeypatch, narrow_bins, pad):
    """Default padding, and none (many ranks then fall below or above the bands)."""
    monkeypatch.setattr(B, "MIN_PAD", pad[0])
    monkeypatch.setattr(B, "PAD", pad[1])
    plan = _plan()
    dense = run_plan(plan, bands=False)
    coarse = run_plan(plan, bands="coarse", chunk_size=1000, threads=1)
    assert coarse.coarse and coarse.bands.shift.max() > 0 and coarse.exact.n_segments > 0
    np.testing.assert_array_equal(dense.counts.score_hist, coarse.counts.score_hist)
    r_dense = RobustnessResult.from_run(plan, dense, TIMING)
    r_coarse = RobustnessResult.from_run(plan, coarse, TIMING)
    pd.testing.assert_frame_equal(r_dense.ranks, r_coarse.ranks)
    assert r_coarse.manifest["rank_counts"].startswith("coarse then exact")
    assert r_coarse.manifest["second_pass_units"] == int((np.diff(coarse.exact.ptr) > 0).sum())

    freq, hist = r_coarse.rank_frequency, dense.rank_hist
    assert list(freq.columns) == ["unit", "rank_lo", "rank_hi", "count"]
    units = list(plan.dataset.units)
    cum = np.concatenate([np.zeros((hist.shape[0], 1), dtype=np.int64), hist.cumsum(axis=1)], axis=1)
    row = np.array([units.index(u) for u in freq["unit"]])
    lo, hi = freq["rank_lo"].to_numpy(), freq["rank_hi"].to_numpy()
    np.testing.assert_array_equal(freq["count"], cum[row, hi] - cum[row, lo - 1])  # each bin's dense count
    assert (hi >= lo).all() and (freq["count"] > 0).all()
    per_unit = freq.groupby("unit", observed=True)["count"].sum()
    assert (per_unit == plan.spec.reps).all() and len(per_unit) == plan.n_units  # the bins cover every count
    assert ((row[1:] != row[:-1]) | (lo[1:] > hi[:-1])).all()  # per unit: ascending, disjoint
    exact = lo == hi
    assert exact.sum() > plan.n_units
    from weightlab.report.ranks import rank_frequency_matrix  # the report's heatmap reads the bins

    np.testing.assert_allclose(rank_frequency_matrix(freq).sum(axis=1), plan.spec.reps)


@pytest.mark.parametrize("logged_blocks", [None, 3, 0])
def test_pass_two_from_the_rank_log_equals_dense(monkeypatch, narrow_bins, logged_blocks):
    """Pass 2 reading pass 1's rank log: the whole run logged (no replay), the last 3 blocks logged
    (the others replayed) or none (every block replayed); all three report what dense histograms
    report, on two threads and in chunks that do not line up with the log."""
    plan = _plan(1000)  # 8 blocks, the last one partial
    if logged_blocks is not None:
        budget = 2 * plan.n_units * E.K.BLOCK * logged_blocks + 1
        monkeypatch.setattr(LocalPool, "log_budget", lambda self, bands: budget)
    dense = run_plan(plan, bands=False)
    coarse = run_plan(plan, bands="coarse", chunk_size=300, threads=2)
    assert coarse.exact.n_segments > 0 and coarse.bands.shift.max() > 0
    replayed = {None: 0, 3: 5 * E.K.BLOCK, 0: 1000}[logged_blocks]
    assert coarse.replayed_reps == replayed
    r_dense, r_coarse = RobustnessResult.from_run(plan, dense, TIMING), RobustnessResult.from_run(plan, coarse, TIMING)
    pd.testing.assert_frame_equal(r_dense.ranks, r_coarse.ranks)
    assert r_coarse.manifest["second_pass_replayed_reps"] == replayed
    hist, seg = dense.rank_hist, coarse.exact  # every exact segment count is the dense count of that rank
    unit = np.repeat(np.arange(plan.n_units), np.diff(seg.ptr))
    for s in range(seg.n_segments):
        np.testing.assert_array_equal(coarse.exact_counts[seg.off[s]:seg.off[s + 1]],
                                      hist[unit[s], seg.lo[s] - 1:seg.lo[s] - 1 + seg.width[s]])


def _coarse_acc(plan, layout):
    n = plan.n_units
    return Accumulators.empty(n, SCORE_BINS, len(plan.factor_options), max(map(len, plan.factor_options.values())),
                              np.zeros(n), np.ones(n), layout, plan.spec.reps)


def test_log_budget_is_what_run_bytes_leave(monkeypatch):
    """The log gets memory.RUN_BYTES less the run's other arrays, at most LOG_BYTES: a second
    thread takes its workspace and counts out of it (the old per-thread rule), a copy of the
    plan's T where it was a view of X takes T's bytes out of it, and the log holds as many of
    the run's last blocks as fit."""
    from weightlab.robustness import memory

    plan = _plan(1000, n_units=300)
    layout = C.CoarseBins.from_bands(B.RankBands.dense(plan.n_units), 3)
    acc = _coarse_acc(plan, layout)
    with LocalPool(plan, E.make_design(plan), 1) as one:
        held = one.held_bytes(acc)
    monkeypatch.setattr(memory, "RUN_BYTES", held + C.LOG_BYTES // 2)  # room for half the log
    arith = compile_plan(random_dataset(n_units=300), UncertaintySpec.from_dict({"seed": 1, "reps": 1000}))
    assert np.shares_memory(arith.kernel.data.T, arith.kernel.data.X)
    copied = replace(arith, kernel=arith.kernel._replace(data=arith.kernel.data._replace(T=arith.kernel.data.T.copy())))
    with (LocalPool(plan, E.make_design(plan), 1) as one, LocalPool(plan, E.make_design(plan), 2) as two,
          LocalPool(arith, E.make_design(arith), 1) as view, LocalPool(copied, E.make_design(copied), 1) as copy):
        b1, b2 = one.log_budget(acc), two.log_budget(acc)
        second = (sum(a.nbytes for a in two.eng.run.ws[1]) + sum(a[1].nbytes for a in two.eng.slots[1:])
                  + 2 * layout.total)
        a_acc = _coarse_acc(arith, layout)
        b_view, b_copy = view.log_budget(a_acc), copy.log_budget(a_acc)
    assert b1 == C.LOG_BYTES // 2 and b1 - b2 == second > 0
    assert b_view - b_copy == arith.kernel.data.T.nbytes
    monkeypatch.setattr(memory, "RUN_BYTES", 0)
    with LocalPool(plan, E.make_design(plan), 1) as one:
        assert one.log_budget(acc) == 0
    log = C.RankLog.for_run(layout, 8, E.K.BLOCK, 2 * plan.n_units * E.K.BLOCK * 3 - 1)
    assert log.n_blocks == 2 and int(log.first[0]) == 6 and log.rows.shape == (2, plan.n_units, E.K.BLOCK)


def test_no_room_left_for_the_log_replays_every_block(monkeypatch, narrow_bins):
    """With RUN_BYTES already taken by the run's arrays the log is empty: pass 2 replays every
    replication, and the result is still the dense one."""
    from weightlab.robustness import memory

    monkeypatch.setattr(memory, "RUN_BYTES", 0)
    plan = _plan(700)
    coarse, dense = run_plan(plan, bands="coarse", threads=1), run_plan(plan, bands=False)
    assert coarse.replayed_reps == 700 and coarse.exact.n_segments > 0
    pd.testing.assert_frame_equal(RobustnessResult.from_run(plan, dense, TIMING).ranks,
                                  RobustnessResult.from_run(plan, coarse, TIMING).ranks)


def test_segments_outside_the_log_window_are_replayed(monkeypatch, narrow_bins):
    """A log whose 16-bit windows do not hold a needed segment (here: windows from rank n + 10,
    so every entry is "not representable") is not read: pass 2 replays every block, and the
    result is still the dense one."""
    for_run = C.RankLog.for_run

    def far_windows(coarse, n_blocks, block, budget=None):
        log = for_run(coarse, n_blocks, block, budget)
        return log._replace(base=np.full_like(log.base, coarse.lo.shape[0] + 10))

    monkeypatch.setattr(C.RankLog, "for_run", staticmethod(far_windows))
    plan = _plan(600)
    coarse, dense = run_plan(plan, bands="coarse", threads=1), run_plan(plan, bands=False)
    assert coarse.replayed_reps == 600 and (coarse.exact.width > 1).any()
    pd.testing.assert_frame_equal(RobustnessResult.from_run(plan, dense, TIMING).ranks,
                                  RobustnessResult.from_run(plan, coarse, TIMING).ranks)


def test_thousands_of_units_auto_coarse_equals_dense(monkeypatch, tmp_path):
    """2,500 units, coarse chosen automatically (threshold lowered), against dense histograms."""
    monkeypatch.setattr(E, "BAND_CELLS", 1000)
    plan = _plan(768, n_units=2500)
    auto = run_plan(plan)
    assert auto.coarse and auto.bands.shift.max() > 0
    dense = run_plan(plan, bands=False)
    a, d = RobustnessResult.from_run(plan, auto, TIMING), RobustnessResult.from_run(plan, dense, TIMING)
    pd.testing.assert_frame_equal(a.ranks, d.ranks)
    assert run_plan(plan, bands=True).bands.__class__ is B.RankBands  # bands=True: exact bands, as before
    from weightlab.results import write_results

    write_results(a, tmp_path)
    back = pd.read_parquet(tmp_path / "rank_frequency.parquet")
    assert list(back.columns) == ["unit", "rank_lo", "rank_hi", "count"] and back["count"].sum() == 768 * 2500


@pytest.mark.parametrize("cells", [10_000_000, 1000])
def test_bands_come_from_a_short_pilot_when_counted_coarse(monkeypatch, cells):
    """Coarse counts take their bands from the ranks of the first COARSE_PILOT_REPS replications
    (the ranks from ``evaluate``, widened by numpy); bands that fit BAND_CELLS come from the first
    PILOT_REPS, as before."""
    from weightlab.robustness.accumulators import PILOT_REPS

    monkeypatch.setattr(E, "BAND_CELLS", cells)
    monkeypatch.setattr(E, "BAND_UNITS", 10)  # 60 units counted in bands
    plan = _plan(3000)
    acc = run_plan(plan, threads=1)
    ranks, _ = E.evaluate(plan, E.make_design(plan), n_rows=3000)
    first = C.COARSE_PILOT_REPS if cells == 1000 else PILOT_REPS
    rmin, rmax = ranks[:first].min(axis=0), ranks[:first].max(axis=0)
    pad = np.maximum(B.MIN_PAD, np.ceil(B.PAD * (rmax - rmin)))
    lo = np.maximum(1, rmin - pad)
    np.testing.assert_array_equal(acc.bands.lo, lo)
    assert acc.coarse == (cells == 1000)
    if not acc.coarse:
        np.testing.assert_array_equal(acc.bands.width, np.minimum(plan.n_units, rmax + pad) - lo + 1)
    assert (ranks[:C.COARSE_PILOT_REPS].min(axis=0) != ranks[:PILOT_REPS].min(axis=0)).any()  # the two differ


class _Stop(Exception):
    pass


def test_interrupted_coarse_run_resumes_to_the_unbroken_result(narrow_bins, tmp_path):
    plan = _plan(3000)
    whole = run_plan(plan, bands="coarse")
    ckpt = tmp_path / "run.ckpt"
    calls = []

    def stop(done, total):
        if done == 0:  # the replications start: not a chunk
            return
        calls.append(done)
        if len(calls) == 2:
            raise _Stop

    with pytest.raises(_Stop):
        run_plan(plan, bands="coarse", chunk_size=512, progress=stop, checkpoint=ckpt, checkpoint_every=0)
    resumed = run_plan(plan, resume=ckpt, checkpoint=ckpt)
    again = run_plan(plan, resume=ckpt)  # from the final checkpoint: the exact pass is not run again
    for acc in (resumed, again):
        assert acc.coarse
        for a, b in zip((*whole.counts, whole.exact_counts), (*acc.counts, acc.exact_counts)):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(whole.exact, acc.exact):
            np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(RobustnessResult.from_run(plan, whole, TIMING).ranks,
                                  RobustnessResult.from_run(plan, again, TIMING).ranks)


def test_converged_coarse_run_has_the_dense_runs_batches_and_errors(narrow_bins):
    plan = _plan(1)
    rule = lambda: Convergence((0.05, 0.5, 0.95), tolerance=0.8, max_reps=256 * 40, batch_reps=256, min_batches=5)
    a, b = rule(), rule()
    dense, coarse = run_plan(plan, until=a, bands=False), run_plan(plan, until=b, bands="coarse")
    assert coarse.coarse and dense.reps == coarse.reps and a.converged() and dense.reps < 256 * 40  # stopped early
    np.testing.assert_array_equal(a.batch_quantiles, b.batch_quantiles)
    pd.testing.assert_frame_equal(RobustnessResult.from_run(plan, dense, TIMING, a).ranks,
                                  RobustnessResult.from_run(plan, coarse, TIMING, b).ranks)



def test_coarse_and_segment_kernels_count_what_numpy_counts():
    """kernels._count_coarse and _count_segments on a block of ranks (unit-major loops over
    columns copied apart) against the same cells counted with numpy, including ranks below, above
    and between the segments, a unit without segments and a partial block."""
    from weightlab.robustness import kernels as K
    from weightlab.robustness.accumulators import COARSE, LayoutArrays

    rng = np.random.default_rng(4)
    n, rows, nq = 50, 128, 97
    R = rng.integers(1, 400, size=(rows, n)).astype(np.int32)
    lo = rng.integers(1, 200, n).astype(np.int64)
    shift = rng.integers(0, 4, n).astype(np.int64)
    nbins = rng.integers(1, 30, n).astype(np.int64)
    coarse = C.CoarseBins(lo, nbins, shift)
    off = coarse.off
    flat = np.zeros(coarse.total, dtype=np.uint16)
    stats = np.zeros((3, n), dtype=np.int64)
    stats[1] = 1 << 40
    log = np.full((3, n, rows), 7, dtype=np.uint16)  # row 1 gets the block's ranks, the others stay as they were
    base = rng.integers(-300, 350, n).astype(np.int64)  # some ranks below a unit's base, some above its window
    base[:5] = R[:nq, :5].min(axis=0) + 70000 - 65535  # (windows of 65,535 ranks: ranks far below them)
    base[5:8] = -70000  # and far above them
    e = np.zeros(0, dtype=np.int64)
    K._count_coarse(flat, LayoutArrays(COARSE, off[:-1].copy(), lo, nbins, shift, e, log, base, e), stats, R, nq, 1)
    r = R[:nq].astype(np.int64)
    code = r - base
    np.testing.assert_array_equal(log[1, :, :nq].T, np.where((code >= 0) & (code < 65535), code, 65535))
    assert (log[[0, 2]] == 7).all() and (log[1, :, nq:] == 7).all() and (log[1, :8, :nq] == 65535).all()
    cell = np.where(r < lo, 0, np.minimum(((r - lo) >> shift) + 1, nbins + 1))
    for i in range(n):
        np.testing.assert_array_equal(flat[off[i]:off[i + 1]], np.bincount(cell[:, i], minlength=nbins[i] + 2))
    np.testing.assert_array_equal(stats, [r.sum(axis=0), r.min(axis=0), r.max(axis=0)])

    per_unit = rng.integers(0, 4, n)
    per_unit[7] = 0
    seg_lo, seg_w = [], []
    for i in range(n):  # disjoint, ascending segments with gaps between them
        start = int(rng.integers(1, 60))
        for _ in range(per_unit[i]):
            w = int(rng.integers(1, 40))
            seg_lo.append(start)
            seg_w.append(w)
            start += w + int(rng.integers(0, 50))
    seg = C.Segments(np.concatenate([[0], np.cumsum(per_unit)]).astype(np.int64), np.array(seg_lo, dtype=np.int64),
                     np.array(seg_w, dtype=np.int64))
    counts = np.zeros(seg.total, dtype=np.uint16)
    K._count_segments(counts, LayoutArrays(*seg.kernel_arrays(), log, base, e), R, nq)
    for i in range(n):
        for s in range(seg.ptr[i], seg.ptr[i + 1]):
            k = r[:, i] - seg.lo[s]
            expected = np.bincount(k[(k >= 0) & (k < seg.width[s])], minlength=seg.width[s])
            np.testing.assert_array_equal(counts[seg.off[s]:seg.off[s + 1]], expected)
    assert counts.sum() > 0 and counts.sum() < nq * n  # some ranks inside segments, most outside
