"""Plots of Monte Carlo rank distributions (the ``ranks`` table and the rank-frequency counts).

The ``ranks`` table is :attr:`weightlab.robustness.results.RobustnessResult.ranks` (``ranks.csv``):
``unit, name, nominal_rank, median_rank, pXX_rank …, rank_shift``. Ranks: 1 = best. The uncertainty
band is the widest pair of quantile columns around the median (``p05_rank``–``p95_rank`` by default).
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from ..errors import ParameterError
from ._figure import BAND_COLOR, MEDIAN_COLOR, NOMINAL_COLOR, data_label, finish, label_text, new_figure, styled

RASTER_UNITS = 2000  # above this many units the nominal-against-median plot's marks are rasterised
PANEL_UNITS = 115  # at most this many units per panel of the all-units uncertainty plot
_QUANTILE = re.compile(r"^p(\d+(?:_\d+)?)_rank$")


def band_columns(ranks: pd.DataFrame) -> tuple[str, str]:
    """The lowest and highest rank-quantile columns (e.g. ``p05_rank``, ``p95_rank``); the best and
    worst simulated ranks when the run asked for no quantile besides the median."""
    found = sorted((float(m.group(1).replace("_", ".")), c) for c in ranks.columns
                   if (m := _QUANTILE.match(c)) and c != "p50_rank")
    if len(found) >= 2:
        return found[0][1], found[-1][1]
    if {"best_rank", "worst_rank"} <= set(ranks.columns):
        return "best_rank", "worst_rank"
    raise ParameterError("The ranks table needs two rank-quantile columns such as p05_rank and p95_rank (or "
                         f"best_rank and worst_rank); it has {', '.join(map(str, ranks.columns))}.")


def band_text(lo: str, hi: str) -> str:
    """The band's name: ``p05–p95`` for the columns ``p05_rank``, ``p95_rank`` (``best–worst`` for best/worst)."""
    return f"{lo.split('_')[0]}–{hi.split('_')[0]}"


def select_units(ranks: pd.DataFrame, units: Sequence[str] | None = None, top: int | None = None) -> pd.DataFrame:
    """Rows of ``ranks`` for ``units`` (ids or names), or the ``top`` units by nominal rank, or all;
    sorted by nominal rank, then median rank."""
    out = ranks
    if units is not None:
        ids, names = ranks["unit"].astype(str), ranks["name"].astype(str)
        missing = [u for u in units if str(u) not in set(ids) and str(u) not in set(names)]
        if missing:
            raise ParameterError(f"Unknown unit(s) {', '.join(map(str, missing))}: give unit ids or names "
                                 "from the ranks table.")
        wanted = {str(u) for u in units}
        out = ranks[ids.isin(wanted) | names.isin(wanted)]
    out = out.sort_values(["nominal_rank", "median_rank", "unit"], kind="stable")
    if top is not None:
        if top < 1:
            raise ParameterError(f"top must be a positive number of units; got {top}.")
        out = out.head(top)
    return out.reset_index(drop=True)


