"""The accumulated quantities of a Monte Carlo run, each declared once.

:data:`QUANTITIES` lists every quantity the kernels accumulate: its name, the dtype of a thread's
slot, the dtype of the run's totals, its shape and how two sets of replications merge (``"sum"``,
``"exact"``: a sum kept as Python integers, or per row ``"sum"``, ``"min"``, ``"max"``). From it
follow

- :class:`Counts`, a named tuple of the quantities by name: a thread pool's per-slot arrays
  (leading slot axis), a chunk's counts (what a thread pool or a Dask worker returns) and the run's
  totals (:attr:`Accumulators.counts`);
- :class:`KernelCounts`, what the slot kernel receives: one slot's arrays and the rank layout's
  arrays (:class:`LayoutArrays`);
- the slot allocation (:func:`allocate_slots`, :func:`reset_slots`), the merging of slots, chunks
  and totals (:func:`chunk_of_slots`, :func:`merge_counts`, :meth:`Accumulators.add`) and the
  checkpoint arrays (:func:`counts_to_arrays`, :func:`counts_from_arrays`).

A new accumulated quantity is one :class:`Quantity` entry here plus the kernel code that fills
it (``kernels._add_block``, which reads it as ``acc.<name>``).

All quantities are integers, so merging slots, chunks and workers is exact in any order: the
result is bit-identical for any thread count, chunk size and scheduler. Per-slot counts are uint16
(much faster to scatter into); a chunk has at most ``MAX_REPS_PER_SLOT`` replications per slot, so
they cannot overflow before being flushed, and a chunk's sums of them are int32. Count totals are
int32 when the run has ``reps < 2**31`` replications (no count can exceed them: half the memory
with many units), else int64.

Rank counts take the shape of the run's rank layout (:mod:`.bands`, :mod:`.coarse`): a dense
units x ranks histogram per slot, or one flat row of the layout's cells.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from .config import PILOT_REPS, SCORE_BINS

NO_RANK_MIN = np.iinfo(np.int64).max  # the minimum of no ranks (rank_stats' row 1 before any rank)


class Dims(NamedTuple):
    """The sizes the quantities' shapes depend on."""

    n: int  # units
    bins: int  # score-histogram bins per unit
    n_factors: int
    n_options: int  # the most options of a factor


class Quantity(NamedTuple):
    """One accumulated quantity.

    ``shape`` gives one slot's (and the totals') shape; ``None``: the rank layout's cells (a slot
    takes ``layout.slot_shape(n)``, the totals and a chunk's counts one flat run of
    ``layout.total`` cells). ``total``: ``"count"`` (int32, or int64 from 2**31 replications),
    ``"int64"`` or ``"pyint"`` (an object array of Python integers: never overflows). ``merge``: one
    rule for the whole array, or one per row of its first axis; ``fill``: the initial value, of the
    whole array or per row likewise. ``exact_pass``: also counted in the exact pass of coarse counts (the only quantity that
    pass counts)."""

    name: str
    slot: type
    total: str
    shape: Callable[[Dims], tuple] | None
    merge: tuple[str, ...]
    fill: tuple = (0,)
    exact_pass: bool = False


QUANTITIES = (
    # per unit x rank, in the cells of the rank layout
    Quantity("rank_counts", np.uint16, "count", None, ("sum",), exact_pass=True),
    # per unit x score bin (unit i's bins span [bin_lo[i], bin_hi[i]])
    Quantity("score_hist", np.uint16, "count", lambda d: (d.n, d.bins), ("sum",)),
    # per unit: sums of the quantised scores q = round((s - lo) * Q / (hi - lo)) and of q**2
    Quantity("score_q", np.int64, "pyint", lambda d: (d.n,), ("sum",)),
    Quantity("score_q2", np.int64, "pyint", lambda d: (d.n,), ("exact",)),  # per slot near 2**63
    # per unit: replications whose score is NaN
    Quantity("nan_count", np.int64, "int64", lambda d: (d.n,), ("sum",)),
    # per factor x option: replications that drew it
    Quantity("choice_count", np.int64, "int64", lambda d: (d.n_factors, d.n_options), ("sum",)),
    # per unit: the rank layout's statistics of the unit's ranks (names: the layout's ``stat_names``)
    Quantity("rank_stats", np.int64, "int64", lambda d: (3, d.n), ("sum", "min", "max"), fill=(0, NO_RANK_MIN, 0)),
)
NAMES = tuple(q.name for q in QUANTITIES)

Counts = namedtuple("Counts", NAMES, module=__name__)
Counts.__doc__ = "The accumulated quantities by name (:data:`QUANTITIES`): per-slot arrays, a chunk's counts or totals."
KernelCounts = namedtuple("KernelCounts", NAMES + ("layout",), module=__name__)
KernelCounts.__doc__ = "One slot's arrays of :class:`Counts` and the rank layout's :class:`LayoutArrays` (the slot kernel's ``acc``)."

# the rank layouts' kinds, as the kernels tell them apart
DENSE, BANDS, COARSE, SEGMENTS = 0, 1, 2, 3


