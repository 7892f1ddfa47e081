"""Split ``n`` items into contiguous shares and run a nogil numba function on each share in a thread.

numba releases the GIL inside ``nogil=True`` functions, so Python threads run them in parallel; the
compiled functions stay serial, which compiles much faster than a ``prange`` loop (see
:mod:`weightlab.robustness.kernels`). Share ``t`` of ``n_parts`` is items ``n * t // n_parts ..
n * (t + 1) // n_parts - 1``; which share a thread runs never changes what an item computes.
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Callable


def share(n: int, n_parts: int, t: int) -> tuple[int, int]:
    """Items ``[lo, hi)`` of share ``t`` of ``n`` items in ``n_parts`` contiguous shares."""
    return n * t // n_parts, n * (t + 1) // n_parts


def run_split(fn: Callable[[int, int, int], None], n: int, n_parts: int, pool: Executor | None = None) -> None:
    """``fn(t, lo, hi)`` for each share ``t`` of ``n`` items in ``n_parts`` shares: share 0 in the
    calling thread, the others on ``pool`` (a new pool of ``n_parts - 1`` threads if None). Returns
    once every share is done, raising the first error of any."""
    if n_parts <= 1:
        fn(0, 0, n)
        return
    own = pool is None
    pool = ThreadPoolExecutor(n_parts - 1) if own else pool
    try:
        futures = [pool.submit(fn, t, *share(n, n_parts, t)) for t in range(1, n_parts)]
        try:
            fn(0, *share(n, n_parts, 0))
        finally:
            errors = [f.exception() for f in futures]  # waits: no thread still writes when this returns
    finally:
        if own:
            pool.shutdown()
    for e in errors:
        if e is not None:
            raise e
