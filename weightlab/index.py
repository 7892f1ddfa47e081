"""The nominal index: impute -> normalise -> weigh -> aggregate level by level -> rank.

This is the plain pandas/numpy reference that the Monte Carlo engine must agree with, replication
by replication.

Ranks: 1 is best; tied scores share the lowest rank of the tie (pandas ``method="min"``); units
whose score is missing are ranked after all others.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._estimator import clone
from .aggregation import Aggregator, aggregate_tree
from .data import Dataset
from .errors import InputError
from .normalization import NORMALIZERS, Normalizer
from .treatment import impute
from .weighting import SCHEMES, Weights, WeightingScheme, resolve_aggregators


def rank_descending(scores: "pd.Series | np.ndarray") -> np.ndarray:
    """Competition ranks, 1 = highest; ties share the lowest rank (pandas ``method="min"``).

    NaN scores are ranked after every finite score and share rank ``1 + #finite``.
    """
    s = pd.Series(np.asarray(scores, dtype=float))
    return s.rank(ascending=False, method="min", na_option="bottom").to_numpy(dtype=np.int64)


def normalise(dataset: Dataset, normalizer: "str | Normalizer" = "minmax", imputation: str = "none",
              **params: Any) -> pd.DataFrame:
    """Impute, then normalise every indicator with its framework direction (higher is better)."""
    directions = dict(zip(dataset.framework.indicator_codes, dataset.framework.directions.tolist()))
    norm = clone(NORMALIZERS.resolve(normalizer, **params)).set_params(directions=directions)
    return norm.fit_transform(impute(dataset.values, imputation))


@dataclass
class IndexResult:
    """Scores and ranks of every unit at every level.

    Attributes
    ----------
    dataset : Dataset
    normalised : DataFrame
        Indicator values after imputation and normalisation (level 1 scores).
    scores : dict int -> DataFrame
        Scores of the nodes of each level (1 = indicators, top = the index, one column).
    weights : Weights
    settings : dict
        The choices that produced the result (normalizer, scheme, aggregators, imputation, ...).
    """

    dataset: Dataset
    normalised: pd.DataFrame
    scores: dict[int, pd.DataFrame]
    weights: Weights
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def index_scores(self) -> pd.Series:
        fw = self.dataset.framework
        return self.scores[fw.n_levels][fw.index.code].rename("score")

    @property
    def ranks(self) -> pd.Series:
        return pd.Series(rank_descending(self.index_scores), index=self.index_scores.index, name="rank")

    def level_ranks(self, level: int) -> pd.DataFrame:
        """Ranks of the units within each node of ``level``."""
        s = self.scores[level]
        return pd.DataFrame({c: rank_descending(s[c]) for c in s.columns}, index=s.index)

    def table(self) -> pd.DataFrame:
        """``unit, name, score, rank`` then one score column per group, top level first.

        The dataset's label (the built-in data: "synthetic demo data") is in ``attrs["label"]``.
        """
        fw = self.dataset.framework
        out = pd.DataFrame({"unit": self.index_scores.index, "name": self.dataset.names.to_numpy(),
                            "score": self.index_scores.to_numpy(), "rank": self.ranks.to_numpy()})
        for level in range(fw.n_levels - 1, 1, -1):
            for code in fw.groups_at(level):
                out[code] = self.scores[level][code].to_numpy()
        return _labelled(out.sort_values(["rank", "unit"], kind="stable").reset_index(drop=True), self.dataset.label)

    def scores_table(self) -> pd.DataFrame:
        """``unit, name`` (and other ``name_*`` columns of the data, e.g. ``name_zh``), ``rank``, then
        the score of every node: the index, every group (top level first) and every indicator (its
        normalised value); rows in dataset order.

        The input of the unit profile and the indicator correlations (``scores.csv`` in a results
        directory); the dataset's label is in ``attrs["label"]``.
        """
        fw = self.dataset.framework
        cols = {"unit": self.dataset.units, "name": self.dataset.names.to_numpy()}
        for col in [c for c in self.dataset.meta.columns if str(c).startswith("name_")]:
            cols[col] = self.dataset.meta[col].reindex(self.dataset.units).to_numpy()
        cols["rank"] = self.ranks.to_numpy()
        for level in range(fw.n_levels, 0, -1):
            for code in fw.codes_at(level):
                cols[code] = self.scores[level][code].reset_index(drop=True)
        # one frame of the columns (inserting them one by one fragments it, and pandas warns at 400
        # indicators); the scores are not copied: pandas copies a column when either side writes to it
        return _labelled(pd.DataFrame(cols, copy=False), self.dataset.label)

    # ---- notebook and report accessors (they import weightlab.results and weightlab.report in the call)
    def __repr__(self) -> str:
        st = self.settings
        aggs = ", ".join(sorted({str(v) for v in st.get("aggregator", {}).values()})) or "?"
        best = self.table().iloc[0]
        return (f"<IndexResult: {self.dataset.n_units} units x {self.dataset.n_indicators} indicators; "
                f"normalizer {st.get('normalizer')}, scheme {st.get('scheme')}, aggregator {aggs}; "
                f"rank 1: {best['name']}{'; ' + self.dataset.label if self.dataset.label else ''}>")

    def _repr_html_(self) -> str:
        from .report.notebook import index_result_html

        return index_result_html(self)

    def plot_framework(self):
        """Sunburst of the framework sized by this result's effective weights (a matplotlib Figure)."""
        from .report.weights import plot_framework

        return plot_framework(self.dataset.framework, self.weights, label=self.dataset.label)

    def plot_weights(self, kind: str = "effective"):
        """Bars of this result's effective (or ``kind="within"`` group) weights per indicator."""
        from .report.weights import plot_weights

        return plot_weights(self.dataset.framework, {str(self.settings.get("scheme")): self.weights}, kind,
                            label=self.dataset.label)

    def plot_indicator_correlation(self, rows: int = 1, cols: int = 1, method: str = "spearman"):
        """Heatmap of the correlations between the nodes of level ``rows`` and level ``cols``."""
        from .report.correlation import plot_indicator_correlation

        return plot_indicator_correlation(self.scores_table(), self.dataset.framework, rows, cols, method)

    def plot_unit_profile(self, unit: str, n: int = 5):
        """One unit's scores on every node against the median and the best, strengths and weaknesses."""
        from .report.profile import plot_unit_profile

        return plot_unit_profile(self.scores_table(), self.dataset.framework, unit, n)

    def unit_summary(self, unit: str) -> pd.DataFrame:
        """One unit's score, rank, the median and the best on every node (COINr ``get_unit_summary``)."""
        from .report.profile import unit_summary

        return unit_summary(self.scores_table(), self.dataset.framework, unit)

    def save(self, directory, formats: Iterable[str] = ("csv",), report: bool = True) -> list:
        """Write ``scores.csv``, ``weights.csv``, ``framework.toml`` and ``manifest.json`` to
        ``directory`` (the nominal files every results directory has), ``results.xlsx`` when
        ``formats`` has "xlsx", and ``report.html`` unless ``report=False``; returns the paths."""
        from .report.save import add_report
        from .results.write import save_index_result

        return add_report(directory, save_index_result(self, directory, formats), formats, report)


