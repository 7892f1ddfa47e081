"""Denomination: divide indicators by a size column (COINr ``Denominate``).

Extensive indicators (trade in goods, flights, patents) grow with the size of the unit; dividing by
a denominator (GDP, population, area, energy use) makes them comparable. The framework names the
denominator of each indicator (COINr iMeta's ``Denominator`` column, or ``denominator = "GDP"`` on
an indicator of the TOML framework); the denominator values are columns of the data table::

    x'_ij = x_ij / d_i        (d = the denominator column named for indicator j)

A missing denominator gives a missing value; a zero denominator is refused (naming the unit).

``DENOMINATIONS`` registers the two ways the robustness engine's ``denomination`` factor can take:
``none`` (the values as given) and ``framework`` (divided as above).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .data import Dataset
from .errors import InputError
from .registry import Registry


def denominators_of(dataset: Dataset, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Indicator -> denominator column: the framework's, updated by ``overrides`` ("" removes one)."""
    out = {i.code: i.denominator for i in dataset.framework.indicators if i.denominator}
    for code, col in (overrides or {}).items():
        if code not in dataset.framework.indicator_codes:
            raise InputError(f"[denominate] names indicator {code!r}, which is not in the framework: fix the code.")
        if col:
            out[code] = str(col)
        else:
            out.pop(code, None)
    return out


def denominate(dataset: Dataset, overrides: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Divide each indicator that has a denominator by that column of the data.

    Returns the denominated values and a table ``indicator, denominator`` of what was divided.

    Raises
    ------
    InputError
        A named denominator column is not in the data, is not numeric, or has a zero.
    """
    mapping = denominators_of(dataset, overrides)
    out = dataset.values.astype(float).copy()
    where = f"Data {dataset.source}" if dataset.source else "Data"
    for code, col in mapping.items():
        if col not in dataset.meta.columns:
            raise InputError(f"{where} has no denominator column {col!r} (named for indicator {code!r} by the "
                             f"framework): add the column or remove the denominator.")
        d = pd.to_numeric(dataset.meta[col].replace("", np.nan), errors="coerce")
        bad = d.isna() & dataset.meta[col].notna() & (dataset.meta[col].astype(str).str.strip() != "")
        if bad.any():
            raise InputError(f"{where}: denominator column {col!r} has the non-numeric value "
                             f"{dataset.meta[col][bad].iloc[0]!r} for unit {d.index[bad][0]!r}: use a number.")
        zero = d == 0
        if zero.any():
            raise InputError(f"{where}: denominator column {col!r} is 0 for unit {d.index[zero][0]!r}, so "
                             f"{code!r} cannot be divided by it: fix the value or leave it empty (missing).")
        out[code] = out[code] / d.to_numpy(dtype=float)
    table = pd.DataFrame({"indicator": list(mapping), "denominator": list(mapping.values())})
    return out, table


DENOMINATIONS: Registry = Registry("denomination")


@DENOMINATIONS.register("none")
class NoDenomination:
    """The values as they are."""

    def apply(self, dataset: Dataset) -> Dataset:
        return dataset


@DENOMINATIONS.register("framework")
class FrameworkDenomination:
    """Every indicator with a denominator in the framework divided by it (:func:`denominate`)."""

    def apply(self, dataset: Dataset) -> Dataset:
        return replace(dataset, values=denominate(dataset)[0])
