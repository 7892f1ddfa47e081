"""Rank bands: each unit counts its ranks only inside the range it can reach.

With many units a dense units x ranks histogram is quadratic in memory (30,000 units: 7 GiB of
int64 counts, and as much per thread). Unit i instead counts ranks ``lo[i] .. lo[i] + width[i] -
1`` (its *band*), stored one unit after the other in one flat array (unit i from ``off[i]``).
Bands come from the ranks of the first ``PILOT_REPS`` replications, widened by half of their range
on each side and by at least ``MIN_PAD`` ranks (clipped to 1..n). A rank outside its unit's band is
counted apart, with the range of such ranks; the engine then runs the replications again for just
those units' counts, over bands that hold every rank they took (a second, exact pass), so
quantiles, means, best and worst ranks and the rank frequencies stay exact. Dense histograms are
the band ``1 .. n`` of every unit. When the bands themselves grow too large (a unit's ranks spread
over a fixed share of n), the engine counts coarse bins, then exact ranks where the summaries need
them (:mod:`.coarse`).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Protocol

import numba as nb
import numpy as np
import pandas as pd

from .accumulators import BANDS, DENSE, NO_RANK_MIN, SEGMENTS
from .config import BAND_UNITS, MIN_PAD, PAD


def offsets(width: np.ndarray) -> np.ndarray:
    """(len(width) + 1,) start of each run of ``width`` cells in a flat array (and the total)."""
    return np.concatenate([[0], np.cumsum(width)]).astype(np.int64)


class RankSummary(NamedTuple):
    """Per unit, exact: rank ``quantiles`` (n, len(qs)), ``rank_sum``, ``best`` and ``worst`` rank,
    and ``below`` (n, len(top_k)) the counts of ranks <= each k."""

    quantiles: np.ndarray
    rank_sum: np.ndarray
    best: np.ndarray
    worst: np.ndarray
    below: np.ndarray


CountSegments = Callable[["Segments"], "tuple[np.ndarray, int]"]  # the engine's exact pass: (counts, replayed)


class RankLayout(Protocol):
    """How a run counts ranks: :class:`RankBands` (dense histograms, or per-unit bands),
    :class:`.coarse.CoarseBins` (coarse bins, then exact segments) and :class:`Segments` (the
    exact pass). Callers use these members only, never the layout's type; a layout's fields (it is
    a NamedTuple) are its checkpoint arrays."""

    name: str  # "dense", "bands", "coarse" or "segments" (coarse.LAYOUTS: the class of each)
    stat_names: tuple  # what the rows of the rank_stats accumulator hold
    exact_pass: bool  # counts ranks and no other accumulator
    keeps_rank_log: bool  # pass 1 may log its ranks for the exact pass (coarse.RankLog)
    total: int  # cells of the flat rank counts
    off: np.ndarray  # (n + 1,) start of each unit's (segment's) cells

    def slot_shape(self, n: int) -> tuple:
        """One thread's rank counts (the kernels' ``acc.rank_counts``)."""

    def kernel_arrays(self) -> tuple:
        """``(kind, off, lo, width, shift, ptr)`` of :class:`~.accumulators.LayoutArrays`."""

    def histogram(self, counts: np.ndarray) -> np.ndarray:
        """The (units x ranks) histogram of flat rank counts."""

    def summary(self, acc, qs: np.ndarray, top_k: np.ndarray) -> RankSummary:
        """The exact rank summary of a run's accumulators."""

    def frequency(self, acc, units: pd.Index) -> pd.DataFrame:
        """The rank frequency table of a run's accumulators."""

    def batch_quantiles(self, counts, qs: np.ndarray, count: CountSegments) -> np.ndarray:
        """A ``--until-converged`` batch's (units, quantiles) estimates from its counts."""

    def finish(self, acc, count: CountSegments, points: tuple) -> None:
        """The exact pass, if the layout needs one, into ``acc``."""


