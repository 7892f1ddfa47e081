"""Shared figure plumbing: creation, the data label, titles, saving (PNG and SVG, atomically).

Figures are :class:`matplotlib.figure.Figure` objects drawn on the non-interactive Agg canvas,
never through ``pyplot``: nothing changes the user's global backend, no figure stays registered
in a figure manager (no memory growth in long sessions), and a notebook still displays a returned
figure. Plot labels use English names: the Chinese names of the built-in data need a CJK font that
matplotlib does not ship (the HTML report shows them in its tables, where the browser has fonts).
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Callable, Iterable

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
      "svg.fonttype": "none", "svg.hashsalt": "weightlab"}


def styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw ``func``'s figure with the package's font sizes (``RC``), leaving global settings alone."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(RC):
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
    footer = "   ".join(t for t in (f"Data: {label}" if label else "", note) if t)
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
            fig.savefig(tmp, format=fmt, dpi=DPI)
        paths.append(path)
    return paths


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure rendered to PNG or SVG bytes (for embedding in the report)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI)
    return buf.getvalue()


def short(text: str, width: int = 28) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"
