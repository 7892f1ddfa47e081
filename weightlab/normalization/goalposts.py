"""Goalposts: rescaling between fixed bounds, clipped."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .._params import Interval, InstanceOf
from ..errors import ParameterError
from .base import NORMALIZERS, Normalizer, Table

_BOUND = [Interval(None, None),
          InstanceOf((list, tuple, np.ndarray, dict, pd.Series), "a sequence or dict column -> number")]


def _per_column(value: Any, param: str, table: Table, who: str = "Goalposts") -> np.ndarray:
    """A scalar, a sequence with one entry per column, or a dict/Series column -> number."""
    k = len(table.columns)
    if isinstance(value, (dict, pd.Series)):
        mapping = dict(value.items())
        unknown = [c for c in mapping if c not in table.columns]
        missing = [c for c in table.columns if c not in mapping]
        if unknown or missing:
            what = f"names {unknown[0]!r}, not a column of X" if unknown else f"has no value for {missing[0]!r}"
            raise ParameterError(f"{who}: '{param}' {what}; give one value per column of X.")
        values = [mapping[c] for c in table.columns]
    elif np.ndim(value) == 0:
        values = [value] * k
    else:
        values = list(np.asarray(value, dtype=object).ravel())
        if len(values) != k:
            raise ParameterError(f"{who}: '{param}' has {len(values)} entries but X has {k} columns; "
                                 f"give a scalar or one value per column.")
    out = np.empty(k)
    for j, v in enumerate(values):
        ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
        if not ok or not math.isfinite(v):
            raise ParameterError(f"{who}: '{param}' for {table.col(j)} must be a finite number. "
                                 f"Got {v!r} instead.")
        out[j] = float(v)
    return out


@NORMALIZERS.register("goalposts")
class Goalposts(Normalizer):
    """Distance between fixed goalposts, clipped to ``[0, scale]``.

    For a benefit column (``s = +1``) and a cost column (``s = -1``, the posts swap roles)::

        y = scale * clip( (x - lower) / (upper - lower), 0, 1 )      benefit
        y = scale * clip( (upper - x) / (upper - lower), 0, 1 )      cost

    ``lower`` and ``upper`` are given, not learned, so scores are comparable across data sets and
    years; values beyond the posts are clipped. ``upper > lower`` for every column.

    Parameters
    ----------
    lower, upper : float, sequence of float or dict column -> float, default=None
        Goalposts in the units of each indicator: one number for every column, one per column,
        or a dict naming every column. Both are required.
    scale : float, default=1.0
        Output is in ``[0, scale]`` (e.g. 100).
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    lower_, upper_ : ndarray of shape (n_features,)
        Goalposts per column.
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data).
    UNDP (2010-). Human Development Report, Technical notes: dimension indices with goalposts.

    Examples
    --------
    >>> Goalposts(lower=0, upper=10).fit_transform([[-5.0], [2.0], [20.0]]).ravel().tolist()
    [0.0, 0.2, 1.0]
    """

    example_params = {"lower": 0.0, "upper": 10.0}
    cost_rule = "negate"
    output_range = (0.0, 1.0)

    @classmethod
    def negated_params(cls, params: dict) -> dict:
        """Posts of ``-x``: ``(-upper, -lower)``."""
        return {**params, "lower": -params["upper"], "upper": -params["lower"]}

    clips = True

    _parameter_constraints = {**Normalizer._parameter_constraints, "lower": _BOUND, "upper": _BOUND,
                              "scale": [Interval(0, None, closed="neither")]}

    def __init__(self, lower=None, upper=None, scale=1.0, directions=None):
        self.lower = lower
        self.upper = upper
        self.scale = scale
        self.directions = directions

    def _fit(self, table: Table) -> None:
        lower = _per_column(self.lower, "lower", table)
        upper = _per_column(self.upper, "upper", table)
        bad = upper <= lower
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"Goalposts: for {table.col(j)} upper ({upper[j]:g}) must be greater than "
                                 f"lower ({lower[j]:g}); swap them or set directions=-1 for a cost column.")
        self.lower_, self.upper_ = lower, upper

    def _transform(self, table: Table) -> np.ndarray:
        x = table.values
        width = self.upper_ - self.lower_
        y = np.where(self.directions_ > 0, x - self.lower_, self.upper_ - x) / width
        return self.scale * np.clip(y, 0.0, 1.0)
