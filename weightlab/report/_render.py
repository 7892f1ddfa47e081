"""Drawing and rendering the report's figures, in parallel processes where that is safe.

matplotlib draws in Python, holding the GIL, so threads would not draw two figures at once; forked
processes do. A forked child starts in milliseconds with everything the parent holds (modules,
tables, the figures' drawing functions), and only the rendered bytes come back through a pipe.
Figures are rendered in a pool of forked processes on Linux when more than one CPU is available
to this process, there are at least two figures and no other Python thread runs (a thread holding
a lock at the fork would leave it locked in the child: in a notebook kernel, or a program with its
own threads, figures are rendered one after the other); also one after the other on macOS, where
forking a process that has used system frameworks is unsafe, and on Windows, which cannot fork.
The bytes are the same either way: each figure is drawn by the same function from the same data,
and SVG ids come from a fixed salt (``svg.hashsalt``).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from typing import Callable, Sequence

from matplotlib.figure import Figure

from ._figure import figure_bytes

MAX_PROCESSES = 4  # beyond this the pool's start and the pipes cost more than the few figures left per process

Job = tuple[Callable[[], Figure], Sequence[str]]  # draw the figure; formats to render it to
_JOBS: list[Job] = []  # the jobs of the current render_all call (a forked child inherits them)


def _render(i: int) -> dict[str, bytes]:
    draw, formats = _JOBS[i]
    fig = draw()
    return {fmt: figure_bytes(fig, fmt) for fmt in formats}


def default_processes(n_jobs: int) -> int:
    """Processes to render ``n_jobs`` figures with: one per CPU available to this process (at most
    ``MAX_PROCESSES``) when forking is safe (see the module's note), else 1."""
    if not sys.platform.startswith("linux") or n_jobs < 2 or threading.active_count() > 1:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), n_jobs, MAX_PROCESSES))


def render_all(jobs: Sequence[Job], processes: int | None = None) -> list[dict[str, bytes]]:
    """Draw every job's figure and render it to each of its formats; ``processes`` forked processes
    (default :func:`default_processes`; 1 = in this process). Results are in the order of ``jobs``."""
    global _JOBS
    n = default_processes(len(jobs)) if processes is None else max(1, min(processes, len(jobs)))
    if not hasattr(os, "fork"):
        n = 1
    _JOBS = list(jobs)
    try:
        if n == 1:
            return [_render(i) for i in range(len(_JOBS))]
        import multiprocessing

        with warnings.catch_warnings():
            # Python 3.12+ warns when forking a process with native threads (BLAS, numba); they hold
            # no lock the child needs (OpenBLAS resets its pool in a forked child), and no Python
            # thread runs (default_processes)
            warnings.filterwarnings("ignore", message=r".*multi-threaded.*fork", category=DeprecationWarning)
            with multiprocessing.get_context("fork").Pool(n) as pool:
                return pool.map(_render, range(len(_JOBS)), chunksize=1)
    finally:
        _JOBS = []
