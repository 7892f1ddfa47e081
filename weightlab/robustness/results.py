"""Streaming accumulators and the summary of a Monte Carlo run.

Accumulators are integers: per unit x rank counts, per unit x score-bin counts, sums of quantised
scores ``q = round((s - lo) / (hi - lo) * Q)`` and of ``q**2`` (kept as Python integers, so they
never overflow), missing-score counts and per-option choice counts. Memory does not grow with the
number of replications.

Summaries per unit:

- rank quantiles by the inverted empirical CDF of the rank histogram (the smallest rank ``r`` with
  ``F(r) >= q``), exact for the run; median = the 0.5 quantile;
- mean rank ``sum_r r * count_r / N``; best and worst simulated rank;
- ``P(rank <= k)`` for each requested ``k``;
- mean score from the quantised sums (resolution ``(hi - lo) / 2**24``) and score quantiles read from
  per-unit score histograms (``SCORE_BINS`` bins over the unit's range in the first replications,
  widened by half of it on each side; linear inside a bin);
- ``rank_shift = nominal_rank - median_rank`` (positive: the unit does better than its nominal rank).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SCORE_BINS = 256  # bins of each unit's score histogram
PILOT_REPS = 1024  # replications whose score range sets each unit's histogram bins


@dataclass
class Accumulators:
    rank_hist: np.ndarray
    score_hist: np.ndarray
    score_q: np.ndarray  # object array of Python ints
    score_q2: np.ndarray
    nan_count: np.ndarray
    choice_count: np.ndarray
    bin_lo: np.ndarray  # per-unit range of the score histogram
    bin_hi: np.ndarray
    reps: int = 0
    design: str = "stream"
    warmup_s: float = 0.0  # pilot replications, including the kernels' compilation or cache load
    loop_s: float = 0.0  # the replications themselves

    @classmethod
    def empty(cls, n: int, bins: int, n_factors: int, n_options: int, bin_lo: np.ndarray,
              bin_hi: np.ndarray) -> "Accumulators":
        zeros_obj = np.array([0] * n, dtype=object)
        return cls(np.zeros((n, n), dtype=np.int64), np.zeros((n, bins), dtype=np.int64), zeros_obj,
                   zeros_obj.copy(), np.zeros(n, dtype=np.int64),
                   np.zeros((n_factors, n_options), dtype=np.int64), bin_lo, bin_hi)

    def add_chunk(self, rank_hist: np.ndarray, score_hist: np.ndarray, q: np.ndarray, q2: np.ndarray) -> None:
        """Add one chunk's per-slot counts and sums into the totals (exact integer arithmetic)."""
        self.rank_hist += rank_hist.sum(axis=0, dtype=np.int64)
        self.score_hist += score_hist.sum(axis=0, dtype=np.int64)
        self.score_q += q.sum(axis=0).astype(object)
        self.score_q2 += np.array([sum(int(v) for v in col) for col in q2.T], dtype=object)


def nominal_build(plan):
    """The nominal index of a plan's spec: the first option of every choice, unperturbed weights."""
    from ..index import build_index
    from .plan import treated_dataset

    ch = plan.spec.choices
    data, imputation = treated_dataset(plan.dataset, ch.imputation[0], ch.treatment[0])
    return build_index(data, normalizer=ch.normalizer[0].build(), scheme=ch.scheme[0].build(),
                       aggregator=ch.aggregator[0].build(), imputation=imputation,
                       scheme_level=ch.scheme_levels)


def histogram_quantile(hist: np.ndarray, q: float) -> np.ndarray:
    """Inverted-CDF quantile (1-based rank) of each row of a count histogram."""
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1:]
    target = np.ceil(q * total - 1e-9)
    target = np.maximum(target, 1)
    return (cum < target).sum(axis=1) + 1


