"""Side-by-side comparison of index variants (schemes, normalizers or aggregators).

For each variant the nominal index is built; the result holds each unit's rank under every variant,
the rank shift against a baseline variant (positive = the unit climbs, i.e. its rank number falls),
and the Spearman and Kendall (tau-b) rank correlations between variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

    def table(self) -> pd.DataFrame:
        """One wide table: ranks of every variant and shifts against the baseline (and the dataset's
        label in a last ``note`` column when it has one, e.g. "synthetic demo data")."""
        shifts = self.shifts.drop(columns=["unit", "name", self.baseline]).add_prefix("shift_")
        out = pd.concat([self.ranks, shifts], axis=1)
        label = self.results[self.baseline].dataset.label
        if label:
            out["note"] = label
        return out


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
