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
from sklearn.base import clone

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

        When the dataset carries a label (the built-in data: "synthetic demo data") a last column
        ``note`` repeats it, so the caveat travels with the table.
        """
        fw = self.dataset.framework
        out = pd.DataFrame({"unit": self.index_scores.index, "name": self.dataset.names.to_numpy(),
                            "score": self.index_scores.to_numpy(), "rank": self.ranks.to_numpy()})
        for level in range(fw.n_levels - 1, 1, -1):
            for code in fw.groups_at(level):
                out[code] = self.scores[level][code].to_numpy()
        if self.dataset.label:
            out["note"] = self.dataset.label
        return out.sort_values(["rank", "unit"], kind="stable").reset_index(drop=True)


def build_index(dataset: Dataset, normalizer: "str | Normalizer" = "minmax",
                scheme: "str | WeightingScheme" = "equal",
                aggregator: "str | Aggregator | dict[int, str | Aggregator]" = "arithmetic",
                imputation: str = "none", scheme_level: "int | str | Iterable[int]" = "all",
                normalizer_params: dict | None = None, scheme_params: dict | None = None,
                aggregator_params: dict | None = None, weights: "Weights | pd.Series | None" = None,
                skip_missing: bool = True) -> IndexResult:
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
    """
    fw = dataset.framework
    X = normalise(dataset, normalizer, imputation, **(normalizer_params or {}))
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
