"""Atomic file writes and run manifests.

Every file weightlab writes goes to a temporary file in the target directory first and is moved into
place with :func:`os.replace`, so a failed or interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from .errors import InputError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``, else delete it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create output directory {path.parent}: {exc.strerror}.") from None
    if path.is_dir():
        raise InputError(f"Cannot write {path}: it is a directory; give a file name (e.g. {path / 'out.csv'}).")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"Cannot write in {path.parent}: {exc.strerror}; choose another output path.") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the usual mode
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"Cannot write {path}: {exc.strerror or exc}; choose another output path.") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def write_table_atomic(df: pd.DataFrame, path: str | Path, fmt: str | None = None, index: bool = False) -> None:
    """Write ``df`` as csv, parquet, json or xlsx (chosen by ``fmt`` or the file suffix)."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt == "xlsx":
        write_workbook_atomic(path, {"table": df}, index=index)
        return
    with atomic_path(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=index)
        elif fmt == "parquet":
            df.to_parquet(tmp, index=index)
        elif fmt == "json":
            df.to_json(tmp, orient="records" if not index else "index", indent=2, force_ascii=False)
        else:
            raise InputError(f"Unknown output format '{fmt}' for {path}: use csv, parquet, json or xlsx.")


def write_workbook_atomic(path: str | Path, tables: "dict[str, pd.DataFrame]", index: bool = False,
                          about: "dict[str, Any] | None" = None) -> None:
    """Write ``tables`` as the sheets of one Excel workbook (openpyxl), with an ``about`` sheet first
    when ``about`` (key -> value, e.g. the data label and the run's settings) is given. Sheet names
    are cut to Excel's 31 characters; header rows are frozen."""
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            if about:
                pd.DataFrame({"item": list(about), "value": [_cell(v) for v in about.values()]}).to_excel(
                    writer, sheet_name="about", index=False)
            used: set[str] = set()
            for name, df in tables.items():
                sheet = name.replace("/", "_")[:31]
                while sheet in used:
                    sheet = sheet[:29] + f"_{len(used)}"
                used.add(sheet)
                df.to_excel(writer, sheet_name=sheet, index=index, freeze_panes=(1, 0))


def _cell(value: Any) -> Any:
    """A value Excel can hold: numbers and text as they are, anything else as JSON text."""
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def read_toml(path: str | Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """Parse a TOML file; a missing file or bad syntax raises ``error`` naming ``what`` and the path."""
    import tomllib

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist: check the path.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path} is not valid TOML ({exc}): fix the syntax.") from None


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python, weightlab and its core dependencies, for manifests."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("weightlab", "numpy", "pandas", "scipy", "scikit-learn", "numba", "typer"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)
