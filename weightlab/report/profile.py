"""One unit's profile: its score in every indicator, sub-pillar and dimension against the median and
the best unit, with its strengths and weaknesses (COINr ``get_unit_summary`` / ``get_str_weak``).

A unit's strengths are the indicators in which it ranks best among all units, its weaknesses those
in which it ranks worst (ranks 1 = best, ties share the lowest rank, as everywhere in weightlab).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import ParameterError
from ..framework import Framework
from ._figure import MEDIAN_COLOR, data_label, finish, label_text, new_figure, short, styled
from .weights import display_name, tree_order

STRENGTH_COLOR = "#1a9850"
WEAKNESS_COLOR = "#d73027"


def _scores_by_unit(scores: pd.DataFrame) -> pd.DataFrame:
    return scores.set_index("unit") if "unit" in scores.columns else scores


def find_unit(scores: pd.DataFrame, unit: str) -> str:
    """The unit id of ``unit`` (an id or a name) in ``scores``."""
    s = _scores_by_unit(scores)
    ids = s.index.astype(str)
    if str(unit) in set(ids):
        return s.index[list(ids).index(str(unit))]
    if "name" in s.columns:
        hit = s.index[s["name"].astype(str) == str(unit)]
        if len(hit):
            return hit[0]
    raise ParameterError(f"Unknown unit '{unit}': give a unit id or name from the scores table.")


def unit_summary(scores: pd.DataFrame, framework: Framework, unit: str) -> pd.DataFrame:
    """One row per node below the index: ``code, name, level, parent, score, rank, median, best, worst``.

    ``rank`` is the unit's rank among all units on that node (1 = best, ties share the lowest
    rank); ``median``, ``best`` and ``worst`` are the median, maximum and minimum over units.
    """
    s = _scores_by_unit(scores)
    uid = find_unit(scores, unit)
    rows = []
    for code in tree_order(framework)[1:]:
        if code not in s.columns:
            continue
        col = s[code].astype(float)
        rank = col.rank(ascending=False, method="min", na_option="bottom")
        rows.append({"code": code, "name": framework.node(code).name_en or code, "level": framework.level_of(code),
                     "parent": framework.node(code).parent, "score": col.loc[uid], "rank": int(rank.loc[uid]),
                     "median": col.median(), "best": col.max(), "worst": col.min()})
    return pd.DataFrame(rows)


def strengths_weaknesses(scores: pd.DataFrame, framework: Framework, unit: str, n: int = 5,
                         level: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The nodes of ``level`` where the unit ranks best (strengths) and worst (weaknesses), at most
    ``n`` of each.

    A strength ranks no worse than the unit's median rank over the level's nodes, a weakness
    strictly worse, so a node is never both and a unit ranked the same everywhere has no
    weaknesses. As COINr's ``min_discard``, a node where the unit shares the lowest score (e.g. a
    count of zero shared by most units, which still ranks them all 6th when five units are above)
    is never a strength, and one where it shares the highest score never a weakness. Ties in rank
    are ordered by the unit's score minus the median unit's score.
    """
    summ = unit_summary(scores, framework, unit)
    summ = summ[summ["level"] == level].assign(gap=lambda d: d["score"] - d["median"])
    middle = summ["rank"].median()
    strong = summ[(summ["rank"] <= middle) & (summ["score"] > summ["worst"])]
    weak = summ[(summ["rank"] > middle) & (summ["score"] < summ["best"])]
    strong = strong.sort_values(["rank", "gap"], ascending=[True, False], kind="stable")
    weak = weak.sort_values(["rank", "gap"], ascending=[False, True], kind="stable")
    return strong.head(n).reset_index(drop=True), weak.head(n).reset_index(drop=True)


@styled
def plot_unit_profile(scores: pd.DataFrame, framework: Framework, unit: str, n: int = 5,
                      label: str | None = None) -> Figure:
    """One panel per level (top groups, …, indicators): the unit's score (dot) against the median
    (grey diamond) and the best unit (black bar) on every node; its rank is written beside each row,
    strengths in green, weaknesses in red."""
    summ = unit_summary(scores, framework, unit)
    uid = find_unit(scores, unit)
    s = _scores_by_unit(scores)
    uname = label_text(s.loc[uid, "name"], uid, 40) if "name" in s.columns else str(uid)
    strong, weak = strengths_weaknesses(scores, framework, unit, n)
    colors = {**{c: STRENGTH_COLOR for c in strong["code"]}, **{c: WEAKNESS_COLOR for c in weak["code"]}}
    levels = sorted(summ["level"].unique(), reverse=True)
    counts = [int((summ["level"] == lvl).sum()) for lvl in levels]
    fig = new_figure(8.0, 0.2 * sum(counts) + 1.0 * len(levels) + 1.2)
    axes = fig.subplots(len(levels), 1, squeeze=False, height_ratios=[c + 1.5 for c in counts])[:, 0]
    n_units = len(s)
    top = framework.n_levels
    lo = float(np.nanmin(summ[["score", "median", "best"]].to_numpy(dtype=float)))
    hi = float(np.nanmax(summ[["score", "median", "best"]].to_numpy(dtype=float)))
    pad = 0.05 * (hi - lo or 1)
    for ax, lvl in zip(axes, levels):
        part = summ[summ["level"] == lvl].reset_index(drop=True)
        y = np.arange(len(part))
        ax.hlines(y, lo - pad, hi + pad, color="0.93", linewidth=6, zorder=0)
        ax.scatter(part["best"], y, marker="|", s=90, color="black", label="best unit", zorder=2)
        ax.scatter(part["median"], y, marker="D", s=22, color="0.6", label="median unit", zorder=2)
        ax.scatter(part["score"], y, s=40, color=MEDIAN_COLOR, label=short(uname, 24), zorder=3)
        ax.set_yticks(y, [display_name(framework, c, 34) for c in part["code"]])
        for tick, code in zip(ax.get_yticklabels(), part["code"]):
            tick.set_color(colors.get(code, "black"))
        for yi, r in zip(y, part["rank"]):
            ax.text(1.01, yi, f"#{r}", transform=ax.get_yaxis_transform(), va="center", fontsize=7)
        ax.set_ylim(len(part) - 0.5, -0.5)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_title({1: "indicators (normalised values)", top - 1: "top-level groups"}.get(lvl, f"level {lvl} groups"),
                     loc="left", fontsize=9)
        ax.grid(axis="x", color="0.9")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", frameon=False)
    axes[-1].set_xlabel(f"score (#rank among {n_units} units at the right; green: strengths, red: weaknesses)")
    return finish(fig, f"Profile of {uname} ({uid})", data_label(label, scores))