@styled
def plot_rank_uncertainty(ranks: pd.DataFrame, units: Sequence[str] | None = None, top: int | None = None,
                          label: str | None = None, panel_units: int = PANEL_UNITS) -> Figure:
    """JRC-style rank uncertainty plot: one row per unit, sorted by nominal rank; the quantile band
    (p05–p95) as a bar, the median rank as a dot, the nominal rank as a red tick.

    ``units`` (ids or names) or ``top`` (the first units by nominal rank) select units; by default
    every unit is drawn, in side-by-side panels of at most ``panel_units`` rows.
    """
    lo, hi = band_columns(ranks)
    sel = select_units(ranks, units, top)
    n_all, n = len(ranks), len(sel)
    n_panels = max(1, math.ceil(n / panel_units))
    per = math.ceil(n / n_panels) if n else 1
    width, height = min(4.2 * n_panels + 0.8, 15), max(2.4, 0.13 * per + 1.4)
    fig = new_figure(width, height, layout="constrained" if n_panels == 1 else None)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    if n_panels > 1:  # placed by hand: constrained layout would measure hundreds of labels
        label_in = 1.25  # inches for "338. Name of the unit" at 6 pt
        fig.subplots_adjust(left=label_in / width, right=1 - 0.15 / width, top=1 - 0.55 / height,
                            bottom=0.75 / height, wspace=label_in / ((width - label_in) / n_panels - label_in))
    xmax = n_all if (units is None and top is None) else max(sel[hi].max(), sel["nominal_rank"].max())
    for p, ax in enumerate(axes):
        part = sel.iloc[p * per:(p + 1) * per]
        y = np.arange(len(part))
        lo_x, width_x = (part[lo] - 0.5).to_numpy(dtype=float), (part[hi] - part[lo] + 1).to_numpy(dtype=float)
        # one collection of rectangles per panel (not a patch per bar: hundreds of artists to create and draw)
        ax.add_collection(PolyCollection(
            [[(x0, yi - 0.35), (x0 + w, yi - 0.35), (x0 + w, yi + 0.35), (x0, yi + 0.35)]
             for x0, w, yi in zip(lo_x, width_x, y)],
            facecolors=BAND_COLOR, edgecolors="none", label=f"{band_text(lo, hi)} band", zorder=1))
        ax.scatter(part["median_rank"], y, s=12, color=MEDIAN_COLOR, label="median rank", zorder=3)
        ax.scatter(part["nominal_rank"], y, s=22, marker="|", color=NOMINAL_COLOR, linewidths=1.4,
                   label="nominal rank", zorder=4)
        names = [f"{int(r)}. {label_text(nm, u, 22)}" for r, nm, u in zip(part["nominal_rank"], part["name"], part["unit"])]
        if n_panels == 1:
            ax.set_yticks(y, names, fontsize=6 if per > 40 else 8)
        else:  # plain texts where tick labels would be: a tick (two lines, a grid line, two texts) per row costs seconds
            ax.set_yticks([])
            at = offset_copy(ax.get_yaxis_transform(), fig=fig, x=-3.5, units="points")
            for yi, name in zip(y, names):
                ax.text(0, yi, name, transform=at, ha="right", va="center", fontsize=6)
        ax.set_ylim(len(part) - 0.5, -0.5) if len(part) else None
        ax.set_xlim(0, xmax + 1)
        ax.set_xlabel(f"rank (1 = best, of {n_all})")
        ax.grid(axis="x", color="0.9", zorder=0)
        ax.tick_params(axis="y", length=0)
    if n_panels == 1:
        axes[0].legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False)
    else:
        axes[0].legend(loc="upper right", frameon=True)
    which = (f"all {n} units" if units is None and top is None else
             f"top {n} by nominal rank" if units is None else f"{n} selected units")
    return finish(fig, f"Rank uncertainty: {which}", data_label(label, ranks),
                  "units sorted by nominal rank; bar = simulated rank band")


def rank_frequency_matrix(freq: pd.DataFrame) -> pd.DataFrame:
    """Units x ranks counts from the wide table (``rank_frequency.parquet``: index unit, columns
    "1".."n") or a long one (columns ``unit, rank, count``; or ``unit, rank_lo, rank_hi, count``
    of coarse counts, whose bins wider than one rank are spread evenly over their ranks: for
    display only)."""
    if {"rank_lo", "rank_hi"} <= set(freq.columns):
        width = (freq["rank_hi"] - freq["rank_lo"] + 1).to_numpy()
        freq = pd.DataFrame({"unit": np.repeat(freq["unit"].astype(str).to_numpy(), width),
                             "rank": np.concatenate([np.arange(a, b + 1) for a, b in zip(freq["rank_lo"], freq["rank_hi"])]),
                             "count": np.repeat(freq["count"].to_numpy() / width, width)})
    if {"unit", "rank", "count"} <= set(freq.columns):
        wide = freq.pivot_table(index="unit", columns="rank", values="count", aggfunc="sum", fill_value=0)
    else:
        wide = freq.set_index("unit") if "unit" in freq.columns else freq
    wide = wide.copy()
    wide.columns = [int(c) for c in wide.columns]
    wide.index = wide.index.astype(str)
    return wide.sort_index(axis=1)


@styled
def plot_rank_frequency(freq: pd.DataFrame, ranks: pd.DataFrame, top: int = 20, label: str | None = None) -> Figure:
    """Heatmap of the share of replications in which each of the ``top`` units (by nominal rank)
    takes each rank; the nominal rank is outlined."""
    sel = select_units(ranks, top=top)
    if "count" in freq.columns:  # long format (many units): only the selected units' rows
        freq = freq[_unit_mask(freq["unit"], set(sel["unit"].astype(str)))]
    wide = rank_frequency_matrix(freq)
    counts = wide.reindex(sel["unit"].astype(str)).fillna(0).to_numpy(dtype=float)
    reached = np.nonzero(counts.sum(axis=0))[0]
    last = int(max(reached.max() + 1 if reached.size else 1, sel["nominal_rank"].max()))
    counts = counts[:, :last]
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig = new_figure(max(5.5, min(0.16 * last + 3, 14)), 0.26 * len(sel) + 1.6)
    ax = fig.subplots()
    im = ax.imshow(share, aspect="auto", cmap="Blues", vmin=0, vmax=max(share.max(), 1e-9),
                   extent=(0.5, last + 0.5, len(sel) - 0.5, -0.5), interpolation="nearest")
    ax.scatter(sel["nominal_rank"], np.arange(len(sel)), marker="s", s=30, facecolors="none",
               edgecolors=NOMINAL_COLOR, linewidths=1.1, label="nominal rank")
    ax.set_yticks(np.arange(len(sel)), [f"{int(r)}. {label_text(nm, u, 24)}"
                                        for r, nm, u in zip(sel["nominal_rank"], sel["name"], sel["unit"])])
    ax.set_xlabel("rank (1 = best)")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
    fig.colorbar(im, ax=ax, label="share of replications", shrink=0.8)
    return finish(fig, f"Rank frequencies of the top {len(sel)} units", data_label(label, ranks, freq))