class RankBands(NamedTuple):
    """Per-unit first rank ``lo`` (1-based) and ``width`` of the counted ranks; ``rank_stats`` are
    the count, smallest and largest of each unit's ranks outside its band."""

    lo: np.ndarray  # (n,) int64
    width: np.ndarray  # (n,) int64

    @classmethod
    def dense(cls, n: int) -> "RankBands":
        return cls(np.ones(n, dtype=np.int64), np.full(n, n, dtype=np.int64))

    @classmethod
    def from_pilot(cls, rmin: np.ndarray, rmax: np.ndarray, n: int) -> "RankBands":
        """Bands of ranks ``[rmin, rmax]`` widened by ``max(MIN_PAD, PAD * (rmax - rmin))`` each side."""
        pad = np.maximum(MIN_PAD, np.ceil(PAD * (rmax - rmin))).astype(np.int64)
        lo = np.maximum(1, rmin - pad)
        hi = np.minimum(n, rmax + pad)
        return cls(lo.astype(np.int64), (hi - lo + 1).astype(np.int64))

    @property
    def off(self) -> np.ndarray:
        """(n + 1,) start of each unit's counts in the flat array (and the total)."""
        return offsets(self.width)

    @property
    def total(self) -> int:
        return int(self.width.sum())

    @property
    def is_dense(self) -> bool:
        n = self.lo.shape[0]
        return bool((self.lo == 1).all() and (self.width == n).all())

    @property
    def name(self) -> str:
        return "dense" if self.is_dense else "bands"

    stat_names = ("outside_count", "outside_min", "outside_max")
    exact_pass = False  # counts every accumulator (the exact pass counts ranks only)
    keeps_rank_log = False  # (coarse counts' pass 1 may log its ranks for pass 2)

    def slot_shape(self, n: int) -> tuple:
        return (n, n) if self.is_dense else (1, self.total)

    def kernel_arrays(self) -> tuple:
        """``(kind, off, lo, width, (), ())`` for the kernels (``kernels._add_block``); empty arrays
        for dense histograms (their fast path)."""
        e = np.zeros(0, dtype=np.int64)
        if self.is_dense:
            return DENSE, e, e, e, e, e
        return BANDS, self.off[:-1].copy(), self.lo, self.width, e, e

    def histogram(self, counts: np.ndarray) -> np.ndarray:
        """The (units x ranks) histogram of ``counts`` (a view when dense)."""
        n = self.lo.shape[0]
        return counts.reshape(n, n) if self.is_dense else dense_of(self, counts)

    def summary(self, acc, qs: np.ndarray, top_k: np.ndarray) -> RankSummary:
        counts = acc.counts.rank_counts
        return RankSummary(band_quantiles(counts, self.off, self.lo, qs), *band_summary(counts, self.off, self.lo,
                                                                                           top_k))

    def frequency(self, acc, units: pd.Index) -> pd.DataFrame:
        """Units x ranks (1..n) counts; above ``BAND_UNITS`` units the long format ``unit, rank,
        count`` of the non-zero counts."""
        n = self.lo.shape[0]
        if n <= BAND_UNITS:
            return pd.DataFrame(acc.rank_hist, index=pd.Index(units, name="unit"),
                                columns=[str(r) for r in range(1, n + 1)])
        unit, rank, count = long_format(self, acc.counts.rank_counts, units.to_numpy())
        # the columns are this call's own arrays: wrapped, not copied
        return pd.DataFrame({"unit": unit, "rank": rank, "count": count}, copy=False)

    def batch_quantiles(self, counts, qs: np.ndarray, count: CountSegments) -> np.ndarray:
        """A ``--until-converged`` batch's quantiles from its ``counts`` (a batch's ranks outside a
        unit's band are left out of its estimate: they only steer the stopping rule; the run's own
        quantiles are exact)."""
        return band_quantiles(counts.rank_counts, self.off, self.lo, qs)

    def finish(self, acc, count: CountSegments, points: tuple) -> None:
        """The exact pass: count again the ranks of the units that had ranks outside their bands,
        in bands that hold all of them, and merge those counts into ``acc`` (exact result)."""
        redo = acc.stat("outside_count") > 0
        if not redo.any():
            return
        lo = np.where(redo, np.minimum(self.lo, acc.stat("outside_min")), 1)
        hi = np.where(redo, np.maximum(self.lo + self.width - 1, acc.stat("outside_max")), 0)
        redo_bands = RankBands(lo.astype(np.int64), (hi - lo + 1).astype(np.int64))
        # counted as segments (one per unit redone: the same flat layout), which count ranks and nothing else
        segments = Segments(np.concatenate([[0], np.cumsum(redo)]).astype(np.int64), redo_bands.lo[redo],
                            redo_bands.width[redo])
        redo_counts, _ = count(segments)
        acc.bands, rank_counts = merge_redo(self, acc.counts.rank_counts, redo, redo_bands, redo_counts)
        acc.counts = acc.counts._replace(rank_counts=rank_counts, rank_stats=_no_outside(acc.counts.rank_stats))
        acc.second_pass_units = int(redo.sum())


def _no_outside(stats: np.ndarray) -> np.ndarray:
    """``rank_stats`` of no ranks outside the bands."""
    out = np.zeros_like(stats)
    out[1] = NO_RANK_MIN
    return out


