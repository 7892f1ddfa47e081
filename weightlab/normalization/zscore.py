"""Standardisation (z-scores)."""

from __future__ import annotations

import numpy as np

from .._params import Interval
from ..errors import InputError
from .base import NORMALIZERS, Normalizer, Table, nan_extremes, per_column


def _scaled_std(v: np.ndarray, ddof: int) -> float:
    """``np.std(v, ddof)`` computed on ``v / max|v|`` and scaled back, so that squares of very small
    (or very large) values neither underflow to 0 nor overflow."""
    s = float(np.max(np.abs(v)))
    return float(np.std(v / s, ddof=ddof)) * s if s > 0 else 0.0


@NORMALIZERS.register("zscore")
class ZScore(Normalizer):
    """Z-scores with the sample standard deviation (``ddof=1`` by default).

    With ``s = +1`` for a benefit and ``s = -1`` for a cost column, over the ``n`` non-missing
    units of the column::

        mean = sum(x) / n
        sd   = sqrt( sum((x - mean)**2) / (n - ddof) )
        y    = m + s_target * s * (x - mean) / sd

    with the target mean ``m`` and standard deviation ``s_target`` (parameters ``mean`` and ``sd``,
    default 0 and 1: plain z-scores; COINr's ``n_zscore(x, c(m, s))``, e.g. ``mean=10, sd=2``).
    With the defaults this equals standardising ``-x`` for a cost column. A constant column (all
    observed values equal, including a single observed value) maps to ``m``; an all-NaN column stays
    NaN.

    Parameters
    ----------
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation (1: sample, 0: population).
    mean : float, default=0.0
        Mean of the output (COINr ``npara[1]``).
    sd : float, default=1.0
        Standard deviation of the output (COINr ``npara[2]``), > 0.
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Column means of ``x`` (not direction-adjusted).
    scale_ : ndarray of shape (n_features,)
        Column standard deviations with ``ddof``; 1.0 for constant columns.
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data), standardisation (z-scores).
    Becker et al. (2022). COINr, JOSS 7(78), 4567 (function ``n_zscore``, target mean and sd).

    Examples
    --------
    >>> ZScore().fit_transform([[1.0], [2.0], [3.0]]).ravel().tolist()
    [-1.0, 0.0, 1.0]
    """

    constant_value = 0.0
    cost_rule = "negate"

    _parameter_constraints = {**Normalizer._parameter_constraints,
                              "ddof": [Interval(0, None, closed="left", integer=True)],
                              "mean": [Interval(None, None)], "sd": [Interval(0, None, closed="neither")]}

    def __init__(self, ddof=1, mean=0.0, sd=1.0, directions=None):
        self.ddof = ddof
        self.mean = mean
        self.sd = sd
        self.directions = directions

    def _fit(self, table: Table) -> None:
        A = table.values
        lo, hi = nan_extremes(A)
        constant = lo == hi
        count = (~np.isnan(A)).sum(axis=0)
        short = ~constant & (count > 0) & (count <= self.ddof)
        if short.any():
            j = int(np.flatnonzero(short)[0])
            raise InputError(f"ZScore: {table.col(j)} has {count[j]} observed value(s); ddof={self.ddof} "
                             f"needs more than {self.ddof}: lower ddof or fill the column.")
        mean = per_column(np.mean, A)
        sd = per_column(lambda v: _scaled_std(v, self.ddof) if v.size > self.ddof else 1.0, A)
        # constant columns: centre on the value itself so the output is exactly 0
        self.mean_ = np.where(constant, lo, mean)
        self.scale_ = np.where(constant, 1.0, sd)

    def _transform(self, table: Table) -> np.ndarray:
        z = self.directions_ * (table.values - self.mean_) / self.scale_
        return z if self.mean == 0 and self.sd == 1 else self.mean + self.sd * z
