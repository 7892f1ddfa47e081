"""Counter-based random numbers of the engine (numba; numpy and numba only).

``u(seed, r, i)`` is a splitmix64 hash of (seed, replication ``r``, draw index ``i``), so a
replication's numbers do not depend on the thread, chunk or block that computes it: results are
bit-identical for any thread count and chunk size. The stream layout (which ``i`` serves which
factor) is fixed, so adding a factor never shifts another factor's numbers. Each factor's index is
its ``stream`` in the factor table (:mod:`weightlab.robustness.factors`):

=====================  ===========================================
``i``                  use
=====================  ===========================================
0                      imputation choice
1                      normalizer choice
2                      weighting-scheme choice
3                      dropped indicator
4                      treatment choice
5                      denomination choice
8 + level              aggregator of an aggregation level
64 + node              uniform weight noise of a node
2**20 + node << 12 + t Dirichlet (gamma) draws of a node
2**32 + unit draw      bootstrap resample of units
=====================  ===========================================

Steele, Lea & Flood (2014), "Fast splittable pseudorandom number generators" (splitmix64);
Marsaglia & Tsang (2000) for the gamma variates.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .factors import BY_NAME

STREAM_NOISE = BY_NAME["weights"].stream  # + node
STREAM_DIRICHLET = 1 << 20  # + node << 12 + draw
STREAM_BOOTSTRAP = BY_NAME["bootstrap"].stream  # + unit draw

GOLD = np.uint64(0x9E3779B97F4A7C15)
GOLD2 = np.uint64(0xD1B54A32D192ED03)


@nb.njit(inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True)
def replication_key(seed, r):
    """Key of replication ``r``: splitmix64(seed ^ splitmix64((r + 1) * GOLD))."""
    return _mix(np.uint64(seed) ^ _mix((np.uint64(r) + np.uint64(1)) * GOLD))


@nb.njit(inline="always")
def uniform_at(key, i):
    """Uniform in [0, 1): top 53 bits of splitmix64(key + (i + 1) * GOLD2)."""
    z = _mix(key + (np.uint64(i) + np.uint64(1)) * GOLD2)
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True, inline="always")
def uniforms_into(key, first, out, start, count):
    """``out[start + t] = uniform_at(key, first + t)`` for t < count (a loop LLVM vectorises)."""
    base = key + np.uint64(first) * GOLD2
    for t in range(count):
        z = _mix(base + (np.uint64(t) + np.uint64(1)) * GOLD2)
        out[start + t] = float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(inline="always")
def key_of(seed, u):
    """A stream key from a design's uniform ``u`` in [0, 1): splitmix64(seed ^ floor(u * 2**53)).

    Inputs that need many random numbers (a bootstrap resample, gamma variates) take one design
    column as a key and draw from its counter-based stream (see :mod:`weightlab.robustness.columns`).
    """
    return _mix(np.uint64(seed) ^ np.uint64(u * 9007199254740992.0))


@nb.njit(cache=True)
def uniform(seed, r, i):
    """The engine's uniform number ``i`` of replication ``r`` (for tests and debugging)."""
    return uniform_at(replication_key(seed, r), i)


@nb.njit(inline="always")
def pick(u, cdf):
    """Index of the first cdf entry > u (cdf ends with 1.0)."""
    for j in range(cdf.shape[0] - 1):
        if u < cdf[j]:
            return j
    return cdf.shape[0] - 1


@nb.njit(inline="always")
def _normal(key, base, counter):
    """Standard normal by Box-Muller from two uniforms of the stream (uses 2 draws)."""
    u1 = uniform_at(key, base + counter)
    u2 = uniform_at(key, base + counter + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@nb.njit(inline="always")
def gamma(key, base, alpha):
    """Gamma(alpha, 1) by Marsaglia and Tsang (2000); alpha < 1 boosted by U**(1/alpha)."""
    boost = 1.0
    counter = 0
    if alpha < 1.0:
        boost = (1.0 - uniform_at(key, base)) ** (1.0 / alpha)
        counter = 1
        alpha += 1.0
    d = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = _normal(key, base, counter)
        counter += 2
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform_at(key, base + counter)
        counter += 1
        if math.log(u + 1e-300) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost
