"""Short HTML summaries of the result objects for notebooks (their ``_repr_html_``): one line of
facts, the data label, and the first rows of the main table."""

from __future__ import annotations

import html

import pandas as pd

HEAD_ROWS = 10


def _block(title: str, facts: str, label: str, table: pd.DataFrame, note: str = "") -> str:
    lab = (f'<div style="color:#b2182b;font-weight:600">Data: {html.escape(label)}</div>' if label else "")
    body = table.head(HEAD_ROWS).to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0)
    more = f"<div style='color:#666;font-size:90%'>first {min(HEAD_ROWS, len(table))} of {len(table)} rows" \
           f"{'; ' + html.escape(note) if note else ''}</div>"
    return (f"<div><strong>{html.escape(title)}</strong> <span>{html.escape(facts)}</span>{lab}{body}{more}</div>")


def index_result_html(res) -> str:
    st = res.settings
    aggs = ", ".join(sorted({str(v) for v in st.get("aggregator", {}).values()}))
    facts = (f"{res.dataset.n_units} units × {res.dataset.n_indicators} indicators; normalizer "
             f"{st.get('normalizer')}, scheme {st.get('scheme')}, aggregator {aggs}, imputation {st.get('imputation')}")
    return _block("IndexResult", facts, res.dataset.label, res.table(), "plots: .plot_framework(), "
                  ".plot_weights(), .plot_indicator_correlation(), .plot_unit_profile(unit)")


def comparison_html(cmp) -> str:
    facts = f"{len(cmp.results)} variants, baseline {cmp.baseline}"
    corr = cmp.spearman.round(3).to_html(border=0)
    return (_block("Comparison", facts, cmp.label, cmp.table(), "plots: .plot_rank_correlation(), .plot_weights()")
            + f"<div><em>Spearman rank correlation</em>{corr}</div>")


def robustness_html(result) -> str:
    m = result.manifest
    facts = (f"{len(result.ranks)} units, {m.get('reps', 0):,} replications, seed {m.get('seed')}; uncertain: "
             f"{', '.join(m.get('uncertain_factors', [])) or 'nothing'}")
    cols = [c for c in result.ranks.columns if c in ("unit", "name", "nominal_rank", "median_rank")
            or (c.endswith("_rank") and c[1:3].isdigit()) or c.startswith("p_top")]
    label = result.dataset.label if result.dataset is not None else ""
    return _block("RobustnessResult", facts, label, result.ranks[cols],
                  "plots: .plot_uncertainty(top=30), .plot_rank_frequency(), .plot_rank_shift(), "
                  ".plot_nominal_vs_median()")