class Segments(NamedTuple):
    """Rank ranges counted exactly (the exact pass of coarse counts, the second pass of rank bands):
    unit i's are ``ptr[i] .. ptr[i + 1] - 1``, segment s holds ranks ``lo[s] .. lo[s] + width[s] - 1``."""

    ptr: np.ndarray  # (n + 1,) int64
    lo: np.ndarray  # (S,) int64
    width: np.ndarray  # (S,) int64

    name = "segments"
    is_dense = False
    stat_names = ()
    exact_pass = True  # the exact pass counts ranks and nothing else
    keeps_rank_log = False

    off = RankBands.off  # segments lie one after another in the flat array, as bands do
    total = RankBands.total

    @property
    def n_segments(self) -> int:
        return int(self.lo.shape[0])

    def slot_shape(self, n: int) -> tuple:
        return (1, self.total)

    def kernel_arrays(self) -> tuple:
        """``(kind, off, lo, width, (), ptr)`` for ``kernels._count_segments``."""
        return SEGMENTS, self.off[:-1].copy(), self.lo, self.width, np.zeros(0, dtype=np.int64), self.ptr


@nb.njit(cache=True)
def band_quantiles(counts, off, lo, qs):
    """(n, len(qs)) inverted-CDF quantiles: the smallest rank r with ``F(r) >= q`` (target
    ``max(1, ceil(q N - 1e-9))`` of the unit's N counts)."""
    n = lo.shape[0]
    out = np.zeros((n, qs.shape[0]), dtype=np.int64)
    for i in range(n):
        tot = 0
        for k in range(off[i], off[i + 1]):
            tot += counts[k]
        for j in range(qs.shape[0]):
            target = max(1, int(np.ceil(qs[j] * tot - 1e-9)))
            c = 0
            r = off[i + 1] - 1
            for k in range(off[i], off[i + 1]):
                c += counts[k]
                if c >= target:
                    r = k
                    break
            out[i, j] = lo[i] + r - off[i]
    return out


@nb.njit(cache=True)
def band_summary(counts, off, lo, top_k):
    """Per unit: sum of ranks (exact integer), best and worst rank counted, and counts of ranks <= each k."""
    n = lo.shape[0]
    rank_sum = np.zeros(n, dtype=np.int64)
    best = np.zeros(n, dtype=np.int64)
    worst = np.zeros(n, dtype=np.int64)
    below = np.zeros((n, top_k.shape[0]), dtype=np.int64)
    for i in range(n):
        for k in range(off[i], off[i + 1]):
            c = counts[k]
            if c == 0:
                continue
            r = lo[i] + k - off[i]
            rank_sum[i] += c * r
            if best[i] == 0:
                best[i] = r
            worst[i] = r
            for j in range(top_k.shape[0]):
                if r <= top_k[j]:
                    below[i, j] += c
    return rank_sum, best, worst, below


@nb.njit(cache=True)
def _copy_segments(src, src_off, dst, dst_off, units):
    for i in units:
        w = src_off[i + 1] - src_off[i]
        dst[dst_off[i]:dst_off[i] + w] = src[src_off[i]:src_off[i] + w]


def merge_redo(bands: RankBands, counts: np.ndarray, redo: np.ndarray, redo_bands: RankBands,
               redo_counts: np.ndarray) -> tuple[RankBands, np.ndarray]:
    """Bands and counts with units ``redo`` (bool mask) taken from the second pass."""
    new = RankBands(np.where(redo, redo_bands.lo, bands.lo), np.where(redo, redo_bands.width, bands.width))
    out = np.zeros(new.total, dtype=np.int64)
    units = np.arange(bands.lo.shape[0])
    _copy_segments(counts, bands.off, out, new.off, units[~redo])
    _copy_segments(redo_counts, redo_bands.off, out, new.off, units[redo])
    return new, out


def dense_of(bands: RankBands, counts: np.ndarray) -> np.ndarray:
    """The (n, n) dense histogram of band counts (for small n and tests)."""
    n = bands.lo.shape[0]
    out = np.zeros((n, n), dtype=np.int64)
    off = bands.off
    for i in range(n):
        out[i, bands.lo[i] - 1:bands.lo[i] - 1 + bands.width[i]] = counts[off[i]:off[i + 1]]
    return out


def long_format(bands: RankBands, counts: np.ndarray, units) -> "tuple[np.ndarray, np.ndarray, np.ndarray]":
    """``(unit, rank, count)`` of the non-zero counts, unit by unit, ranks ascending."""
    nz = np.flatnonzero(counts)
    unit_idx = np.searchsorted(bands.off, nz, side="right") - 1
    rank = bands.lo[unit_idx] + (nz - bands.off[unit_idx])
    return np.asarray(units)[unit_idx], rank, counts[nz]
