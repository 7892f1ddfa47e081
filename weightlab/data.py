"""Reading and validating indicator tables.

A :class:`Dataset` is the indicator values (units x indicators, float, NaN for missing cells) plus
the framework, unit ids and optional unit names. :func:`read_dataset` accepts a CSV, Parquet or
Excel file or a pandas DataFrame; one column holds the unit id (default: the first column) and the
indicator columns are matched to the framework's codes. Other columns are kept as unit metadata.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._io import file_sha256
from .errors import InputError
from .framework import Framework

NAME_COLUMNS = ("name", "name_en", "uName")


@dataclass
class Dataset:
    """Indicator values with their framework.

    Attributes
    ----------
    values : DataFrame (n_units, n_indicators)
        Float values, index = unit ids (named ``unit``), columns = indicator codes in framework order.
    framework : Framework
    names : Series
        Display name of each unit (the id when the table has no name column).
    meta : DataFrame
        Other columns of the input table, indexed by unit id.
    source : str
        File the values were read from ("" for a DataFrame).
    source_sha256 : str
        Hash of that file ("" for a DataFrame).
    label : str
        A caveat printed with every output built on these data (e.g. "synthetic demo data").
    """

    values: pd.DataFrame
    framework: Framework
    names: pd.Series
    meta: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""
    source_sha256: str = ""
    label: str = ""

    @property
    def n_units(self) -> int:
        return self.values.shape[0]

    @property
    def n_indicators(self) -> int:
        return self.values.shape[1]

    @property
    def units(self) -> pd.Index:
        return self.values.index

    def missing_by_indicator(self) -> pd.Series:
        return self.values.isna().sum()

    def summary(self) -> dict[str, Any]:
        """Counts printed by ``weightlab validate``."""
        miss = self.missing_by_indicator()
        return {
            "source": self.source or "<DataFrame>",
            "units": self.n_units,
            "indicators": self.n_indicators,
            "levels": self.framework.n_levels,
            "nodes_per_level": self.framework.summary()["nodes_per_level"],
            "missing_cells": int(miss.sum()),
            "indicators_with_missing": {k: int(v) for k, v in miss[miss > 0].items()},
            "label": self.label,
        }

    def subset(self, units: pd.Index | list) -> "Dataset":
        """The same dataset restricted to some units (order kept as given)."""
        return Dataset(self.values.loc[units], self.framework, self.names.loc[units],
                       self.meta.loc[units] if not self.meta.empty else self.meta,
                       self.source, self.source_sha256, self.label)


def _read_table(path: Path, sheet: str | int | None, encoding: str | None = None) -> pd.DataFrame:
    from .tables import read_table

    return read_table(path, sheet, encoding)


_MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "none", "-", ".."}


def _plain_numbers(col: pd.Series) -> pd.Series | None:
    """A text column (as CSV cells are read) as floats in one vectorised pass when every cell is a
    number or empty; None otherwise, and the cell-by-cell rules of :func:`_to_float` decide."""
    if not isinstance(col.dtype, pd.StringDtype):
        return None
    try:
        return pd.to_numeric(col.mask(col == ""), errors="raise").astype(float)
    except (ValueError, TypeError):
        return None


def _to_float(col: pd.Series, column: str, where: str, id_values: pd.Series) -> pd.Series:
    plain = _plain_numbers(col)
    if plain is not None:
        out = plain
    elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        out = col.astype(float)
    else:
        text = col.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip())
        missing = text.str.lower().isin(_MISSING_TOKENS)
        out = pd.to_numeric(text.where(~missing, None), errors="coerce").astype(float)
        bad = out.isna() & ~missing
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            from .tables import SPREADSHEET_ERRORS

            if text.iloc[pos].upper() in SPREADSHEET_ERRORS:
                raise InputError(
                    f"{where}: spreadsheet error {text.iloc[pos]!r} in column '{column}', row {pos + 2} (unit "
                    f"{id_values.iloc[pos]!r}): error values are refused in Excel and CSV alike, never read as "
                    f"missing; fix the formula, or leave the cell empty for a missing value.")
            raise InputError(
                f"{where}: non-numeric value {text.iloc[pos]!r} in column '{column}', row {pos + 2} (unit "
                f"{id_values.iloc[pos]!r}): use a number, or leave the cell empty for a missing value."
            )
    inf = np.isinf(out.to_numpy())
    if inf.any():
        pos = int(np.flatnonzero(inf)[0])
        raise InputError(f"{where}: infinite value in column '{column}', row {pos + 2} (unit "
                         f"{id_values.iloc[pos]!r}): replace it with a finite number or leave it empty.")
    return out


def refuse_empty_units(values: pd.DataFrame, where: str = "data", rows: bool = False) -> None:
    """Refuse units without any indicator value, which would otherwise still get a rank (the last);
    ``rows``: name the unit's row in the file too (header = row 1)."""
    empty = values.isna().all(axis=1).to_numpy()
    if empty.any():
        pos = int(np.flatnonzero(empty)[0])
        raise InputError(f"{where}: unit {values.index[pos]!r}{f' (row {pos + 2})' if rows else ''} has no indicator "
                         f"value at all{f' ({int(empty.sum())} such units)' if empty.sum() > 1 else ''}: it cannot "
                         f"be ranked; remove the row or fill at least one value.")


