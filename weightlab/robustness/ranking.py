"""Exact competition ranking of a score vector, fast enough to run once per replication.

``rank_i = 1 + #{j : s_j > s_i}``: 1 is the highest score, exactly equal scores share the lowest
rank of their tie (pandas ``rank(ascending=False, method="min")``). NaN scores come after every
other score and share rank ``1 + #non-NaN``; ``+inf``/``-inf`` are ordinary values.

Technique (see PERF-NOTES): scores are mapped monotonically to 16-bit keys (linear in the score
between the finite minimum and maximum, best first), sorted by a two-pass LSD radix sort whose two
digit histograms are counted in one pass, then made exact: within each run of equal keys an
insertion sort orders units by the exact score, and ranks are assigned by exact comparison with
the previous score. Only numpy and numba are used; the functions are callable from other njit code.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_KEY_POS_INF = 0
_KEY_NEG_INF = 65534
_KEY_NAN = 65535
_FINITE_SPAN = 65532.0  # finite scores get keys 1 .. 65533


@nb.njit(cache=True)
def make_rank_workspace(n):
    """Scratch arrays for :func:`rank_min_into` on vectors of length ``n`` (allocate once)."""
    return (np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32),
            np.empty(512, dtype=np.int32), np.empty(n, dtype=np.int32), np.empty(n, dtype=np.float64))


@nb.njit(cache=True, nogil=True)
def _exact_ranks(scores, ranks, order, sorted_keys, m):
    """Make the first ``m`` entries of ``order`` (sorted by key, best first) exact, then rank them.

    Inside runs of equal keys an insertion sort orders units by the exact score (collisions are
    rare); ranks are then assigned by exact comparison with the previous score, so equal scores
    share the lowest rank of their tie.
    """
    for j in range(1, m):
        if sorted_keys[j] == sorted_keys[j - 1]:
            v = order[j]
            sv = scores[v]
            b = j - 1
            while b >= 0 and sorted_keys[b] == sorted_keys[j] and scores[order[b]] < sv:
                order[b + 1] = order[b]
                b -= 1
            order[b + 1] = v
    prev = np.nan
    rank = 0
    for j in range(m):
        i = order[j]
        s = scores[i]
        rank = j + 1 if s != prev else rank
        prev = s
        ranks[i] = rank


@nb.njit(cache=True, nogil=True)
def _rank_general(scores, ranks, ws):
    """Any scores, including NaN and infinities (linear 16-bit keys)."""
    keys, order_a, order_b, counts, sorted_keys, _ = ws
    n = scores.shape[0]
    if n == 0:
        return
    lo = np.inf
    hi = -np.inf
    for i in range(n):
        s = scores[i]
        if s - s == 0.0:  # finite
            lo = min(lo, s)
            hi = max(hi, s)
    half = 1.0 if hi - lo < np.inf else 0.5  # halve both ends if the range overflows a double
    span = hi * half - lo * half if hi > lo else 1.0
    inv = _FINITE_SPAN / span
    exact_div = not inv < np.inf  # a denormal span: divide instead of multiplying by 1/span
    for b in range(512):
        counts[b] = 0
    n_nan = 0
    for i in range(n):
        s = scores[i]
        if s - s == 0.0:
            d = hi * half - s * half
            k = 1 + min(int(d / span * _FINITE_SPAN if exact_div else d * inv), 65532)
        elif s != s:
            k = _KEY_NAN
            n_nan += 1
        elif s > 0:
            k = _KEY_POS_INF
        else:
            k = _KEY_NEG_INF
        keys[i] = k
        counts[k & 255] += 1
        counts[256 + (k >> 8)] += 1
    # exclusive prefix sums of both digit histograms
    t0 = 0
    t1 = 0
    for b in range(256):
        c0 = counts[b]
        counts[b] = t0
        t0 += c0
        c1 = counts[256 + b]
        counts[256 + b] = t1
        t1 += c1
    for i in range(n):
        d = keys[i] & 255
        order_a[counts[d]] = i
        counts[d] += 1
    for j in range(n):
        i = order_a[j]
        d = 256 + (keys[i] >> 8)
        order_b[counts[d]] = i
        counts[d] += 1
    m = n - n_nan
    for j in range(m):
        sorted_keys[j] = keys[order_b[j]]
    _exact_ranks(scores, ranks, order_b, sorted_keys, m)
    for j in range(m, n):
        ranks[order_b[j]] = m + 1


@nb.njit(cache=True, nogil=True)
def rank_min_into(scores, ranks, ws):
    """Write the competition ranks of ``scores`` (float64, length n) into ``ranks`` (int32).

    Finite scores (the usual case) take a fast path: one counting-sort pass on 8-bit keys
    ``floor(256 (1 - t**(1/4)))`` with ``t = (s - min) / (max - min)`` (best first), then an exact
    insertion sort inside each bucket. The fourth root spreads the crowded low end of heavy-tailed
    scores over many buckets and is monotone, so ranks stay exact. NaN or infinite scores go to
    the general path (16-bit linear keys, two LSD radix passes).
    """
    keys, order_a, order_b, counts, sorted_keys, tmp = ws
    n = scores.shape[0]
    if n < 4:
        _rank_general(scores, ranks, ws)
        return
    lo0 = lo1 = lo2 = lo3 = scores[0]
    hi0 = hi1 = hi2 = hi3 = scores[0]
    finite = 0
    m4 = n - n % 4
    for i in range(0, m4, 4):  # four independent chains: min/max are latency-bound
        a, b, c, d = scores[i], scores[i + 1], scores[i + 2], scores[i + 3]
        lo0 = min(lo0, a)
        lo1 = min(lo1, b)
        lo2 = min(lo2, c)
        lo3 = min(lo3, d)
        hi0 = max(hi0, a)
        hi1 = max(hi1, b)
        hi2 = max(hi2, c)
        hi3 = max(hi3, d)
        finite += (a - a == 0.0) + (b - b == 0.0) + (c - c == 0.0) + (d - d == 0.0)
    for i in range(m4, n):
        lo0 = min(lo0, scores[i])
        hi0 = max(hi0, scores[i])
        finite += scores[i] - scores[i] == 0.0
    lo = min(min(lo0, lo1), min(lo2, lo3))
    hi = max(max(hi0, hi1), max(hi2, hi3))
    span = hi - lo
    if finite < n or not span < np.inf:
        _rank_general(scores, ranks, ws)
        return
    inv = 1.0 / span if span > 0.0 else 0.0
    if not inv < np.inf:
        _rank_general(scores, ranks, ws)
        return
    for i in range(n):
        tmp[i] = 1.0 - math.sqrt(math.sqrt((scores[i] - lo) * inv))
    for i in range(n):
        keys[i] = min(int(tmp[i] * 256.0), 255)
    for b in range(256):
        counts[b] = 0
    for i in range(n):
        counts[keys[i]] += 1
    total = 0
    for b in range(256):
        c = counts[b]
        counts[b] = total
        total += c
    for i in range(n):
        k = keys[i]
        order_b[counts[k]] = i
        counts[k] += 1
    for j in range(n):
        sorted_keys[j] = keys[order_b[j]]
    _exact_ranks(scores, ranks, order_b, sorted_keys, n)
