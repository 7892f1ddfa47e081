"""Plots of the framework and its weights: the sunburst sized by effective weight, and the weights
of several schemes side by side.

The effective weight of a node is the product of the within-group weights from the node up to the
index (for an indicator: its weight in the index); the effective weights of a group's members add
up to the group's.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..framework import Framework
from ._figure import finish, label_text, new_figure, styled

PALETTE = "tab10"


def member_weights(framework: Framework, weights=None) -> pd.Series:
    """Within-group weight of every non-root node: from a :class:`~weightlab.Weights`, a Series, or the
    framework's nominal weights when ``weights`` is None."""
    if weights is None:
        return framework.nominal_weights()
    values = weights if isinstance(weights, pd.Series) else weights.values  # a Series, or a Weights
    out = pd.Series(values, dtype=float).reindex(framework.nominal_weights().index)
    if out.isna().any():
        from ..errors import ParameterError

        raise ParameterError(f"No weight for {', '.join(out.index[out.isna()])}: give one weight per "
                             "group member of the framework.")
    return out


def node_effective_weights(framework: Framework, weights=None) -> pd.Series:
    """Effective weight of every node (groups and indicators; the index has 1)."""
    w = member_weights(framework, weights)
    out = {framework.index.code: 1.0}
    for code in tree_order(framework)[1:]:
        out[code] = out[framework.node(code).parent] * float(w[code])
    return pd.Series(out, dtype=float)


def tree_order(framework: Framework) -> list[str]:
    """Every code, depth first from the index, members in definition order."""
    out, stack = [], [framework.index.code]
    while stack:
        code = stack.pop()
        out.append(code)
        stack.extend(reversed(framework.children(code)))
    return out


def display_name(framework: Framework, code: str, width: int = 30) -> str:
    """English name of a node (its code when it has none), shortened to ``width`` characters."""
    node = framework.node(code)
    return label_text(node.name_en or code, code, width)


def _top_colors(framework: Framework) -> dict[str, tuple]:
    """One colour per member of the index, inherited by every node below it."""
    cmap = colormaps[PALETTE]
    top = framework.children(framework.index.code)
    colors = {c: cmap(i % cmap.N) for i, c in enumerate(top)}
    for code in tree_order(framework):
        if code not in colors and code != framework.index.code:
            colors[code] = colors[framework.node(code).parent]
    return colors


@styled
def plot_framework(framework: Framework, weights=None, label: str = "", title: str | None = None) -> Figure:
    """Sunburst of the framework: one ring per level (the index's members innermost, indicators
    outermost), each node's angle proportional to its effective weight."""
    eff = node_effective_weights(framework, weights)
    colors = _top_colors(framework)
    top = framework.n_levels
    fig = new_figure(8.5, 8.5)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    start = {framework.index.code: 0.0}
    for code in tree_order(framework):
        pos = start[code]
        for child in framework.children(code):
            start[child] = pos
            pos += eff[child] * 2 * np.pi
    for code in tree_order(framework)[1:]:
        ring = top - framework.level_of(code)  # 1 = innermost
        width = eff[code] * 2 * np.pi
        shade = 0.55 + 0.15 * (ring - 1)
        base = np.array(colors[code][:3])
        color = tuple(base + (1 - base) * (1 - 1 / (1 + shade * (ring - 1))))
        ax.bar(start[code] + width / 2, 1, width=width, bottom=ring, color=color, edgecolor="white",
               linewidth=0.8, align="center")
        _wedge_label(ax, framework, code, start[code] + width / 2, width, ring, top - 1)
    ax.text(0, 0, display_name(framework, framework.index.code, 22), ha="center", va="center",
            fontsize=9, fontweight="bold", wrap=True)
    ax.set_ylim(0, top + 0.9)
    ax.set_axis_off()
    return finish(fig, title or "Framework, sized by effective weight", label,
                  "angle of each segment = its effective weight in the index")


def _wedge_label(ax, framework: Framework, code: str, theta: float, width: float, ring: int, rings: int) -> None:
    """Name a segment: radial text on the outer ring, tangential inside when the segment is wide."""
    deg = np.degrees(theta)
    if ring == rings:  # outermost ring: radial labels outside the segment
        rot = 90 - deg if deg <= 180 else 270 - deg
        ax.text(theta, ring + 1.05, display_name(framework, code, 26), rotation=rot, rotation_mode="anchor",
                ha="left" if deg <= 180 else "right", va="center", fontsize=6.5)
        return
    arc = width * (ring + 0.5)  # length of the segment's mid arc, in ring widths
    if arc < 0.35:
        return
    chars = max(4, int(arc * 9))
    rot = -deg if 90 < deg % 360 < 270 else -deg
    rot = rot + 180 if 90 < deg % 360 < 270 else rot
    ax.text(theta, ring + 0.5, display_name(framework, code, chars), rotation=rot, ha="center", va="center",
            fontsize=7)


@styled
def plot_weights(framework: Framework, weights: Mapping[str, object], kind: str = "effective",
                 label: str = "") -> Figure:
    """Weights of several schemes side by side: one group of bars per indicator (one bar per
    scheme), indicators grouped by their parent group.

    ``kind="effective"``: each indicator's weight in the index; ``"within"``: its weight inside its
    group (sums to 1 per group).
    """
    if kind not in ("effective", "within"):
        from ..errors import ParameterError

        raise ParameterError(f"kind must be 'effective' or 'within'; got {kind!r}.")
    order = [c for c in tree_order(framework) if framework.level_of(c) == 1]
    schemes = list(weights)
    table = pd.DataFrame({s: (node_effective_weights(framework, w) if kind == "effective"
                              else member_weights(framework, w)).reindex(order) for s, w in weights.items()})
    parents = [framework.node(c).parent for c in order]
    x, pos, gaps = [], 0.0, []
    for i, p in enumerate(parents):
        if i and p != parents[i - 1]:
            gaps.append(pos + 0.1)
            pos += 0.6
        x.append(pos)
        pos += 1
    x = np.array(x)
    width = 0.8 / len(schemes)
    fig = new_figure(min(14.0, max(8.0, 0.38 * len(order) * max(1, len(schemes) / 3) + 2)), 5.6)
    ax = fig.subplots()
    cmap = colormaps["tab10"]
    for j, s in enumerate(schemes):
        ax.bar(x - 0.4 + width * (j + 0.5), table[s].to_numpy(), width=width, color=cmap(j % 10), label=s)
    for g in gaps:
        ax.axvline(g, color="0.75", linewidth=0.8)
    ax.set_xticks(x, [display_name(framework, c, 24) for c in order], rotation=60, ha="right", fontsize=7)
    ax.set_xlim(x[0] - 0.6, x[-1] + 0.6)
    top = ax.get_ylim()[1]
    for p in dict.fromkeys(parents):
        xs = x[[i for i, q in enumerate(parents) if q == p]]
        ax.text(xs.mean(), top * 1.005, display_name(framework, p, max(6, int(len(xs) * 5))), ha="center",
                va="bottom", fontsize=7, color="0.25")
    ax.set_ylim(0, top * 1.08)
    ax.set_ylabel("effective weight in the index" if kind == "effective" else "weight within its group")
    fig.legend(title="scheme", loc="outside right upper", frameon=False)
    what = "Effective weights" if kind == "effective" else "Within-group weights"
    return finish(fig, f"{what} of each indicator under {len(schemes)} scheme(s)", label,
                  "indicators grouped by their parent group (names above)")
