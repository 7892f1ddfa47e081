"""The one-file HTML report of a results directory: ``weightlab report DIR`` -> ``DIR/report.html``.

The page is self-contained: figures are embedded as base64 SVG with the text kept as text (the
browser draws it; rasterising the figures to PNG took most of the report's time, matplotlib
rendering every glyph), the style sheet and the small script that sorts and searches the units
table are inline, and nothing is fetched when it is opened. With ``plots=True`` (``--plots``) the
same figures are written to ``DIR/plots/`` as PNG and SVG for use in audits.
Templates are package data (``weightlab/report/templates``), rendered with jinja2.
"""

from __future__ import annotations

import base64
import datetime as _dt
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .._io import write_text_atomic
from ..errors import ParameterError
from ..results import Results, load_results
from ..results.layout import PLOTS_DIR, REPORT
from ._figure import figure_bytes
from .settings import key_settings, settings_rows

TOP_UNITS = 30
ALL_UNITS_PLOT = 1000  # the all-units uncertainty panels are drawn up to this many units (9 panels)
TABLE_UNITS = 2000  # the units table lists this many units at most (the best by nominal rank)


def write_report(directory: str | Path, units: Sequence[str] | None = None, plots: bool = False,
                 xlsx: bool = False) -> list[Path]:
    """Write ``report.html`` (and, when asked, every figure under ``plots/`` as PNG and SVG, and
    ``results.xlsx``) for the results in ``directory``; returns the paths written.

    ``units`` (ids or names) get a profile, a rank-uncertainty plot and, when sensitivity results
    exist, their Sobol indices; by default the unit ranked first.
    """
    res = load_results(directory)
    _default_units(res, units)  # refuse unknown units before writing anything
    written: list[Path] = []
    sections = build_sections(res, units, plot_dir=res.path / PLOTS_DIR if plots else None, written=written)
    html = render_report(res, sections, plots=plots)
    path = res.path / REPORT
    write_text_atomic(path, html)
    written.insert(0, path)
    if xlsx:
        from .excel import write_results_workbook

        written.append(write_results_workbook(res))
    return written


# ------------------------------------------------------------------------------------------------
class _Figures:
    """Collects figures: renders each once to SVG (embedded; text kept as text) and, when asked, saves
    that SVG and a PNG rendering under ``plot_dir``."""

    def __init__(self, plot_dir: Path | None, written: list[Path]) -> None:
        self.plot_dir, self.written = plot_dir, written

    def __call__(self, name: str, draw: Callable[[], Any], caption: str) -> dict[str, str]:
        from .._io import atomic_path

        fig = draw()
        svg = figure_bytes(fig, "svg")
        if self.plot_dir is not None:
            for fmt, data in (("png", figure_bytes(fig, "png")), ("svg", svg)):
                path = self.plot_dir / f"{name}.{fmt}"
                with atomic_path(path) as tmp:
                    tmp.write_bytes(data)
                self.written.append(path)
        return {"name": name, "caption": caption,
                "src": "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")}


def _default_units(res: Results, units: Sequence[str] | None) -> list[str]:
    """The units to profile: ``units`` (each checked to exist), else the unit ranked first."""
    if units:
        known: set[str] = set()
        for name in ("ranks", "scores", "sobol_units"):
            df = res.get(name)
            if df is not None:
                known |= set(df["unit"].astype(str)) | set(df["name"].astype(str))
        unknown = [str(u) for u in units if str(u) not in known]
        if unknown:
            from ..errors import InputError

            raise InputError(f"Unknown unit(s) {', '.join(unknown)} for --unit: give unit ids or names from "
                             f"the results in {res.path}.")
        return [str(u) for u in units]
    for name in ("ranks", "scores"):
        df = res.get(name)
        if df is not None and len(df):
            col = "nominal_rank" if "nominal_rank" in df.columns else "rank"
            return [str(df.sort_values(col, kind="stable")["unit"].iloc[0])]
    sobol_units = res.get("sobol_units")
    return [str(sobol_units["unit"].iloc[0])] if sobol_units is not None and len(sobol_units) else []