class LayoutArrays(NamedTuple):
    """A rank layout's arrays for the kernels (``kernels._add_block``): ``kind`` (:data:`DENSE`,
    :data:`BANDS`, :data:`COARSE`, :data:`SEGMENTS`), each unit's (or segment's) cells from
    ``off``, first rank ``lo``, ``width`` (bins, for coarse counts), bin ``shift`` (coarse counts),
    unit segments ``ptr`` (segments), and pass 1's rank log of coarse counts (``log, log_base,
    log_first``: :class:`.coarse.RankLog`)."""

    kind: int
    off: np.ndarray
    lo: np.ndarray
    width: np.ndarray
    shift: np.ndarray
    ptr: np.ndarray
    log: np.ndarray
    log_base: np.ndarray
    log_first: np.ndarray


def slot_view(acc: KernelCounts, t: int) -> KernelCounts:
    """Slot ``t``'s arrays of per-slot ``acc`` (leading slot axis; the layout is shared)."""
    return KernelCounts(*(a[t] for a in acc[:-1]), acc.layout)


def count_dtype(reps: int):
    """The dtype of count totals of a run of ``reps`` replications."""
    return np.int32 if reps < 2 ** 31 else np.int64


def _total_dtype(q: Quantity, reps: int):
    return {"count": count_dtype(reps), "int64": np.int64, "pyint": object}[q.total]


def _shape(q: Quantity, dims: Dims, layout) -> tuple:
    return (layout.total,) if q.shape is None else q.shape(dims)


def _fill(a: np.ndarray, fill: tuple, lead: int) -> None:
    """Set ``a`` to ``fill``: one value for the whole array, or one per row of the axis after
    ``lead`` leading (slot) axes."""
    if len(fill) == 1:
        a[...] = fill[0]
        return
    for k, v in enumerate(fill):
        a[(slice(None),) * lead + (k,)] = v


def _filled(shape: tuple, dtype, fill: tuple) -> np.ndarray:
    a = np.zeros(shape, dtype=dtype)
    if any(fill):
        _fill(a, fill, 0)
    return a


def empty_counts(dims: Dims, layout, reps: int = 0) -> Counts:
    """Zero totals (each quantity at its ``fill``) of a run of ``reps`` replications."""
    return Counts(*(_filled(_shape(q, dims, layout), _total_dtype(q, reps), q.fill) for q in QUANTITIES))


def allocate_slots(dims: Dims, layout, n_slots: int) -> Counts:
    """Per-slot arrays (leading slot axis) for the rank layout ``layout``."""
    return with_layout(Counts(*(None if q.shape is None else np.zeros((n_slots, *q.shape(dims)), dtype=q.slot)
                                for q in QUANTITIES)), dims, layout, n_slots)


def without_layout(slots: Counts) -> Counts:
    """``slots`` without the arrays shaped by the rank layout (``None``): dropping the last
    reference to the old ones frees them before :func:`with_layout` allocates the new ones."""
    return slots._replace(**{q.name: None for q in QUANTITIES if q.shape is None})


def with_layout(slots: Counts, dims: Dims, layout, n_slots: int) -> Counts:
    """``slots`` with new zero arrays for the quantities shaped by the rank layout ``layout``."""
    return slots._replace(**{q.name: np.zeros((n_slots, *layout.slot_shape(dims.n)), dtype=q.slot)
                             for q in QUANTITIES if q.shape is None})


def reset_slots(slots: Counts) -> None:
    """Set every slot's arrays to their ``fill`` (before a chunk)."""
    for q, a in zip(QUANTITIES, slots):
        _fill(a, q.fill, 1)


def exact_sum(x: np.ndarray) -> np.ndarray:
    """Column sums of non-negative int64 rows ``x`` (slots x units) as Python integers (object array),
    exact whatever their size: the low and high 32 bits are summed apart in uint64 (no overflow for
    fewer than 2**32 rows), then ``hi * 2**32 + lo``. For 2 x 100,000 values 0.04 s, against 0.27 s
    summing Python integers unit by unit."""
    u = x.astype(np.uint64)
    lo = (u & np.uint64(0xFFFFFFFF)).sum(axis=0, dtype=np.uint64)
    hi = (u >> np.uint64(32)).sum(axis=0, dtype=np.uint64)
    return hi.astype(object) * (1 << 32) + lo.astype(object)


def _reduce_slots(rule: str, a: np.ndarray) -> np.ndarray:
    if rule == "min":
        return a.min(axis=0)
    if rule == "max":
        return a.max(axis=0)
    if rule == "exact":
        return exact_sum(a)
    return a.sum(axis=0, dtype=np.int32 if a.dtype == np.uint16 else None)


def _slot_total(q: Quantity, a: np.ndarray) -> np.ndarray:
    """One quantity of a chunk from its per-slot arrays ``a`` (leading slot axis)."""
    if len(q.merge) == 1:
        out = _reduce_slots(q.merge[0], a)
    else:
        out = np.stack([_reduce_slots(rule, a[:, k]) for k, rule in enumerate(q.merge)])
    if q.shape is None:
        out = out.ravel()
    return out.astype(object) if q.total == "pyint" and out.dtype != object else out


