"""Shared figure plumbing: creation, the data label, titles, saving (PNG and SVG, atomically).

Figures are :class:`matplotlib.figure.Figure` objects drawn on the non-interactive Agg canvas,
never through ``pyplot``: nothing changes the user's global backend, no figure stays registered
in a figure manager (no memory growth in long sessions), and a notebook still displays a returned
figure. Plot labels use English names: the Chinese names of the built-in data need a CJK font that
matplotlib does not ship (the HTML report shows them in its tables, where the browser has fonts). A
user's names in Chinese are drawn with an installed CJK font (``CJK_FONTS``) when there is one, else
replaced by the unit id or node code (:func:`label_text`).
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from typing import Callable, Iterable

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._io import atomic_path

FORMATS = ("png", "svg")
DPI = 110
BASE_FONT = 9
LABEL_COLOR = "#b2182b"
NOMINAL_COLOR = "#d6604d"
MEDIAN_COLOR = "#2166ac"
BAND_COLOR = "#92c5de"
RC = {"font.size": BASE_FONT, "axes.titlesize": BASE_FONT + 1, "axes.labelsize": BASE_FONT,
      "xtick.labelsize": BASE_FONT - 1, "ytick.labelsize": BASE_FONT - 1, "legend.fontsize": BASE_FONT - 1,
      "svg.fonttype": "none", "svg.hashsalt": "weightlab",
      "figure.autolayout": False, "figure.constrained_layout.use": False,  # layouts are chosen by new_figure
      # text is measured with DejaVu Sans (shipped with matplotlib); an SVG names these fonts for the browser
      "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"]}


def settings():
    """A context in which the package's settings (``RC``, and a CJK font when one is installed) hold,
    leaving the global ones alone: figures are drawn and rendered in it (the SVG settings apply
    when a figure is saved, not when it is drawn)."""
    rc = dict(RC)
    if cjk_font() is not None:  # names in Chinese render when the system has a CJK font
        rc["font.family"] = ["sans-serif", cjk_font()]
    return matplotlib.rc_context(rc)


def styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw ``func``'s figure with the package's font sizes (``RC``), leaving global settings alone."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with settings():
            return func(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A figure of ``width`` x ``height`` inches on an Agg canvas (call it inside a ``@styled`` function).

    ``layout=None`` leaves the placement to the caller (``subplots_adjust``): constrained layout
    measures every tick label, which costs seconds on a figure with hundreds of them.
    """
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def data_label(label: str | None, *frames: "pd.DataFrame | None") -> str:
    """The caveat to print on a figure: ``label`` if given, else the first ``attrs['label']`` found."""
    if label is not None:
        return label
    for df in frames:
        if df is not None and df.attrs.get("label"):
            return str(df.attrs["label"])
    return ""


def finish(fig: Figure, title: str, label: str = "", note: str = "") -> Figure:
    """Title the figure and print the data label (e.g. "synthetic demo data") and a note under it."""
    fig.suptitle(title, fontsize=BASE_FONT + 3, fontweight="bold")
    footer = "  ·  ".join(t for t in (f"Data: {label}" if label else "", note) if t)
    if footer:
        fig.text(0.995, 0.002, footer, ha="right", va="bottom", fontsize=BASE_FONT - 1,
                 color=LABEL_COLOR if label else "0.3", style="italic")
        if fig.get_layout_engine() is not None:
            fig.get_layout_engine().set(h_pad=0.12)
    return fig


def save_figure(fig: Figure, stem: str | Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write ``stem.png`` / ``stem.svg`` (each atomically) and return the paths."""
    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        with atomic_path(path) as tmp:
            tmp.write_bytes(figure_bytes(fig, fmt))
        paths.append(path)
    return paths


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure rendered to PNG or SVG bytes (SVG: text kept as text, ``svg.fonttype`` none; no
    date in its metadata, so the same figure gives the same bytes)."""
    buf = io.BytesIO()
    engine = fig.get_layout_engine()
    with settings():
        if engine is not None:
            # savefig would draw the whole figure (output off) to lay it out, then draw it again: lay
            # it out alone and save it without a layout engine (one draw), then give the engine back
            engine.execute(fig)
            fig.set_layout_engine(None)
        try:
            fig.savefig(buf, format=fmt, dpi=DPI, **({"metadata": {"Date": None}} if fmt == "svg" else {}))
        finally:
            if engine is not None:
                fig.set_layout_engine(engine)
    return buf.getvalue()


def short(text: str, width: int = 28) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Droid Sans Fallback")


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first installed font of ``CJK_FONTS`` that matplotlib can find, else None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def label_text(text: str, fallback: str, width: int = 28) -> str:
    """``text`` shortened for a plot label, or ``fallback`` (a code or id) when it holds Chinese,
    Japanese or Korean characters and no CJK font is installed (matplotlib ships none: the glyphs
    would be empty boxes)."""
    text = str(text)
    if _CJK.search(text) and cjk_font() is None:
        return short(fallback, width)
    return short(text, width)
