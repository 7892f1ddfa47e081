"""Indicator analysis: statistics, correlations, Cronbach's alpha, PCA per group, data availability.

The counterparts of COINr's ``get_stats``, ``get_corr``/``get_corr_flags``, ``get_cronbach``,
``get_PCA`` and ``get_data_avail``, each a function returning a DataFrame, and :func:`analyse`,
which runs them all on a :class:`~weightlab.pipeline.Build`:

- statistics per indicator on a stage's table (raw data by default);
- correlations (Pearson and Spearman) of each normalised indicator with its own group's score,
  every other group of the level above the indicators and the index, with flags;
- Cronbach's alpha of the members of every group;
- PCA of the standardised members of every group (variance explained, loadings);
- data availability per unit on the raw data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .screening import availability
from .treatment import TreatmentRule, skew_kurt

WEAK_CORRELATION = 0.3  # |r| below this with the own group is flagged (COINr get_corr_flags uses such cut-offs)


def indicator_stats(values: pd.DataFrame, rule: TreatmentRule = TreatmentRule()) -> pd.DataFrame:
    """One row per indicator: ``n, missing_share, min, max, mean, sd, skew, kurt, zeros, zeros_share,
    outliers_iqr, skew_kurt_flag``.

    ``sd`` has ddof=1; ``skew``/``kurt`` are the small-sample sample statistics of
    :func:`~weightlab.treatment.skew_kurt`; ``outliers_iqr`` counts values outside
    ``[Q1 - 1.5 IQR, Q3 + 1.5 IQR]`` (Tukey's fences); ``skew_kurt_flag`` is True when the
    indicator fails COINr's treatment test (``|skew| >= 2`` and ``kurt >= 3.5``, by default).
    """
    rows = []
    for code in values.columns:
        x = values[code].to_numpy(dtype=float)
        v = x[~np.isnan(x)]
        skew, kurt = skew_kurt(v)
        q1, q3 = (np.percentile(v, [25, 75]) if v.size else (math.nan, math.nan))
        iqr = q3 - q1
        rows.append({
            "indicator": code, "n": int(v.size), "missing_share": 1 - v.size / len(x),
            "min": v.min() if v.size else math.nan, "max": v.max() if v.size else math.nan,
            "mean": v.mean() if v.size else math.nan, "sd": v.std(ddof=1) if v.size > 1 else math.nan,
            "skew": skew, "kurt": kurt, "zeros": int((v == 0).sum()), "zeros_share": (v == 0).sum() / len(x),
            "outliers_iqr": int(((v < q1 - 1.5 * iqr) | (v > q3 + 1.5 * iqr)).sum()),
            "skew_kurt_flag": not math.isnan(skew) and not rule.passes(skew, kurt),
        })
    return pd.DataFrame(rows)


def _scores_above(result: Any) -> pd.DataFrame:
    """Scores of every group of the result, all levels, top level first."""
    fw = result.dataset.framework
    return pd.concat([result.scores[lvl] for lvl in range(fw.n_levels, 1, -1)], axis=1)


def indicator_correlations(result: Any, method: str = "pearson") -> pd.DataFrame:
    """Indicators (rows) x groups of level 2 and the index (columns): correlations of the
    normalised indicators with the group scores, pairwise complete (``method`` pearson/spearman)."""
    fw = result.dataset.framework
    X = result.normalised[fw.indicator_codes]
    groups = result.scores[2] if fw.n_levels > 2 else pd.DataFrame(index=X.index)
    target = pd.concat([groups, result.scores[fw.n_levels]], axis=1)
    return pd.DataFrame({g: X.corrwith(target[g], method=method) for g in target.columns}).rename_axis("indicator")


def correlation_flags(result: Any, weak: float = WEAK_CORRELATION) -> pd.DataFrame:
    """Per indicator: Pearson and Spearman correlation with its own group and with the index, the
    other level-2 group it correlates with most, and a ``flag``:

    - ``negative with own group`` / ``negative with index``: r < 0 (Pearson);
    - ``weak with own group``: |r| < ``weak``;
    - ``closer to GROUP (r = ...)``: r with another level-2 group is higher than with the own group.
    """
    fw = result.dataset.framework
    pearson = indicator_correlations(result, "pearson")
    spearman = indicator_correlations(result, "spearman")
    top = fw.index.code
    level2 = [g for g in pearson.columns if g != top]
    rows = []
    for code in fw.indicator_codes:
        parent = fw.node(code).parent
        own = pearson.loc[code, parent]
        others = pearson.loc[code, [g for g in level2 if g != parent]].dropna()
        best = others.idxmax() if len(others) else ""
        flags = []
        if own < 0:
            flags.append("negative with own group")
        elif abs(own) < weak:
            flags.append("weak with own group")
        if pearson.loc[code, top] < 0:
            flags.append("negative with index")
        if best and others[best] > own:
            flags.append(f"closer to {best} (r = {others[best]:.2f})")
        rows.append({"indicator": code, "group": parent, "pearson_group": own,
                     "spearman_group": spearman.loc[code, parent], "pearson_index": pearson.loc[code, top],
                     "spearman_index": spearman.loc[code, top], "closest_other_group": best,
                     "pearson_closest_other": others[best] if best else math.nan, "flag": "; ".join(flags)})
    return pd.DataFrame(rows)


def cronbach_alpha(block: pd.DataFrame) -> float:
    """Cronbach's alpha of the columns of ``block`` over complete rows::

        alpha = k / (k - 1) * (1 - sum_j var(x_j) / var(sum_j x_j))      (variances ddof=1)

    NaN for fewer than 2 columns or 2 complete rows, or a constant total.
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests. Psychometrika 16.
    """
    X = block.dropna().to_numpy(dtype=float)
    n, k = X.shape
    if k < 2 or n < 2:
        return math.nan
    total = X.sum(axis=1).var(ddof=1)
    if total == 0:
        return math.nan
    return k / (k - 1) * (1 - X.var(axis=0, ddof=1).sum() / total)


def _members_table(result: Any, group: str) -> pd.DataFrame:
    fw = result.dataset.framework
    level = fw.level_of(group) - 1
    return result.scores[level][fw.children(group)]


def group_cronbach(result: Any) -> pd.DataFrame:
    """Cronbach's alpha of the members of every group (indicators in their pillars, pillars in
    their sub-indices, ...) on the values aggregated (normalised indicators, group scores)."""
    fw = result.dataset.framework
    rows = []
    for level in range(2, fw.n_levels + 1):
        for g in fw.groups_at(level):
            block = _members_table(result, g)
            rows.append({"group": g, "level": level, "members": block.shape[1],
                         "complete_units": int(block.notna().all(axis=1).sum()), "alpha": cronbach_alpha(block)})
    return pd.DataFrame(rows)


def group_pca(result: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PCA of the standardised members of every group with 2+ members (complete units only).

    Returns ``summary`` (group, level, members, pc1_share, pc2_share, eigen_above_1) and
    ``loadings`` (group, member, pc1, pc2: eigenvector x sqrt(eigenvalue), i.e. correlations of
    the members with the components; each component's sign makes its loadings sum >= 0).
    """
    from sklearn.decomposition import PCA as SkPCA

    fw = result.dataset.framework
    summary, loadings = [], []
    for level in range(2, fw.n_levels + 1):
        for g in fw.groups_at(level):
            block = _members_table(result, g).dropna()
            k = block.shape[1]
            if k < 2 or len(block) < 3:
                continue
            X = block.to_numpy(dtype=float)
            sd = X.std(axis=0, ddof=1)
            Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
            pca = SkPCA(svd_solver="full").fit(Z)
            eig = pca.explained_variance_
            share = eig / eig.sum() if eig.sum() > 0 else np.zeros_like(eig)
            summary.append({"group": g, "level": level, "members": k, "pc1_share": share[0],
                            "pc2_share": share[1] if k > 1 else math.nan, "eigen_above_1": int((eig > 1).sum())})
            L = pca.components_[:2].T * np.sqrt(np.maximum(eig[:2], 0.0))
            L = L * np.where(L.sum(axis=0) < 0, -1.0, 1.0)
            for j, member in enumerate(block.columns):
                loadings.append({"group": g, "member": member, "pc1": L[j, 0], "pc2": L[j, 1] if L.shape[1] > 1
                                 else math.nan})
    return pd.DataFrame(summary), pd.DataFrame(loadings)


def unit_availability(values: pd.DataFrame) -> pd.DataFrame:
    """Per unit: indicators observed, zeros, share observed (COINr ``get_data_avail``)."""
    return availability(values).rename_axis("unit").reset_index()


def analyse(build: Any, stats_stage: str = "raw", weak: float = WEAK_CORRELATION) -> dict[str, pd.DataFrame]:
    """All analyses of a :class:`~weightlab.pipeline.Build`, as DataFrames by name:
    ``indicator_stats`` (on ``stats_stage``), ``correlations_pearson``, ``correlations_spearman``,
    ``correlation_flags``, ``cronbach``, ``pca_groups``, ``pca_loadings``, ``availability``."""
    res = build.result
    pca_summary, pca_loadings = group_pca(res)
    return {
        "indicator_stats": indicator_stats(build.dataset(stats_stage)),
        "correlations_pearson": indicator_correlations(res, "pearson").reset_index(),
        "correlations_spearman": indicator_correlations(res, "spearman").reset_index(),
        "correlation_flags": correlation_flags(res, weak),
        "cronbach": group_cronbach(res),
        "pca_groups": pca_summary,
        "pca_loadings": pca_loadings,
        "availability": unit_availability(build.dataset("raw")),
    }
