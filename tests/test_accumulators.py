"""The accumulator schema: slots, chunks, totals and checkpoint arrays follow from QUANTITIES alone.

Checked against plain Python sums, minima and maxima of random per-slot arrays (no kernel runs)."""

from __future__ import annotations

import numpy as np

from weightlab.robustness import accumulators as A
from weightlab.robustness.bands import RankBands, Segments
from weightlab.robustness.coarse import CoarseBins

DIMS = A.Dims(n=5, bins=4, n_factors=2, n_options=3)
LAYOUTS = (RankBands.dense(5), RankBands(np.array([1, 2, 1, 3, 1]), np.array([3, 2, 5, 3, 4])),
           CoarseBins(np.array([1, 1, 2, 1, 1]), np.array([2, 1, 1, 2, 3]), np.array([1, 0, 1, 1, 0])))


def _random_slots(layout, n_slots: int, rng) -> A.Counts:
    slots = A.allocate_slots(DIMS, layout, n_slots)
    for q, a in zip(A.QUANTITIES, slots):
        top = 2 ** 63 - 1 if q.name == "score_q2" else 1000  # per-slot sums of q**2 may be near 2**63
        a[...] = rng.integers(0, top, size=a.shape, dtype=np.int64).astype(a.dtype)
    return slots


def _plain_chunk(slots: A.Counts) -> dict:
    """Each quantity of a chunk by hand: Python-integer sums over the slots, min / max rows."""
    out = {}
    for q, a in zip(A.QUANTITIES, slots):
        flat = a.reshape(a.shape[0], -1).astype(object)
        if len(q.merge) > 1:
            rows = a.reshape(a.shape[0], len(q.merge), -1)
            out[q.name] = [[{"sum": sum, "min": min, "max": max}[rule](int(v) for v in rows[:, k, j])
                            for j in range(rows.shape[2])] for k, rule in enumerate(q.merge)]
        else:
            out[q.name] = [sum(int(v) for v in flat[:, j]) for j in range(flat.shape[1])]
    return out


def _as_lists(counts: A.Counts) -> dict:
    return {q.name: (np.asarray(a).reshape(len(q.merge), -1).tolist() if len(q.merge) > 1 else
                     [int(v) for v in np.asarray(a).ravel()]) for q, a in zip(A.QUANTITIES, counts)}


def test_chunk_of_slots_and_merges_equal_plain_sums_minima_and_maxima():
    rng = np.random.default_rng(0)
    for layout in LAYOUTS:
        s1, s2 = _random_slots(layout, 3, rng), _random_slots(layout, 2, rng)
        c1, c2 = A.chunk_of_slots(s1), A.chunk_of_slots(s2)
        assert _as_lists(c1) == _plain_chunk(s1)
        both = A.Counts(*(np.concatenate([a, b]) for a, b in zip(s1, s2)))
        assert _as_lists(A.merge_counts(c1, c2)) == _plain_chunk(both)
        total = A.empty_counts(DIMS, layout, reps=10)
        acc = A.Accumulators(total, layout, np.zeros(5), np.ones(5))
        acc.add(c1)
        acc.add_slots(s2)  # in place, slot by slot: the same totals (from each quantity's fill)
        assert _as_lists(acc.counts) == _plain_chunk(both)


def test_empty_totals_and_reset_slots_take_each_quantitys_fill():
    for layout in LAYOUTS:
        totals = A.empty_counts(DIMS, layout)
        assert totals.rank_counts.shape == (layout.total,) and totals.rank_counts.dtype == np.int32
        assert (totals.rank_stats[1] == A.NO_RANK_MIN).all() and not totals.rank_stats[[0, 2]].any()
        assert totals.score_q.dtype == object and totals.choice_count.shape == (2, 3)
        slots = _random_slots(layout, 2, np.random.default_rng(1))
        A.reset_slots(slots)
        assert (slots.rank_stats[:, 1] == A.NO_RANK_MIN).all() and not slots.rank_stats[:, [0, 2]].any()
        assert not any(a.any() for q, a in zip(A.QUANTITIES, slots) if q.name != "rank_stats")
    assert A.empty_counts(DIMS, LAYOUTS[0], reps=2 ** 31).rank_counts.dtype == np.int64


def test_exact_pass_chunk_holds_rank_counts_only():
    segments = Segments(np.array([0, 1, 1, 2, 2, 2]), np.array([2, 4]), np.array([2, 1]))
    slots = _random_slots(segments, 2, np.random.default_rng(2))
    chunk = A.chunk_of_slots(slots, exact_pass=True)
    np.testing.assert_array_equal(chunk.rank_counts, slots.rank_counts.astype(np.int64).sum(axis=0).ravel())
    assert all(a.size == 0 for q, a in zip(A.QUANTITIES, chunk) if not q.exact_pass)


def test_checkpoint_arrays_round_trip_python_integers_beyond_int64():
    counts = A.empty_counts(DIMS, LAYOUTS[1])
    counts.score_q2[:] = [2 ** 70 + i for i in range(5)]
    arrays = A.counts_to_arrays(counts)
    assert all(a.dtype != object for a in arrays.values())  # np.savez without pickle
    back = A.counts_from_arrays(arrays)
    for q, a, b in zip(A.QUANTITIES, counts, back):
        assert a.shape == b.shape and a.tolist() == b.tolist(), q.name