def _unit_mask(unit: pd.Series, wanted: set) -> np.ndarray:
    """Rows of the long rank-frequency table whose unit (as text) is in ``wanted``; a categorical
    column is tested on its categories (once per category, not once per row)."""
    if isinstance(unit.dtype, pd.CategoricalDtype):
        return np.asarray(unit.cat.categories.astype(str).isin(wanted))[unit.cat.codes.to_numpy()]
    return unit.astype(str).isin(wanted).to_numpy()


@styled
def plot_rank_shift_histogram(ranks: pd.DataFrame, label: str | None = None) -> Figure:
    """Histogram of ``rank_shift = nominal rank − median rank`` over all units (one bar per shift
    value, or per equal range of values when they span more than 60)."""
    shift = (ranks["nominal_rank"] - ranks["median_rank"]).to_numpy(dtype=float)
    lo, hi = math.floor(shift.min()), math.ceil(shift.max())
    width = max(1, math.ceil((hi - lo + 1) / 60))
    edges = np.arange(lo - 0.5, hi + width + 0.5, width)
    fig = new_figure(7, 3.6)
    ax = fig.subplots()
    ax.hist(shift, bins=edges, color=MEDIAN_COLOR, edgecolor="white", linewidth=0.5)
    ax.axvline(0, color=NOMINAL_COLOR, linewidth=1, linestyle="--")
    ax.set_xlabel("rank shift = nominal rank − median simulated rank (positive: better in the simulations)")
    ax.set_ylabel("number of units")
    ax.text(0.99, 0.97, f"mean |shift| {np.abs(shift).mean():.2f} ranks\nunits unmoved: {(shift == 0).sum()} "
            f"of {len(shift)}", transform=ax.transAxes, ha="right", va="top")
    return finish(fig, "How far the median rank moves from the nominal rank", data_label(label, ranks))


@styled
def plot_nominal_vs_median(ranks: pd.DataFrame, label: str | None = None, annotate: int = 6) -> Figure:
    """Nominal rank (x) against median simulated rank (y), with each unit's band as a vertical line;
    the ``annotate`` units with the largest ``|shift|`` are named."""
    lo, hi = band_columns(ranks)
    n = len(ranks)
    fig = new_figure(6.2, 6.0)
    ax = fig.subplots()
    many = n > RASTER_UNITS  # drawn as an image inside the SVG: thousands of elements would bloat it
    ax.vlines(ranks["nominal_rank"], ranks[lo], ranks[hi], color=BAND_COLOR, linewidth=0.8,
              label=f"{band_text(lo, hi)} band", zorder=1, rasterized=many)
    ax.plot([1, n], [1, n], color="0.5", linewidth=0.8, linestyle="--", label="median = nominal", zorder=2)
    ax.scatter(ranks["nominal_rank"], ranks["median_rank"], s=8, color=MEDIAN_COLOR, label="unit", zorder=3,
               rasterized=many)
    shift = (ranks["nominal_rank"] - ranks["median_rank"]).abs()
    for _, row in ranks.loc[shift.nlargest(min(annotate, n)).index].iterrows():
        ax.annotate(label_text(row["name"], row["unit"], 20), (row["nominal_rank"], row["median_rank"]), fontsize=7,
                    xytext=(4, -8), textcoords="offset points")
    ax.set_xlabel("nominal rank (1 = best)")
    ax.set_ylabel("median simulated rank")
    ax.set_xlim(0, n + 1)
    ax.set_ylim(0, n + 1)
    ax.set_aspect("equal")
    ax.legend(loc="upper left")
    ax.grid(color="0.92")
    return finish(fig, "Nominal rank against median simulated rank", data_label(label, ranks))
