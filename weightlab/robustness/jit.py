"""A one-line notice on stderr before the engine's kernels compile (first use, or after an upgrade).

numba compiles a kernel on its first call and caches it on disk (``cache=True``); on a cold cache
that takes tens of seconds with no output. :func:`notify_if_cold` prints one line to stderr (a
terminal, a pipe, a log file or a notebook's stderr alike) when a kernel about to be called has no
compiled version in this process and no valid cache entry (numba's cache index is missing or
stale for its source file).
"""

from __future__ import annotations

import sys

_NOTIFIED = False


COMPILE_NOTICE = ("weightlab: compiling the Monte Carlo kernels for first use (a minute or two on 2 cores; "
                  "cached for later runs)...")


def is_cold(dispatcher) -> bool:
    """True when calling ``dispatcher`` will compile: nothing compiled in this process and no
    usable entry in its on-disk cache."""
    if dispatcher.signatures:
        return False
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is None:  # no on-disk cache (cache=False): the first call compiles
        return True
    try:
        return not cache_file._load_index()  # {} when missing or stale (numba checks the source stamp)
    except Exception:  # another numba version's internals: say nothing rather than guess
        return False


def notify_if_cold(*dispatchers) -> bool:
    """Print the notice (once per process) if any of ``dispatchers`` will compile; return whether it did."""
    global _NOTIFIED
    if _NOTIFIED or not any(is_cold(d) for d in dispatchers):
        return False
    _NOTIFIED = True
    print(COMPILE_NOTICE, file=sys.stderr, flush=True)
    return True
