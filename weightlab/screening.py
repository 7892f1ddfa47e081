"""Unit screening by data availability (COINr ``Screen``).

A unit's data availability is the share of the framework's indicators it has a value for::

    availability_i = (number of indicators observed for unit i) / (number of indicators)

Units below ``threshold`` are dropped. The pipeline measures availability on the table the step
receives, as COINr does (after imputation, so imputed cells count as present; COINr's ASEM build
drops nobody for that reason); ``measure = "before_imputation"`` counts imputed cells as missing
instead. Optionally, zeros count as missing too (COINr ``unit_screen = "byNAandZeros"``), which
screens out units whose indicators are mostly empty placeholders.
"""

from __future__ import annotations

import pandas as pd

from .errors import ParameterError

SCREEN_BY = ("missing", "zeros", "missing_or_zeros")


def availability(values: pd.DataFrame, by: str = "missing") -> pd.DataFrame:
    """Per unit: ``observed``, ``zeros``, ``availability`` (share of indicators counted as present)."""
    if by not in SCREEN_BY:
        raise ParameterError(f"[screen] by = {by!r}: choose one of {', '.join(SCREEN_BY)}.")
    observed = values.notna().sum(axis=1)
    zeros = (values == 0).sum(axis=1)
    present = {"missing": observed, "zeros": len(values.columns) - zeros,
               "missing_or_zeros": observed - zeros}[by]
    return pd.DataFrame({"observed": observed, "zeros": zeros, "availability": present / values.shape[1]},
                        index=values.index)


def screen(values: pd.DataFrame, threshold: float = 0.0, by: str = "missing",
           keep: list[str] | tuple = ()) -> tuple[pd.Index, pd.DataFrame]:
    """Units kept (availability >= ``threshold``, plus any forced in by ``keep``) and a report.

    The report has one row per unit: ``unit, observed, zeros, availability, kept``.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ParameterError(f"[screen] threshold must be a share in [0, 1] (e.g. 0.9 for 90 %); got {threshold!r}.")
    unknown = [u for u in keep if u not in values.index]
    if unknown:
        raise ParameterError(f"[screen] keep names unit {unknown[0]!r}, which is not in the data.")
    report = availability(values, by)
    report["kept"] = (report["availability"] >= threshold) | report.index.isin(list(keep))
    if not report["kept"].sum() >= 2:
        raise ParameterError(f"[screen] threshold {threshold} keeps {int(report['kept'].sum())} unit(s); at least 2 "
                             f"are needed: lower the threshold.")
    return report.index[report["kept"]], report.rename_axis("unit").reset_index()