def _score_quantile(hist: np.ndarray, q: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Quantile ``q`` of each row of a score histogram whose bins split ``[lo, hi]`` (per row),
    linear inside the bin that holds it."""
    bins = hist.shape[1]
    width = (hi - lo) / bins
    cum = np.cumsum(hist, axis=1).astype(float)
    total = cum[:, -1]
    target = q * total
    idx = np.minimum((cum < target[:, None]).sum(axis=1), bins - 1)
    before = np.where(idx > 0, cum[np.arange(len(idx)), idx - 1], 0.0)
    inside = hist[np.arange(len(idx)), idx]
    frac = np.where(inside > 0, (target - before) / np.maximum(inside, 1), 0.5)
    out = lo + (idx + np.clip(frac, 0.0, 1.0)) * width
    return np.where(total > 0, out, np.nan)


def _pct(q: float) -> str:
    s = f"{q * 100:.10g}".replace(".", "_")
    return f"p{int(s):02d}" if s.isdigit() else f"p{s}"


@dataclass
class RobustnessResult:
    """Rank distributions of every unit.

    Attributes
    ----------
    ranks : DataFrame
        One row per unit: ``unit, name, nominal_rank, median_rank, mean_rank, p05_rank, p95_rank, …,
        best_rank, worst_rank, p_top10, …, mean_score, p05_score, p95_score, sd_score, rank_shift``.
    rank_frequency : DataFrame
        Units x ranks (1..n) counts over all replications.
    choice_shares : DataFrame
        ``factor, option, count, share``: how often each option was drawn.
    manifest : dict
        Spec, seed, replications, threads, timing (``compile_s`` apart from ``run_s``; the rate
        counts replications only), notes; ``output.write_results`` adds the run record of
        :mod:`weightlab.manifest`.
    """

    ranks: pd.DataFrame
    rank_frequency: pd.DataFrame
    choice_shares: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    accumulators: Accumulators | None = None
    dataset: Any = None  # the Dataset and UncertaintySpec of the run (their hashes go into manifest.json)
    spec: Any = None
    nominal: Any = None  # the nominal IndexResult (the spec's first choices)

    @classmethod
    def from_run(cls, plan, acc: Accumulators, timing: dict[str, Any]) -> "RobustnessResult":
        ds, spec, kp = plan.dataset, plan.spec, plan.kernel
        nominal = nominal_build(plan)
        N = acc.reps
        hist = acc.rank_hist
        ranks_axis = np.arange(1, hist.shape[1] + 1)
        out = pd.DataFrame({"unit": ds.units.to_numpy(), "name": ds.names.to_numpy(),
                            "nominal_rank": nominal.ranks.to_numpy()})
        out["median_rank"] = histogram_quantile(hist, 0.5)
        out["mean_rank"] = (hist * ranks_axis).sum(axis=1) / N
        for q in spec.outputs.quantiles:
            if q != 0.5:
                out[f"{_pct(q)}_rank"] = histogram_quantile(hist, q)
        out["best_rank"] = np.argmax(hist > 0, axis=1) + 1
        out["worst_rank"] = hist.shape[1] - np.argmax(hist[:, ::-1] > 0, axis=1)
        cum = np.cumsum(hist, axis=1)
        for k in spec.outputs.top_k:
            out[f"p_top{k}"] = cum[:, min(k, hist.shape[1]) - 1] / N
        valid = N - acc.nan_count
        scale = (kp.score_hi - kp.score_lo) / kp.q_max
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_q = np.array([float(v) for v in acc.score_q]) / valid
            var_q = np.array([float(v) for v in acc.score_q2]) / valid - mean_q ** 2
        out["mean_score"] = kp.score_lo + mean_q * scale
        for q in spec.outputs.quantiles:
            if q != 0.5:
                out[f"{_pct(q)}_score"] = _score_quantile(acc.score_hist, q, acc.bin_lo, acc.bin_hi)
        out["sd_score"] = np.sqrt(np.maximum(var_q, 0.0)) * scale
        out["rank_shift"] = out["nominal_rank"] - out["median_rank"]
        out = out.sort_values(["median_rank", "nominal_rank", "unit"], kind="stable").reset_index(drop=True)
        freq = pd.DataFrame(hist, index=pd.Index(ds.units, name="unit"), columns=[str(r) for r in ranks_axis])
        rows = []
        for f_i, (factor, options) in enumerate(plan.factor_options.items()):
            for o_i, option in enumerate(options):
                c = int(acc.choice_count[f_i, o_i])
                rows.append({"factor": factor, "option": option, "count": c, "share": c / N})
        manifest = {
            "label": ds.label or None,
            "data": {"source": ds.source, "sha256": ds.source_sha256, "units": ds.n_units,
                     "indicators": ds.n_indicators},
            "framework": ds.framework.source,
            "spec": spec.to_dict(),
            "seed": spec.seed,
            "reps": N,
            "uncertain_factors": spec.uncertain_factors(),
            "sampling": {"stream": "counter-based stream (splitmix64 of seed, replication, draw)",
                         "sobol": "scrambled Sobol' points (scipy.stats.qmc.Sobol, seeded)"}.get(acc.design, acc.design),
            "score_range": [kp.score_lo, kp.score_hi],
            "score_bins": f"per unit: {SCORE_BINS} bins over its score range in the first {PILOT_REPS:,} "
                          f"replications, widened by half of it on each side; scores outside fall in the edge bins",
            "ranks": "1 = best; ties share the lowest rank (pandas method='min'); quantiles by inverted CDF",
            **timing,
        }
        shares = pd.DataFrame(rows)
        for table in (out, freq, shares):
            if ds.label:
                table.attrs["label"] = ds.label
        return cls(out, freq, shares, manifest, acc, ds, spec, nominal)

    # ---- notebook and report helpers (the plots import weightlab.report lazily)
    def __repr__(self) -> str:
        m = self.manifest
        label = f"; {m['label']}" if m.get("label") else ""
        return (f"<RobustnessResult: {len(self.ranks)} units, {m.get('reps', 0):,} replications (seed "
                f"{m.get('seed')}); uncertain: {', '.join(m.get('uncertain_factors', [])) or 'nothing'}{label}>")

    def _repr_html_(self) -> str:
        from ..report.notebook import robustness_html

        return robustness_html(self)

    def plot_uncertainty(self, units=None, top: int | None = None):
        """JRC-style rank uncertainty plot (all units, the ``top`` ones, or the listed ``units``)."""
        from ..report.ranks import plot_rank_uncertainty

        return plot_rank_uncertainty(self.ranks, units, top)

    def plot_rank_frequency(self, top: int = 20):
        """Heatmap of the rank frequencies of the ``top`` units by nominal rank."""
        from ..report.ranks import plot_rank_frequency

        return plot_rank_frequency(self.rank_frequency, self.ranks, top)

    def plot_rank_shift(self):
        """Histogram of nominal rank − median rank over the units."""
        from ..report.ranks import plot_rank_shift_histogram

        return plot_rank_shift_histogram(self.ranks)

    def plot_nominal_vs_median(self):
        """Scatter of nominal against median rank, with each unit's band."""
        from ..report.ranks import plot_nominal_vs_median

        return plot_nominal_vs_median(self.ranks)

    def save(self, directory, formats=("csv",), report: bool = True, extra: dict | None = None) -> list:
        """Write the files of ``weightlab robustness --out DIR`` (and ``report.html`` unless
        ``report=False``); ``formats`` may add ``"xlsx"`` (one workbook of all tables)."""
        from ..report.save import save_robustness

        return save_robustness(self, directory, formats, report, extra)
