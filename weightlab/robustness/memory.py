"""What a run's arrays hold in memory, and what is left of ``RUN_BYTES`` for pass 1's rank log.

The rank log (:class:`.coarse.RankLog`) is a cache: pass 2 reads it instead of scoring and ranking
the logged replications again, and the counts are the same either way. So its size follows what
the run already holds: the data and the plan's arrays (at 100,000 units, 25 indicators: 38 MiB;
400 indicators: 610 MiB, the table and the plan's matrix), each thread's workspace and counts,
and the accumulators. The log gets what these leave of ``RUN_BYTES``, at most ``coarse.LOG_BYTES``,
so that neither more threads nor a wider plan raise a run's peak memory. ``RUN_BYTES`` is set so
that one thread on 100,000 units and 25 indicators keeps the whole ``LOG_BYTES``; with the memory
of a process that has imported weightlab and loaded its kernels, such runs stay under 2 GB
(docs/performance.md).

Counted are the arrays' bytes (each buffer once: a view counts as the array it views), not the
process's resident memory: the budget depends only on the plan, the thread count and the run.
Not counted: Python objects, the exact pass's segment counts (allocated after the log, about 1 %
of the coarse cells) and what the caller holds besides the dataset.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .coarse import LOG_BYTES
from .config import RUN_BYTES
from .plan import kernel_fields


def array_bytes(arrays: Iterable) -> int:
    """Bytes of the memory behind the numpy arrays among ``arrays`` (other items are skipped),
    each buffer once: a view (``T = X[:, None]``, a workspace's slot row) counts as its base array."""
    owners: dict[int, int] = {}
    for a in arrays:
        if not isinstance(a, np.ndarray):
            continue
        while isinstance(a.base, np.ndarray):
            a = a.base
        owners[id(a)] = a.nbytes
    return sum(owners.values())


def plan_arrays(plan) -> list:
    """The arrays a compiled plan holds: the kernel plan's and the dataset's columns (the plan's
    normalised tables are views of ``kernel.data.X``)."""
    values = plan.dataset.values
    return [*(v for _name, v in kernel_fields(plan.kernel)), *(values[c].to_numpy() for c in values.columns)]


def log_budget(held: int) -> int:
    """Bytes for the rank log when the run's other arrays hold ``held`` bytes: ``RUN_BYTES - held``,
    within ``0 .. LOG_BYTES``."""
    return max(0, min(LOG_BYTES, RUN_BYTES - held))
