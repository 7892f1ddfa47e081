"""Coarse-then-exact rank counts: memory linear in units for any number of units.

With many units even the per-unit bands of :mod:`.bands` grow with n (on heavy-tailed data a
unit's ranks spread over a fixed share of all ranks), so counts are kept in two passes over the
same replications (the counter-based stream replays them exactly):

1. **coarse**: unit i counts its ranks in bins of ``2**shift[i]`` ranks over its pilot band
   ``lo[i] .. lo[i] + nbins[i] * 2**shift[i] - 1``, plus one bin for every rank below the band
   and one for every rank above, and the exact sum, minimum and maximum of its ranks. The bin
   width minimises ``nbins + len(quantiles) * width`` (about ``sqrt(band / quantiles)``); bands of
   at most ``EXACT_WIDTH`` ranks keep width 1 (exact).
2. **exact**: the coarse counts give, exactly, the bin that holds each reported quantile (inverted
   CDF: the first bin where the cumulative count reaches ``max(1, ceil(q N))``) and the bins that a
   top-k threshold splits; the replications are run again and count exact ranks inside those bins
   only (:class:`Segments`; the bins below and above the band span ``[min, lo - 1]`` and
   ``[band end, max]``, known exactly from pass 1).

Pass 2 need not run the replications again where pass 1 could keep their ranks: when the run
is counted on this machine's threads, pass 1 logs each replication's ranks of its last blocks
that fit its budget (:class:`RankLog`: 2 bytes per unit and replication; the budget is what
``memory.RUN_BYTES`` leaves after the run's other arrays, at most ``LOG_BYTES``: 100,000 units
and 25 indicators on one thread, the last 3,328 replications), and pass 2 counts the segments of
those blocks from the log and replays only the blocks before them (none when the whole run fits).

Quantiles, mean (exact sum / N), best and worst (exact min and max) and ``P(rank <= k)`` are then
exactly those of the dense histograms. Memory per unit is about ``2 sqrt(q W)`` cells for a band
of W ranks instead of W (100,000 units on the generated case: ~420 cells instead of ~14,000).
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
import pandas as pd

from .accumulators import COARSE
from .bands import CountSegments, RankBands, RankSummary, Segments, offsets
from .config import BAND_CELLS, COARSE_PILOT_REPS, EXACT_WIDTH, LOG_BYTES

_EMPTY = np.zeros(0, dtype=np.int64)


class CoarseBins(NamedTuple):
    """Per unit: first rank ``lo`` of the band, ``nbins`` bins of ``2**shift`` ranks; the unit's
    cells are ``[below, bin 1, ..., bin nbins, above]`` (``nbins + 2`` of them). ``rank_stats``
    are the exact sum, smallest and largest of each unit's ranks (a rank layout, :mod:`.bands`)."""

    lo: np.ndarray  # (n,) int64
    nbins: np.ndarray  # (n,) int64
    shift: np.ndarray  # (n,) int64

    name = "coarse"
    is_dense = False
    stat_names = ("rank_sum", "rank_min", "rank_max")
    exact_pass = False
    keeps_rank_log = True  # pass 1 may log its ranks for pass 2 (RankLog)

    @classmethod
    def from_bands(cls, bands: RankBands, n_quantiles: int) -> "CoarseBins":
        """Bins over ``bands`` with the width ``2**s`` that minimises ``ceil(W / 2**s) + n_quantiles * 2**s``."""
        w = bands.width
        s = np.arange(0, 31, dtype=np.int64)[:, None]
        cost = -(-w[None, :] // (1 << s)) + max(n_quantiles, 1) * (1 << s)
        shift = np.where(w <= EXACT_WIDTH, 0, cost.argmin(axis=0)).astype(np.int64)
        return cls(bands.lo.astype(np.int64), (-(-w // (1 << shift))).astype(np.int64), shift)

    @property
    def off(self) -> np.ndarray:
        return offsets(self.nbins + 2)

    @property
    def total(self) -> int:
        return int((self.nbins + 2).sum())

    def slot_shape(self, n: int) -> tuple:
        return (1, self.total)

    def kernel_arrays(self) -> tuple:
        """``(kind, off, lo, nbins, shift, ())`` for ``kernels._count_coarse``."""
        return COARSE, self.off[:-1].copy(), self.lo, self.nbins, self.shift, _EMPTY

    def histogram(self, counts: np.ndarray) -> np.ndarray:
        raise ValueError("coarse rank counts have no dense histogram: see rank_frequency's rank bins")

    def summary(self, acc, qs: np.ndarray, top_k: np.ndarray) -> RankSummary:
        n = self.lo.shape[0]
        return RankSummary(*coarse_summary(self, acc.counts.rank_counts, acc.counts.rank_stats, acc.exact,
                                           acc.exact_counts, qs, top_k, n))

    def frequency(self, acc, units: pd.Index) -> pd.DataFrame:
        """``unit, rank_lo, rank_hi, count`` of the non-empty rank bins (one rank per row where the
        exact pass counted it; ``unit`` categorical, ranks int32)."""
        unit, r_lo, r_hi, count = long_bins(self, acc.counts.rank_counts, acc.counts.rank_stats, acc.exact,
                                            acc.exact_counts, self.lo.shape[0])
        cats = pd.Categorical.from_codes(unit, categories=pd.Index(units))
        # the columns are this call's own arrays (350 MiB at 100,000 units): wrapped, not copied
        return pd.DataFrame({"unit": cats, "rank_lo": r_lo, "rank_hi": r_hi, "count": count}, copy=False)

    def batch_quantiles(self, counts, qs: np.ndarray, count: CountSegments) -> np.ndarray:
        """A ``--until-converged`` batch's exact quantiles from its coarse ``counts`` and its own
        exact pass (``count`` over the batch's blocks)."""
        n, no_k = self.lo.shape[0], np.zeros(0, dtype=np.int64)
        segments = select_segments(self, counts.rank_counts, counts.rank_stats, qs, no_k, n)
        exact, _ = count(segments)
        return coarse_summary(self, counts.rank_counts, counts.rank_stats, segments, exact, qs, no_k, n)[0]

    def finish(self, acc, count: CountSegments, points: tuple) -> None:
        """Pass 2: the segments that the summaries at ``points = (quantiles, top_k)`` need, and
        their exact counts (a run resumed from its final checkpoint has them already)."""
        if acc.exact is not None:
            return
        acc.exact = select_segments(self, acc.counts.rank_counts, acc.counts.rank_stats, *points, self.lo.shape[0])
        acc.exact_counts, acc.replayed_reps = count(acc.exact)
        acc.second_pass_units = int((np.diff(acc.exact.ptr) > 0).sum())


@nb.njit(inline="always")
def _bin_range(b, lo, nb_, s, rmin, rmax, n):
    """Ranks ``[first, last]`` of cell ``b`` of a unit (0: below the band, nb_ + 1: above)."""
    if b == 0:
        return rmin, lo - 1
    if b == nb_ + 1:
        return lo + (nb_ << s), rmax
    first = lo + ((b - 1) << s)
    return first, min(first + (1 << s) - 1, n)


@nb.njit(inline="always")
def _unit_total(counts, o, m):
    tot = 0
    for b in range(m):
        tot += counts[o + b]
    return tot


@nb.njit(inline="always")
def _target(q, tot):
    """Inverted-CDF target count of quantile ``q`` of ``tot`` counts (as :func:`.bands.band_quantiles`)."""
    return max(1, int(np.ceil(q * tot - 1e-9)))


@nb.njit(cache=True)
def _select(counts, off, lo, nbins, shift, stats, qs, top_k, n):
    """(n, len(qs) + len(top_k)) cells needing exact counts (-1: none): the cell holding each
    quantile, the non-empty cell a top-k threshold splits; cells one rank wide are exact already."""
    n_units = lo.shape[0]
    sel = np.full((n_units, qs.shape[0] + top_k.shape[0]), -1, dtype=np.int64)
    for i in range(n_units):
        o, m = off[i], nbins[i] + 2
        tot = _unit_total(counts, o, m)
        for j in range(qs.shape[0]):
            target = _target(qs[j], tot)
            c = 0
            for b in range(m):
                c += counts[o + b]
                if c >= target:
                    first, last = _bin_range(b, lo[i], nbins[i], shift[i], stats[1, i], stats[2, i], n)
                    if last > first:
                        sel[i, j] = b
                    break
        for j in range(top_k.shape[0]):
            k = top_k[j]
            for b in range(m):
                if counts[o + b] == 0:
                    continue
                first, last = _bin_range(b, lo[i], nbins[i], shift[i], stats[1, i], stats[2, i], n)
                if first <= k < last:
                    sel[i, qs.shape[0] + j] = b
                    break
    return sel


def select_segments(coarse: CoarseBins, counts: np.ndarray, stats: np.ndarray, qs: np.ndarray,
                    top_k: np.ndarray, n: int) -> Segments:
    """The :class:`Segments` of pass 2 from pass 1's ``counts`` and ``stats`` = (sum, min, max) of each unit's ranks."""
    sel = _select(counts, coarse.off, coarse.lo, coarse.nbins, coarse.shift, stats, np.asarray(qs, dtype=float),
                  np.asarray(top_k, dtype=np.int64), n)
    sel = np.sort(sel, axis=1)
    keep = sel >= 0
    keep[:, 1:] &= sel[:, 1:] != sel[:, :-1]  # each cell once
    unit, cell = np.nonzero(keep)
    b = sel[unit, cell]
    lo, nb_, s = coarse.lo[unit], coarse.nbins[unit], coarse.shift[unit]
    first = np.where(b == 0, stats[1, unit], np.where(b == nb_ + 1, lo + (nb_ << s), lo + ((b - 1) << s)))
    last = np.where(b == 0, lo - 1, np.where(b == nb_ + 1, stats[2, unit], np.minimum(first + (1 << s) - 1, n)))
    ptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64)
    return Segments(ptr, first.astype(np.int64), (last - first + 1).astype(np.int64))


@nb.njit(inline="always")
def _segment_of(first, s0, s1, seg_lo):
    for s in range(s0, s1):
        if seg_lo[s] == first:
            return s
    raise RuntimeError("a rank bin needed for an exact summary was not counted in the exact pass")


@nb.njit(cache=True)
def _summary(counts, off, lo, nbins, shift, stats, ptr, seg_lo, seg_off, seg_counts, qs, top_k, n):
    n_units = lo.shape[0]
    quant = np.zeros((n_units, qs.shape[0]), dtype=np.int64)
    below = np.zeros((n_units, top_k.shape[0]), dtype=np.int64)
    for i in range(n_units):
        o, m = off[i], nbins[i] + 2
        rmin, rmax = stats[1, i], stats[2, i]
        tot = _unit_total(counts, o, m)
        for j in range(qs.shape[0]):
            target = _target(qs[j], tot)
            c = 0
            for b in range(m):
                cb = counts[o + b]
                if c + cb >= target:
                    first, last = _bin_range(b, lo[i], nbins[i], shift[i], rmin, rmax, n)
                    if last == first:
                        quant[i, j] = first
                        break
                    s = _segment_of(first, ptr[i], ptr[i + 1], seg_lo)
                    for r in range(last - first + 1):
                        c += seg_counts[seg_off[s] + r]
                        if c >= target:
                            quant[i, j] = first + r
                            break
                    break
                c += cb
        for j in range(top_k.shape[0]):
            k = top_k[j]
            c = 0
            for b in range(m):
                if counts[o + b] == 0:
                    continue
                first, last = _bin_range(b, lo[i], nbins[i], shift[i], rmin, rmax, n)
                if last <= k:
                    c += counts[o + b]
                elif first <= k:
                    s = _segment_of(first, ptr[i], ptr[i + 1], seg_lo)
                    for r in range(k - first + 1):
                        c += seg_counts[seg_off[s] + r]
                    break
                else:
                    break
            below[i, j] = c
    return quant, below


def coarse_summary(coarse: CoarseBins, counts: np.ndarray, stats: np.ndarray, segments: Segments,
                   seg_counts: np.ndarray, qs: np.ndarray, top_k: np.ndarray, n: int):
    """``(quantiles (n, len(qs)), rank_sum, best, worst, below (n, len(top_k)))``, exact, as
    :func:`.bands.band_quantiles` and :func:`.bands.band_summary` give on dense counts."""
    quant, below = _summary(counts, coarse.off, coarse.lo, coarse.nbins, coarse.shift, stats, segments.ptr,
                            segments.lo, segments.off, seg_counts, np.asarray(qs, dtype=float),
                            np.asarray(top_k, dtype=np.int64), n)
    return quant, stats[0].copy(), stats[1].copy(), stats[2].copy(), below


@nb.njit(cache=True)
def _long_rows(counts, off, lo, nbins, shift, stats, ptr, seg_lo, seg_w, seg_off, seg_counts, n, fill,
               unit, r_lo, r_hi, cnt):
    k = 0
    for i in range(lo.shape[0]):
        o, m = off[i], nbins[i] + 2
        for b in range(m):
            cb = counts[o + b]
            if cb == 0:
                continue
            first, last = _bin_range(b, lo[i], nbins[i], shift[i], stats[1, i], stats[2, i], n)
            s = -1
            for t in range(ptr[i], ptr[i + 1]):
                if seg_lo[t] == first:
                    s = t
            if s < 0:
                if fill:
                    unit[k], r_lo[k], r_hi[k], cnt[k] = i, first, last, cb
                k += 1
                continue
            for r in range(seg_w[s]):
                c = seg_counts[seg_off[s] + r]
                if c > 0:
                    if fill:
                        unit[k], r_lo[k], r_hi[k], cnt[k] = i, first + r, first + r, c
                    k += 1
    return k


def long_bins(coarse: CoarseBins, counts: np.ndarray, stats: np.ndarray, segments: Segments,
              seg_counts: np.ndarray, n: int):
    """``(unit index, rank_lo, rank_hi, count)`` of the non-empty cells, unit by unit, ranks
    ascending: one rank each (``rank_lo == rank_hi``) where counted exactly, else a coarse bin
    (its ``[rank_lo, rank_hi]``; the cells below and above the band span the unit's exact lowest
    and highest rank)."""
    args = (counts, coarse.off, coarse.lo, coarse.nbins, coarse.shift, stats, segments.ptr, segments.lo,
            segments.width, segments.off, seg_counts, n)
    z32, z64 = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
    rows = _long_rows(*args, False, z32, z32, z32, z64)
    out = (np.empty(rows, dtype=np.int32), np.empty(rows, dtype=np.int32), np.empty(rows, dtype=np.int32),
           np.empty(rows, dtype=np.int64))
    _long_rows(*args, True, *out)
    return out


def empty_segments(n: int) -> Segments:
    """No exact cells (every needed cell is one rank wide)."""
    return Segments(np.zeros(n + 1, dtype=np.int64), _EMPTY, _EMPTY)


_LOG_SPAN = 65535  # a log entry holds rank - base in 0 .. _LOG_SPAN - 1; _LOG_SPAN: not representable
_LOG_TILE = 512  # units counted together from the log (their segment counts: ~400 KB at 100,000 units)


class RankLog(NamedTuple):
    """Pass 1's ranks of blocks ``first[0] .. first[0] + rows.shape[0] - 1`` (the run's last ones),
    kept for pass 2: ``rows[j, i, q]`` is ``rank - base[i]`` of unit i in row q of block ``first[0]
    + j`` (16 bits: 65535 where the rank is outside ``base[i] .. base[i] + 65534``), unit-major so
    that pass 1 writes and pass 2 reads one unit's 128 entries at a time. The rows of a block are in
    the kernel's order of its replications, which counts do not depend on."""

    rows: np.ndarray  # (L, n, block) uint16
    base: np.ndarray  # (n,) int64
    first: np.ndarray  # (1,) int64

    @classmethod
    def for_run(cls, coarse: CoarseBins, n_blocks: int, block: int, budget: int | None = None) -> "RankLog":
        """The log of the last blocks of ``n_blocks`` that fit ``budget`` bytes (default ``LOG_BYTES``);
        each unit's window of 65,535 ranks is centred on its band (all ranks when n <= 65,535)."""
        n = coarse.lo.shape[0]
        budget = LOG_BYTES if budget is None else budget
        rows = min(n_blocks, budget // (2 * max(n, 1) * block))
        centre = coarse.lo + ((coarse.nbins << coarse.shift) >> 1)
        base = np.clip(centre - _LOG_SPAN // 2, 1, max(1, n - _LOG_SPAN + 1)).astype(np.int64)
        return cls(np.empty((rows, n, block), dtype=np.uint16), base, np.array([n_blocks - rows], dtype=np.int64))

    @property
    def n_blocks(self) -> int:
        return int(self.rows.shape[0])

    def kernel_arrays(self) -> tuple:
        """``(log, log_base, log_first)`` of the kernels' band arrays (``kernels._count_coarse``)."""
        return self.rows, self.base, self.first

    def covers(self, segments: Segments) -> bool:
        """Whether every segment lies inside its unit's window (else pass 2 replays every block)."""
        unit = np.repeat(np.arange(self.base.shape[0]), np.diff(segments.ptr))
        a = segments.lo - self.base[unit]
        return bool(((a >= 0) & (a + segments.width <= _LOG_SPAN)).all())

    def count(self, exact: np.ndarray, segments: Segments, reps: int, n_parts: int = 1) -> None:
        """Add the logged blocks' ranks inside ``segments`` to ``exact`` (the flat segment counts),
        units split over ``n_parts`` threads (each unit's counts are its own: any split gives the
        same counts)."""
        from .parallel import run_split

        off, rows = segments.off, self.rows
        run_split(lambda t, u0, u1: _count_logged(exact, off, segments.lo, segments.width, segments.ptr, rows,
                                                   self.base, int(self.first[0]), reps, u0, u1),
                  self.base.shape[0], n_parts)


NO_LOG = RankLog(np.zeros((0, 0, 0), dtype=np.uint16), _EMPTY, np.zeros(1, dtype=np.int64))


@nb.njit(cache=True, nogil=True)
def _count_logged(flat, off, lo, width, ptr, rows, base, first, reps, u0, u1):
    """``flat[off[s] + rank - lo[s]] += 1`` for the logged ranks (:class:`RankLog`) of units
    ``u0 .. u1 - 1`` inside their segments, as ``kernels._count_segments`` counts them in a replay.

    Tiles of ``_LOG_TILE`` units, block by block inside a tile: each block's entries of the tile
    are read in one run (unit by unit over all blocks, reads far apart with many units, is
    slower) and the tile's segment counts stay in the L2 cache."""
    block = rows.shape[2]
    for t0 in range(u0, u1, _LOG_TILE):
        for j in range(rows.shape[0]):
            nq = min(block, reps - (first + j) * block)
            for i in range(t0, min(u1, t0 + _LOG_TILE)):
                row = rows[j, i]
                for s in range(ptr[i], ptr[i + 1]):
                    a, w, o = lo[s] - base[i], np.uint64(width[s]), off[s]
                    for q in range(nq):
                        k = np.uint64(np.int64(row[q]) - a)  # below the segment: wraps around to a huge k
                        if k < w:
                            flat[o + k] += 1


LAYOUTS = {"dense": RankBands, "bands": RankBands, "coarse": CoarseBins, "segments": Segments}  # by their names
