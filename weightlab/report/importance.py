"""The report's "Importance against weights" section (``importance.csv`` of a results directory).

For each member level: the members' weights beside their normalised importance (main-effect share
of the group, against the index) and their main effect ``S`` with its bootstrap interval next to
``r^2``; then a scatter of each flagged indicator against the index with the smoothing spline
(:func:`weightlab.importances.smoothers.spline_fit`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._figure import finish, new_figure, styled

MAX_SCATTERS = 12  # flagged members drawn against the index, at most


@styled
def plot_level_importance(table: pd.DataFrame, level: int, label: str = "") -> Figure:
    """Weights and importance of the members of ``level`` against the index, side by side."""
    t = table[(table["level"] == level) & (table["against"] == "index")].reset_index(drop=True)
    share = t["S_spline"] / t.groupby("group")["S_spline"].transform("sum")
    y = np.arange(len(t))[::-1]
    fig = new_figure(9.0, 1.2 + 0.24 * len(t))
    left, right = fig.subplots(1, 2, sharey=True)
    left.barh(y + 0.2, t["weight"], height=0.4, color="0.6", label="weight in its group")
    left.barh(y - 0.2, share, height=0.4, color="#2166ac", label="share of the group's main effects")
    left.set_yticks(y, [f"{m} ({g})" for m, g in zip(t["member"], t["group"])])
    left.legend(loc="best")
    left.set_xlabel("within the group")
    err = np.vstack([t["S_spline"] - t["S_lo"], t["S_hi"] - t["S_spline"]]).clip(0)
    right.errorbar(t["S_spline"], y, xerr=err if np.isfinite(err).all() else None, fmt="o", color="#2166ac",
                   label="S (spline) with bootstrap interval")
    right.plot(t["S_linear"], y, "|", color="#b2182b", markersize=10, label="r² (linear S)")
    right.set_xlim(0, 1.05)
    right.set_xlabel("main effect in the index")
    right.legend(loc="best")
    return finish(fig, f"Level {level}: weights and importance in the index", label)


@styled
def plot_flagged_scatter(x: np.ndarray, y: np.ndarray, member: str, flag: str, label: str = "") -> Figure:
    """One member against the index with the GCV smoothing spline."""
    from ..importances.smoothers import spline_fit

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    fig = new_figure(4.2, 3.2)
    ax = fig.subplots()
    ax.scatter(x, y, s=8, color="0.45", alpha=0.7)
    spline = spline_fit(x, y)
    if spline is not None:
        grid = np.linspace(x.min(), x.max(), 200)
        ax.plot(grid, spline(grid), color="#2166ac", label="smoothing spline (GCV)")
        ax.legend(loc="upper left")
    ax.set_xlabel(member)
    ax.set_ylabel("index")
    return finish(fig, f"{member}: {flag}", label)


def importance_section(res: Any, fig: Callable[..., dict[str, str]]) -> dict[str, Any] | None:
    """The section, when the results directory has ``importance.csv``."""
    table = res.get("importance")
    if table is None:
        return None
    table = table.assign(flag=table["flag"].fillna(""))
    figs = [fig(f"importance_level_{lvl}", lambda lvl=lvl: plot_level_importance(table, lvl, res.label),
                f"Level {lvl}: grey, each member's weight in its group; blue, its share of the group's main "
                f"effects in the index. Right: the main effect S = Var(E[index | member]) / Var(index) with its "
                f"bootstrap interval, and r² (what S would be for a straight-line relation).")
            for lvl in sorted(table["level"].unique())]
    scores = res.get("scores")
    flagged = table[(table["flag"] != "") & (table["against"] == "index")]
    if scores is not None and res.framework is not None:
        index = scores[res.framework.index.code].to_numpy(dtype=float)
        for _, row in flagged.head(MAX_SCATTERS).iterrows():
            if row["member"] in scores:
                figs.append(fig(f"importance_scatter_{row['member']}",
                                lambda row=row: plot_flagged_scatter(scores[row["member"]].to_numpy(dtype=float),
                                                                     index, row["member"], row["flag"], res.label),
                                f"{row['member']} against the index ({row['flag']}): S = {row['S_spline']:.2f}, "
                                f"r² = {row['S_linear']:.2f}, share/weight = {row['importance_to_weight']:.2f}."))
    n_flag = int((table["flag"] != "").sum())
    text = (f"A weight is not the importance a member gets: with correlated members of unequal spread the index "
            f"follows some far more than their weights say. {n_flag} of {len(table)} member/score pairs are "
            f"flagged (nonlinear: S − r² > 0.05; counts_more / counts_less: share of the group's main effects "
            f"over weight outside [0.5, 2]); importance.csv has every figure. With correlated members S includes "
            f"what a member explains through the others, so the S of a group do not sum to 1.")
    if len(flagged) > MAX_SCATTERS:
        text += f" The first {MAX_SCATTERS} of {len(flagged)} flagged members are drawn against the index."
    return {"id": "importance", "title": "Importance against weights", "figures": figs, "text": text}
