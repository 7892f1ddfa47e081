"""Side-by-side comparison of index variants (schemes, normalizers or aggregators).

For each variant the nominal index is built; the result holds each unit's rank under every variant,
the rank shift against a baseline variant (positive = the unit climbs, i.e. its rank number falls),
and the Spearman and Kendall (tau-b) rank correlations between variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .data import Dataset
from .errors import ParameterError
from .index import IndexResult, build_index


@dataclass
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    ranks : DataFrame
        ``unit, name`` then one rank column per variant (sorted by the baseline rank).
    shifts : DataFrame
        ``unit, name`` then ``baseline rank - variant rank`` per variant (positive = better).
    spearman, kendall : DataFrame
        Variant x variant rank correlations of the index scores.
    results : dict label -> IndexResult
    baseline : str
    """

    ranks: pd.DataFrame
    shifts: pd.DataFrame
    spearman: pd.DataFrame
    kendall: pd.DataFrame
    results: dict[str, IndexResult]
    baseline: str

    @property
    def label(self) -> str:
        """The data's caveat (e.g. "synthetic demo data"), "" when there is none."""
        return self.results[self.baseline].dataset.label

    def table(self) -> pd.DataFrame:
        """One wide table: ranks of every variant and shifts against the baseline (the dataset's
        label, e.g. "synthetic demo data", in ``attrs["label"]``)."""
        shifts = self.shifts.drop(columns=["unit", "name", self.baseline]).add_prefix("shift_")
        out = pd.concat([self.ranks, shifts], axis=1)
        if self.label:
            out.attrs["label"] = self.label
        return out

    def weights_table(self) -> pd.DataFrame:
        """``variant, group, member, level, weight, effective_weight`` for every variant."""
        return weights_table(self.results)

    # ---- notebook and report accessors (they import weightlab.results and weightlab.report in the call)
    def __repr__(self) -> str:
        n = len(self.ranks)
        low = self.spearman.where(~np.eye(len(self.spearman), dtype=bool)).min().min()
        return (f"<Comparison of {len(self.results)} variants ({', '.join(self.results)}) over {n} units; "
                f"baseline {self.baseline}; lowest Spearman {low:.3f}{'; ' + self.label if self.label else ''}>")

    def _repr_html_(self) -> str:
        from .report.notebook import comparison_html

        return comparison_html(self)

    def plot_rank_correlation(self, method: str = "spearman"):
        """Heatmap of the Spearman (or ``method="kendall"``) rank correlations between variants."""
        from .report.correlation import plot_rank_correlation

        corr = self.spearman if method == "spearman" else self.kendall
        return plot_rank_correlation(corr, label=self.label, method="Spearman" if method == "spearman" else "Kendall")

    def plot_weights(self, kind: str = "effective"):
        """Bars of every variant's effective (or ``kind="within"`` group) weights per indicator."""
        from .report.weights import plot_weights

        fw = self.results[self.baseline].dataset.framework
        return plot_weights(fw, {k: r.weights for k, r in self.results.items()}, kind, label=self.label)

    def save(self, directory, formats=("csv",), report: bool = True) -> list:
        """Write ``compare``, ``rank_correlation``, ``weights`` (csv and/or xlsx) and ``manifest.json``
        to ``directory`` (and ``report.html`` unless ``report=False``); returns the paths."""
        from .report.save import add_report
        from .results.write import save_comparison

        return add_report(directory, save_comparison(self, directory, formats), formats, report)


def weights_table(results: "dict[str, IndexResult]") -> pd.DataFrame:
    """``variant`` then the :meth:`Weights.to_frame` columns, for several builds (label in ``attrs``)."""
    frames = [res.weights.to_frame().assign(variant=name) for name, res in results.items()]
    table = pd.concat(frames, ignore_index=True)
    table = table[["variant"] + [c for c in table.columns if c != "variant"]]
    label = next(iter(results.values())).dataset.label if results else ""
    if label:
        table.attrs["label"] = label
    return table


def compare(dataset: Dataset, variants: "dict[str, dict[str, Any]]", baseline: str | None = None,
            **common: Any) -> Comparison:
    """Build every variant (``label -> build_index keyword arguments``) and compare their ranks.

    ``common`` keyword arguments apply to every variant unless a variant overrides them.
    """
    if len(variants) < 1:
        raise ParameterError("Give at least one variant to compare.")
    baseline = baseline or next(iter(variants))
    if baseline not in variants:
        raise ParameterError(f"Baseline '{baseline}' is not one of the variants: {', '.join(variants)}.")
    results = {label: build_index(dataset, **{**common, **kw}) for label, kw in variants.items()}
    first = next(iter(results.values()))
    base = pd.DataFrame({"unit": first.index_scores.index, "name": dataset.names.to_numpy()})
    ranks = base.copy()
    for label, res in results.items():
        ranks[label] = res.ranks.to_numpy()
    shifts = base.copy()
    for label in results:
        shifts[label] = ranks[baseline] - ranks[label]
    order = ranks[baseline].argsort(kind="stable").to_numpy()
    ranks, shifts = ranks.iloc[order].reset_index(drop=True), shifts.iloc[order].reset_index(drop=True)
    scores = pd.DataFrame({label: res.index_scores for label, res in results.items()})
    return Comparison(ranks, shifts, scores.corr(method="spearman"), scores.corr(method="kendall"),
                      results, baseline)


def compare_schemes(dataset: Dataset, schemes: "list[str]", baseline: str | None = None,
                    **common: Any) -> Comparison:
    """:func:`compare` with one variant per weighting scheme name (each at most once)."""
    twice = sorted({s for s in schemes if list(schemes).count(s) > 1})
    if twice:
        raise ParameterError(f"Scheme(s) {', '.join(twice)} listed twice: list each scheme once.")
    return compare(dataset, {s: {"scheme": s} for s in schemes}, baseline, **common)
