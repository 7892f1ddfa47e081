"""The ``threads`` scheduler of the Monte Carlo engine: chunks of blocks on this machine's threads.

:class:`LocalPool` runs chunks of blocks (``kernels.BLOCK`` replications each) on ``threads``
slots (:mod:`.slots`), each slot in its own workspace and accumulators (:mod:`.accumulators`),
and returns or adds their counts; :class:`~weightlab.robustness.distributed.DaskPool` offers the
same interface on a Dask cluster (its workers each run a :class:`LocalPool`).
"""

from __future__ import annotations

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import ParameterError
from . import kernels as K
from . import memory
from .accumulators import (PILOT_REPS, SCORE_BINS, Accumulators, Counts, Dims, KernelCounts, LayoutArrays,
                           allocate_slots, chunk_of_slots, reset_slots, with_layout, without_layout)
from .bands import RankBands, Segments
from .coarse import NO_LOG, RankLog, empty_segments
from .jit import notify_if_cold
from .plan import MAX_REPS_PER_SLOT, Plan
from .ranking import rank_buffers
from .slots import SlotRunner


def thread_count(threads: int | None) -> int:
    """The slots of a run on ``threads`` threads (default: numba's thread count, i.e. all cores)."""
    available = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return available
    if not 1 <= threads <= available:
        raise ParameterError(f"--threads must be in 1..{available} on this machine; got {threads}.")
    return threads


def chunk_blocks(chunk_size: int | None, n_slots: int) -> int:
    """Blocks per chunk of ``chunk_size`` replications (default and maximum: ``MAX_REPS_PER_SLOT``
    per slot), rounded up to whole blocks."""
    max_chunk = MAX_REPS_PER_SLOT * n_slots
    chunk = max_chunk if chunk_size is None else int(chunk_size)
    if not 1 <= chunk <= max_chunk:
        raise ParameterError(f"chunk size must be in 1..{max_chunk} with {n_slots} thread(s); got {chunk_size}.")
    return -(-chunk // K.BLOCK)


def _no_output(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, n), dtype=np.int32), np.zeros((0, n))


