"""Run the Monte Carlo engine: compile the plan, run chunks of replications, merge accumulators.

Replications are processed in blocks of ``kernels.BLOCK`` consecutive indices, and chunks (the unit
of progress reports) are whole blocks; inside a chunk each of ``threads`` slots takes a contiguous
run of blocks and adds into its own integer accumulators, which are then added up. Integer
addition is exact, each replication's random numbers depend only on (seed, r), and which
replications are scored together depends only on their block, so the result is bit-identical for
any thread count and chunk size.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from ..data import Dataset
from ..errors import ParameterError
from ..progress import progress_bar
from . import kernels as K
from .design import ArrayDesign, SobolDesign, StreamDesign
from .factors import SLOT_SCHEME
from .plan import MAX_REPS_PER_SLOT, Plan, compile_plan
from .ranking import make_rank_workspace, rank_buffers, rank_min_into
from .checkpoint import CheckpointWriter, load_checkpoint, run_fingerprint
from .convergence import Convergence
from .jit import notify_if_cold
from .slots import SlotRunner
from .bands import BAND_UNITS, RankBands, merge_redo
from . import memory
from .coarse import BAND_CELLS, COARSE_PILOT_REPS, NO_LOG, CoarseBins, RankLog, Segments, coarse_summary, select_segments
from .results import (NO_OUTSIDE_MIN, PILOT_REPS, SCORE_BINS, Accumulators, ChunkCounts, RobustnessResult,
                      count_dtype, empty_outside, summary_points)
from .spec import UncertaintySpec


def _score_bins(run: SlotRunner, reps: int, design, acc: tuple, out: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit ranges of the score histograms: each unit's score range over the first
    ``PILOT_REPS`` replications of the run, widened by half of it on each side (scores outside fall
    in the edge bins). Depends only on the plan, the design and ``reps``: the same for any threads
    and chunks."""
    n, n_slots = run.p.n_units, run.n_slots
    lo, hi = np.full((n_slots, n), np.inf), np.full((n_slots, n), -np.inf)
    dummy = (np.zeros(n), np.ones(n))
    b1 = -(-min(reps, PILOT_REPS) // K.BLOCK)
    rows = design.rows(0, min(reps, b1 * K.BLOCK))
    run(0, b1, reps, rows, acc, dummy, (lo, hi), out, K.RANGES)
    lo, hi = lo.min(axis=0), hi.max(axis=0)
    lo, hi = np.where(lo <= hi, lo, 0.0), np.where(lo <= hi, hi, 1.0)  # no finite score: any range
    pad = np.where(hi > lo, 0.5 * (hi - lo), 1e-9 * np.maximum(np.abs(hi), 1.0))
    return lo - pad, hi + pad


def _threads(threads: int | None) -> int:
    available = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return available
    if not 1 <= threads <= available:
        raise ParameterError(f"--threads must be in 1..{available} on this machine; got {threads}.")
    return threads


def make_design(plan: Plan):
    """The design of a ``robustness`` run: ``[sampling] method`` of the spec (counter-based stream or
    scrambled Sobol' points)."""
    if plan.spec.sampling == "sobol":
        return SobolDesign(plan.columns.n_cols, plan.spec.seed)
    return StreamDesign(plan.columns.n_cols)


def _chunk_blocks(chunk_size: int | None, n_slots: int) -> int:
    max_chunk = MAX_REPS_PER_SLOT * n_slots
    chunk = max_chunk if chunk_size is None else int(chunk_size)
    if not 1 <= chunk <= max_chunk:
        raise ParameterError(f"chunk size must be in 1..{max_chunk} with {n_slots} thread(s); got {chunk_size}.")
    return -(-chunk // K.BLOCK)


def _no_output(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, n), dtype=np.int32), np.zeros((0, n))


class _Engine:
    """Workspaces, kernels and thread settings of one run (a context manager)."""

    def __init__(self, plan: Plan, threads: int | None, n_opts: int) -> None:
        p = plan.kernel
        self.p, self.n_slots = p, _threads(threads)
        n, t = p.n_units, self.n_slots
        # per-slot counts are uint16 (much faster to scatter into); a chunk has at most
        # MAX_REPS_PER_SLOT replications per slot, so they cannot overflow before being flushed
        # the rank counts' slot (t, n, n) or (t, 1, band total) is allocated by set_bands
        self.slots = (np.zeros((t, 1, 0), dtype=np.uint16), np.zeros((t, n, SCORE_BINS), dtype=np.uint16),
                      np.zeros((t, n), dtype=np.int64), np.zeros((t, n), dtype=np.int64),
                      np.zeros((t, n), dtype=np.int64),
                      np.zeros((t, len(plan.factor_options), n_opts), dtype=np.int64),
                      np.zeros((t, 3, n), dtype=np.int64))
        self.bands: RankBands | None = None
        self.band_arrays = RankBands.dense(n).kernel_arrays()
        self.log_arrays = NO_LOG.kernel_arrays()  # pass 1 of coarse counts logs ranks here (RankLog)
        kernel = K.kernels_for(p).run_blocks
        notify_if_cold(kernel)
        self.run = SlotRunner(kernel, p, K.make_workspaces(p, t), rank_buffers(n, t), t)
        self.no_ranges = (np.zeros((t, n)), np.zeros((t, n)))
        self.no_bins = (np.zeros(n), np.ones(n))

    def __enter__(self) -> "_Engine":
        # the kernels call BLAS from each slot's thread: BLAS itself must not start more threads
        self.blas = threadpool_limits(1, user_api="blas")
        self.blas.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.blas.__exit__(*exc)
        self.run.close()

    def set_bands(self, bands: "RankBands | CoarseBins | Segments") -> None:
        """Count ranks in ``bands`` from now on (a dense histogram when they are 1..n everywhere;
        coarse cells or exact segments, :mod:`.coarse`)."""
        old = self.bands
        if old is not None and type(old) is type(bands) and all(np.array_equal(a, b) for a, b in zip(old, bands)):
            return
        t, n = self.n_slots, self.p.n_units
        shape = (t, n, n) if bands.is_dense else (t, 1, bands.total)
        rest, self.slots = self.slots[1:], ()  # the old counts freed before the new ones are allocated
        self.slots = (np.zeros(shape, dtype=np.uint16),) + rest
        self.bands, self.band_arrays = bands, bands.kernel_arrays()

    @property
    def acc(self) -> tuple:
        return self.slots + (self.band_arrays + self.log_arrays,)

    def chunk(self, b0: int, b1: int, reps: int, rows: np.ndarray, bins: tuple, out: tuple, mode: int) -> None:
        self.run(b0, b1, reps, rows, self.acc, bins, self.no_ranges, out, mode)


class _LocalPool:
    """The ``threads`` scheduler: chunks of blocks run on this machine's numba threads."""

    # the counts live in this process: passes add them into the totals in place (add_counts,
    # add_rank_counts) and, for coarse counts, pass 1 can keep the ranks for pass 2 (RankLog);
    # DaskPool's come back from the workers
    in_process = True

    def __init__(self, plan: Plan, design, threads: int | None) -> None:
        self.plan, self.design = plan, design
        self.eng = _Engine(plan, threads, max(len(v) for v in plan.factor_options.values()))
        self.n_slots = self.eng.n_slots
        self.out = _no_output(plan.kernel.n_units)

    def __enter__(self) -> "_LocalPool":
        self.eng.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.eng.__exit__(*exc)

    def held_bytes(self, acc: Accumulators) -> int:
        """Bytes of the run's arrays before the rank log (:mod:`.memory`): the data and plan, every
        thread's workspace and counts (with the uint16 slots of ``acc``'s coarse cells, allocated
        at the first chunk) and ``acc``."""
        e = self.eng
        return memory.array_bytes([*memory.plan_arrays(self.plan), *(a for ws in e.run.ws for a in ws),
                                   *e.slots[1:], *vars(acc).values()]) + self.n_slots * 2 * acc.bands.total

    def log_budget(self, acc: Accumulators) -> int:
        """Bytes for pass 1's rank log: what ``memory.RUN_BYTES`` leaves after :meth:`held_bytes`
        (at most ``coarse.LOG_BYTES``), so that neither more threads nor a wider plan raise a
        run's peak memory (100,000 units, 25 indicators: 640 MiB on one thread, 373 on two; 400
        indicators: 109 and 0)."""
        return memory.log_budget(self.held_bytes(acc))

    def set_log(self, log: RankLog) -> None:
        """Log the ranks of ``log``'s blocks in the coarse counts from now on (``NO_LOG``: stop)."""
        self.eng.log_arrays = log.kernel_arrays()

    def score_bins(self, reps: int) -> tuple[np.ndarray, np.ndarray]:
        e = self.eng
        return _score_bins(e.run, reps, self.design, e.acc, self.out)

    def _run(self, b0: int, b1: int, reps: int, bins: tuple, bands) -> None:
        self.eng.set_bands(bands)
        for a in self.eng.slots:
            a[:] = 0
        self.eng.slots[-1][:, 1] = NO_OUTSIDE_MIN
        rows = self.design.rows(b0 * K.BLOCK, min(reps, b1 * K.BLOCK))
        self.eng.chunk(b0, b1, reps, rows, bins, self.out, K.ACCUMULATE)

    def counts(self, b0: int, b1: int, reps: int, bins: tuple, bands: RankBands) -> ChunkCounts:
        """The counts of blocks ``b0 .. b1 - 1`` (replications below ``reps``), ranks in ``bands``."""
        self._run(b0, b1, reps, bins, bands)
        if isinstance(bands, Segments):  # the exact pass of coarse counts counts nothing else
            return ChunkCounts.ranks_only(self.eng.slots[0])
        return ChunkCounts.from_slots(*self.eng.slots)

    def add_counts(self, acc: Accumulators, b0: int, b1: int, reps: int, bins: tuple) -> None:
        """Add the counts of blocks ``b0 .. b1 - 1`` into ``acc`` (its bands), slot by slot
        (:meth:`Accumulators.add_slots`: the chunk's counts are not built)."""
        self._run(b0, b1, reps, bins, acc.bands)
        acc.add_slots(*self.eng.slots)

    def add_rank_counts(self, out: np.ndarray, b0: int, b1: int, reps: int, bins: tuple, bands: Segments) -> None:
        """Add the exact pass's counts of blocks ``b0 .. b1 - 1`` in ``bands`` into ``out``, slot by
        slot (as :meth:`add_counts`: no int32 sum of the chunk, about 60 MiB at 100,000 units)."""
        self._run(b0, b1, reps, bins, bands)
        for slot in self.eng.slots[0]:
            np.add(out, slot.reshape(-1), out=out)

    def map_counts(self, ranges, reps: int, bins: tuple, bands: RankBands):
        """``(b0, b1, counts)`` of each block range, in order (lazily: a caller may stop early)."""
        for b0, b1 in ranges:
            yield b0, b1, self.counts(b0, b1, reps, bins, bands)

    def store(self, b0: int, b1: int, n_rows: int, scores: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Ranks (and scores) of rows ``b0 * BLOCK .. min(n_rows, b1 * BLOCK) - 1`` of the design."""
        r0, r1 = b0 * K.BLOCK, min(n_rows, b1 * K.BLOCK)
        out = (np.empty((r1 - r0, self.plan.kernel.n_units), dtype=np.int32),
               np.empty((r1 - r0 if scores else 0, self.plan.kernel.n_units)))
        self.eng.chunk(b0, b1, n_rows, self.design.rows(r0, r1), self.eng.no_bins, out, K.STORE)
        return out[0], (out[1] if scores else None)

    def map_store(self, ranges, n_rows: int, scores: bool):
        for b0, b1 in ranges:
            yield b0, b1, self.store(b0, b1, n_rows, scores)


def _open_pool(plan: Plan, design, threads: int | None, scheduler):
    if scheduler in (None, "threads"):
        return _LocalPool(plan, design, threads)
    from .distributed import DaskPool

    return DaskPool(plan, design, threads, scheduler)


def _pilot_ranges(pool, reps: int, b0: int, b1: int, rmin: np.ndarray, rmax: np.ndarray) -> None:
    """Widen ``[rmin, rmax]`` to each unit's ranks in blocks ``b0 .. b1 - 1`` (a block's ranks are
    128 x n int32, stored one block at a time)."""
    for _, _, (ranks, _) in pool.map_store([(b, b + 1) for b in range(b0, b1)], reps, False):
        np.minimum(rmin, ranks.min(axis=0), out=rmin)
        np.maximum(rmax, ranks.max(axis=0), out=rmax)


def _pilot_bands(pool, reps: int, n: int, bands, n_quantiles: int) -> "RankBands | CoarseBins":
    """Rank bands of a run counted in bands (:mod:`.bands`), or its coarse bins (:mod:`.coarse`).

    The bands are the ranges of each unit's ranks in the first ``COARSE_PILOT_REPS`` replications
    widened as :meth:`RankBands.from_pilot` says; if they already hold more than ``BAND_CELLS``
    cells (or ``bands="coarse"``) the run is counted coarse, over those bands: coarse bins hold any
    rank and pass 2 makes every summary exact, so a longer pilot would only cost time (at 100,000
    units 1,024 pilot replications took 1.4-1.7 s, a sixth of a 3,000-replication run). Otherwise
    the pilot goes on to ``PILOT_REPS`` replications, since a rank outside its band costs a second
    pass; bands that then hold more than ``BAND_CELLS`` cells are counted coarse too. The ranges
    grow with more replications, so the rule depends only on the plan, the design and ``reps``."""
    rmin, rmax = np.full(n, n + 1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    short = -(-min(reps, COARSE_PILOT_REPS) // K.BLOCK)
    _pilot_ranges(pool, reps, 0, short, rmin, rmax)
    rank_bands = RankBands.from_pilot(rmin, rmax, n)
    if bands != "coarse" and not (bands is None and rank_bands.total > BAND_CELLS):
        _pilot_ranges(pool, reps, short, -(-min(reps, PILOT_REPS) // K.BLOCK), rmin, rmax)
        rank_bands = RankBands.from_pilot(rmin, rmax, n)
        if not (bands is None and rank_bands.total > BAND_CELLS):
            return rank_bands
    return CoarseBins.from_bands(rank_bands, n_quantiles)


def _exact_pass(pool, acc: Accumulators, n_blocks: int, chunk_blocks: int, reps: int, bins: tuple) -> None:
    """Count again, over blocks ``0 .. n_blocks - 1``, the ranks of the units that had ranks outside
    their bands, in bands that hold all of them; merge those counts into ``acc`` (exact result)."""
    redo = acc.outside[0] > 0
    b = acc.bands
    lo = np.where(redo, np.minimum(b.lo, acc.outside[1]), 1)
    hi = np.where(redo, np.maximum(b.lo + b.width - 1, acc.outside[2]), 0)
    redo_bands = RankBands(lo.astype(np.int64), (hi - lo + 1).astype(np.int64))
    # counted as segments (one per unit redone: the same flat layout), which count ranks and nothing else
    segments = Segments(np.concatenate([[0], np.cumsum(redo)]).astype(np.int64), redo_bands.lo[redo],
                        redo_bands.width[redo])
    counts = np.zeros(redo_bands.total, dtype=np.int64)
    ranges = ((b0, min(n_blocks, b0 + chunk_blocks)) for b0 in range(0, n_blocks, chunk_blocks))
    for _, _, c in pool.map_counts(ranges, reps, bins, segments):
        counts += c.rank_counts
    acc.bands, acc.rank_counts = merge_redo(acc.bands, acc.rank_counts, redo, redo_bands, counts)
    acc.second_pass_units = int(redo.sum())
    acc.outside = empty_outside(acc.bands.lo.shape[0])


def _coarse_exact(pool, layout: CoarseBins, counts: np.ndarray, stats: np.ndarray, points: tuple, b0: int, b1: int,
                  chunk_blocks: int, reps: int, bins: tuple,
                  log: RankLog = NO_LOG) -> tuple[Segments, np.ndarray, int]:
    """Pass 2 of coarse counts (:mod:`.coarse`) over blocks ``b0 .. b1 - 1``: the segments that
    ``counts`` and ``stats`` (sum, min, max) of those blocks need for ``points = (quantiles, top_k)``,
    their exact counts and the replications run again; the blocks of ``log`` (the last ones, up to
    ``b1``) are counted from it, the others replayed."""
    segments = select_segments(layout, counts, stats, *points, layout.lo.shape[0])
    exact = np.zeros(segments.total, dtype=count_dtype(reps))
    if segments.n_segments:
        if log.n_blocks and int(log.first[0]) + log.n_blocks == b1 and log.covers(segments):
            log.count(exact, segments, reps, pool.n_slots)
            b1 = max(b0, int(log.first[0]))
        ranges = ((c0, min(b1, c0 + chunk_blocks)) for c0 in range(b0, b1, chunk_blocks))
        if pool.in_process:  # added in place
            for c0, c1 in ranges:
                pool.add_rank_counts(exact, c0, c1, reps, bins, segments)
        else:
            for _, _, c in pool.map_counts(ranges, reps, bins, segments):
                exact += c.rank_counts
        return segments, exact, max(0, min(reps, b1 * K.BLOCK) - b0 * K.BLOCK)
    return segments, exact, 0


def _batch_quantiles(pool, layout: CoarseBins, counts: ChunkCounts, quantiles, b0: int, b1: int, reps: int,
                     bins: tuple) -> np.ndarray:
    """A ``--until-converged`` batch's exact quantiles from its coarse counts and its own exact pass."""
    qs, no_k = np.array(quantiles, dtype=float), np.zeros(0, dtype=np.int64)
    segments, exact, _ = _coarse_exact(pool, layout, counts.rank_counts, counts.outside, (qs, no_k), b0, b1, b1 - b0,
                                       reps, bins)
    return coarse_summary(layout, counts.rank_counts, counts.outside, segments, exact, qs, no_k,
                          layout.lo.shape[0])[0]


def run_plan(plan: Plan, threads: int | None = None, chunk_size: int | None = None,
             progress: Callable[[int, int], None] | None = None, design=None, *,
             checkpoint: str | Path | None = None, resume: str | Path | None = None,
             checkpoint_every: float = 5.0, until: Convergence | None = None,
             scheduler=None, bands: bool | None = None) -> Accumulators:
    """Run ``plan.spec.reps`` replications of ``design`` (default :func:`make_design`) and return
    the merged accumulators.

    ``chunk_size`` is rounded up to whole blocks of ``kernels.BLOCK`` replications.
    ``checkpoint``: save the accumulators and the next block to this file at most every
    ``checkpoint_every`` seconds and at the end (:mod:`weightlab.robustness.checkpoint`);
    ``resume``: continue from such a file (the result is bit-identical to an unbroken run).
    ``until``: run batches until the stopping rule of :class:`Convergence` holds (``plan.spec.reps``
    is then ignored). ``scheduler``: ``"threads"`` (default), ``"local"`` (a Dask LocalCluster) or a
    Dask scheduler address ``tcp://host:port`` or a ``distributed.Client``
    (:mod:`weightlab.robustness.distributed`). ``bands``: count ranks in per-unit bands
    (:mod:`weightlab.robustness.bands`; default: above ``BAND_UNITS`` units) or densely;
    ``"coarse"``: in coarse bins, then exactly where the summaries need it (:mod:`.coarse`; default
    when the bands would hold more than ``BAND_CELLS`` cells).
    """
    p = plan.kernel
    design = make_design(plan) if design is None else design
    reps = plan.spec.reps if until is None else until.max_reps
    n = p.n_units
    n_opts = max(len(v) for v in plan.factor_options.values())
    n_blocks = -(-reps // K.BLOCK)
    points = summary_points(plan.spec, n)
    # (hashing the plan reads every matrix: only when a checkpoint needs it)
    fingerprint = run_fingerprint(plan, design, until) if checkpoint is not None or resume is not None else ""
    state = load_checkpoint(resume, fingerprint) if resume is not None else None
    log = NO_LOG  # pass 1's rank log (coarse counts of a fresh run; pass 2 reads it instead of replaying)
    saver = CheckpointWriter(checkpoint, fingerprint, checkpoint_every) if checkpoint is not None else None
    with _open_pool(plan, design, threads, scheduler) as pool:
        chunk_blocks = until.batch_blocks if until is not None else _chunk_blocks(chunk_size, pool.n_slots)
        t0 = time.perf_counter()  # the pilot's first call compiles (or loads) the kernels
        if state is None:
            bin_lo, bin_hi = pool.score_bins(reps)
            t_bins = time.perf_counter()  # the score-bin pilot is small: its time is the kernels' compile or load
            use_bands = n > BAND_UNITS if bands is None else bands is not False
            rank_bands = _pilot_bands(pool, reps, n, bands, len(points[0])) if use_bands else RankBands.dense(n)
            acc = Accumulators.empty(n, SCORE_BINS, len(plan.factor_options), n_opts, bin_lo, bin_hi, rank_bands,
                                     reps)
            next_block = 0
            if acc.coarse and until is None and pool.in_process:
                log = RankLog.for_run(acc.bands, n_blocks, K.BLOCK, pool.log_budget(acc))
                pool.set_log(log)
        else:
            acc, next_block = state.accumulators, state.next_block
            if until is not None:
                until.restore(state.batch_quantiles)
        bins = (acc.bin_lo, SCORE_BINS / (acc.bin_hi - acc.bin_lo))
        t1 = time.perf_counter()
        if progress is not None:  # replications start now: rates and ETAs exclude compilation
            progress(min(reps, next_block * K.BLOCK), reps)
        done = next_block >= n_blocks or (until is not None and until.converged())
        # lazy: a replication count too large to run must not build its list of chunks (--yes check)
        ranges = ((b, min(n_blocks, b + chunk_blocks)) for b in range(next_block, n_blocks, chunk_blocks))
        if until is None and pool.in_process:  # no batch needs its own counts: add them in place
            chunks = ((b0, b1, pool.add_counts(acc, b0, b1, reps, bins)) for b0, b1 in ranges)
        else:
            chunks = pool.map_counts(ranges, reps, bins, acc.bands)
        for b0, b1, counts in ([] if done else chunks):
            if counts is not None:
                acc.add(counts)
            next_block = b1
            stop = False
            if until is not None:
                if acc.coarse:
                    until.observe_quantiles(_batch_quantiles(pool, acc.bands, counts, until.quantiles, b0, b1, reps,
                                                             bins))
                else:
                    until.observe(counts.rank_counts, acc.bands)
                stop = until.converged()
            if saver is not None:
                saver.maybe_save(acc, next_block, until)
            if progress is not None:
                progress(min(reps, b1 * K.BLOCK), reps)
            if stop:
                break
        if log.n_blocks:
            pool.set_log(NO_LOG)
        if acc.coarse:
            if acc.exact is None:  # (a run resumed from its final checkpoint has it)
                acc.exact, acc.exact_counts, acc.replayed_reps = _coarse_exact(
                    pool, acc.bands, acc.rank_counts, acc.outside, points, 0, next_block, chunk_blocks, reps, bins, log)
                log = NO_LOG
                acc.second_pass_units = int((np.diff(acc.exact.ptr) > 0).sum())
        elif acc.outside[0].any():
            _exact_pass(pool, acc, next_block, chunk_blocks, reps, bins)
        acc.warmup_s, acc.pilot_s = (t_bins - t0, t1 - t_bins) if state is None else (t1 - t0, 0.0)
        acc.loop_s = time.perf_counter() - t1
    acc.reps = min(reps, next_block * K.BLOCK)
    acc.design = design.name
    if saver is not None:
        saver.maybe_save(acc, next_block, until, force=True)
    return acc


def evaluate(plan: Plan, design, n_rows: int | None = None, scores: bool = False, threads: int | None = None,
             chunk_size: int | None = None, progress: Callable[[int, int], None] | None = None,
             scheduler: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Evaluate every row of a design (SALib's *evaluate* step): each replication's ranks, and scores.

    Parameters
    ----------
    plan : Plan
    design : a design object (:mod:`weightlab.robustness.design`) or a 2-D array of uniforms in
        [0, 1) with ``plan.columns.n_cols`` columns (one row per replication).
    n_rows : int, optional
        Rows to evaluate (default: all of the design's).
    scores : bool, default=False
        Also return the scores (``n_rows x n_units`` float64).
    scheduler : str, optional
        As in :func:`run_plan`.

    Returns
    -------
    ranks : ndarray (n_rows, n_units) of int32
        Rank of every unit in every replication (1 = best; ties share the lowest rank).
    scores : ndarray (n_rows, n_units) or None
    """
    if isinstance(design, np.ndarray):
        design = ArrayDesign(design, plan.columns.n_cols)
    n_rows = design.n_rows if n_rows is None else int(n_rows)
    p = plan.kernel
    n = p.n_units
    ranks = np.empty((n_rows, n), dtype=np.int32)
    score_out = np.empty((n_rows if scores else 0, n))
    with _open_pool(plan, design, threads, scheduler) as pool:
        chunk_blocks = _chunk_blocks(chunk_size, pool.n_slots)
        n_blocks = -(-n_rows // K.BLOCK)
        ranges = ((b, min(n_blocks, b + chunk_blocks)) for b in range(0, n_blocks, chunk_blocks))
        for b0, b1, (r, s) in pool.map_store(ranges, n_rows, scores):
            r0, r1 = b0 * K.BLOCK, min(n_rows, b1 * K.BLOCK)
            ranks[r0:r1] = r
            if scores:
                score_out[r0:r1] = s
            if progress is not None:
                progress(r1, n_rows)
    return ranks, (score_out if scores else None)


def run(dataset: Dataset, spec: UncertaintySpec, threads: int | None = None, chunk_size: int | None = None,
        progress: "Callable[[int, int], None] | bool | None" = None, *, checkpoint: str | Path | None = None,
        resume: str | Path | None = None, checkpoint_every: float = 5.0, until: Convergence | None = None,
        scheduler=None) -> RobustnessResult:
    """Compile ``spec`` on ``dataset``, run it, and summarise the rank distributions.

    Parameters
    ----------
    dataset : Dataset
    spec : UncertaintySpec
    threads : int, optional
        Threads to use (default: numba's thread count, i.e. all cores; per worker with Dask).
    chunk_size : int, optional
        Replications per chunk between progress reports (default and maximum 16384 per thread).
    progress : callable (done, total) or bool, optional
        ``True``: a progress bar (rich) in the terminal or the notebook. A callable is called with
        ``done = 0`` when the replications start (after the kernels are compiled or loaded), then
        after every chunk.
    checkpoint, resume, checkpoint_every, until, scheduler :
        See :func:`run_plan`.
    """
    from .checks import check_nominal, check_run

    notes = check_run(dataset, spec)
    t0 = time.perf_counter()
    plan = compile_plan(dataset, spec)
    nominal = check_nominal(dataset, spec, plan)
    t1 = time.perf_counter()
    with (progress_bar(spec.reps, force=True) if progress is True else nullcontext(progress or None)) as callback:
        acc = run_plan(plan, threads, chunk_size, callback, checkpoint=checkpoint, resume=resume,
                       checkpoint_every=checkpoint_every, until=until, scheduler=scheduler)
    t2 = time.perf_counter()
    local = scheduler is None or scheduler == "threads"
    # compile_s: the pilot replications that set the score bins, whose first call compiles (or loads from
    # numba's cache) the kernels; pilot_s: the rank-band pilot (many units); run_s and the rate count the
    # replications alone
    timing = {"compile_plan_s": t1 - t0, "compile_s": acc.warmup_s, "pilot_s": acc.pilot_s, "run_s": acc.loop_s,
              "total_engine_s": t2 - t1, "threads": _threads(threads) if local else threads,
              "scheduler": "threads" if local else scheduler if isinstance(scheduler, str) else "dask client",
              "reps_per_s": acc.reps / acc.loop_s if acc.loop_s > 0 else float("nan")}
    if resume is not None:
        timing["resumed_from"] = str(resume)
    result = RobustnessResult.from_run(plan, acc, timing, until, nominal)
    result.manifest["notes"] = notes
    return result


def _stream_row(p, r: int, scalars: np.ndarray) -> np.ndarray:
    """Replication r's row under the counter-based stream: its scalar columns (as the kernels drew
    them), the weight multipliers' uniforms (drawn by the kernels where they are used), NaN for
    columns the stream does not read (the bootstrap key is the replication key)."""
    from .rng import STREAM_NOISE, uniform

    row = np.full(p.n_cols, np.nan)
    row[:p.col_stream.shape[0]] = scalars[:p.col_stream.shape[0]]
    if p.perturb == 1:
        row[p.col_w:p.col_w + p.n_nodes - 1] = [uniform(p.seed, r, STREAM_NOISE + i) for i in range(p.n_nodes - 1)]
    return row


def debug_replication(plan: Plan, r: int, design=None) -> dict:
    """Replication ``r`` in full: drawn choices, member and effective weights, scores and ranks.

    The whole block of ``r`` is computed, exactly as a run of ``design`` (default
    :func:`make_design`; its rows, or ``plan.spec.reps`` replications) does.
    """
    p = plan.kernel
    n = p.n_units
    b, q = divmod(r, K.BLOCK)
    design = make_design(plan) if design is None else design
    reps = max(getattr(design, "n_rows", plan.spec.reps), r + 1)  # the block's size as in the run
    ws = K.make_workspace(p)
    with threadpool_limits(1, user_api="blas"):
        rows = design.rows(b * K.BLOCK, min(reps, (b + 1) * K.BLOCK))
        K.kernels_for(p).score_block(p, ws, b, reps, rows, b * K.BLOCK)
    ranks = np.empty(n, dtype=np.int32)
    row = ws.srow[q]
    rank_min_into(ws.S[row], ranks, make_rank_workspace(n))
    names = list(plan.factor_options)
    choice = ws.choice[q]
    return {
        "choices": {f: plan.factor_options[f][int(choice[i])] for i, f in enumerate(names)},
        "choice_index": {f: int(choice[i]) for i, f in enumerate(names)},
        "member_weights": dict(zip(plan.node_codes[:-1], ws.W[q, :-1].tolist())),
        "effective_weights": dict(zip(plan.node_codes[:p.n_indicators], ws.E[q].tolist())),
        "uniforms": _stream_row(p, r, ws.U[q]) if rows.shape[0] == 0 else ws.U[q].copy(),
        # (the block's draws are still in the workspace; rows with a fixed scheme draw no sample)
        "bootstrap_counts": ws.C[q].astype(np.int64) if p.bootstrap and p.scheme_code[choice[SLOT_SCHEME]] != 0 else None,
        "scores": ws.S[row].copy(),
        "ranks": ranks.astype(np.int64),
    }