def _labelled(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """``df`` with the data's caveat (e.g. "synthetic demo data") in ``attrs["label"]``."""
    if label:
        df.attrs["label"] = label
    return df


def build_index(dataset: Dataset, normalizer: "str | Normalizer" = "minmax",
                scheme: "str | WeightingScheme" = "equal",
                aggregator: "str | Aggregator | dict[int, str | Aggregator]" = "arithmetic",
                imputation: str = "none", scheme_level: "int | str | Iterable[int]" = "all",
                normalizer_params: dict | None = None, scheme_params: dict | None = None,
                aggregator_params: dict | None = None, weights: "Weights | pd.Series | None" = None,
                skip_missing: bool = True, normalised: "pd.DataFrame | None" = None) -> IndexResult:
    """Build the nominal index.

    Parameters
    ----------
    dataset : Dataset
    normalizer, scheme, aggregator : registered name or object
        Defaults ``minmax``, ``equal``, ``arithmetic``. ``aggregator`` may be a dict level ->
        aggregator for a different aggregator at each level (2 .. top).
    imputation : {"none", "mean", "median", "knn"}, default="none"
    scheme_level : int, iterable of int or "all", default="all"
        Member levels the scheme weights; others keep the framework's nominal weights.
    normalizer_params, scheme_params, aggregator_params : dict, optional
        Keyword parameters for plug-ins given by name (``aggregator_params`` applies to each level).
    weights : Weights or Series, optional
        Use these within-group member weights instead of fitting ``scheme``.
    skip_missing : bool, default=True
        Aggregate over the members present (renormalising weights); else a missing member gives NaN.
    normalised : DataFrame, optional
        The indicators as :func:`normalise` returns them for these ``normalizer`` and ``imputation``
        (a compiled plan's matrix): used as they are instead of normalising again (no second copy).
    """
    fw = dataset.framework
    X = normalise(dataset, normalizer, imputation, **(normalizer_params or {})) if normalised is None else normalised
    if isinstance(aggregator, dict):
        aggs = resolve_aggregators({k: _resolve_agg(v, aggregator_params) for k, v in aggregator.items()}, fw)
    else:
        aggs = resolve_aggregators(_resolve_agg(aggregator, aggregator_params), fw)
    if weights is None:
        sch = SCHEMES.resolve(scheme, **(scheme_params or {}))
        w = sch.fit(X, fw, level=scheme_level, aggregator=aggs).weights_
    elif isinstance(weights, Weights):
        w = weights
    else:
        w = Weights(fw, weights.reindex(fw.nominal_weights().index).astype(float), "given")
    if dataset.label and not w.label:
        w = replace(w, label=dataset.label)
    member_weights, scores = aggregate_tree(X, fw, aggs, lambda g, members, block: w.values[members].to_numpy(),
                                            skip_missing=skip_missing)
    _refuse_all_ties(dataset.values, scores[fw.n_levels][fw.index.code])
    settings = {
        "normalizer": _describe(normalizer, normalizer_params),
        "scheme": w.scheme if weights is not None else _describe(scheme, scheme_params),
        "scheme_level": scheme_level,
        "aggregator": {lvl: _describe(a, None) for lvl, a in aggs.items()},
        "imputation": imputation,
        "skip_missing": skip_missing,
    }
    if dataset.label:
        settings["label"] = dataset.label
    return IndexResult(dataset, X, scores, w, settings)


def _refuse_all_ties(values: pd.DataFrame, index_scores: pd.Series) -> None:
    """Refuse an index where every unit has the same score although the data differ between units:
    a parameter (a shift, a range, goalposts) swamped the data, and a ranking would be void."""
    s = index_scores.to_numpy(dtype=float)
    s = s[np.isfinite(s)]
    varies = (values.max() - values.min()).fillna(0.0).gt(0).any()
    if len(s) > 1 and np.ptp(s) == 0 and varies:
        raise InputError(f"Every unit gets the same index score ({s[0]:g}) although the data differ between "
                         f"units: a parameter (e.g. a shift, range or goalposts) swamps them, or the weights put "
                         f"everything on constant members; every unit would tie at rank 1.")


def _resolve_agg(agg: "str | Aggregator", params: dict | None) -> Aggregator:
    from .aggregation import AGGREGATORS

    return AGGREGATORS.resolve(agg, **(params or {})) if isinstance(agg, str) else agg


def _describe(obj: Any, params: dict | None) -> str:
    """``name`` or ``name(k=v, ...)`` for manifests and output headers."""
    if isinstance(obj, str):
        name, p = obj, dict(params or {})
    else:
        name, p = getattr(obj, "name", type(obj).__name__), {
            k: v for k, v in obj.get_params().items() if k != "directions" and v is not None}
    return name + (f"({', '.join(f'{k}={v}' for k, v in sorted(p.items()))})" if p else "")