class SlotEngine:
    """Workspaces, per-slot accumulators, kernels and thread settings of one run (a context manager)."""

    def __init__(self, plan: Plan, threads: int | None, n_opts: int) -> None:
        p = plan.kernel
        self.p, self.n_slots = p, thread_count(threads)
        n, t = p.tree.n_units, self.n_slots
        self.dims = Dims(n, SCORE_BINS, len(plan.factor_options), n_opts)
        self.bands: "RankBands | None" = None
        # the rank counts' slots are allocated by set_bands
        self.slots = allocate_slots(self.dims, empty_segments(n), t)
        self.band_arrays = RankBands.dense(n).kernel_arrays()
        self.log_arrays = NO_LOG.kernel_arrays()  # pass 1 of coarse counts logs ranks here (RankLog)
        kernel = K.kernels_for(p).run_blocks
        notify_if_cold(kernel)
        self.run = SlotRunner(kernel, p, K.make_workspaces(p, t), rank_buffers(n, t), t)
        self.no_ranges = (np.zeros((t, n)), np.zeros((t, n)))
        self.no_bins = (np.zeros(n), np.ones(n))

    def __enter__(self) -> "SlotEngine":
        # the kernels call BLAS from each slot's thread: BLAS itself must not start more threads
        self.blas = threadpool_limits(1, user_api="blas")
        self.blas.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.blas.__exit__(*exc)
        self.run.close()

    def set_bands(self, bands) -> None:
        """Count ranks in the rank layout ``bands`` from now on (:mod:`.bands`, :mod:`.coarse`)."""
        old = self.bands
        if old is not None and type(old) is type(bands) and all(np.array_equal(a, b) for a, b in zip(old, bands)):
            return
        kept, self.slots = without_layout(self.slots), None  # the old counts freed before the new ones are allocated
        self.slots = with_layout(kept, self.dims, bands, self.n_slots)
        self.bands, self.band_arrays = bands, bands.kernel_arrays()

    @property
    def acc(self) -> KernelCounts:
        return KernelCounts(*self.slots, LayoutArrays(*self.band_arrays, *self.log_arrays))

    def chunk(self, b0: int, b1: int, reps: int, rows: np.ndarray, bins: tuple, out: tuple, mode: int) -> None:
        self.run(b0, b1, reps, rows, self.acc, bins, self.no_ranges, out, mode)

    def score_bins(self, reps: int, design, out: tuple) -> tuple[np.ndarray, np.ndarray]:
        """Per-unit ranges of the score histograms: each unit's score range over the first
        ``PILOT_REPS`` replications of the run, widened by half of it on each side (scores outside
        fall in the edge bins). Depends only on the plan, the design and ``reps``: the same for any
        threads and chunks."""
        n, n_slots = self.p.tree.n_units, self.n_slots
        lo, hi = np.full((n_slots, n), np.inf), np.full((n_slots, n), -np.inf)
        dummy = (np.zeros(n), np.ones(n))
        b1 = -(-min(reps, PILOT_REPS) // K.BLOCK)
        rows = design.rows(0, min(reps, b1 * K.BLOCK))
        self.run(0, b1, reps, rows, self.acc, dummy, (lo, hi), out, K.RANGES)
        lo, hi = lo.min(axis=0), hi.max(axis=0)
        lo, hi = np.where(lo <= hi, lo, 0.0), np.where(lo <= hi, hi, 1.0)  # no finite score: any range
        pad = np.where(hi > lo, 0.5 * (hi - lo), 1e-9 * np.maximum(np.abs(hi), 1.0))
        return lo - pad, hi + pad


class LocalPool:
    """The ``threads`` scheduler: chunks of blocks run on this machine's numba threads."""

    # the counts live in this process: passes add them into the totals in place (add_counts,
    # add_rank_counts) and, for coarse counts, pass 1 can keep the ranks for pass 2 (RankLog);
    # DaskPool's come back from the workers
    in_process = True

    def __init__(self, plan: Plan, design, threads: int | None) -> None:
        self.plan, self.design = plan, design
        self.eng = SlotEngine(plan, threads, max(len(v) for v in plan.factor_options.values()))
        self.n_slots = self.eng.n_slots
        self.out = _no_output(plan.kernel.tree.n_units)

    def __enter__(self) -> "LocalPool":
        self.eng.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.eng.__exit__(*exc)

    def held_bytes(self, acc: Accumulators) -> int:
        """Bytes of the run's arrays before the rank log (:mod:`.memory`): the data and plan, every
        thread's workspace and counts (with the uint16 slots of ``acc``'s coarse cells, allocated
        at the first chunk) and ``acc``."""
        e = self.eng
        slots = [a for name, a in zip(Counts._fields, e.slots) if name != "rank_counts"]
        return memory.array_bytes([*memory.plan_arrays(self.plan), *(a for ws in e.run.ws for a in ws), *slots,
                                   *acc.counts, acc.bin_lo, acc.bin_hi]) + self.n_slots * 2 * acc.bands.total

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
        return self.eng.score_bins(reps, self.design, self.out)

    def _run(self, b0: int, b1: int, reps: int, bins: tuple, bands) -> None:
        self.eng.set_bands(bands)
        reset_slots(self.eng.slots)
        rows = self.design.rows(b0 * K.BLOCK, min(reps, b1 * K.BLOCK))
        self.eng.chunk(b0, b1, reps, rows, bins, self.out, K.ACCUMULATE)

    def counts(self, b0: int, b1: int, reps: int, bins: tuple, bands) -> Counts:
        """The counts of blocks ``b0 .. b1 - 1`` (replications below ``reps``), ranks in ``bands``
        (segments: the exact pass, which counts ranks and nothing else)."""
        self._run(b0, b1, reps, bins, bands)
        return chunk_of_slots(self.eng.slots, exact_pass=bands.exact_pass)

    def add_counts(self, acc: Accumulators, b0: int, b1: int, reps: int, bins: tuple) -> None:
        """Add the counts of blocks ``b0 .. b1 - 1`` into ``acc`` (its bands), slot by slot
        (:meth:`Accumulators.add_slots`: the chunk's counts are not built)."""
        self._run(b0, b1, reps, bins, acc.bands)
        acc.add_slots(self.eng.slots)

    def add_rank_counts(self, out: np.ndarray, b0: int, b1: int, reps: int, bins: tuple, bands: Segments) -> None:
        """Add the exact pass's counts of blocks ``b0 .. b1 - 1`` in ``bands`` into ``out``, slot by
        slot (as :meth:`add_counts`: no int32 sum of the chunk, about 60 MiB at 100,000 units)."""
        self._run(b0, b1, reps, bins, bands)
        for slot in self.eng.slots.rank_counts:
            np.add(out, slot.reshape(-1), out=out)

    def map_counts(self, ranges, reps: int, bins: tuple, bands):
        """``(b0, b1, counts)`` of each block range, in order (lazily: a caller may stop early)."""
        for b0, b1 in ranges:
            yield b0, b1, self.counts(b0, b1, reps, bins, bands)

    def store(self, b0: int, b1: int, n_rows: int, scores: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Ranks (and scores) of rows ``b0 * BLOCK .. min(n_rows, b1 * BLOCK) - 1`` of the design."""
        r0, r1 = b0 * K.BLOCK, min(n_rows, b1 * K.BLOCK)
        out = (np.empty((r1 - r0, self.plan.kernel.tree.n_units), dtype=np.int32),
               np.empty((r1 - r0 if scores else 0, self.plan.kernel.tree.n_units)))
        self.eng.chunk(b0, b1, n_rows, self.design.rows(r0, r1), self.eng.no_bins, out, K.STORE)
        return out[0], (out[1] if scores else None)

    def map_store(self, ranges, n_rows: int, scores: bool):
        for b0, b1 in ranges:
            yield b0, b1, self.store(b0, b1, n_rows, scores)