def read_dataset(data: str | Path | pd.DataFrame, framework: str | Path | Framework,
                 id_column: str | None = None, name_column: str | None = None,
                 sheet: str | int | None = None, label: str = "", encoding: str | None = None) -> Dataset:
    """Read and validate an indicator table against a framework.

    Parameters
    ----------
    data : path or DataFrame
        CSV, Parquet or Excel file (or a DataFrame) with one row per unit.
    framework : path or Framework
        TOML or COINr iMeta CSV file, or a Framework.
    id_column : str, optional
        Column with unit ids; default ``uCode`` when present (COINr iData), else the first column.
        A DataFrame whose index is named or not integer (e.g. ``Dataset.values``) has its index
        taken as the first column.
    name_column : str, optional
        Column with display names; default the first of ``name``, ``name_en``, ``uName`` present.
    sheet : str or int, optional
        Excel sheet (default the first): a name, or a 0-based position (an int, or a string of digits
        that is not the name of a sheet).
    label : str, default=""
        Caveat attached to every output (e.g. "synthetic demo data"); by default the value of a
        ``note`` column holding one value for every row, if the table has one.
    encoding : str, optional
        Encoding of text files that are not UTF-8 (UTF-8, with or without a byte-order mark, is
        always tried first).

    Raises
    ------
    InputError
        Missing indicator columns, duplicate or empty ids, non-numeric or infinite cells (with row
        and column), all-missing indicators, units without any value, fewer than 2 units.
    """
    fw = framework if isinstance(framework, Framework) else Framework.read(framework, encoding=encoding)
    if isinstance(data, pd.DataFrame):
        # ids held in a named or non-integer index (e.g. Dataset.values) become the first column instead of
        # being lost; an unnamed integer index (row numbers, also after filtering) is dropped
        plain_index = data.index.name is None and pd.api.types.is_integer_dtype(data.index)
        table = data.reset_index(drop=plain_index)
        where, source, digest = "data table", "", ""
    else:
        path = Path(data)
        table, where, source = _read_table(path, sheet, encoding), f"Data file {path}", str(path)
        digest = file_sha256(path)
    if table.shape[1] == 0:
        raise InputError(f"{where} has no columns.")
    codes = fw.indicator_codes
    if source and any(c not in table.columns for c in codes):
        from .tables import locate_header

        row = locate_header(path, codes, sheet, encoding)
        if row is not None:
            raise InputError(f"{where}: the header (the row naming the indicator columns) is on row {row}, not on "
                             f"the first row: delete the {row - 1} row(s) above it.")
    if table.columns.has_duplicates:
        dup = table.columns[table.columns.duplicated()][0]
        raise InputError(f"{where}: column {dup!r} appears more than once; give every column a unique name.")
    # COINr iData: uCode is the id (its first column, uName, is the display name)
    id_col = id_column if id_column is not None else ("uCode" if "uCode" in table.columns else str(table.columns[0]))
    if id_col not in table.columns:
        raise InputError(f"{where} has no id column '{id_col}': pass --id-column with one of "
                         f"{', '.join(map(str, table.columns[:8]))}.")
    ids = table[id_col].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip())
    empty = ids == ""
    if empty.any():
        raise InputError(f"{where}: empty unit id in column '{id_col}', row {int(np.flatnonzero(empty)[0]) + 2}: "
                         f"give every unit an id.")
    dup = ids.duplicated()
    if dup.any():
        raise InputError(f"{where}: unit id {ids[dup].iloc[0]!r} appears more than once in column '{id_col}': "
                         f"ids must be unique.")
    missing = [c for c in codes if c not in table.columns]
    if missing:
        raise InputError(f"{where} lacks indicator column(s) {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}: add them or fix the framework codes.")
    if len(table) < 2:
        raise InputError(f"{where} has {len(table)} unit(s): at least 2 are needed to build an index.")
    values = pd.DataFrame({c: _to_float(table[c], c, where, ids).to_numpy() for c in codes},
                          index=pd.Index(ids.to_numpy(), name="unit"))
    refuse_empty_units(values, where, rows=True)
    all_missing = [c for c in codes if values[c].isna().all()]
    if all_missing:
        raise InputError(f"{where}: indicator '{all_missing[0]}' has no values: fill it or remove it from the "
                         f"framework.")
    constant = [c for c in codes if values[c].nunique(dropna=True) == 1]
    if constant:
        warnings.warn(f"{where}: indicator(s) {', '.join(constant)} are constant; they do not discriminate "
                      f"between units and some normalizers map them to a fixed value.", stacklevel=2)
    if name_column is None:
        name_column = next((c for c in NAME_COLUMNS if c in table.columns and c != id_col), None)
    elif name_column not in table.columns:
        raise InputError(f"{where} has no name column '{name_column}'.")
    names = (table[name_column].astype(str).to_numpy() if name_column else ids.to_numpy())
    names = pd.Series(names, index=values.index, name="name")
    if not label and "note" in table.columns and table["note"].astype(str).nunique() == 1:
        label = str(table["note"].iloc[0])  # e.g. exported demo data stay labelled "synthetic demo data"
    other = [c for c in table.columns if c not in codes and c != id_col]
    meta = table[other].set_axis(values.index) if other else pd.DataFrame(index=values.index)
    return Dataset(values, fw, names, meta, source, digest, label)