def build_sections(res: Results, units: Sequence[str] | None = None, plot_dir: Path | None = None,
                   written: list[Path] | None = None) -> list[dict[str, Any]]:
    """The report's figure sections (id, title, text, figures, …), for the tables that exist."""
    fig = _Figures(plot_dir, written if written is not None else [])
    chosen = _default_units(res, units)
    makers = (_uncertainty_section, _weights_section, _comparison_section, _indicator_section, _profile_section,
              _sensitivity_section)
    sections = [sec for make in makers if (sec := make(res, fig, chosen, bool(units))) is not None]
    from .importance import importance_section

    return sections + [sec for sec in [importance_section(res, fig)] if sec is not None]


def _uncertainty_section(res: Results, fig: _Figures, chosen: list[str], asked: bool) -> dict[str, Any] | None:
    from . import ranks as R

    ranks, freq = res.get("ranks"), res.get("rank_frequency")
    if ranks is None:
        return None
    band = R.band_text(*R.band_columns(ranks))
    figs = [fig("rank_uncertainty_top", lambda: R.plot_rank_uncertainty(ranks, top=TOP_UNITS),
                f"The {TOP_UNITS} units ranked best nominally: the bar is the {band} band of the simulated "
                "ranks, the dot the median, the red tick the nominal rank. A long bar means the unit's "
                "rank depends strongly on the methodological choices.")]
    listed = [u for u in chosen if u in set(ranks["unit"].astype(str)) | set(ranks["name"].astype(str))]
    if listed and asked:
        figs.append(fig("rank_uncertainty_selected", lambda: R.plot_rank_uncertainty(ranks, units=listed),
                        "The units chosen for this report."))
    if len(ranks) <= ALL_UNITS_PLOT:  # beyond, a row per unit can neither be drawn nor read
        figs.append(fig("rank_uncertainty_all", lambda: R.plot_rank_uncertainty(ranks),
                        f"All {len(ranks)} units, in panels, sorted by nominal rank."))
    if freq is not None:
        figs.append(fig("rank_frequency", lambda: R.plot_rank_frequency(freq, ranks),
                        "Share of replications in which each of the top 20 units takes each rank; the "
                        "square marks the nominal rank."))
    figs.append(fig("rank_shift", lambda: R.plot_rank_shift_histogram(ranks),
                    "Nominal rank minus median simulated rank, over all units: 0 means the simulations "
                    "confirm the nominal rank."))
    figs.append(fig("nominal_vs_median", lambda: R.plot_nominal_vs_median(ranks),
                    "Each dot is a unit; points off the diagonal move under the simulated choices; the "
                    "vertical lines are the bands."))
    text = "How much each unit's rank depends on the choices listed under Run settings."
    if len(ranks) > ALL_UNITS_PLOT:
        text += (f" The panels of all units are drawn up to {ALL_UNITS_PLOT:,} units; the {len(ranks):,} units' "
                 "bands are in ranks.csv.")
    return {"id": "uncertainty", "title": "Rank uncertainty", "figures": figs, "text": text}


def _weights_section(res: Results, fig: _Figures, chosen: list[str], asked: bool) -> dict[str, Any] | None:
    from . import weights as W

    fw, weights, label = res.framework, res.get("weights"), res.label
    if fw is None or weights is None:
        return None
    by_variant = _weights_by_variant(weights)
    first = next(iter(by_variant))
    figs = [fig("framework", lambda: W.plot_framework(fw, by_variant[first], label=label,
                                                       title=f"Framework, sized by effective weight ({first})"),
                "Each ring is a level of the framework (innermost: the index's members); each segment's "
                "angle is its effective weight in the index."),
            fig("weights_effective", lambda: W.plot_weights(fw, by_variant, "effective", label=label),
                "Effective weight of each indicator in the index (product of the weights up the tree)."),
            fig("weights_within", lambda: W.plot_weights(fw, by_variant, "within", label=label),
                "Weight of each indicator inside its group (sums to 1 per group).")]
    return {"id": "weights", "title": "Framework and weights", "figures": figs,
            "text": f"Weights of {len(by_variant)} build(s): {', '.join(by_variant)}."}


