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
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .bands import BAND_UNITS, RankBands, band_quantiles, band_summary, dense_of, long_format
from .coarse import CoarseBins, Segments, coarse_summary, long_bins

SCORE_BINS = 256  # bins of each unit's score histogram
PILOT_REPS = 1024  # replications whose score range sets each unit's histogram bins


NO_OUTSIDE_MIN = np.iinfo(np.int64).max


def summary_points(spec, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The rank quantiles (the spec's and the median, ascending) and top-k thresholds (at most n)
    that a run reports: what the exact pass of coarse counts must resolve."""
    qs = np.array(sorted(set(spec.outputs.quantiles) | {0.5}), dtype=float)
    return qs, np.array([min(k, n) for k in spec.outputs.top_k], dtype=np.int64)


@dataclass
class Accumulators:
    """A run's integer totals. Rank counts are per unit inside its band (:mod:`.bands`; dense
    histograms are the band 1..n), ``outside`` = (count, smallest, largest) of the ranks outside.
    With coarse counts (:mod:`.coarse`; ``bands`` a :class:`CoarseBins`) ``rank_counts`` holds the
    coarse cells, ``outside`` the (sum, smallest, largest) of every unit's ranks, and ``exact``,
    ``exact_counts`` the segments of the exact pass and their counts once it has run."""

    rank_counts: np.ndarray  # flat int32 (int64 from 2**31 replications), unit i's band from bands.off[i]
    bands: "RankBands | CoarseBins"
    score_hist: np.ndarray
    score_q: np.ndarray  # object array of Python ints
    score_q2: np.ndarray
    nan_count: np.ndarray
    choice_count: np.ndarray
    bin_lo: np.ndarray  # per-unit range of the score histogram
    bin_hi: np.ndarray
    outside: np.ndarray  # (3, n) int64
    reps: int = 0
    design: str = "stream"
    warmup_s: float = 0.0  # the score-bin pilot: the kernels' compilation or cache load
    pilot_s: float = 0.0  # the rank-band pilot (runs counted in bands or coarse bins)
    loop_s: float = 0.0  # the replications themselves
    second_pass_units: int = 0  # units whose ranks were counted again (ranks outside their bands)
    replayed_reps: int = 0  # coarse counts: replications that pass 2 ran again (not read from pass 1's rank log)
    exact: Segments | None = None  # coarse counts: the rank segments counted exactly in pass 2
    exact_counts: np.ndarray | None = None

    @property
    def coarse(self) -> bool:
        return isinstance(self.bands, CoarseBins)

    @classmethod
    def empty(cls, n: int, bins: int, n_factors: int, n_options: int, bin_lo: np.ndarray,
              bin_hi: np.ndarray, bands: "RankBands | CoarseBins | None" = None, reps: int = 0) -> "Accumulators":
        """Zero totals; rank and score-bin counts are int32 when the run has ``reps < 2**31``
        replications (no count can exceed them: half the memory with many units), else int64."""
        bands = RankBands.dense(n) if bands is None else bands
        zeros_obj = np.array([0] * n, dtype=object)
        dtype = count_dtype(reps)
        return cls(np.zeros(bands.total, dtype=dtype), bands, np.zeros((n, bins), dtype=dtype), zeros_obj,
                   zeros_obj.copy(), np.zeros(n, dtype=np.int64),
                   np.zeros((n_factors, n_options), dtype=np.int64), bin_lo, bin_hi, empty_outside(n))

    @property
    def rank_hist(self) -> np.ndarray:
        """The (units x ranks) histogram (a view when dense; built from the bands otherwise; coarse
        counts have none)."""
        n = self.bands.lo.shape[0]
        if self.coarse:
            raise ValueError("coarse rank counts have no dense histogram: see rank_frequency's rank bins")
        if self.bands.is_dense:
            return self.rank_counts.reshape(n, n)
        return dense_of(self.bands, self.rank_counts)

    def add(self, c: "ChunkCounts") -> None:
        """Add one chunk's counts and sums into the totals (exact integer arithmetic)."""
        self.rank_counts += c.rank_counts
        self.score_hist += c.score_hist
        self._add_sums(*c[2:])

    def add_slots(self, rank_hist: np.ndarray, score_hist: np.ndarray, *rest: np.ndarray) -> None:
        """:meth:`add` of ``ChunkCounts.from_slots(rank_hist, score_hist, *rest)`` without building
        the chunk's counts: each slot's rank and score-bin counts are added into the totals in place
        (no int32 copy of the chunk's counts)."""
        for t in range(rank_hist.shape[0]):
            np.add(self.rank_counts, rank_hist[t].reshape(-1), out=self.rank_counts)
            np.add(self.score_hist, score_hist[t], out=self.score_hist)
        self._add_sums(*slot_sums(*rest))

    def _add_sums(self, score_q, score_q2, nan_count, choice_count, outside) -> None:
        self.score_q += score_q
        self.score_q2 += score_q2
        self.nan_count += nan_count
        self.choice_count += choice_count
        self.outside = merge_outside(self.outside, outside)


def count_dtype(reps: int):
    """The dtype of count totals of a run of ``reps`` replications (see :meth:`Accumulators.empty`)."""
    return np.int32 if reps < 2 ** 31 else np.int64


def empty_outside(n: int) -> np.ndarray:
    out = np.zeros((3, n), dtype=np.int64)
    out[1] = NO_OUTSIDE_MIN
    return out


def merge_outside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(count, min, max) of ranks outside the bands, of two sets of replications together."""
    return np.stack([a[0] + b[0], np.minimum(a[1], b[1]), np.maximum(a[2], b[2])])


class ChunkCounts(NamedTuple):
    """The integer counts and sums of one chunk of replications (per-thread slots added up): what a
    thread pool or a Dask worker returns and :meth:`Accumulators.add` adds. Counts are int32 (half
    the memory of the chunk's sum): a chunk has at most ``MAX_REPS_PER_SLOT`` replications per
    thread, so no cell exceeds ``2**14 x threads``."""

    rank_counts: np.ndarray  # flat int32 (the band layout of the run)
    score_hist: np.ndarray  # (n, bins) int32
    score_q: np.ndarray  # (n,) object (Python ints)
    score_q2: np.ndarray
    nan_count: np.ndarray  # (n,) int64
    choice_count: np.ndarray  # (factors, options) int64
    outside: np.ndarray  # (3, n) int64

    @classmethod
    def ranks_only(cls, rank_hist: np.ndarray) -> "ChunkCounts":
        """The rank counts of per-slot arrays, nothing else (the exact pass of coarse counts)."""
        e = np.zeros(0, dtype=np.int32)
        return cls(rank_hist.sum(axis=0, dtype=np.int32).ravel(), e, e.astype(object), e.astype(object), e, e,
                   np.zeros((3, 0), dtype=np.int64))

    @classmethod
    def from_slots(cls, rank_hist: np.ndarray, score_hist: np.ndarray, q: np.ndarray, q2: np.ndarray,
                   nan_count: np.ndarray, choice_count: np.ndarray, outside: np.ndarray) -> "ChunkCounts":
        """Add up per-slot arrays (leading slot axis); ``q2`` per slot may be near 2**63, so it is
        summed exactly: :func:`exact_sum` over the slots."""
        return cls(rank_hist.sum(axis=0, dtype=np.int32).ravel(), score_hist.sum(axis=0, dtype=np.int32),
                   *slot_sums(q, q2, nan_count, choice_count, outside))


def slot_sums(q: np.ndarray, q2: np.ndarray, nan_count: np.ndarray, choice_count: np.ndarray,
              outside: np.ndarray) -> tuple:
    """``(score_q, score_q2, nan_count, choice_count, outside)`` of a chunk from per-slot arrays
    (leading slot axis): the sums of :class:`ChunkCounts` after its two count arrays."""
    return (q.sum(axis=0).astype(object), exact_sum(q2), nan_count.sum(axis=0), choice_count.sum(axis=0),
            np.stack([outside[:, 0].sum(axis=0), outside[:, 1].min(axis=0), outside[:, 2].max(axis=0)]))


def exact_sum(x: np.ndarray) -> np.ndarray:
    """Column sums of non-negative int64 rows ``x`` (slots x units) as Python integers (object array),
    exact whatever their size: the low and high 32 bits are summed apart in uint64 (no overflow for
    fewer than 2**32 rows), then ``hi * 2**32 + lo`` (much faster than summing Python integers
    unit by unit)."""
    u = x.astype(np.uint64)
    lo = (u & np.uint64(0xFFFFFFFF)).sum(axis=0, dtype=np.uint64)
    hi = (u >> np.uint64(32)).sum(axis=0, dtype=np.uint64)
    return hi.astype(object) * (1 << 32) + lo.astype(object)


def add_counts(a: ChunkCounts, b: ChunkCounts) -> ChunkCounts:
    """The counts of two chunks together (exact)."""
    return ChunkCounts(*(x + y for x, y in zip(a[:-1], b[:-1])), merge_outside(a.outside, b.outside))


COARSE_NOTE = ("coarse then exact: pass 1 counts each unit's ranks in bins over its pilot band (plus exact sum, "
               "min and max), pass 2 replays the replications and counts exact ranks in the bins holding each "
               "quantile and top-k threshold")


def coarse_frequency(acc: Accumulators, units: pd.Index, n: int) -> pd.DataFrame:
    """``unit, rank_lo, rank_hi, count`` of the non-empty rank bins of coarse counts (one rank per
    row where the exact pass counted it; ``unit`` categorical, ranks int32)."""
    unit, r_lo, r_hi, count = long_bins(acc.bands, acc.rank_counts, acc.outside, acc.exact, acc.exact_counts, n)
    cats = pd.Categorical.from_codes(unit, categories=pd.Index(units))
    # the columns are this call's own arrays (350 MiB at 100,000 units): wrapped, not copied
    return pd.DataFrame({"unit": cats, "rank_lo": r_lo, "rank_hi": r_hi, "count": count}, copy=False)


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
        Units x ranks (1..n) counts over all replications; above ``BAND_UNITS`` units the long
        format ``unit, rank, count`` of the non-zero counts, or with coarse counts
        ``unit, rank_lo, rank_hi, count`` (docs/robustness.md, "Many units").
    choice_shares : DataFrame
        ``factor, option, count, share``: how often each option was drawn.
    manifest : dict
        Spec, seed, replications, threads, timing (``compile_s`` apart from ``run_s``; the rate
        counts replications only), notes; :func:`weightlab.results.write_results` writes it to
        ``manifest.json`` after the run record and the data's items of :mod:`weightlab.results.manifest`.
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
    def from_run(cls, plan, acc: Accumulators, timing: dict[str, Any], until=None, nominal=None
                 ) -> "RobustnessResult":
        ds, spec, kp = plan.dataset, plan.spec, plan.kernel
        if nominal is None:
            from .checks import check_nominal

            nominal = check_nominal(plan.dataset, plan.spec, plan)
        N = acc.reps
        bands, counts, off = acc.bands, acc.rank_counts, acc.bands.off
        out = pd.DataFrame({"unit": ds.units.to_numpy(), "name": ds.names.to_numpy(),
                            "nominal_rank": nominal.ranks.to_numpy()})
        qs, top_k = summary_points(spec, kp.n_units)
        if acc.coarse:
            q_arr, rank_sum, best, worst, below = coarse_summary(bands, counts, acc.outside, acc.exact,
                                                                 acc.exact_counts, qs, top_k, kp.n_units)
        else:
            q_arr = band_quantiles(counts, off, bands.lo, qs)
            rank_sum, best, worst, below = band_summary(counts, off, bands.lo, top_k)
        quant = dict(zip(qs.tolist(), q_arr.T))
        out["median_rank"] = quant[0.5]
        out["mean_rank"] = rank_sum / N
        for q in spec.outputs.quantiles:
            if q != 0.5:
                out[f"{_pct(q)}_rank"] = quant[float(q)]
        out["best_rank"] = best
        out["worst_rank"] = worst
        for j, k in enumerate(spec.outputs.top_k):
            out[f"p_top{k}"] = below[:, j] / N
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
        if until is not None:  # batch-means standard errors of the quantiles (convergence.py)
            se = until.standard_errors()
            for j, q in enumerate(until.quantiles):
                out["median_rank_se" if q == 0.5 else f"{_pct(q)}_rank_se"] = se[:, j]
        out = out.sort_values(["median_rank", "nominal_rank", "unit"], kind="stable").reset_index(drop=True)
        if acc.coarse:  # long format by rank bins: (unit, rank_lo, rank_hi, count), exact ranks where counted
            freq = coarse_frequency(acc, ds.units, kp.n_units)
        elif kp.n_units <= BAND_UNITS:
            freq = pd.DataFrame(acc.rank_hist, index=pd.Index(ds.units, name="unit"),
                                columns=[str(r) for r in range(1, kp.n_units + 1)])
        else:  # long format: (unit, rank, count) of the non-zero counts
            unit, rank, count = long_format(bands, counts, ds.units.to_numpy())
            freq = pd.DataFrame({"unit": unit, "rank": rank, "count": count}, copy=False)  # (as coarse_frequency)
        rows = []
        for f_i, (factor, options) in enumerate(plan.factor_options.items()):
            for o_i, option in enumerate(options):
                c = int(acc.choice_count[f_i, o_i])
                rows.append({"factor": factor, "option": option, "count": c, "share": c / N})
        manifest = {  # the data's items (label, data, framework) come first in manifest.json: results.write
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
            "rank_counts": "dense units x ranks" if bands.is_dense else COARSE_NOTE if acc.coarse else
                           "per-unit rank bands from the pilot replications, exact second pass for ranks outside",
            "second_pass_units": acc.second_pass_units,
            **({"second_pass_replayed_reps": acc.replayed_reps} if acc.coarse else {}),
            "rank_frequency_format": "long by rank bins (unit, rank_lo, rank_hi, count)" if acc.coarse else
                                     "dense" if kp.n_units <= BAND_UNITS else "long (unit, rank, count)",
            **timing,
        }
        if until is not None:
            manifest["stopping"] = until.describe()
        shares = pd.DataFrame(rows)
        for table in (out, freq, shares):
            if ds.label:
                table.attrs["label"] = ds.label
        return cls(out, freq, shares, manifest, acc, ds, spec, nominal)

    # ---- notebook and report accessors (they import weightlab.results and weightlab.report in the call)
    def __repr__(self) -> str:
        m = self.manifest
        label = f"; {self.dataset.label}" if self.dataset is not None and self.dataset.label else ""
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
        from ..report.save import add_report
        from ..results.write import save_robustness

        return add_report(directory, save_robustness(self, directory, formats, extra), formats, report)
