"""Exact competition ranking of a score vector, fast enough to run once per replication.

``rank_i = 1 + #{j : s_j > s_i}``: 1 is the highest score, exactly equal scores share the lowest
rank of their tie (pandas ``rank(ascending=False, method="min")``). NaN scores come after every
other score and share rank ``1 + #non-NaN``; ``+inf``/``-inf`` are ordinary values.

Technique (see PERF-NOTES): scores are mapped monotonically to 16-bit keys, best first, sorted by a
two-pass LSD radix sort whose two digit histograms are counted in one pass, then made exact: equal
scores have equal keys, so position j in key order is rank j + 1 except inside runs of equal keys,
whose units are ordered by their exact score (insertion sort; Shell sort for the rare long run) and
ranked by exact comparison with the previous score. Every pass is a loop LLVM can compile tightly:
min and max are taken on integer images of the scores' bits (vectorised), the sort moves
``key << 32 | unit`` entries, and the runs are found by scanning flags eight at a time.

The key of a finite score is read off the bits of ``float32(t)``, ``t = (s - min) / (max - min)``:
exponent and top 12 mantissa bits, i.e. 4096 keys per octave over the 15 octaves below 1 (smaller
``t`` share one key). Such logarithmic keys spread heavy-tailed scores (a few leaders, a crowd near
the bottom, typical of city rankings) as well as even ones: on the built-in data about one unit in
a hundred shares its key with another, against three in four for linear 8-bit keys. Rounding to
float32 is monotone, so equal keys only mean "close", never "out of order", and ranks stay exact.

Many units (from ``WIDE_UNITS``): 16-bit keys then lump many units together (at 100,000 units of
the generated benchmark case three in four share a key) and sorting the runs by exact score, with
random reads of scores that no longer fit the L2 cache, dominates. :func:`rank_finite_wide` uses
22-bit keys (18 mantissa bits, 64x finer) in two radix passes of 11 bits. The type of the buffers
(:func:`rank_buffers`: uint64 rows for wide workspaces) selects the kernel when compiling, so a
plan with fewer units never compiles the wide one; both give the same exact ranks.
Only numpy and numba are used; the functions are callable from other njit code.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

from .config import WIDE_UNITS

_OCTAVES = 15  # t in [2**-15, 1] gets 2**bits keys per octave; smaller t share the last key
_BITS = 12  # mantissa bits of float32(t) in a key: 4096 keys per octave, last key 61440 < 2**16
_KEY_POS_INF = 0
_KEY_NEG_INF = 65534
_KEY_NAN = 65535
_FINITE_SPAN = 65532.0  # general path: finite scores get keys 1 .. 65533


_WIDE_DIGIT = 11  # its radix sort's digit: two passes of 11 bits
_WIDE_BITS = 18  # mantissa bits of float32(t) in a wide key: 2**18 keys per octave, last key 3,932,160 < 2**22

_PHASE = 128  # 4-byte entries: consecutive scratch arrays start 512 bytes apart modulo 4 KB


_INT64_MAX = 0x7FFFFFFFFFFFFFFF
_EXPONENT = 0x7FF0000000000000  # exponent bits: all set for infinities and NaNs


@nb.njit(inline="always")
def _ordered_bits(b):
    """Map the bits ``b`` of a double, read as int64, to an int64 in the order of the doubles
    (negative doubles have their magnitude bits flipped). Its own inverse."""
    return b ^ ((b >> 63) & _INT64_MAX)


@nb.njit(cache=True)
def _stride(n):
    """Spacing (uint32 entries) of the scratch arrays of :func:`rank_workspace`."""
    return -(-max(n, 512) // 1024) * 1024 + _PHASE


def rank_buffers(n: int, n_slots: int) -> np.ndarray:
    """``n_slots`` buffers (rows) for :func:`rank_workspace` on vectors of length ``n``: uint32 rows,
    or from ``WIDE_UNITS`` units uint64 rows, whose workspace selects :func:`rank_finite_wide`
    (the buffer's type picks the kernel at compile time, so plans with fewer units never compile it)."""
    stride = _stride(n)
    if n >= WIDE_UNITS:
        return np.empty((n_slots, _wide_words(stride)), dtype=np.uint64)
    return np.empty((n_slots, _narrow_words(stride)), dtype=np.uint32)


def rank_workspace(buf, n):
    """Scratch arrays for :func:`rank_min_into` on vectors of length ``n``, in one row ``buf`` of
    :func:`rank_buffers` (callable from njit code only).

    ``(keys, packed_a, packed_b, counts, t32, same)``: ``keys`` and ``counts`` are uint32, the
    sort's entries ``key << 32 | unit`` uint64, ``same`` uint8 (``8 * ceil(n / 8)`` flags of equal
    neighbouring keys). With ``stride = ceil(n / 1024) * 1024 + 128`` uint32 entries, the arrays
    start at 0, 1, 3, 5, 6 and 7 strides, so at different offsets modulo 4 KB: loads whose address
    matches an in-flight store's modulo 4 KB wait for it ("4K aliasing"); with unlucky separate
    allocations this made the ranking much slower. The arrays are unsigned: numba then indexes
    with them without a test for negative indices (wraparound), which is faster.
    A wide buffer (uint64 rows) gives the same arrays with ``counts`` of ``2 * 2**_WIDE_DIGIT``
    entries at 8 strides plus 64, and an empty seventh array that marks the workspace as wide.
    """
    raise NotImplementedError("rank_workspace is called from njit code; use make_rank_workspace")


@nb.njit(cache=True, inline="always")
def _narrow_words(stride):
    """Length (uint32 entries) of a narrow buffer's row: eight strides."""
    return 8 * stride


@nb.njit(cache=True, inline="always")
def _wide_counts_at(stride):
    """Where (uint32 entries) a wide workspace's ``counts`` start: after the other arrays, 256 bytes in."""
    return 8 * stride + 64


def _wide_words(stride: int) -> int:
    """Length (uint64 entries) of a wide buffer's row."""
    return (_wide_counts_at(stride) + (2 << _WIDE_DIGIT) + 1) // 2


@nb.njit(inline="always")
def _workspace_arrays(b, n, c0, n_counts):
    stride = _stride(n)
    n_words = -(-n // 8)
    return (b[:n], b[stride:stride + 2 * n].view(np.uint64), b[3 * stride:3 * stride + 2 * n].view(np.uint64),
            b[c0:c0 + n_counts], b[6 * stride:6 * stride + n].view(np.float32),
            b[7 * stride:7 * stride + 2 * n_words].view(np.uint8))


@overload(rank_workspace, jit_options={"cache": True})
def _rank_workspace_impl(buf, n):
    if buf.dtype == types.uint64:
        def wide(buf, n):
            return _workspace_arrays(buf.view(np.uint32), n, _wide_counts_at(_stride(n)), 2 << _WIDE_DIGIT) + (buf[:0],)
        return wide

    def narrow(buf, n):
        return _workspace_arrays(buf, n, 5 * _stride(n), 512)
    return narrow


@nb.njit(cache=True)
def _workspace(buf, n):
    return rank_workspace(buf, n)


@nb.njit(cache=True)
def make_rank_workspace(n):
    """:func:`rank_workspace` in a buffer of its own (allocate once, reuse for every vector)."""
    return rank_workspace(np.empty(_narrow_words(_stride(n)), dtype=np.uint32), n)


def make_wide_rank_workspace(n: int):
    """A wide workspace (:func:`rank_finite_wide`) in a buffer of its own, for any ``n``."""
    return _workspace(np.empty(_wide_words(_stride(n)), dtype=np.uint64), n)


_UNIT = np.uint64(0xFFFFFFFF)  # unit index of a sort entry
_32 = np.uint64(32)


@nb.njit(cache=True, inline="always")
def _radix_sort(keys, packed_a, packed_b, counts, n, digit=8):
    """Stable LSD radix sort of ``2 * digit``-bit ``keys`` (two digits, both counted in one pass;
    ``counts`` holds ``2 << digit`` entries): ``packed_b`` gets the entries ``key << 32 | unit`` in
    key order. Carrying the key with the unit saves looking it up again in the second pass.
    ``digit`` is a constant of each caller (8, or ``_WIDE_DIGIT``), folded when inlined."""
    nd = 1 << digit
    mask = nd - 1
    hi_shift = np.uint64(32 + digit)
    for b in range(2 * nd):
        counts[b] = 0
    for i in range(n):
        k = keys[i]
        counts[k & mask] += 1
        counts[nd + (k >> digit)] += 1
    t0 = 0
    t1 = 0
    for b in range(nd):  # exclusive prefix sums of both digit histograms
        c0 = counts[b]
        counts[b] = t0
        t0 += c0
        c1 = counts[nd + b]
        counts[nd + b] = t1
        t1 += c1
    for i in range(n):
        k = keys[i]
        d = k & mask
        pos = counts[d]
        packed_a[pos] = (np.uint64(k) << _32) | np.uint64(i)
        counts[d] = pos + 1
    for j in range(n):
        v = packed_a[j]
        d = nd + (v >> hi_shift)
        pos = counts[d]
        packed_b[pos] = v
        counts[d] = pos + 1


@nb.njit(inline="always")
def _sort_run(scores, order, a, b):
    """Order the sort entries ``order[a:b]`` (equal keys) by descending exact score, in place (no
    allocation, no calls).

    Shell sort with gaps 1, 4, 13, 40, ... (Knuth): insertion sort for the usual short runs,
    O(n**1.5) for the rare long ones.
    """
    gap = 1
    while gap < (b - a) // 3:
        gap = 3 * gap + 1
    while gap > 0:
        for j in range(a + gap, b):
            v = order[j]
            sv = scores[v & _UNIT]
            c = j - gap
            while c >= a and scores[order[c] & _UNIT] < sv:
                order[c + gap] = order[c]
                c -= gap
            order[c + gap] = v
        gap //= 3


@nb.njit(cache=True, inline="always")
def _exact_ranks(scores, ranks, order, same, m):
    """Ranks of the units of the first ``m`` sort entries ``order`` (sorted by key, best first), made exact.

    Position ``j`` gets rank ``j + 1``. Equal scores have equal keys, so only runs of equal keys can
    be out of order or tied: each run is ordered by the exact score, and equal scores in it share
    the lowest rank of their tie. The runs (about five per vector of 338 here) are found through
    ``same[j] = key[j] == key[j - 1]``, computed in one vectorised pass and scanned eight flags at a
    time: with a scalar scan of every key this function took a third longer.
    """
    for j in range(m):
        ranks[order[j] & _UNIT] = j + 1
    n_words = (m + 7) // 8
    if m > 0:
        same[0] = 0
    for j in range(1, m):
        same[j] = (order[j] >> _32) == (order[j - 1] >> _32)
    for j in range(m, 8 * n_words):
        same[j] = 0
    words = same[:8 * n_words].view(np.uint64)
    j = 1
    for w in range(n_words):
        if words[w] == 0:
            continue
        j = max(j, 8 * w)
        while j < 8 * w + 8:
            if same[j] == 0:
                j += 1
                continue
            a = j - 1
            b = j + 1
            while b < m and (order[b] >> _32) == (order[a] >> _32):
                b += 1
            _sort_run(scores, order, a, b)
            prev = np.nan
            rank = 0
            for c in range(a, b):
                i = order[c] & _UNIT
                s = scores[i]
                rank = c + 1 if s != prev else rank
                prev = s
                ranks[i] = rank
            j = b + 1


@nb.njit(cache=True)
def rank_general(scores, ranks, ws):
    """Any scores, including NaN and infinities (linear 16-bit keys)."""
    keys, packed_a, packed_b, counts, _, same = ws[:6]
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
    _radix_sort(keys, packed_a, packed_b, counts, n)
    m = n - n_nan
    _exact_ranks(scores, ranks, packed_b, same, m)
    for j in range(m, n):
        ranks[packed_b[j] & _UNIT] = m + 1


@nb.njit(cache=True)
def rank_min_into(scores, ranks, ws):
    """Write the competition ranks of ``scores`` (float64, length n) into ``ranks`` (int32).

    Finite scores (the usual case) take the fast path (:func:`rank_finite`, or
    :func:`rank_finite_wide` with a wide workspace); NaN or infinite
    scores, or a range that overflows, the general path (linear 16-bit keys with NaN and
    infinities placed at the ends).
    """
    if not rank_finite_for(scores, ranks, ws):
        rank_general(scores, ranks, ws)


@nb.njit(inline="always")
def _unit_interval(scores, t32, counts):
    """``t32[i] = float32((s_i - min) / (max - min))`` (0 when all are equal); False (``t32``
    untouched) unless every score is finite and the range and its inverse are finite.

    Min, max and the finite test run on the integer images of the scores' bits (see
    :func:`_ordered_bits`): integer min/max vectorise, float ones (NaN rules) do not; twice as fast.
    ``counts[:4]`` is scratch (the radix sort clears it) for the bits back to floats."""
    n = scores.shape[0]
    score_bits = scores.view(np.int64)
    lo_k = _INT64_MAX
    hi_k = -_INT64_MAX - 1
    special = 0  # infinities and NaNs
    for i in range(n):
        b = score_bits[i]
        k = _ordered_bits(b)
        lo_k = min(lo_k, k)
        hi_k = max(hi_k, k)
        special += (b & _EXPONENT) == _EXPONENT
    if special > 0:
        return False
    pair = counts[:4].view(np.int64)
    pair[0] = _ordered_bits(lo_k)
    pair[1] = _ordered_bits(hi_k)
    lo = pair.view(np.float64)[0]
    hi = pair.view(np.float64)[1]
    span = hi - lo
    if not span < np.inf:
        return False
    inv = 1.0 / span if span > 0.0 else 0.0
    if not inv < np.inf:
        return False
    for i in range(n):
        t32[i] = np.float32((scores[i] - lo) * inv)
    return True


@nb.njit(inline="always")
def _rank_finite_keys(scores, ranks, ws, bits_per_octave, digit):
    """The fast path with keys of ``bits_per_octave`` mantissa bits of ``float32(t)``, ``t = (s -
    min) / (max - min)``: key ``last - clamp(bits(t) >> (23 - m) - base, 0, last)`` with ``base``
    the bits of ``t = 2**-15`` and ``last = 15 * 2**m`` (t = 1 gets key 0, t < 2**-15 the last
    key), sorted by two radix passes of ``digit`` bits. Both are constants of each caller, folded
    when inlined. The bits of a non-negative float32 are monotone in its value."""
    keys, packed_a, packed_b, counts, t32, same = ws[:6]
    n = scores.shape[0]
    if n == 0 or not _unit_interval(scores, t32, counts):
        return False
    base = (127 - _OCTAVES) << bits_per_octave
    last = _OCTAVES << bits_per_octave
    bits = t32.view(np.int32)
    for i in range(n):
        k = (bits[i] >> (23 - bits_per_octave)) - base
        keys[i] = last - min(max(k, 0), last)
    _radix_sort(keys, packed_a, packed_b, counts, n, digit)
    _exact_ranks(scores, ranks, packed_b, same, n)
    return True


@nb.njit(cache=True)
def rank_finite(scores, ranks, ws):
    """Fast path of :func:`rank_min_into`; returns False (ranks untouched) unless every score is finite.

    Logarithmic 16-bit keys from the float32 bits of ``(s - min) / (max - min)`` (see the module
    docstring). Calls nothing and allocates nothing, so it is cheap to call once per replication.
    """
    return _rank_finite_keys(scores, ranks, ws, _BITS, 8)


@nb.njit(cache=True)
def rank_finite_wide(scores, ranks, ws):
    """:func:`rank_finite` with 22-bit keys (``_WIDE_BITS`` = 18 mantissa bits of ``float32(t)``,
    2**18 keys per octave over the same 15 octaves), sorted by two radix passes of 11 bits, for
    many units (wide workspace of :func:`rank_buffers`, from ``WIDE_UNITS`` units).

    With 16-bit keys, 100,000 heavy-tailed scores (the generated benchmark case) share 26,562
    keys: three units in four sit in a run of equal keys, which is sorted by exact score with
    random reads of the scores (outside the L2 cache at that size): the runs cost most of the
    ranking. With 64x finer keys almost every key holds one unit, and the two 2,048-bucket passes
    cost about what the 256-bucket ones did (figures: docs/performance.md).
    """
    return _rank_finite_keys(scores, ranks, ws, _WIDE_BITS, _WIDE_DIGIT)


def rank_finite_for(scores, ranks, ws):
    """:func:`rank_finite` for a workspace of :func:`rank_buffers` on fewer than ``WIDE_UNITS``
    units, :func:`rank_finite_wide` for a wide one (chosen when compiling; njit code only)."""
    raise NotImplementedError("rank_finite_for is called from njit code")


@overload(rank_finite_for, jit_options={"cache": True})
def _rank_finite_for_impl(scores, ranks, ws):
    if len(ws) == 7:
        return lambda scores, ranks, ws: rank_finite_wide(scores, ranks, ws)
    return lambda scores, ranks, ws: rank_finite(scores, ranks, ws)