def _comparison_section(res: Results, fig: _Figures, chosen: list[str], asked: bool) -> dict[str, Any] | None:
    from .correlation import plot_rank_correlation

    corr = res.get("rank_correlation")
    if corr is None or corr.shape[0] < 2:
        return None
    return {"id": "comparison", "title": "Index variants compared",
            "text": "Spearman rank correlation of the index scores between the variants built side by side.",
            "figures": [fig("rank_correlation", lambda: plot_rank_correlation(corr, label=res.label),
                            "1 = identical rankings; the lower, the more the choice matters.")]}


def _indicator_section(res: Results, fig: _Figures, chosen: list[str], asked: bool) -> dict[str, Any] | None:
    from .correlation import plot_indicator_correlation

    fw, scores, label = res.framework, res.get("scores"), res.label
    if fw is None or scores is None:
        return None
    top = fw.n_levels - 1
    figs = [fig("indicator_correlation", lambda: plot_indicator_correlation(scores, fw, 1, 1, label=label),
                "Spearman correlation between indicators over the units; lines separate groups. "
                "Negative or near-zero correlations inside a group weaken it.")]
    if top > 1:
        figs.append(fig("indicator_vs_groups", lambda: plot_indicator_correlation(scores, fw, 1, top, label=label),
                        "Spearman correlation of each indicator with each top-level group."))
    return {"id": "indicators", "title": "Indicators", "figures": figs,
            "text": "Correlations of the normalised indicators of the nominal build."}


def _profile_section(res: Results, fig: _Figures, chosen: list[str], asked: bool) -> dict[str, Any] | None:
    from . import profile as P

    fw, scores, label = res.framework, res.get("scores"), res.label
    if fw is None or scores is None:
        return None
    prof = []
    for u in chosen:
        try:
            uid = P.find_unit(scores, u)
        except ParameterError:  # a unit of the ranks missing from the scores table gets no profile
            continue
        strong, weak = P.strengths_weaknesses(scores, fw, uid)
        prof.append({"figure": fig(f"profile_{uid}", lambda uid=uid: P.plot_unit_profile(scores, fw, uid, label=label),
                                   "Dot: the unit; diamond: the median unit; bar: the best unit; #rank at the right."),
                     "strengths": strong.to_dict("records"), "weaknesses": weak.to_dict("records")})
    if not prof:
        return None
    return {"id": "profiles", "title": "Unit profiles", "profiles": prof, "figures": [],
            "text": "Scores of a unit on every indicator, sub-pillar and dimension against the median and the "
                    "best unit; strengths and weaknesses are the indicators where it ranks best and worst (as "
                    "COINr's get_str_weak)."}


def _sensitivity_section(res: Results, fig: _Figures, chosen: list[str], asked: bool) -> dict[str, Any] | None:
    from . import sensitivity as S

    sobol, sobol_units, label = res.get("sobol"), res.get("sobol_units"), res.label
    if sobol is None and sobol_units is None:
        return None
    figs = []
    if sobol is not None:
        for output in dict.fromkeys(sobol["output"].astype(str)):
            figs.append(fig(f"sobol_{output}", lambda output=output: S.plot_sobol(sobol, output, label=label),
                            f"First-order (S1) and total (ST) Sobol indices of {output}, with intervals."))
    if sobol_units is not None:
        figs.append(fig("sobol_units", lambda: S.plot_sobol_units(sobol_units, res.get("ranks"), label=label),
                        "Total-effect index of each factor for the units ranked best: which choice moves "
                        "which unit."))
        ids = dict(zip(sobol_units["unit"].astype(str), sobol_units["unit"].astype(str)))
        ids.update(zip(sobol_units["name"].astype(str), sobol_units["unit"].astype(str)))
        for uid in dict.fromkeys(ids[u] for u in chosen if u in ids):
            name = sobol_units.loc[sobol_units["unit"].astype(str) == uid, "name"].iloc[0]
            figs.append(fig(f"sobol_unit_{uid}", lambda uid=uid: S.plot_sobol_unit(sobol_units, uid, label=label),
                            f"Sobol indices of the rank of {name} ({uid})."))
    return {"id": "sensitivity", "title": "Sensitivity (Sobol indices)", "figures": figs,
            "text": "Which choice moves the ranks: S1 is the share of the output's variance due to the factor "
                    "alone, ST the share it takes part in (interactions included).",
            "table": _sobol_rows(sobol)}


