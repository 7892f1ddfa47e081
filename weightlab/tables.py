"""Reading input tables (CSV, Parquet, Excel) without silent surprises.

Rules (each one a message naming the file and the fix, never a quiet change of the data):

- the path must be a regular file; a directory is read only as a partitioned Parquet dataset
  (``*.parquet`` files inside it), and FIFOs and devices are refused before they are opened;
- CSV text is UTF-8 with or without a byte-order mark unless an ``encoding`` is given; text in
  another encoding (GBK, UTF-16, ...) is refused with the likely encoding and ``--encoding``;
- a CSV whose header holds no comma but semicolons or tabs is read with that delimiter, and a
  warning says so;
- a header with the same column name twice is refused (pandas would rename the second ``x.1``);
- Excel sheets are read with openpyxl cell by cell, so that spreadsheet error values
  (``#DIV/0!``, ``#N/A``, ``#VALUE!``...) reach the numeric check as text, exactly as the same text
  in a CSV does: in both they are errors, not missing values (:data:`SPREADSHEET_ERRORS`); an
  empty cell that holds a formula never computed is refused too (it is not a missing value).
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ._io import check_input_file, read_text
from .errors import InputError

SPREADSHEET_ERRORS = ("#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                      "#GETTING_DATA")
CSV_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def read_table(path: str | Path, sheet: str | int | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a data table as text/object cells (numbers are converted and checked by the caller)."""
    path = check_input_file(path, "Data file", InputError, allow_dir=True)
    suffix = path.suffix.lower()
    if path.is_dir():
        if suffix in PARQUET_SUFFIXES or any(path.rglob("*.parquet")):
            return _read_parquet(path)
        raise InputError(f"Data file {path} is a directory: give the path of a CSV, Parquet or Excel file "
                         f"(a directory is read only as a partitioned Parquet dataset of *.parquet files).")
    if sheet is not None and suffix not in EXCEL_SUFFIXES:
        raise InputError(f"--sheet applies to Excel files only; {path} is a {suffix or 'suffix-less'} file.")
    if suffix in CSV_SUFFIXES:
        return _read_csv(path, encoding)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, sheet)
    if suffix == ".xls":
        raise InputError(f"Data file {path} is an old-style .xls workbook: save it as .xlsx (or CSV) and "
                         f"read that.")
    raise InputError(f"Data file {path} has unknown type '{suffix}': use .csv, .parquet or .xlsx.")


def _fail_unreadable(path: Path, exc: Exception, kind: str) -> InputError:
    first = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(".")
    return InputError(f"Cannot read data file {path}: {first}; check that it is a valid {kind} file.")


