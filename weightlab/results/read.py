"""Read a results directory (written by ``weightlab demo``, ``robustness``, ``sensitivity`` or a
result's ``save``) back into tables, for the report, the Excel workbook and Python users.

Files are looked for in the directory itself, then in its ``robustness/`` and ``sensitivity/``
subdirectories (the layout of ``weightlab demo``); when a file exists in several, the directory's
own wins. The data's label (e.g. "synthetic demo data") comes from the manifests and is put in
``attrs["label"]`` of every table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..framework import Framework
from .layout import FRAMEWORK, INDEXED, MANIFEST, NOMINAL_PREFIX, SUBDIRS, TABLE_FILES


@dataclass
class Results:
    """The tables of a results directory.

    Attributes
    ----------
    path : Path
    tables : dict name -> DataFrame
        The known tables (see :data:`weightlab.results.layout.TABLE_FILES`), the directory's own file first.
    files : dict relative path -> DataFrame
        Every table read, under its path relative to ``path`` (for the workbook).
    manifests : dict subdirectory -> dict ("" for the directory's own manifest.json)
    framework : Framework or None
    label : str
    """

    path: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, pd.DataFrame] = field(default_factory=dict)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    framework: Framework | None = None
    label: str = ""

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
            if not isinstance(df.index, pd.RangeIndex):  # the dense format's unit ids (long formats have none:
                df.index = df.index.astype(str)  # 13 M rows at 100,000 units, as many strings)
            return df
        return pd.read_csv(path, dtype={"unit": str})
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read {path}: {exc}. Re-run the command that wrote it.") from None


def load_results(directory: str | Path) -> Results:
    """Read every known table, manifest and framework of ``directory``.

    Raises :class:`~weightlab.errors.InputError` when the directory does not exist or holds no
    weightlab results.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root} is not a directory: give the --out directory of a weightlab run.")
    res = Results(root)
    for sub in SUBDIRS:
        d = root / sub if sub else root
        if not d.is_dir():
            continue
        mpath = d / MANIFEST
        if mpath.is_file():
            try:
                res.manifests[sub] = json.loads(mpath.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"Cannot read {mpath}: {exc}. Re-run the command that wrote it.") from None
        for name, fname in TABLE_FILES.items():
            p = d / fname
            if p.is_file():
                df = _read(p)
                if name in INDEXED:
                    df = df.set_index(df.columns[0])
                    df.index.name = None
                res.files[str(p.relative_to(root))] = df
                res.tables.setdefault(name, df)
        for p in sorted(d.glob(f"{NOMINAL_PREFIX}*.csv")):
            res.files[str(p.relative_to(root))] = _read(p)
        fw = d / FRAMEWORK
        if res.framework is None and fw.is_file():
            res.framework = Framework.from_toml(fw)
    if not res.tables:
        raise InputError(f"{root} holds no weightlab results (ranks.csv, scores.csv, compare.csv or sobol.csv, "
                         "also looked in robustness/ and sensitivity/): run 'weightlab demo', 'weightlab "
                         f"robustness ... --out {root}' or a result's save('{root}') first.")
    res.label = next((str(m["label"]) for m in res.manifests.values() if m.get("label")), "")
    if res.label:
        for df in res.files.values():
            df.attrs["label"] = res.label
    return res