def _weights_by_variant(weights: pd.DataFrame) -> dict[str, pd.Series]:
    """Member weights (``member -> weight``) of each variant of a ``weights.csv`` table."""
    if "variant" not in weights.columns:
        return {"nominal": weights.set_index("member")["weight"]}
    return {str(v): g.set_index("member")["weight"] for v, g in weights.groupby("variant", sort=False)}


def _sobol_rows(sobol: pd.DataFrame | None) -> list[dict[str, Any]]:
    if sobol is None:
        return []
    return sobol.sort_values(["output", "ST"], ascending=[True, False], kind="stable").to_dict("records")


# ------------------------------------------------------------------------------------------------
def unit_rows(res: Results) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the report's units table: nominal rank, unit, name(s), median rank,
    band, P(top 10), score (the nominal index score when ``scores.csv`` exists, else the mean); the
    first ``TABLE_UNITS`` units by nominal rank (100,000 rows would make the page hundreds of MB)."""
    from .ranks import band_columns

    ranks, scores, fw = res.get("ranks"), res.get("scores"), res.framework
    extra_names: list[str] = []
    base = ranks if ranks is not None else scores
    if base is None:
        return [], []
    table = base.copy()
    if scores is not None:
        extra_names = [c for c in scores.columns if c.startswith("name_")]
        keep = ["unit"] + extra_names + ([fw.index.code] if fw is not None and fw.index.code in scores.columns else [])
        table = table.drop(columns=[c for c in extra_names if c in table.columns]).merge(
            scores[keep], on="unit", how="left")
    cols = ["rank", "unit", "name", *extra_names]
    rows = []
    band = band_columns(ranks) if ranks is not None else None
    ptop = next((c for c in ("p_top10", *(c for c in table.columns if c.startswith("p_top"))) if c in table.columns),
                None)
    if ranks is not None:
        cols += ["median", "band", ptop.replace("p_top", "P(top ") + ")" if ptop else "P(top k)"]
    cols.append("score")
    score_col = fw.index.code if fw is not None and fw.index.code in table.columns else (
        "mean_score" if "mean_score" in table.columns else "score" if "score" in table.columns else None)
    rank_col = "nominal_rank" if "nominal_rank" in table.columns else "rank"
    for _, r in table.sort_values(rank_col, kind="stable").head(TABLE_UNITS).iterrows():
        row = {"rank": int(r[rank_col]), "unit": str(r["unit"]), "name": str(r["name"])}
        for c in extra_names:
            row[c] = "" if pd.isna(r.get(c)) else str(r[c])
        if band is not None:
            row["median"] = int(r["median_rank"])
            row["band"] = f"{int(r[band[0]])}–{int(r[band[1]])}"
            row["band_key"] = int(r[band[0]])
            row["ptop"] = float(r[ptop]) if ptop else np.nan
        row["score"] = float(r[score_col]) if score_col and pd.notna(r[score_col]) else np.nan
        rows.append(row)
    return cols, rows


def render_report(res: Results, sections: Iterable[dict[str, Any]], plots: bool = False) -> str:
    """Render the report template (``templates/report.html.j2``) to one HTML string."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("weightlab.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v, fmt="{:.3f}": "" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)
    cols, rows = unit_rows(res)
    fw = res.framework
    ranks = res.get("ranks")
    base = ranks if ranks is not None else res.get("scores")  # the units table's source (unit_rows)
    title = (fw.index.name_en or fw.index.code) if fw is not None else "Composite index"
    reps = next((m.get("reps") for m in res.manifests.values() if m.get("reps")), None)
    from .. import __version__

    return env.get_template("report.html.j2").render(
        title=title, label=res.label, sections=list(sections), columns=cols, rows=rows,
        settings=settings_rows(res), key_settings=key_settings(res), has_ranks=ranks is not None, reps=reps,
        has_sobol=res.get("sobol") is not None or res.get("sobol_units") is not None,
        n_units=len(base) if base is not None else 0, table_units=len(rows), directory=res.path.name or str(res.path), version=__version__,
        created=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        files=sorted(res.files), plots=plots)
