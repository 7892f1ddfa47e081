"""Missing-value treatment before normalisation.

Methods (``IMPUTATIONS``):

- ``none``: keep missing cells; aggregation then averages over the members present, renormalising
  their weights (OECD/JRC Handbook 2008, section 4: "case deletion" at the cell level).
- ``mean`` / ``median``: replace a missing cell by its indicator's mean / median over units.
- ``knn``: scikit-learn's ``KNNImputer`` (k nearest units, uniform weights) on z-scored indicators,
  so that indicators on large scales do not dominate the distance; results are transformed back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError

IMPUTATIONS = ("none", "mean", "median", "knn")


def impute(values: pd.DataFrame, method: str = "none", n_neighbors: int = 5) -> pd.DataFrame:
    """Return a copy of ``values`` with missing cells treated by ``method`` (see module docstring)."""
    if method not in IMPUTATIONS:
        raise ParameterError(f"Unknown imputation '{method}'. Choose one of: {', '.join(IMPUTATIONS)}.")
    out = values.astype(float).copy()
    if method == "none" or not out.isna().to_numpy().any():
        return out
    if method in ("mean", "median"):
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused just below
            fill = out.mean() if method == "mean" else out.median()
        overflow = out.isna().any() & ~fill.map(lambda v: abs(v) < float("inf"))
        if overflow.any():
            raise InputError(f"{method} imputation of indicator '{overflow[overflow].index[0]}' overflows floating "
                             f"point: its values are too large; rescale the column (e.g. divide it by 1e6).")
        return out.fillna(fill)
    from sklearn.impute import KNNImputer

    mu = out.mean()
    sd = out.std(ddof=0).replace(0.0, 1.0)
    z = (out - mu) / sd
    filled = KNNImputer(n_neighbors=min(n_neighbors, len(out) - 1)).fit_transform(z.to_numpy())
    return pd.DataFrame(filled * sd.to_numpy() + mu.to_numpy(), index=out.index, columns=out.columns)