def chunk_of_slots(slots: Counts, exact_pass: bool = False) -> Counts:
    """A chunk's counts from per-slot arrays; ``exact_pass``: only the quantities the exact pass of
    coarse counts counts (the others empty)."""
    none = Dims(0, 0, 0, 0)
    return Counts(*(_slot_total(q, a) if q.exact_pass or not exact_pass
                    else _filled(q.shape(none), _total_dtype(q, 0), ()) for q, a in zip(QUANTITIES, slots)))


def _merge_into(q: Quantity, total: np.ndarray, part: np.ndarray) -> None:
    rules = q.merge if len(q.merge) > 1 else None
    if rules is None:
        total += part
        return
    for k, rule in enumerate(rules):
        {"sum": np.add, "min": np.minimum, "max": np.maximum}[rule](total[k], part[k], out=total[k])


def merge_counts(a: Counts, b: Counts) -> Counts:
    """The counts of two chunks together (exact; new arrays)."""
    out = Counts(*(x.copy() for x in a))
    for q, x, y in zip(QUANTITIES, out, b):
        _merge_into(q, x, y)
    return out


def counts_to_arrays(counts: Counts) -> dict[str, np.ndarray]:
    """The quantities as checkpoint arrays (no pickle: Python integers as decimal strings)."""
    return {q.name: np.array([str(v) for v in a.ravel()]).reshape(a.shape) if q.total == "pyint" else a
            for q, a in zip(QUANTITIES, counts)}


def counts_from_arrays(arrays: dict[str, np.ndarray]) -> Counts:
    """The inverse of :func:`counts_to_arrays`."""
    to_int = np.vectorize(int, otypes=[object])
    return Counts(*(to_int(arrays[q.name]) if q.total == "pyint" else arrays[q.name] for q in QUANTITIES))


@dataclass
class Accumulators:
    """A run's totals (:attr:`counts`, :class:`Counts`) with their rank layout ``bands``
    (:class:`.bands.RankBands` for dense histograms and rank bands, :class:`.coarse.CoarseBins`
    for coarse counts) and what the summaries need besides: each unit's score-histogram range
    ``bin_lo .. bin_hi``, the replications, and with coarse counts ``exact``, ``exact_counts``: the
    segments of the exact pass and their counts once it has run."""

    counts: Counts
    bands: Any
    bin_lo: np.ndarray  # per-unit range of the score histogram
    bin_hi: np.ndarray
    reps: int = 0
    design: str = "stream"
    warmup_s: float = 0.0  # the score-bin pilot: the kernels' compilation or cache load
    pilot_s: float = 0.0  # the rank-band pilot (runs counted in bands or coarse bins)
    loop_s: float = 0.0  # the replications themselves
    second_pass_units: int = 0  # units whose ranks were counted again (ranks outside their bands)
    replayed_reps: int = 0  # coarse counts: replications that pass 2 ran again (not read from pass 1's rank log)
    exact: Any = None  # coarse counts: the rank segments (.coarse.Segments) counted exactly in pass 2
    exact_counts: np.ndarray | None = None

    @property
    def coarse(self) -> bool:
        return self.bands.name == "coarse"

    @classmethod
    def empty(cls, n: int, bins: int, n_factors: int, n_options: int, bin_lo: np.ndarray,
              bin_hi: np.ndarray, bands, reps: int = 0) -> "Accumulators":
        """Zero totals in the rank layout ``bands`` for a run of ``reps`` replications."""
        return cls(empty_counts(Dims(n, bins, n_factors, n_options), bands, reps), bands, bin_lo, bin_hi)

    def stat(self, name: str) -> np.ndarray:
        """Row ``name`` of ``counts.rank_stats`` by the layout's ``stat_names`` (e.g.
        ``"outside_count"`` of rank bands, ``"rank_sum"`` of coarse counts)."""
        return self.counts.rank_stats[self.bands.stat_names.index(name)]

    @property
    def rank_hist(self) -> np.ndarray:
        """The (units x ranks) histogram (a view when dense; built from the bands otherwise; coarse
        counts have none)."""
        return self.bands.histogram(self.counts.rank_counts)

    def add(self, c: Counts) -> None:
        """Add one chunk's counts into the totals (exact integer arithmetic, in place)."""
        for q, total, part in zip(QUANTITIES, self.counts, c):
            _merge_into(q, total, part)

    def add_slots(self, slots: Counts) -> None:
        """:meth:`add` of ``chunk_of_slots(slots)`` without building the chunk's counts of the
        uint16 slots: each slot's counts are added into the totals in place (no int32 copy of the
        chunk's counts: its size at 100,000 units is in docs/performance.md)."""
        for q, total, a in zip(QUANTITIES, self.counts, slots):
            if a.dtype == np.uint16:
                for t in range(a.shape[0]):
                    np.add(total, a[t].reshape(total.shape), out=total)
            else:
                _merge_into(q, total, _slot_total(q, a))
