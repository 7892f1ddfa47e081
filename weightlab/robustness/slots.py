"""Run a chunk of blocks on ``n_slots`` threads: the slot kernel of each thread releases the GIL.

Blocks ``b0 .. b1 - 1`` are split into ``n_slots`` contiguous runs, slot ``t`` taking
``b0 + (b1 - b0) * t // n_slots .. b0 + (b1 - b0) * (t + 1) // n_slots - 1``, in its own workspace
and accumulators (:func:`weightlab.robustness.kernels.run_blocks`). Which blocks a slot takes never
changes what a block computes, and the slots' integer accumulators are added exactly, so results do
not depend on the number of slots.

The slots run on Python threads rather than in a numba ``prange`` loop: the compiled kernel is then
a plain serial function, and compiling the parallel loop (numba's parfor lowering of the whole
inlined block pipeline) took about 40 of the 95 seconds of the demo's cold compilation. The calling
thread runs slot 0 itself; the others run on a pool kept for the engine's lifetime.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from .kernels import BLOCK, Workspace, slot_workspace
from .ranking import rank_workspace


class SlotRunner:
    """``runner(b0, b1, reps, design, acc, bins, ranges, out, mode)`` runs ``kernel`` on every slot.

    ``acc`` holds the per-slot accumulators (leading slot axis) and, last, the rank bands shared by
    all slots; ``ranges = (lo, hi)`` has a leading slot axis too (see :func:`~weightlab.robustness.
    kernels.run_blocks` for what each mode does with them). Call :meth:`close` to stop the threads.
    """

    def __init__(self, kernel: Callable, p, wss: Workspace, rank_bufs: np.ndarray, n_slots: int) -> None:
        self.kernel, self.p, self.n_slots = kernel, p, n_slots
        self.ws = [slot_workspace(wss, t) for t in range(n_slots)]
        self.rank_ws = [rank_workspace(rank_bufs[t], p.n_units) for t in range(n_slots)]
        self._pool: ThreadPoolExecutor | None = None

    def _slot(self, t: int, b0: int, b1: int, reps: int, design: np.ndarray, acc: tuple, bins: tuple,
              ranges: tuple, out: tuple, mode: int) -> None:
        total, n = b1 - b0, self.n_slots
        acc_t = tuple(a[t] for a in acc[:-1]) + (acc[-1],)
        self.kernel(self.p, self.ws[t], self.rank_ws[t], b0 + total * t // n, b0 + total * (t + 1) // n, reps,
                    design, b0 * BLOCK, acc_t, bins, (ranges[0][t], ranges[1][t]), out, mode)

    def __call__(self, b0: int, b1: int, reps: int, design: np.ndarray, acc: tuple, bins: tuple, ranges: tuple,
                 out: tuple, mode: int) -> None:
        args = (b0, b1, reps, design, acc, bins, ranges, out, mode)
        if self.n_slots > 1 and self._pool is None:
            self._pool = ThreadPoolExecutor(self.n_slots - 1, thread_name_prefix="weightlab-slot")
        futures = [self._pool.submit(self._slot, t, *args) for t in range(1, self.n_slots)]
        try:
            self._slot(0, *args)
        finally:
            errors = [f.exception() for f in futures]  # waits: no thread still writes when this returns
        for e in errors:
            if e is not None:
                raise e

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
