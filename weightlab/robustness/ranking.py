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

import numba as nb
import numpy as np

_KEY_POS_INF = 0
_KEY_NEG_INF = 65534
_KEY_NAN = 65535
_FINITE_SPAN = 65532.0  # finite scores get keys 1 .. 65533


@nb.njit(cache=True)
def make_rank_workspace(n):
    """Scratch arrays for :func:`rank_min_into` on vectors of length ``n`` (allocate once)."""
    return (np.empty(n, dtype=np.uint16), np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32),
            np.empty(512, dtype=np.int32))


@nb.njit(cache=True, nogil=True)
def rank_min_into(scores, ranks, ws):
    """Write the competition ranks of ``scores`` (float64, length n) into ``ranks`` (int32)."""
    keys, order_a, order_b, counts = ws
    n = scores.shape[0]
    if n == 0:
        return
    lo = np.inf
    hi = -np.inf
    for i in range(n):
        s = scores[i]
        if s > -np.inf and s < np.inf:
            if s < lo:
                lo = s
            if s > hi:
                hi = s
    half = 1.0 if hi - lo < np.inf else 0.5  # halve both ends if the range overflows a double
    span = hi * half - lo * half if hi > lo else 1.0  # a division (not 1/span) also copes with denormals
    for b in range(512):
        counts[b] = 0
    for i in range(n):
        s = scores[i]
        if s != s:
            k = _KEY_NAN
        elif s == np.inf:
            k = _KEY_POS_INF
        elif s == -np.inf:
            k = _KEY_NEG_INF
        else:
            k = 1 + min(int((hi * half - s * half) / span * _FINITE_SPAN), 65532)
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
    # exact fix-up inside runs of equal keys (best first), then min-ranks by exact comparison
    j = 0
    while j < n:
        k = keys[order_b[j]]
        e = j + 1
        while e < n and keys[order_b[e]] == k:
            e += 1
        if e - j > 1 and k != _KEY_NAN:
            for a in range(j + 1, e):
                v = order_b[a]
                sv = scores[v]
                b = a - 1
                while b >= j and scores[order_b[b]] < sv:
                    order_b[b + 1] = order_b[b]
                    b -= 1
                order_b[b + 1] = v
        j = e
    prev = scores[order_b[0]]
    rank = 1
    ranks[order_b[0]] = 1
    for j in range(1, n):
        i = order_b[j]
        s = scores[i]
        if not (s == prev or (s != s and prev != prev)):
            rank = j + 1
            prev = s
        ranks[i] = rank