def _check_header(names: list, path: Path) -> None:
    seen = set()
    for name in names:
        if name in seen and str(name).strip():  # empty names become "Unnamed: j", which are unique
            raise InputError(f"Data file {path}: column {name!r} appears more than once in the header; give "
                             f"every column a unique name.")
        seen.add(name)


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    text = read_text(path, "Data file", InputError, encoding)
    if not text.strip():
        raise InputError(f"Data file {path} is empty: it needs a header row and one row per unit.")
    header_line = text.lstrip("\r\n").splitlines()[0]
    sep, label = ",", ""
    if "," not in header_line:
        for candidate, name in ((";", "semicolon"), ("\t", "tab")):
            if candidate in header_line:
                sep, label = candidate, f"{name}-separated"
                break
    header = next(csv.reader([header_line], delimiter=sep))
    try:
        _check_header(header, path)
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except InputError as exc:
        raise InputError(f"{exc} (The file was read as {label}: its header has no comma.)" if label
                         else str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure (ragged rows, quotes) is a problem with the file
        raise _fail_unreadable(path, exc, f"{label} CSV" if label else "CSV") from None
    if label:
        warnings.warn(f"Data file {path} has no comma in its header: read it as {label}.", UserWarning, stacklevel=3)
    return table


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a problem with the file
        raise _fail_unreadable(path, exc, "Parquet") from None


def _excel_rows(path: Path, sheet: str | int | None, data_only: bool = True) -> list[tuple]:
    """The cell values of one sheet, row by row (error cells as their text, e.g. '#DIV/0!'); with
    ``data_only=False`` formulas instead of their cached values."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except Exception as exc:  # noqa: BLE001 - BadZipFile, KeyError, InvalidFileException...
        raise _fail_unreadable(path, exc, "Excel (.xlsx)") from None
    try:
        names = book.sheetnames
        if sheet is None:
            ws = book.worksheets[0]
        elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in names):
            i = int(sheet)
            if not 0 <= i < len(names):
                raise InputError(f"Data file {path} has {len(names)} sheet(s) ({', '.join(names)}): --sheet {i} "
                                 f"is out of range (sheets count from 0), or give a sheet name.")
            ws = book.worksheets[i]
        elif sheet in names:
            ws = book[sheet]
        else:
            raise InputError(f"Data file {path} has no sheet {sheet!r}: its sheets are {', '.join(names)}; pass "
                             f"one of them with --sheet.")
        rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    finally:
        book.close()
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    rows = _excel_rows(path, sheet)
    if not rows:
        raise InputError(f"Data file {path}: the sheet is empty; it needs a header row and one row per unit.")
    width = max(len(r) for r in rows)
    rows = [tuple(r) + (None,) * (width - len(r)) for r in rows]
    # drop trailing columns with neither a header nor a value (formatting left over in the sheet)
    while width and all(r[width - 1] is None for r in rows):
        width -= 1
    rows = [r[:width] for r in rows]
    header = [f"Unnamed: {j}" if v is None else str(v).strip() if isinstance(v, str) else str(v)
              for j, v in enumerate(rows[0])]
    _check_header(header, path)
    if any(v is None for r in rows[1:] for v in r):
        _refuse_uncomputed_formulas(path, sheet, rows, header)
    return pd.DataFrame(rows[1:], columns=header, dtype=object)


def _refuse_uncomputed_formulas(path: Path, sheet: str | int | None, rows: list[tuple], header: list[str]) -> None:
    """An empty value that is really a formula never computed (a workbook written by a program and
    not opened in a spreadsheet since) would be read as missing: refuse it."""
    formulas = _excel_rows(path, sheet, data_only=False)
    for i, (values, cells) in enumerate(zip(rows[1:], formulas[1:])):
        for j, (v, f) in enumerate(zip(values, cells)):
            if v is None and isinstance(f, str) and f.startswith("="):
                raise InputError(f"Data file {path}: the cell of column '{header[j]}', row {i + 2} holds the formula "
                                 f"{f!r} but no computed value (the workbook was not recalculated): open and save "
                                 f"it in a spreadsheet program, or write the values.")


def locate_header(path: str | Path, codes: list[str], sheet: str | int | None = None,
                  encoding: str | None = None, max_rows: int = 50) -> int | None:
    """1-based row (within the first ``max_rows``) holding most of the indicator ``codes``, if it is
    not the first row; None otherwise. Used to explain a header that is not on the first row."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in EXCEL_SUFFIXES:
            rows: list[Any] = _excel_rows(path, sheet)[:max_rows]
        elif suffix in CSV_SUFFIXES:
            lines = read_text(path, "Data file", InputError, encoding).splitlines()[:max_rows]
            rows = [r for r in csv.reader(lines)]
        else:
            return None
    except InputError:
        return None
    wanted = set(codes)
    best, best_hits = None, 0
    for i, row in enumerate(rows):
        hits = len(wanted & {str(v).strip() for v in row if v is not None})
        if hits > best_hits:
            best, best_hits = i, hits
    if best is None or best == 0 or best_hits < max(1, len(wanted) // 2):
        return None
    return best + 1
