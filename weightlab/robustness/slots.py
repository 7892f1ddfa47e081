"""Run a chunk of blocks on ``n_slots`` threads, each slot a contiguous run of blocks in its own workspace.

Slot ``t`` takes share ``t`` of the chunk's blocks (:func:`weightlab.robustness.parallel.share`) and
runs the slot kernel (:func:`weightlab.robustness.kernels.run_blocks`, which releases the GIL) in
its own workspace and accumulators. Which blocks a slot takes never changes what a block computes,
and the slots' integer accumulators are added exactly, so results do not depend on the number of
slots. The slots run on Python threads rather than in a numba ``prange`` loop: compiling the
parallel loop around the inlined block pipeline took about 40 of the 97 seconds of the demo's cold
compilation. The calling thread runs slot 0 itself; the others run on a pool kept until
:meth:`SlotRunner.close`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from .accumulators import KernelCounts, slot_view
from .kernels import BLOCK, Chunk, Outputs, Workspace, slot_workspace
from .parallel import run_split


class SlotRunner:
    """``runner(b0, b1, reps, design, acc, bins, ranges, out, mode)`` runs ``kernel`` on blocks
    ``b0 .. b1 - 1``, split over the slots: slot ``t`` gets its share as a
    :class:`~weightlab.robustness.kernels.Chunk` and its arrays as
    :class:`~weightlab.robustness.kernels.Outputs`.

    ``acc`` (:class:`~weightlab.robustness.accumulators.KernelCounts`) holds the per-slot
    accumulators (leading slot axis) and the rank layout shared by all slots; ``ranges = (lo, hi)`` has a leading slot axis too (see
    :func:`~weightlab.robustness.kernels.run_blocks` for what each mode does with them).
    """

    def __init__(self, kernel: Callable, p, wss: Workspace, rank_bufs: np.ndarray, n_slots: int) -> None:
        self.kernel, self.p, self.n_slots = kernel, p, n_slots
        self.ws = [slot_workspace(wss, t) for t in range(n_slots)]
        self.rank_bufs = rank_bufs
        self._pool: ThreadPoolExecutor | None = None

    def __call__(self, b0: int, b1: int, reps: int, design: np.ndarray, acc: KernelCounts, bins: tuple, ranges: tuple,
                 out: tuple, mode: int) -> None:
        if self.n_slots > 1 and self._pool is None:
            self._pool = ThreadPoolExecutor(self.n_slots - 1, thread_name_prefix="weightlab-slot")
        lo, hi = ranges

        def slot(t: int, k0: int, k1: int) -> None:
            self.kernel(self.p, self.ws[t], self.rank_bufs[t], Chunk(b0 + k0, b0 + k1, reps, design, b0 * BLOCK, mode),
                        Outputs(slot_view(acc, t), bins, (lo[t], hi[t]), out))

        run_split(slot, b1 - b0, self.n_slots, self._pool)

    def close(self) -> None:
        """Stop the pool's threads (a later call starts a new pool)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
