"""Correlation heatmaps: rank correlations between index variants, and indicator correlations within
and across the levels of the framework.

Correlations are Spearman's rho unless stated (rank correlations: unchanged by any monotone
normalisation of an indicator, so the normalised and raw values give the same matrix).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import ParameterError
from ..framework import Framework
from ._figure import data_label, finish, new_figure, short, styled
from .weights import display_name, tree_order


def _heatmap(ax, matrix: np.ndarray, rows: list[str], cols: list[str], annotate: bool, vmin: float = -1.0,
             cmap: str = "RdBu_r"):
    im = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(len(cols)), cols, rotation=60, ha="right")
    ax.set_yticks(np.arange(len(rows)), rows)
    if annotate:
        size = 8 if max(len(rows), len(cols)) <= 10 else 6
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                v = matrix[i, j]
                if np.isfinite(v):
                    dark = abs(v) > 0.6 if cmap == "RdBu_r" else (v - vmin) / (1 - vmin) < 0.55
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=size,
                            color="white" if dark else "black")
    return im


@styled
def plot_rank_correlation(corr: pd.DataFrame, label: str | None = None, method: str = "Spearman",
                          title: str | None = None) -> Figure:
    """Annotated heatmap of a variant x variant rank-correlation matrix (e.g.
    :attr:`weightlab.compare.Comparison.spearman`)."""
    if corr.shape[0] != corr.shape[1] or list(corr.index) != list(corr.columns):
        raise ParameterError("plot_rank_correlation needs a square correlation matrix with the same "
                             "variants as rows and columns.")
    n = corr.shape[0]
    m = corr.to_numpy(dtype=float)
    fig = new_figure(max(4.5, 0.62 * n + 2.6), max(4.0, 0.55 * n + 2.0))
    ax = fig.subplots()
    low = float(np.nanmin(m)) if np.isfinite(m).any() else 0.0
    # all positive (the usual case): a sequential scale from just below the lowest value, for contrast
    vmin, cmap = (-1.0, "RdBu_r") if low < 0 else (min(0.9, np.floor(low * 20) / 20), "viridis")
    im = _heatmap(ax, m, [short(v, 26) for v in corr.index], [short(v, 26) for v in corr.columns], True,
                  vmin=vmin, cmap=cmap)
    fig.colorbar(im, ax=ax, label=f"{method} rank correlation", shrink=0.8)
    return finish(fig, title or f"{method} rank correlation between index variants", data_label(label, corr))


@styled
def plot_indicator_correlation(scores: pd.DataFrame, framework: Framework, rows: int = 1, cols: int = 1,
                               method: str = "spearman", label: str | None = None) -> Figure:
    """Correlations between the nodes of level ``rows`` and those of level ``cols`` over the units
    (1 = indicators; e.g. ``rows=1, cols=1`` indicator x indicator, ``rows=1, cols=3`` indicators
    against dimensions). ``scores`` has one column per node code (normalised indicator values and
    group scores, e.g. :meth:`weightlab.IndexResult.scores_table`). Within-level matrices show the
    boundaries of the parent groups.
    """
    if method not in ("spearman", "pearson", "kendall"):
        raise ParameterError(f"method must be spearman, pearson or kendall; got {method!r}.")
    top = framework.n_levels
    for lvl in (rows, cols):
        if not 1 <= lvl <= top - 1:
            raise ParameterError(f"levels must be in 1..{top - 1} (1 = indicators); got {lvl}.")
    order = tree_order(framework)
    rcodes = [c for c in order if framework.level_of(c) == rows]
    ccodes = [c for c in order if framework.level_of(c) == cols]
    missing = [c for c in dict.fromkeys(rcodes + ccodes) if c not in scores.columns]
    if missing:
        raise ParameterError(f"The scores table has no column for {', '.join(missing)}.")
    full = scores[list(dict.fromkeys(rcodes + ccodes))].astype(float).corr(method=method)
    m = full.loc[rcodes, ccodes].to_numpy()
    fig = new_figure(max(5.0, 0.26 * len(ccodes) + 4.2), max(4.0, 0.24 * len(rcodes) + 3.0))
    ax = fig.subplots()
    annotate = len(rcodes) * len(ccodes) <= 400
    im = _heatmap(ax, m, [display_name(framework, c, 30) for c in rcodes],
                  [display_name(framework, c, 30) for c in ccodes], annotate)
    if rows == cols:
        parents = [framework.node(c).parent for c in rcodes]
        for i in range(1, len(parents)):
            if parents[i] != parents[i - 1]:
                ax.axhline(i - 0.5, color="black", linewidth=0.8)
                ax.axvline(i - 0.5, color="black", linewidth=0.8)
    fig.colorbar(im, ax=ax, label=f"{method.capitalize()} correlation", shrink=0.8)
    names = {1: "indicators", top - 1: "top-level groups"}
    what = f"{names.get(rows, f'level-{rows} groups')} × {names.get(cols, f'level-{cols} groups')}"
    return finish(fig, f"Correlation: {what}", data_label(label, scores),
                  "lines separate parent groups" if rows == cols else "")
