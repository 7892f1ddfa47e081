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

import numpy as np

from ..data import Dataset
from ..progress import progress_bar
from . import kernels as K
from .accumulators import PILOT_REPS, SCORE_BINS, Accumulators, count_dtype
from .bands import BAND_UNITS, RankBands, Segments
from .checkpoint import CheckpointWriter, load_checkpoint, run_fingerprint
from .coarse import BAND_CELLS, COARSE_PILOT_REPS, NO_LOG, CoarseBins, RankLog
from .convergence import Convergence
from .design import ArrayDesign, SobolDesign, StreamDesign
from .factors import SLOT_SCHEME
from .plan import Plan, compile_plan
from .pool import LocalPool, SlotEngine, chunk_blocks, thread_count
from .results import RobustnessResult
from .spec import UncertaintySpec
from .summaries import summary_points


def make_design(plan: Plan):
    """The design of a ``robustness`` run: ``[sampling] method`` of the spec (counter-based stream or
    scrambled Sobol' points)."""
    if plan.spec.sampling == "sobol":
        return SobolDesign(plan.columns.n_cols, plan.spec.seed)
    return StreamDesign(plan.columns.n_cols)


def _open_pool(plan: Plan, design, threads: int | None, scheduler):
    if scheduler in (None, "threads"):
        return LocalPool(plan, design, threads)
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
    rank and pass 2 makes every summary exact, so a longer pilot would only cost time (much of a
    short run's with very many units). Otherwise
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


def _count_segments(pool, segments: Segments, b0: int, b1: int, step: int, reps: int, bins: tuple,
                    log: RankLog = NO_LOG) -> tuple[np.ndarray, int]:
    """The exact counts of the ranks in ``segments`` over blocks ``b0 .. b1 - 1`` and the
    replications run again for them; the blocks of ``log`` (the last ones, up to ``b1``) are counted
    from it, the others replayed (a rank layout's exact pass, :mod:`.bands`, :mod:`.coarse`)."""
    exact = np.zeros(segments.total, dtype=count_dtype(reps))
    if not segments.n_segments:
        return exact, 0
    if log.n_blocks and int(log.first[0]) + log.n_blocks == b1 and log.covers(segments):
        log.count(exact, segments, reps, pool.n_slots)
        b1 = max(b0, int(log.first[0]))
    ranges = ((c0, min(b1, c0 + step)) for c0 in range(b0, b1, step))
    if pool.in_process:  # added in place
        for c0, c1 in ranges:
            pool.add_rank_counts(exact, c0, c1, reps, bins, segments)
    else:
        for _, _, c in pool.map_counts(ranges, reps, bins, segments):
            exact += c.rank_counts
    return exact, max(0, min(reps, b1 * K.BLOCK) - b0 * K.BLOCK)


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
    n = p.tree.n_units
    n_opts = max(len(v) for v in plan.factor_options.values())
    n_blocks = -(-reps // K.BLOCK)
    points = summary_points(plan.spec, n)
    # (hashing the plan reads every matrix: only when a checkpoint needs it)
    fingerprint = run_fingerprint(plan, design, until) if checkpoint is not None or resume is not None else ""
    state = load_checkpoint(resume, fingerprint) if resume is not None else None
    log = NO_LOG  # pass 1's rank log (coarse counts of a fresh run; pass 2 reads it instead of replaying)
    saver = CheckpointWriter(checkpoint, fingerprint, checkpoint_every) if checkpoint is not None else None
    with _open_pool(plan, design, threads, scheduler) as pool:
        step = until.batch_blocks if until is not None else chunk_blocks(chunk_size, pool.n_slots)
        t0 = time.perf_counter()  # the pilot's first call compiles (or loads) the kernels
        if state is None:
            bin_lo, bin_hi = pool.score_bins(reps)
            t_bins = time.perf_counter()  # the score-bin pilot is small: its time is the kernels' compile or load
            use_bands = n > BAND_UNITS if bands is None else bands is not False
            rank_bands = _pilot_bands(pool, reps, n, bands, len(points[0])) if use_bands else RankBands.dense(n)
            acc = Accumulators.empty(n, SCORE_BINS, len(plan.factor_options), n_opts, bin_lo, bin_hi, rank_bands,
                                     reps)
            next_block = 0
            if acc.bands.keeps_rank_log and until is None and pool.in_process:
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
        ranges = ((b, min(n_blocks, b + step)) for b in range(next_block, n_blocks, step))
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
                until.observe_quantiles(acc.bands.batch_quantiles(
                    counts, np.array(until.quantiles, dtype=float),
                    lambda segments: _count_segments(pool, segments, b0, b1, b1 - b0, reps, bins)))
                stop = until.converged()
            if saver is not None:
                saver.maybe_save(acc, next_block, until)
            if progress is not None:
                progress(min(reps, b1 * K.BLOCK), reps)
            if stop:
                break
        if log.n_blocks:
            pool.set_log(NO_LOG)
        # the layout's exact pass (rank bands: units with ranks outside their bands; coarse counts: pass 2)
        acc.bands.finish(acc, lambda segments: _count_segments(pool, segments, 0, next_block, step, reps, bins, log),
                         points)
        log = NO_LOG
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
    n = p.tree.n_units
    ranks = np.empty((n_rows, n), dtype=np.int32)
    score_out = np.empty((n_rows if scores else 0, n))
    with _open_pool(plan, design, threads, scheduler) as pool:
        step = chunk_blocks(chunk_size, pool.n_slots)
        n_blocks = -(-n_rows // K.BLOCK)
        ranges = ((b, min(n_blocks, b + step)) for b in range(0, n_blocks, step))
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
              "total_engine_s": t2 - t1, "threads": thread_count(threads) if local else threads,
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

    row = np.full(p.columns.n_cols, np.nan)
    row[:p.columns.col_stream.shape[0]] = scalars[:p.columns.col_stream.shape[0]]
    if p.noise.perturb == 1:
        w0, nw = p.columns.col_w, p.tree.n_nodes - 1
        row[w0:w0 + nw] = [uniform(p.seed, r, STREAM_NOISE + i) for i in range(nw)]
    return row


def debug_replication(plan: Plan, r: int, design=None) -> dict:
    """Replication ``r`` in full: drawn choices, member and effective weights, scores and ranks.

    The whole block of ``r`` is computed, exactly as a run of ``design`` (default
    :func:`make_design`; its rows, or ``plan.spec.reps`` replications) does: by the run's slot
    kernel on one slot, keeping the block's ranks and scores (``STORE``), and its draws are read
    from the slot's workspace.
    """
    p = plan.kernel
    n = p.tree.n_units
    b, q = divmod(r, K.BLOCK)
    design = make_design(plan) if design is None else design
    reps = max(getattr(design, "n_rows", plan.spec.reps), r + 1)  # the block's size as in the run
    nq = min(K.BLOCK, reps - b * K.BLOCK)
    out = (np.empty((nq, n), dtype=np.int32), np.empty((nq, n)))
    with SlotEngine(plan, 1, max(len(v) for v in plan.factor_options.values())) as eng:
        rows = design.rows(b * K.BLOCK, min(reps, (b + 1) * K.BLOCK))
        eng.chunk(b, b + 1, reps, rows, eng.no_bins, out, K.STORE)
        ws = eng.run.ws[0]
    names = list(plan.factor_options)
    choice = ws.choice[q]
    return {
        "choices": {f: plan.factor_options[f][int(choice[i])] for i, f in enumerate(names)},
        "choice_index": {f: int(choice[i]) for i, f in enumerate(names)},
        "member_weights": dict(zip(plan.node_codes[:-1], ws.W[q, :-1].tolist())),
        "effective_weights": dict(zip(plan.node_codes[:p.tree.n_indicators], ws.E[q].tolist())),
        "uniforms": _stream_row(p, r, ws.U[q]) if rows.shape[0] == 0 else ws.U[q].copy(),
        # (the block's draws are still in the workspace; rows with a fixed scheme draw no sample)
        "bootstrap_counts": (ws.C[q].astype(np.int64) if p.schemes.bootstrap
                             and p.schemes.scheme_code[choice[SLOT_SCHEME]] != 0 else None),
        "scores": out[1][q].copy(),
        "ranks": out[0][q].astype(np.int64),
    }

