"""Min-max normalisation, plain and after a log transform."""

from __future__ import annotations

import math

import numpy as np

from .._params import InstanceOf
from ..errors import InputError, ParameterError
from .base import NORMALIZERS, Normalizer, Table, minmax_scale, nan_extremes


def _checked_range(est: Normalizer) -> tuple[float, float]:
    rng = est.range
    ok = (len(rng) == 2 and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                                 and math.isfinite(v) for v in rng) and rng[0] < rng[1])
    if not ok:
        raise ParameterError(f"The 'range' parameter of {type(est).__name__} must be two finite numbers "
                             f"(a, b) with a < b. Got {rng!r} instead.")
    return float(rng[0]), float(rng[1])


@NORMALIZERS.register("minmax")
class MinMax(Normalizer):
    """Min-max normalisation to ``[a, b]``.

    With ``s = +1`` for a benefit and ``s = -1`` for a cost column, and min / max taken over the
    units, ignoring NaN::

        z = s * x
        y = a + (z - min(z)) / (max(z) - min(z)) * (b - a)

    so the best unit gets ``b`` and the worst ``a``. A constant column (``max(z) == min(z)``) maps
    to the middle of the range, ``(a + b) / 2``; an all-NaN column stays NaN.

    Parameters
    ----------
    range : tuple (a, b), default=(0.0, 1.0)
        Output interval, ``a < b``.
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None
        None: every column is a benefit (+1).

    Attributes
    ----------
    min_, max_ : ndarray of shape (n_features,)
        Minimum and maximum of ``z = s * x`` per column (for a cost column ``min_ = -max(x)``).
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data), min-max.

    Examples
    --------
    >>> MinMax().fit_transform([[1.0], [2.0], [5.0]]).ravel().tolist()
    [0.0, 0.25, 1.0]
    """

    constant_value = 0.5
    cost_rule = "negate"
    output_range = (0.0, 1.0)

    _parameter_constraints = {**Normalizer._parameter_constraints,
                              "range": [InstanceOf((tuple, list), "a pair (a, b)")]}

    def __init__(self, range=(0.0, 1.0), directions=None):  # noqa: A002 - documented parameter name
        self.range = range
        self.directions = directions

    def _prepare(self, table: Table) -> np.ndarray:
        """``z``, as a new array (:func:`minmax_scale` overwrites it)."""
        return self._signed(table)

    def _fit(self, table: Table) -> None:
        _checked_range(self)
        self.min_, self.max_ = nan_extremes(self._prepare(table))

    def _transform(self, table: Table) -> np.ndarray:
        a, b = _checked_range(self)
        return minmax_scale(self._prepare(table), self.min_, self.max_, a, b)


@NORMALIZERS.register("log_minmax")
class LogMinMax(MinMax):
    """``log(1 + x)``, then min-max to ``[a, b]``: for skewed, non-negative counts.

    ::

        z = s * log(1 + x)
        y = a + (z - min(z)) / (max(z) - min(z)) * (b - a)

    The log is taken before the direction sign, so a cost column gets ``(max(l) - l) / (max(l) -
    min(l))`` with ``l = log(1 + x)``. Every value must be ``> -1``. A constant column maps to
    ``(a + b) / 2``.

    Parameters
    ----------
    range : tuple (a, b), default=(0.0, 1.0)
        Output interval, ``a < b``.
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    min_, max_ : ndarray of shape (n_features,)
        Minimum and maximum of ``z = s * log(1 + x)`` per column.
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data): transforming skewed indicators.

    Examples
    --------
    >>> LogMinMax().fit_transform([[0.0], [1.0], [3.0]]).ravel().tolist()
    [0.0, 0.5, 1.0]
    """

    cost_rule = "order"  # the log is taken before the sign: reversed order only

    def __sklearn_tags__(self):  # sklearn >= 1.6
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _prepare(self, table: Table) -> np.ndarray:
        low = table.values <= -1
        if low.any():
            i, j = table.first(low)
            raise InputError(f"{type(self).__name__} needs values > -1 (it takes log(1 + x)); {table.col(j)} "
                             f"has {table.values[i, j]:g} in {table.row(i)}: shift the column or use minmax.")
        return np.log1p(table.values) * self.directions_
