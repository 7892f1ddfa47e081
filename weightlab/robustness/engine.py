"""Run the Monte Carlo engine: compile the plan, run chunks of replications, merge accumulators.

Replications are processed in chunks (for progress reports); inside a chunk each of ``threads``
slots takes a contiguous slice and adds into its own integer accumulators, which are then added up.
Integer addition is exact, and each replication's random numbers depend only on (seed, r), so the
result is bit-identical for any thread count and chunk size.
"""

from __future__ import annotations

import time
from typing import Callable

import numba
import numpy as np

from ..data import Dataset
from ..errors import ParameterError
from . import kernels as K
from .plan import MAX_REPS_PER_SLOT, Plan, compile_plan
from .results import Accumulators, RobustnessResult
from .spec import UncertaintySpec

SCORE_BINS = 512


def _threads(threads: int | None) -> int:
    available = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return available
    if not 1 <= threads <= available:
        raise ParameterError(f"--threads must be in 1..{available} on this machine; got {threads}.")
    return threads


def run_plan(plan: Plan, threads: int | None = None, chunk_size: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> Accumulators:
    """Run ``plan.spec.reps`` replications and return the merged accumulators."""
    p = plan.kernel
    n_slots = _threads(threads)
    reps = plan.spec.reps
    max_chunk = MAX_REPS_PER_SLOT * n_slots
    chunk = max_chunk if chunk_size is None else int(chunk_size)
    if not 1 <= chunk <= max_chunk:
        raise ParameterError(f"chunk size must be in 1..{max_chunk} with {n_slots} thread(s); got {chunk_size}.")
    n = p.n_units
    n_opts = max(len(v) for v in plan.factor_options.values())
    acc = Accumulators.empty(n, SCORE_BINS, len(plan.factor_options), n_opts)
    # per-slot counts are int32 (much faster to scatter into); a chunk has at most
    # MAX_REPS_PER_SLOT replications per slot, so they cannot overflow before being flushed
    rank_hist = np.zeros((n_slots, n, n), dtype=np.int32)
    score_hist = np.zeros((n_slots, n, SCORE_BINS), dtype=np.int32)
    score_q = np.zeros((n_slots, n), dtype=np.int64)
    score_q2 = np.zeros((n_slots, n), dtype=np.int64)
    nan_count = np.zeros((n_slots, n), dtype=np.int64)
    choice_count = np.zeros((n_slots, len(plan.factor_options), n_opts), dtype=np.int64)
    previous = numba.get_num_threads()
    numba.set_num_threads(n_slots)
    try:
        done = 0
        while done < reps:
            r1 = min(reps, done + chunk)
            for a in (rank_hist, score_hist, score_q, score_q2):
                a[:] = 0
            K.run_chunk(p, done, r1, n_slots, rank_hist, score_hist, score_q, score_q2, nan_count, choice_count)
            acc.add_chunk(rank_hist, score_hist, score_q, score_q2)
            done = r1
            if progress is not None:
                progress(done, reps)
    finally:
        numba.set_num_threads(previous)
    acc.nan_count += nan_count.sum(axis=0)
    acc.choice_count += choice_count.sum(axis=0)
    acc.reps = reps
    return acc


def run(dataset: Dataset, spec: UncertaintySpec, threads: int | None = None, chunk_size: int | None = None,
        progress: Callable[[int, int], None] | None = None) -> RobustnessResult:
    """Compile ``spec`` on ``dataset``, run it, and summarise the rank distributions.

    Parameters
    ----------
    dataset : Dataset
    spec : UncertaintySpec
    threads : int, optional
        Threads to use (default: numba's thread count, i.e. all cores).
    chunk_size : int, optional
        Replications per chunk between progress reports (default and maximum 16384 per thread).
    progress : callable (done, total), optional
    """
    t0 = time.perf_counter()
    plan = compile_plan(dataset, spec)
    t1 = time.perf_counter()
    acc = run_plan(plan, threads, chunk_size, progress)
    t2 = time.perf_counter()
    timing = {"compile_plan_s": t1 - t0, "run_s": t2 - t1, "threads": _threads(threads),
              "reps_per_s": spec.reps / (t2 - t1) if t2 > t1 else float("nan")}
    return RobustnessResult.from_run(plan, acc, timing)


def debug_replication(plan: Plan, r: int) -> dict:
    """Replication ``r`` in full: drawn choices, member and effective weights, scores and ranks."""
    from .ranking import make_rank_workspace, rank_min_into

    p = plan.kernel
    n = p.n_units
    ws = K.make_workspace(p)
    w, eff, _, _, counts, scores, choice = ws[:7]
    K.simulate_one(r, p, *ws)
    ranks = np.empty(n, dtype=np.int32)
    rank_min_into(scores, ranks, make_rank_workspace(n))
    names = list(plan.factor_options)
    return {
        "choices": {f: plan.factor_options[f][int(choice[i])] for i, f in enumerate(names)},
        "choice_index": {f: int(choice[i]) for i, f in enumerate(names)},
        "member_weights": dict(zip(plan.node_codes[:-1], w[:-1].tolist())),
        "effective_weights": dict(zip(plan.node_codes[:p.n_indicators], eff[:p.n_indicators].tolist())),
        "bootstrap_counts": counts.copy() if p.bootstrap else None,
        "scores": scores.copy(),
        "ranks": ranks.astype(np.int64),
    }
