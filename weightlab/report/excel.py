"""All the tables of a results directory as the sheets of one Excel workbook (``results.xlsx``),
as COINr's ``export_to_excel`` does; an ``about`` sheet first holds the data label and the run's
settings."""

from __future__ import annotations

from pathlib import Path

from .._io import write_workbook_atomic
from ..results import Results
from ..results.layout import MANIFEST, WORKBOOK
from .settings import settings_rows


def write_results_workbook(res: Results, path: str | Path | None = None) -> Path:
    """Write every table of ``res`` (sheet names: the file names, with ``robustness_`` etc. for
    subdirectories) to ``path`` (default ``DIR/results.xlsx``)."""
    path = Path(path) if path is not None else res.path / WORKBOOK
    about = {"data": res.label or "—", "directory": str(res.path)}
    for block in settings_rows(res):
        for k, v in block["items"]:
            about[f"{block['title'].replace(MANIFEST, '').rstrip('/') or 'run'}: {k}"] = v
    sheets = {}
    for rel, df in res.files.items():
        name = rel.rsplit(".", 1)[0].replace("/", "_")
        sheets[name] = df.reset_index() if name.endswith("rank_correlation") or name.endswith("rank_frequency") \
            else df
    write_workbook_atomic(path, sheets, about=about)
    return path
