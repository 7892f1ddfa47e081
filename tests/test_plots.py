"""Every plot renders on the demo results without warnings, and draws what its data say: the
numbers of bars and points, and their positions, are read back from the figure's artists and
compared with values computed here from the tables (or with scipy)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from scipy import stats

from weightlab.report import (plot_framework, plot_indicator_correlation, plot_nominal_vs_median,
                              plot_rank_correlation, plot_rank_frequency, plot_rank_shift_histogram,
                              plot_rank_uncertainty, plot_sobol, plot_sobol_unit, plot_sobol_units, plot_unit_profile, plot_weights,
                              strengths_weaknesses)
from weightlab.report._figure import save_figure

from .conftest import synthetic_sobol

pytestmark = pytest.mark.filterwarnings("error")  # a plot that warns (missing glyph, layout, ...) fails


def bars(ax) -> list[Rectangle]:
    """The data bars of an axes (not the axes background patch)."""
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def points(ax) -> np.ndarray:
    return np.vstack([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])


def texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def bands(ax) -> np.ndarray:
    """(left, right) of each band of a rank-uncertainty panel, from its collection of rectangles."""
    coll = next(c for c in ax.collections if c.get_label().endswith(" band"))
    return np.array([(v[:, 0].min(), v[:, 0].max()) for v in (path.vertices for path in coll.get_paths())])


def test_rank_uncertainty_all_units_in_panels(demo_mc):
    r = demo_mc.ranks
    fig = plot_rank_uncertainty(r)
    axes = fig.axes
    assert len(axes) == 3  # 338 units, at most 115 per panel
    expected = r.sort_values(["nominal_rank", "median_rank"], kind="stable")
    drawn = np.vstack([bands(ax) for ax in axes])
    np.testing.assert_allclose(drawn, np.c_[expected["p05_rank"] - 0.5, expected["p95_rank"] + 0.5])
    medians = [c for ax in axes for c in ax.collections if c.get_label() == "median rank"]
    np.testing.assert_array_equal(np.vstack([c.get_offsets() for c in medians])[:, 0], expected["median_rank"])
    names = [t.get_text() for ax in axes for t in ax.texts]  # one label per row, in nominal order
    cut = [n if len(n) <= 22 else n[:21] + "…" for n in expected["name"]]
    assert names == [f"{k}. {n}" for k, n in zip(expected["nominal_rank"], cut)] and names[0] == "1. Beijing"
    assert "synthetic demo data" in texts(fig) and "all 338 units" in texts(fig)


def test_rank_uncertainty_top30_draws_each_band(demo_mc):
    r = demo_mc.ranks
    fig = plot_rank_uncertainty(r, top=30)
    ax = fig.axes[0]
    expected = r.sort_values(["nominal_rank", "median_rank"], kind="stable").head(30)
    np.testing.assert_allclose(bands(ax), np.c_[expected["p05_rank"] - 0.5, expected["p95_rank"] + 0.5])
    med = next(c for c in ax.collections if c.get_label() == "median rank").get_offsets()
    np.testing.assert_array_equal(med[:, 0], expected["median_rank"])
    nom = next(c for c in ax.collections if c.get_label() == "nominal rank").get_offsets()
    np.testing.assert_array_equal(nom[:, 0], expected["nominal_rank"])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "1. Beijing" and len(labels) == 30


def test_rank_uncertainty_for_listed_units(demo_mc):
    fig = plot_rank_uncertainty(demo_mc.ranks, units=["Lhasa", "110000", "Hefei"])
    labels = [t.get_text().split(". ", 1)[1] for t in fig.axes[0].get_yticklabels()]
    assert labels == ["Beijing", "Hefei", "Lhasa"]  # sorted by nominal rank
    from weightlab.errors import ParameterError

    with pytest.raises(ParameterError, match="Atlantis"):
        plot_rank_uncertainty(demo_mc.ranks, units=["Atlantis"])


def test_rank_frequency_heatmap_shows_shares(demo_mc):
    fig = plot_rank_frequency(demo_mc.rank_frequency, demo_mc.ranks, top=20)
    img = next(a for a in fig.axes[0].get_children() if isinstance(a, AxesImage)).get_array()
    assert img.shape[0] == 20
    top = demo_mc.ranks.sort_values(["nominal_rank", "median_rank"], kind="stable").head(20)["unit"]
    counts = demo_mc.rank_frequency.loc[top].to_numpy(dtype=float)
    np.testing.assert_allclose(img, (counts / 20_000)[:, :img.shape[1]])
    assert counts[:, img.shape[1]:].sum() == 0  # no rank reached by these units is cut off


def test_rank_frequency_accepts_the_long_format(demo_mc):
    wide = demo_mc.rank_frequency
    long = wide.stack().rename("count").reset_index()
    long.columns = ["unit", "rank", "count"]
    long = long[long["count"] > 0]
    a = plot_rank_frequency(wide, demo_mc.ranks, top=10).axes[0].images[0].get_array()
    b = plot_rank_frequency(long, demo_mc.ranks, top=10).axes[0].images[0].get_array()
    np.testing.assert_array_equal(a, b)
    # units as a categorical column, as coarse counts and a read-back parquet give them, in another
    # category order than the rows': the selection goes through the categories
    cats = pd.Categorical(long["unit"], categories=sorted(set(long["unit"]), reverse=True))
    c = plot_rank_frequency(long.assign(unit=cats), demo_mc.ranks, top=10).axes[0].images[0].get_array()
    np.testing.assert_array_equal(a, c)


def test_rank_shift_histogram_counts_every_unit(demo_mc):
    r = demo_mc.ranks
    fig = plot_rank_shift_histogram(r)
    rects = bars(fig.axes[0])
    shift = (r["nominal_rank"] - r["median_rank"]).to_numpy()
    assert sum(p.get_height() for p in rects) == 338
    width = rects[0].get_width()
    centres = np.array([p.get_x() + width / 2 for p in rects])
    if width == 1:  # one bar per integer shift: heights are plain counts
        np.testing.assert_array_equal([p.get_height() for p in rects],
                                      [(shift == c).sum() for c in np.round(centres).astype(int)])


def test_nominal_vs_median_scatter(demo_mc):
    r = demo_mc.ranks
    fig = plot_nominal_vs_median(r)
    pts = next(c for c in fig.axes[0].collections if c.get_label() == "unit").get_offsets()
    np.testing.assert_array_equal(pts, r[["nominal_rank", "median_rank"]].to_numpy())
    bands = next(c for c in fig.axes[0].collections if isinstance(c, LineCollection))
    assert len(bands.get_segments()) == 338


def test_framework_sunburst_angles_are_effective_weights(demo_schemes):
    res = demo_schemes["entropy"]
    fw = res.dataset.framework
    fig = plot_framework(fw, res.weights, label=res.dataset.label)
    rects = bars(fig.axes[0])
    assert len(rects) == 4 + 9 + 25
    eff = res.weights.to_frame().set_index("member")["effective_weight"].dropna()
    outer = [p for p in rects if p.get_y() == 3]  # the indicator ring
    assert len(outer) == 25
    np.testing.assert_allclose(sorted(p.get_width() / (2 * np.pi) for p in outer), sorted(eff), rtol=1e-12)
    inner = [p for p in rects if p.get_y() == 1]
    # a dimension's angle is the sum of its indicators' effective weights
    dims = {d: sum(eff[c] for c in fw.indicator_codes if d in fw.ancestors(c)) for d in fw.children(fw.index.code)}
    np.testing.assert_allclose(sorted(p.get_width() / (2 * np.pi) for p in inner), sorted(dims.values()))


@pytest.mark.parametrize("kind", ["effective", "within"])
def test_scheme_weights_side_by_side(demo_schemes, kind):
    fw = next(iter(demo_schemes.values())).dataset.framework
    fig = plot_weights(fw, {k: r.weights for k, r in demo_schemes.items()}, kind)
    rects = bars(fig.axes[0])
    assert len(rects) == 4 * 25
    frame = demo_schemes["critic"].weights.to_frame().set_index("member")
    col = "effective_weight" if kind == "effective" else "weight"
    expected = sorted(frame.loc[fw.indicator_codes, col])
    critic = [p.get_height() for p in next(c for c in fig.axes[0].containers if c.get_label() == "critic")]
    np.testing.assert_allclose(sorted(critic), expected, rtol=1e-12)


def test_rank_correlation_heatmap(demo_ds):
    from weightlab.compare import compare_schemes

    cmp = compare_schemes(demo_ds, ["equal", "expert", "pca1"], imputation="mean")
    fig = plot_rank_correlation(cmp.spearman, label=demo_ds.label)
    img = fig.axes[0].images[0].get_array()
    scores = np.column_stack([r.index_scores for r in cmp.results.values()])
    np.testing.assert_allclose(img, stats.spearmanr(scores).statistic, rtol=1e-12)
    assert len(fig.axes[0].texts) == 9


def test_indicator_correlation_matches_scipy(demo_schemes):
    res = demo_schemes["equal"]
    fw = res.dataset.framework
    fig = plot_indicator_correlation(res.scores_table(), fw, 1, 1)
    img = fig.axes[0].images[0].get_array()
    from weightlab.report.weights import tree_order

    codes = [c for c in tree_order(fw) if fw.level_of(c) == 1]
    rho = stats.spearmanr(res.normalised[codes].to_numpy(), nan_policy="omit").statistic
    assert img.shape == (25, 25)
    np.testing.assert_allclose(img, rho, atol=1e-12)
    across = plot_indicator_correlation(res.scores_table(), fw, 1, 3).axes[0].images[0].get_array()
    assert across.shape == (25, 4)


def test_sobol_global_and_unit():
    g, u = synthetic_sobol()
    fig = plot_sobol(g)
    ax = fig.axes[0]
    rects = bars(ax)
    assert len(rects) == 2 * 5
    top = g.sort_values("ST", ascending=False).iloc[0]
    assert ax.get_yticklabels()[0].get_text() == top["factor"]  # sorted by total effect
    assert "dummy (noise floor)" in [t.get_text() for t in ax.get_yticklabels()]
    widths = sorted(p.get_width() for p in rects)
    np.testing.assert_allclose(widths, sorted([*g["S1"], *g["ST"]]))
    fig = plot_sobol_unit(u, "Shanghai")
    rects = bars(fig.axes[0])
    mine = u[u["unit"] == "310000"]
    np.testing.assert_allclose(sorted(p.get_width() for p in rects), sorted([*mine["S1"], *mine["ST"]]))
    from weightlab.errors import ParameterError

    with pytest.raises(ParameterError, match="lacks column"):
        plot_sobol(g.drop(columns="ST_hi"))
    with pytest.raises(ParameterError, match="nowhere"):
        plot_sobol_unit(u, "nowhere")


def test_unit_profile_and_strengths(demo_schemes):
    res = demo_schemes["equal"]
    fw = res.dataset.framework
    fig = plot_unit_profile(res.scores_table(), fw, "Hefei")
    assert [len(next(c for c in ax.collections if c.get_label() == "Hefei").get_offsets())
            for ax in fig.axes] == [4, 9, 25]
    # the unit's ranks, computed here with scipy (ties share the lowest rank)
    X = res.normalised
    uid = res.dataset.names[res.dataset.names == "Hefei"].index[0]
    ranks = {c: int(stats.rankdata(-X[c].to_numpy(), method="min")[X.index.get_loc(uid)]) for c in X.columns}
    strong, weak = strengths_weaknesses(res.scores_table(), fw, "Hefei")
    middle = np.median(list(ranks.values()))
    assert all(ranks[c] <= middle for c in strong["code"]) and all(ranks[c] > middle for c in weak["code"])
    assert strong["rank"].tolist() == [ranks[c] for c in strong["code"]]
    assert max(ranks.values()) == weak["rank"].iloc[0]
    # a count of zero shared at the bottom is never a strength, however good its tied rank
    assert not any(X.loc[uid, c] == X[c].min() for c in strong["code"])


def test_figures_save_as_png_and_svg(tmp_path, demo_mc):
    paths = save_figure(plot_rank_uncertainty(demo_mc.ranks, top=10), tmp_path / "top10")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    assert "<svg" in svg and re.search(r"<text [^>]*>Data: synthetic demo data", svg)  # text kept as text
    assert "<dc:date>" not in svg
    again = [save_figure(plot_rank_uncertainty(demo_mc.ranks, top=10), tmp_path / f"svg{i}", ["svg"])[0].read_bytes()
             for i in range(2)]
    assert again[0] == again[1]  # the same figure gives the same bytes (no date, fixed ids)


def test_chinese_names_never_draw_empty_boxes(demo_mc, demo_ds):
    """Without a CJK font a Chinese name is replaced by the unit id (else matplotlib warns about
    missing glyphs, which fails this module); with one, the name is drawn."""
    from weightlab.report._figure import cjk_font

    zh = demo_mc.ranks.assign(name=demo_mc.ranks["unit"].map(demo_ds.meta["name_zh"]))
    fig = plot_rank_uncertainty(zh, top=5)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    fig.savefig(__import__("io").BytesIO(), format="png")  # draws every glyph
    assert labels[0] == ("1. 110000" if cjk_font() is None else "1. 北京市")


def test_sobol_units_heatmap(demo_mc):
    g, u = synthetic_sobol(units=("310000", "110000", "340100"), names=("Shanghai", "Beijing", "Hefei"))
    fig = plot_sobol_units(u, demo_mc.ranks, top=2)
    img = fig.axes[0].images[0].get_array()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Beijing", "Shanghai"]  # nominal order
    for row, uid in zip(img, ["110000", "310000"]):
        np.testing.assert_array_equal(row, u[u["unit"] == uid]["ST"].to_numpy())
