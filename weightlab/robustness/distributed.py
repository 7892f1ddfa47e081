"""Dask schedulers of the Monte Carlo engine: chunks of blocks run on the workers of a cluster.

``--scheduler local`` (``scheduler="local"``) starts a :class:`distributed.LocalCluster` on this
machine (one worker process per core, one thread each); ``--scheduler tcp://HOST:PORT`` connects to a running
scheduler; from Python, ``scheduler`` may also be a :class:`distributed.Client` (left open). The
plan and the design are sent to every worker once (``Client.scatter(...,
broadcast=True)``); each worker builds its workspaces and loads the compiled kernels once (kept
in this module's ``_POOLS`` for the run's token) and returns, for a chunk of blocks, the integer
counts of :class:`~weightlab.robustness.accumulators.Counts`, which the client adds. Replications
depend only on (seed, design, index) and integer addition is exact: the result is bit-identical
to a run on local threads. A worker runs one chunk at a time on as many numba threads as it has
Dask threads.

Needs the ``dask`` extra: ``pip install weightlab[dask]``.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import deque

import numpy as np

from ..errors import ParameterError
from .accumulators import merge_counts
from .config import TASK_CHUNKS
from .pool import LocalPool, chunk_blocks

_POOLS: dict = {}  # token -> the worker's LocalPool of the current run
_LOCK = threading.Lock()  # one kernel call at a time per worker process (numba's thread pool)


def _client(scheduler):
    """(client, cluster to close or None, whether to close the client) for ``scheduler``."""
    if not isinstance(scheduler, str):  # a distributed.Client of the caller's: used, not closed
        return scheduler, None, False
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ParameterError(f"--scheduler {scheduler} needs Dask: pip install 'weightlab[dask]' "
                             f"(or use --scheduler threads).") from None
    if scheduler == "local":
        import logging

        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        return Client(cluster), cluster, True
    if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise ParameterError(f"--scheduler must be threads, local or a Dask scheduler address such as "
                             f"tcp://HOST:8786; got {scheduler!r}.")
    try:
        return Client(scheduler, timeout="20s"), None, True
    except (OSError, TimeoutError) as exc:
        raise ParameterError(f"--scheduler {scheduler}: cannot connect ({exc}); start the scheduler and workers "
                             f"first (dask scheduler; dask worker {scheduler}).") from None


def _worker_pool(payload):
    from distributed import get_worker

    token, plan, design, threads = payload
    pool = _POOLS.get(token)
    if pool is None:
        _POOLS.clear()
        import numba

        n = threads or min(get_worker().state.nthreads, numba.config.NUMBA_NUM_THREADS)
        pool = _POOLS[token] = LocalPool(plan, design, n)
    return pool


def _worker_score_bins(payload, reps: int):
    with _LOCK:
        pool = _worker_pool(payload)
        with pool:
            return pool.score_bins(reps)


def _pieces(pool, b0: int, b1: int):
    """``[b0, b1)`` in pieces that fit the worker's per-thread counters."""
    step = chunk_blocks(None, pool.n_slots)
    return [(b, min(b1, b + step)) for b in range(b0, b1, step)]


def _worker_counts(payload, b0: int, b1: int, reps: int, bins: tuple, bands):
    with _LOCK:
        pool = _worker_pool(payload)
        with pool:
            total = None
            for c0, c1 in _pieces(pool, b0, b1):
                c = pool.counts(c0, c1, reps, bins, bands)
                total = c if total is None else merge_counts(total, c)
            return total


def _worker_store(payload, b0: int, b1: int, n_rows: int, scores: bool):
    with _LOCK:
        pool = _worker_pool(payload)
        with pool:
            parts = [pool.store(c0, c1, n_rows, scores) for c0, c1 in _pieces(pool, b0, b1)]
    return np.concatenate([r for r, _ in parts]), (np.concatenate([s for _, s in parts]) if scores else None)


class DaskPool:
    """Chunks of blocks on a Dask cluster (the interface of :class:`~weightlab.robustness.pool.LocalPool`)."""

    in_process = False  # the workers return each task's counts (no rank log, no in-place adds)

    def __init__(self, plan, design, threads: int | None, scheduler) -> None:
        self.client, self.cluster, self.own_client = _client(scheduler)
        try:
            workers = self.client.scheduler_info()["workers"]
            if not workers:
                self.client.wait_for_workers(1, timeout=60)
                workers = self.client.scheduler_info()["workers"]
            self.n_workers = len(workers)
            # one future for the whole payload, under a key of its own (hash=False): a content-hashed
            # key would be shared with an earlier run's payload and released under this run's feet
            self.payload = self.client.scatter([(uuid.uuid4().hex, plan, design, threads)], broadcast=True,
                                               hash=False)[0]
            # a task holds TASK_CHUNKS of the smallest worker's chunks (a worker splits a task into chunks
            # that fit its per-thread counters): fewer, larger results to send and add
            self.n_slots = TASK_CHUNKS * (threads or min(w["nthreads"] for w in workers.values()))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "DaskPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.own_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def score_bins(self, reps: int) -> tuple[np.ndarray, np.ndarray]:
        return self.client.submit(_worker_score_bins, self.payload, reps, pure=False).result()

    def _ordered(self, submit, items):
        """Results of ``submit(item)`` in order, with a few tasks per worker in flight."""
        window = 2 * self.n_workers
        pending: deque = deque()
        items = iter(items)
        try:
            for item in items:
                pending.append((item, submit(item)))
                if len(pending) >= window:
                    item0, fut = pending.popleft()
                    yield item0, fut.result()
            while pending:
                item0, fut = pending.popleft()
                yield item0, fut.result()
        finally:  # the caller stopped early (converged) or failed: drop the rest
            for _, fut in pending:
                fut.cancel()

    def map_counts(self, ranges, reps: int, bins: tuple, bands):
        def submit(r):
            return self.client.submit(_worker_counts, self.payload, r[0], r[1], reps, bins, bands, pure=False)

        for (b0, b1), counts in self._ordered(submit, ranges):
            yield b0, b1, counts

    def map_store(self, ranges, n_rows: int, scores: bool):
        def submit(r):
            return self.client.submit(_worker_store, self.payload, r[0], r[1], n_rows, scores, pure=False)

        for (b0, b1), out in self._ordered(submit, ranges):
            yield b0, b1, out
