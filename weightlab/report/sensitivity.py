"""Plots of variance-based sensitivity indices (Sobol first-order ``S1`` and total ``ST``).

Inputs are the sensitivity tables: ``sobol.csv`` (``output, factor, S1, S1_lo, S1_hi, ST, ST_lo,
ST_hi``, the global outputs such as ``mean_abs_rank_shift``) and ``sobol_units.csv`` (``unit, name,
factor, S1, …, ST_hi``, one row per unit and factor, optionally with an ``output`` column).
``_lo``/``_hi`` are the bounds of the bootstrap confidence interval. S1 is the share of the output's
variance explained by the factor alone (Saltelli et al. 2010), ST the share it takes part in,
interactions included (Jansen 1999); ST − S1 measures the factor's interactions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import ParameterError
from ._figure import MEDIAN_COLOR, NOMINAL_COLOR, data_label, finish, label_text, new_figure, styled

SOBOL_COLUMNS = ["factor", "S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi"]
DEFAULT_OUTPUT = "mean_abs_rank_shift"


def _check(df: pd.DataFrame, what: str, extra: list[str]) -> None:
    missing = [c for c in extra + SOBOL_COLUMNS if c not in df.columns]
    if missing:
        raise ParameterError(f"The {what} table lacks column(s) {', '.join(missing)}; expected "
                             f"{', '.join(extra + SOBOL_COLUMNS)}.")


def _pick_output(df: pd.DataFrame, output: str | None, what: str) -> pd.DataFrame:
    if "output" not in df.columns:
        return df
    outputs = list(dict.fromkeys(df["output"].astype(str)))
    if output is None:
        output = DEFAULT_OUTPUT if DEFAULT_OUTPUT in outputs else outputs[0]
    if output not in outputs:
        raise ParameterError(f"No output '{output}' in the {what} table; it has {', '.join(outputs)}.")
    return df[df["output"].astype(str) == output].assign(output=output)


def _draw(fig: Figure, rows: pd.DataFrame) -> None:
    """Horizontal S1/ST bars with interval whiskers, factors sorted by ST (largest on top)."""
    rows = rows.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    ax = fig.subplots()
    y = np.arange(len(rows))
    h = 0.38
    for offset, key, color, name in ((-h / 2, "S1", MEDIAN_COLOR, "first order S1"),
                                     (h / 2, "ST", NOMINAL_COLOR, "total effect ST")):
        v = rows[key].to_numpy(dtype=float)
        err = np.vstack([np.maximum(v - rows[f"{key}_lo"].to_numpy(dtype=float), 0),
                         np.maximum(rows[f"{key}_hi"].to_numpy(dtype=float) - v, 0)])
        ax.barh(y + offset, v, height=h, color=color, label=name, xerr=err,
                error_kw={"elinewidth": 0.9, "capsize": 2, "ecolor": "0.2"})
    dummy = rows["factor"].astype(str).str.contains("dummy", case=False)
    labels = [f"{f} (noise floor)" if d else str(f) for f, d in zip(rows["factor"], dummy)]
    ax.set_yticks(y, labels)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.axvline(0, color="0.4", linewidth=0.8)
    ax.set_xlabel("share of output variance (bars: estimate, whiskers: confidence interval)")
    ax.legend(loc="lower right")
    ax.grid(axis="x", color="0.92")


@styled
def plot_sobol(sobol: pd.DataFrame, output: str | None = None, label: str | None = None) -> Figure:
    """First-order and total Sobol indices of every factor for one global output (default
    ``mean_abs_rank_shift``), with their confidence intervals."""
    _check(sobol, "sobol", ["output"])
    rows = _pick_output(sobol, output, "sobol")
    fig = new_figure(7.0, 0.45 * rows["factor"].nunique() + 1.8)
    _draw(fig, rows)
    name = rows["output"].iloc[0]
    return finish(fig, f"Sensitivity of {name.replace('_', ' ')} to each factor", data_label(label, sobol),
                  "Sobol indices: S1 after Saltelli et al. 2010, ST after Jansen 1999")


@styled
def plot_sobol_unit(sobol_units: pd.DataFrame, unit: str, output: str | None = None,
                    label: str | None = None) -> Figure:
    """First-order and total Sobol indices of one unit's rank (or other per-unit output)."""
    _check(sobol_units, "sobol_units", ["unit", "name"])
    ids, names = sobol_units["unit"].astype(str), sobol_units["name"].astype(str)
    rows = sobol_units[(ids == str(unit)) | (names == str(unit))]
    if rows.empty:
        raise ParameterError(f"Unit '{unit}' is not in the sobol_units table: give a unit id or name.")
    rows = _pick_output(rows, output, "sobol_units")
    fig = new_figure(7.0, 0.45 * rows["factor"].nunique() + 1.8)
    _draw(fig, rows)
    what = rows["output"].iloc[0] if "output" in rows.columns else "rank"
    uid = str(rows["unit"].iloc[0])
    return finish(fig, f"Sensitivity of the {what.replace('_', ' ')} of {label_text(rows['name'].iloc[0], uid, 40)} ({uid})",
                  data_label(label, sobol_units), "Sobol indices: S1 after Saltelli et al. 2010, ST after Jansen 1999")


@styled
def plot_sobol_units(sobol_units: pd.DataFrame, ranks: pd.DataFrame | None = None, top: int = 30,
                     index: str = "ST", output: str | None = None, label: str | None = None) -> Figure:
    """Heatmap of one Sobol index (``"ST"`` or ``"S1"``) of every factor for the ``top`` units (by
    nominal rank when ``ranks`` is given, else in table order): which choice moves which unit."""
    _check(sobol_units, "sobol_units", ["unit", "name"])
    if index not in ("S1", "ST"):
        raise ParameterError(f"index must be 'S1' or 'ST'; got {index!r}.")
    rows = _pick_output(sobol_units, output, "sobol_units")
    units = list(dict.fromkeys(rows["unit"].astype(str)))
    if ranks is not None:
        order = ranks.sort_values(["nominal_rank", "median_rank"], kind="stable")["unit"].astype(str)
        units = [u for u in order if u in set(units)]
    units = units[:top]
    table = rows.assign(unit=rows["unit"].astype(str)).pivot_table(index="unit", columns="factor", values=index,
                                                                   aggfunc="first", sort=False)
    factors = list(dict.fromkeys(rows["factor"]))
    table = table.reindex(index=units, columns=factors)
    first = rows.drop_duplicates("unit")
    names = pd.Series(first["name"].to_numpy(), index=first["unit"].astype(str))
    fig = new_figure(max(5.0, 0.7 * len(factors) + 3.2), 0.24 * len(units) + 1.8)
    ax = fig.subplots()
    im = ax.imshow(table.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=max(1e-9, float(np.nanmax(table))),
                   aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(len(factors)), factors, rotation=45, ha="right")
    ax.set_yticks(np.arange(len(units)), [f"{label_text(names[u], u, 24)}" for u in units])
    fig.colorbar(im, ax=ax, label=f"{'total effect ST' if index == 'ST' else 'first order S1'}", shrink=0.8)
    return finish(fig, f"Sobol {index} of each factor for {len(units)} units", data_label(label, sobol_units),
                  "ranked by nominal rank" if ranks is not None else "")
