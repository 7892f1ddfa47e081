"""Atomic file writes, the checks and reading of input files, file hashes and package versions.

Every file weightlab writes goes to a temporary file in the target directory first and is moved into
place with :func:`os.replace`, so a failed or interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
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
        honour_umask(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"Cannot write {path}: {exc.strerror or exc}; choose another output path.") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")


ARROW_CSV_CELLS = 1_000_000  # larger tables of numbers and strings are written by pyarrow's CSV writer


def _numbers_and_strings(table: pd.DataFrame) -> bool:
    """Whether every column holds numbers (int, float) or strings: what pyarrow writes as pandas does."""
    return all(dt.kind in "iuf" or (dt.kind in "OT" and pd.api.types.infer_dtype(table[c], skipna=True)
                                     in ("string", "empty")) for c, dt in table.dtypes.items())


def _to_csv(df: pd.DataFrame, path: Path, index: bool) -> None:
    """``df.to_csv`` for tables up to ``ARROW_CSV_CELLS`` cells or with other column types (booleans,
    dates, mixed objects); larger tables of numbers and strings go through pyarrow's CSV writer,
    which is much faster (pandas formats each float in Python; docs/performance.md). Both write each
    float in its shortest round-trip form, so the file reads back to the same values; pyarrow quotes
    every string and writes ``1e-05`` as ``0.00001`` and ``-0.0`` as ``-0``. Converted to Arrow
    ``ARROW_CSV_CELLS`` cells at a time, so writing holds no second copy of the table."""
    table = df.reset_index() if index else df
    if table.size <= ARROW_CSV_CELLS or not _numbers_and_strings(table):
        df.to_csv(path, index=index)
        return
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    rows = max(1, ARROW_CSV_CELLS // max(1, table.shape[1]))  # converted a slice of rows at a time
    schema = pa.Schema.from_pandas(table.iloc[:rows], preserve_index=False)
    with pa_csv.CSVWriter(str(path), schema, write_options=pa_csv.WriteOptions(quoting_style="needed")) as out:
        for r0 in range(0, len(table), rows):
            out.write_table(pa.Table.from_pandas(table.iloc[r0:r0 + rows], schema=schema, preserve_index=False))


def write_table_atomic(df: pd.DataFrame, path: str | Path, fmt: str | None = None, index: bool = False) -> None:
    """Write ``df`` as csv, parquet, json or xlsx (chosen by ``fmt`` or the file suffix)."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt == "xlsx":
        write_workbook_atomic(path, {"table": df}, index=index)
        return
    with atomic_path(path) as tmp:
        if fmt == "csv":
            _to_csv(df, tmp, index)
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


def current_umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | Path, directory: bool = False) -> None:
    """Give ``path`` the permissions a plain ``open``/``mkdir`` would: 0666 (0777 for a directory)
    minus the umask. ``tempfile`` creates private files (0600) and directories (0700)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def check_input_file(path: str | Path, what: str, error: type[Exception], allow_dir: bool = False) -> Path:
    """Raise ``error`` unless ``path`` is an existing regular file (or a directory, with ``allow_dir``).

    A FIFO, socket or device is refused before it is opened, so that reading it cannot block.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist: check the path.") from None
    except OSError as exc:
        raise error(f"Cannot open {what.lower()} {path}: {exc.strerror}.") from None
    if stat.S_ISDIR(mode):
        if allow_dir:
            return path
        raise error(f"{what} {path} is a directory: give the path of a file inside it.")
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else (
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise error(f"{what} {path} is {kind}: give a regular file (save the data to a file first).")
    if not os.access(path, os.R_OK):
        raise error(f"Cannot read {what.lower()} {path}: permission denied; check its permissions.")
    return path


def encoding_hint(raw: bytes) -> str:
    """A likely encoding for bytes that are not UTF-8: ``utf-16`` (byte-order mark or NUL bytes),
    else the first of gbk, cp1252 that decodes them."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:4096]:
        return "utf-16"
    for enc in ("gbk", "cp1252"):
        try:
            raw.decode(enc)
            return enc
        except UnicodeDecodeError:
            pass
    return "latin-1"


def read_text(path: str | Path, what: str, error: type[Exception], encoding: str | None = None,
              encoding_option: bool = True) -> str:
    """Read a text file: UTF-8 (with or without a byte-order mark), else ``encoding`` when given.

    UTF-8 is always tried first (text in GBK, UTF-16 or cp1252 is practically never valid UTF-8), so
    one ``--encoding`` serves a GBK data file next to a UTF-8 framework (the TOML standard requires
    UTF-8). Text that does not decode raises ``error`` naming the encoding problem and the fix (save as
    UTF-8, or give the file's encoding with ``--encoding`` when ``encoding_option``: files read
    without one, such as weights and AHP files, are UTF-8 only).
    """
    import codecs

    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise error(f"Unknown encoding {encoding!r} for {what.lower()} {path}: use a Python codec name such as "
                        f"utf-8, gbk, utf-16 or cp1252.") from None
    path = check_input_file(path, what, error)
    raw = path.read_bytes()
    enc = encoding or "utf-8-sig"
    if encoding:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode(enc)
    except UnicodeDecodeError as exc:
        hint = encoding_hint(raw)
        fix = (f"save it as UTF-8 or give its encoding with --encoding {hint} (encoding={hint!r} in Python)"
               if encoding_option else "save it as UTF-8")
        raise error(f"{what} {path} is not {enc if encoding else 'UTF-8'} text (undecodable byte at position "
                    f"{exc.start}; it looks like {hint}): {fix}.") from None


def read_toml(path: str | Path, what: str, error: type[Exception], encoding: str | None = None,
              encoding_option: bool = True) -> dict[str, Any]:
    """Parse a TOML file; a missing file, a bad encoding or bad syntax raises ``error`` naming ``what``
    and the path. A UTF-8 byte-order mark is accepted."""
    import tomllib

    text = read_text(path, what, error, encoding, encoding_option=encoding_option)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {path} is not valid TOML ({exc}): fix the syntax.") from None


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file; of a directory (a partitioned Parquet dataset), of its files' relative paths
    and contents in sorted order."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python, weightlab and its core dependencies, for manifests."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    out = {"python": platform.python_version(), "weightlab": __version__}  # the one version string
    for pkg in ("numpy", "pandas", "scipy", "scikit-learn", "numba", "llvmlite", "pyarrow", "typer"):
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
