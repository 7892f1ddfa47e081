"""The result of a Monte Carlo run: per-unit rank and score summaries, rank frequencies, choice shares.

The accumulators are :mod:`weightlab.robustness.accumulators`; the summaries, small pure functions
of them, :mod:`weightlab.robustness.summaries`; the rank frequency table is the rank layout's
(:mod:`.bands`, :mod:`.coarse`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .accumulators import PILOT_REPS, SCORE_BINS, Accumulators
from .bands import BAND_UNITS
from .summaries import SUMMARIES, SummaryInput, pct, summary_points

COARSE_NOTE = ("coarse then exact: pass 1 counts each unit's ranks in bins over its pilot band (plus exact sum, "
               "min and max), pass 2 replays the replications and counts exact ranks in the bins holding each "
               "quantile and top-k threshold")


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
        bands = acc.bands
        out = pd.DataFrame({"unit": ds.units.to_numpy(), "name": ds.names.to_numpy(),
                            "nominal_rank": nominal.ranks.to_numpy()})
        qs, top_k = summary_points(spec, kp.tree.n_units)
        s = SummaryInput(bands.summary(acc, qs, top_k), qs, acc.counts, N, tuple(spec.outputs.quantiles),
                         tuple(spec.outputs.top_k), kp.scale.score_lo, kp.scale.score_hi, kp.scale.q_max, acc.bin_lo,
                         acc.bin_hi,
                         out["nominal_rank"].to_numpy())
        for summary in SUMMARIES:
            for name, column in summary(s).items():
                out[name] = column
        if until is not None:  # batch-means standard errors of the quantiles (convergence.py)
            se = until.standard_errors()
            for j, q in enumerate(until.quantiles):
                out["median_rank_se" if q == 0.5 else f"{pct(q)}_rank_se"] = se[:, j]
        out = out.sort_values(["median_rank", "nominal_rank", "unit"], kind="stable").reset_index(drop=True)
        # units x ranks, long (unit, rank, count) above BAND_UNITS units, or long by rank bins (coarse counts)
        freq = bands.frequency(acc, ds.units)
        rows = []
        for f_i, (factor, options) in enumerate(plan.factor_options.items()):
            for o_i, option in enumerate(options):
                c = int(acc.counts.choice_count[f_i, o_i])
                rows.append({"factor": factor, "option": option, "count": c, "share": c / N})
        manifest = {  # the data's items (label, data, framework) come first in manifest.json: results.write
            "spec": spec.to_dict(),
            "seed": spec.seed,
            "reps": N,
            "uncertain_factors": spec.uncertain_factors(),
            "sampling": {"stream": "counter-based stream (splitmix64 of seed, replication, draw)",
                         "sobol": "scrambled Sobol' points (scipy.stats.qmc.Sobol, seeded)"}.get(acc.design, acc.design),
            "score_range": [kp.scale.score_lo, kp.scale.score_hi],
            "score_bins": f"per unit: {SCORE_BINS} bins over its score range in the first {PILOT_REPS:,} "
                          f"replications, widened by half of it on each side; scores outside fall in the edge bins",
            "ranks": "1 = best; ties share the lowest rank (pandas method='min'); quantiles by inverted CDF",
            "rank_counts": "dense units x ranks" if bands.is_dense else COARSE_NOTE if acc.coarse else
                           "per-unit rank bands from the pilot replications, exact second pass for ranks outside",
            "second_pass_units": acc.second_pass_units,
            **({"second_pass_replayed_reps": acc.replayed_reps} if acc.coarse else {}),
            "rank_frequency_format": "long by rank bins (unit, rank_lo, rank_hi, count)" if acc.coarse else
                                     "dense" if kp.tree.n_units <= BAND_UNITS else "long (unit, rank, count)",
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
