"""The per-unit summaries of a Monte Carlo run: small pure functions of its accumulators.

Each summary takes a :class:`SummaryInput` and returns its columns of the ``ranks`` table (in
order); :meth:`~weightlab.robustness.results.RobustnessResult.from_run` loops over
:data:`SUMMARIES`. The rank statistics come from the run's rank layout, exactly
(:meth:`.bands.RankBands.summary`, :meth:`.coarse.CoarseBins.summary`):

- rank quantiles by the inverted empirical CDF of the rank histogram (the smallest rank ``r`` with
  ``F(r) >= q``), exact for the run; median = the 0.5 quantile;
- mean rank ``sum_r r * count_r / N``; best and worst simulated rank;
- ``P(rank <= k)`` for each requested ``k``;
- mean score and standard deviation from the sums of quantised scores ``q = round((s - lo) / (hi -
  lo) * Q)`` and of ``q**2`` (resolution ``(hi - lo) / 2**24``), and score quantiles read from
  per-unit score histograms (``SCORE_BINS`` bins over the unit's range in the first replications,
  widened by half of it on each side; linear inside a bin);
- ``rank_shift = nominal_rank - median_rank`` (positive: the unit does better than its nominal rank).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .accumulators import Counts
from .bands import RankSummary


class SummaryInput(NamedTuple):
    """What the summaries read: the layout's exact rank summary at quantiles ``qs`` (ascending,
    with the median) and thresholds ``top_k`` (at most n), the run's totals ``counts`` of ``reps``
    replications, the spec's ``quantiles`` and ``ks``, the plan's score range ``score_lo ..
    score_hi`` quantised to ``q_max``, the score histograms' per-unit ranges and the nominal ranks."""

    ranks: RankSummary
    qs: np.ndarray
    counts: Counts
    reps: int
    quantiles: tuple
    ks: tuple
    score_lo: float
    score_hi: float
    q_max: int
    bin_lo: np.ndarray
    bin_hi: np.ndarray
    nominal_rank: np.ndarray


def summary_points(spec, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The rank quantiles (the spec's and the median, ascending) and top-k thresholds (at most n)
    that a run reports: what the exact pass of coarse counts must resolve."""
    qs = np.array(sorted(set(spec.outputs.quantiles) | {0.5}), dtype=float)
    return qs, np.array([min(k, n) for k in spec.outputs.top_k], dtype=np.int64)


def pct(q: float) -> str:
    """The column prefix of quantile ``q``: ``p05``, ``p95``, ``p2_5``."""
    s = f"{q * 100:.10g}".replace(".", "_")
    return f"p{int(s):02d}" if s.isdigit() else f"p{s}"


def _quantile(s: SummaryInput, q: float) -> np.ndarray:
    return s.ranks.quantiles[:, s.qs.tolist().index(float(q))]


def median_rank(s: SummaryInput) -> dict:
    return {"median_rank": _quantile(s, 0.5)}


def mean_rank(s: SummaryInput) -> dict:
    return {"mean_rank": s.ranks.rank_sum / s.reps}


def rank_quantiles(s: SummaryInput) -> dict:
    return {f"{pct(q)}_rank": _quantile(s, q) for q in s.quantiles if q != 0.5}


def extremes(s: SummaryInput) -> dict:
    return {"best_rank": s.ranks.best, "worst_rank": s.ranks.worst}


def top_k(s: SummaryInput) -> dict:
    """``P(rank <= k)``."""
    return {f"p_top{k}": s.ranks.below[:, j] / s.reps for j, k in enumerate(s.ks)}


def _score_moments(s: SummaryInput) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean and variance of the quantised scores of the valid (non-NaN) replications, and the scale."""
    valid = s.reps - s.counts.nan_count
    scale = (s.score_hi - s.score_lo) / s.q_max
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_q = np.array([float(v) for v in s.counts.score_q]) / valid
        var_q = np.array([float(v) for v in s.counts.score_q2]) / valid - mean_q ** 2
    return mean_q, var_q, scale


def mean_score(s: SummaryInput) -> dict:
    mean_q, _, scale = _score_moments(s)
    return {"mean_score": s.score_lo + mean_q * scale}


def score_quantiles(s: SummaryInput) -> dict:
    return {f"{pct(q)}_score": score_quantile(s.counts.score_hist, q, s.bin_lo, s.bin_hi)
            for q in s.quantiles if q != 0.5}


def sd_score(s: SummaryInput) -> dict:
    _, var_q, scale = _score_moments(s)
    return {"sd_score": np.sqrt(np.maximum(var_q, 0.0)) * scale}


def rank_shift(s: SummaryInput) -> dict:
    """``nominal_rank - median_rank``."""
    return {"rank_shift": s.nominal_rank - _quantile(s, 0.5)}


SUMMARIES = (median_rank, mean_rank, rank_quantiles, extremes, top_k, mean_score, score_quantiles, sd_score,
             rank_shift)  # in the order of the ranks table's columns


def histogram_quantile(hist: np.ndarray, q: float) -> np.ndarray:
    """Inverted-CDF quantile (1-based rank) of each row of a count histogram."""
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1:]
    target = np.ceil(q * total - 1e-9)
    target = np.maximum(target, 1)
    return (cum < target).sum(axis=1) + 1


def score_quantile(hist: np.ndarray, q: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Quantile ``q`` of each row of a score histogram whose bins split ``[lo, hi]`` (per row),
    linear inside the bin that holds it."""
    bins = hist.shape[1]
    width = (hi - lo) / bins
    cum = hist.astype(float)  # summed in place (exact: integers below 2**53): one (n, bins) array, not two
    np.cumsum(cum, axis=1, out=cum)
    total = cum[:, -1]
    target = q * total
    idx = np.minimum((cum < target[:, None]).sum(axis=1), bins - 1)
    before = np.where(idx > 0, cum[np.arange(len(idx)), idx - 1], 0.0)
    inside = hist[np.arange(len(idx)), idx]
    frac = np.where(inside > 0, (target - before) / np.maximum(inside, 1), 0.5)
    out = lo + (idx + np.clip(frac, 0.0, 1.0)) * width
    return np.where(total > 0, out, np.nan)
