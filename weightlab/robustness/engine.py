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
from typing import Callable

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from ..data import Dataset
from ..errors import ParameterError
from ..progress import progress_bar
from . import kernels as K
from .plan import MAX_REPS_PER_SLOT, Plan, compile_plan
from .ranking import make_rank_workspace, rank_buffers, rank_min_into
from .results import PILOT_REPS, SCORE_BINS, Accumulators, RobustnessResult
from .spec import UncertaintySpec


def _score_bins(run_chunk, p, work: tuple, reps: int, n_slots: int, acc: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit ranges of the score histograms: each unit's score range over the first
    ``PILOT_REPS`` replications of the run, widened by half of it on each side (scores outside fall
    in the edge bins). Depends only on the plan and ``reps``: the same for any threads and chunks."""
    n = p.n_units
    lo, hi = np.full((n_slots, n), np.inf), np.full((n_slots, n), -np.inf)
    dummy = (np.zeros(n), np.ones(n))
    run_chunk(p, *work, 0, -(-min(reps, PILOT_REPS) // K.BLOCK), reps, n_slots, acc, dummy, (lo, hi), True)
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


def run_plan(plan: Plan, threads: int | None = None, chunk_size: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> Accumulators:
    """Run ``plan.spec.reps`` replications and return the merged accumulators.

    ``chunk_size`` is rounded up to whole blocks of ``kernels.BLOCK`` replications.
    """
    p = plan.kernel
    n_slots = _threads(threads)
    reps = plan.spec.reps
    max_chunk = MAX_REPS_PER_SLOT * n_slots
    chunk = max_chunk if chunk_size is None else int(chunk_size)
    if not 1 <= chunk <= max_chunk:
        raise ParameterError(f"chunk size must be in 1..{max_chunk} with {n_slots} thread(s); got {chunk_size}.")
    chunk_blocks = -(-chunk // K.BLOCK)
    n_blocks = -(-reps // K.BLOCK)
    n = p.n_units
    n_opts = max(len(v) for v in plan.factor_options.values())
    # per-slot counts are uint16 (much faster to scatter into); a chunk has at most
    # MAX_REPS_PER_SLOT replications per slot, so they cannot overflow before being flushed
    slots = (np.zeros((n_slots, n, n), dtype=np.uint16), np.zeros((n_slots, n, SCORE_BINS), dtype=np.uint16),
             np.zeros((n_slots, n), dtype=np.int64), np.zeros((n_slots, n), dtype=np.int64),
             np.zeros((n_slots, n), dtype=np.int64),
             np.zeros((n_slots, len(plan.factor_options), n_opts), dtype=np.int64))
    rank_hist, score_hist, score_q, score_q2, nan_count, choice_count = slots
    no_ranges = (np.zeros((n_slots, n)), np.zeros((n_slots, n)))
    run_chunk = K.kernels_for(p).run_chunk
    work = (K.make_workspaces(p, n_slots), rank_buffers(n, n_slots))
    previous = numba.get_num_threads()
    numba.set_num_threads(n_slots)
    try:
        # the kernels call BLAS from each numba thread: BLAS itself must not start more threads
        with threadpool_limits(1, user_api="blas"):
            bin_lo, bin_hi = _score_bins(run_chunk, p, work, reps, n_slots, slots)
            bins = (bin_lo, SCORE_BINS / (bin_hi - bin_lo))
            acc = Accumulators.empty(n, SCORE_BINS, len(plan.factor_options), n_opts, bin_lo, bin_hi)
            b = 0
            while b < n_blocks:
                b1 = min(n_blocks, b + chunk_blocks)
                for a in (rank_hist, score_hist, score_q, score_q2):
                    a[:] = 0
                run_chunk(p, *work, b, b1, reps, n_slots, slots, bins, no_ranges, False)
                acc.add_chunk(rank_hist, score_hist, score_q, score_q2)
                b = b1
                if progress is not None:
                    progress(min(reps, b * K.BLOCK), reps)
    finally:
        numba.set_num_threads(previous)
    acc.nan_count += nan_count.sum(axis=0)
    acc.choice_count += choice_count.sum(axis=0)
    acc.reps = reps
    return acc


def run(dataset: Dataset, spec: UncertaintySpec, threads: int | None = None, chunk_size: int | None = None,
        progress: "Callable[[int, int], None] | bool | None" = None) -> RobustnessResult:
    """Compile ``spec`` on ``dataset``, run it, and summarise the rank distributions.

    Parameters
    ----------
    dataset : Dataset
    spec : UncertaintySpec
    threads : int, optional
        Threads to use (default: numba's thread count, i.e. all cores).
    chunk_size : int, optional
        Replications per chunk between progress reports (default and maximum 16384 per thread).
    progress : callable (done, total) or bool, optional
        ``True``: a progress bar (rich) in the terminal or the notebook.
    """
    t0 = time.perf_counter()
    plan = compile_plan(dataset, spec)
    t1 = time.perf_counter()
    with (progress_bar(spec.reps, force=True) if progress is True else nullcontext(progress or None)) as callback:
        acc = run_plan(plan, threads, chunk_size, callback)
    t2 = time.perf_counter()
    timing = {"compile_plan_s": t1 - t0, "run_s": t2 - t1, "threads": _threads(threads),
              "reps_per_s": spec.reps / (t2 - t1) if t2 > t1 else float("nan")}
    return RobustnessResult.from_run(plan, acc, timing)


def debug_replication(plan: Plan, r: int) -> dict:
    """Replication ``r`` in full: drawn choices, member and effective weights, scores and ranks.

    The whole block of ``r`` is computed, exactly as a run of ``plan.spec.reps`` replications does.
    """
    p = plan.kernel
    n = p.n_units
    b, q = divmod(r, K.BLOCK)
    ws = K.make_workspace(p)
    with threadpool_limits(1, user_api="blas"):
        K.kernels_for(p).score_block(p, ws, b, max(plan.spec.reps, r + 1))
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
        # (the block's draws are still in the workspace; rows with a fixed scheme draw no sample)
        "bootstrap_counts": ws.C[q].astype(np.int64) if p.bootstrap and p.scheme_code[choice[3]] != 0 else None,
        "scores": ws.S[row].copy(),
        "ranks": ranks.astype(np.int64),
    }

