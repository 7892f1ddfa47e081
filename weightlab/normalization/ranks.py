"""Rank-based normalisations: rank, percentile rank and Borda points.

All three compare each unit with the units seen in ``fit`` (NaN excluded), after the direction
sign ``z = s * x`` (so the best unit of a cost column is its smallest value). For a value ``z`` of
a column with ``n`` fitted values::

    below(z) = #{fitted values < z}        equal(z) = #{fitted values == z}
    rank(z)  = below(z) + (equal(z) + 1) / 2

On the fitted data ``rank`` is the average-tie rank 1..n (higher = better), as
``scipy.stats.rankdata(z, method="average")``. A value not seen in ``fit`` gets the mid-rank
``below(z) + 0.5``.
"""

from __future__ import annotations

import numpy as np

from .base import NORMALIZERS, Normalizer, Table

class _RankBase(Normalizer):
    """Stores the sorted fitted values of each column; subclasses map (below, equal, n) to a score."""

    def __init__(self, directions=None):
        self.directions = directions

    def _fit(self, table: Table) -> None:
        Z = self._signed(table)
        self.sorted_ = np.sort(Z, axis=0)  # NaN sort last
        self.n_obs_ = (~np.isnan(Z)).sum(axis=0)

    def _transform(self, table: Table) -> np.ndarray:
        Z = self._signed(table)
        out = np.full(Z.shape, np.nan)
        for j in range(Z.shape[1]):
            n = int(self.n_obs_[j])
            ok = ~np.isnan(Z[:, j])
            if n == 0 or not ok.any():
                continue
            ref = self.sorted_[:n, j]
            below = np.searchsorted(ref, Z[ok, j], side="left")
            equal = np.searchsorted(ref, Z[ok, j], side="right") - below
            out[ok, j] = self._score(below.astype(float), equal.astype(float), n)
        return out

    def _score(self, below: np.ndarray, equal: np.ndarray, n: int) -> np.ndarray:
        raise NotImplementedError


@NORMALIZERS.register("rank")
class Rank(_RankBase):
    """Rank of each unit, 1 (worst) .. n (best), ties sharing their average rank.

    ::

        y = below(z) + (equal(z) + 1) / 2          (z = s * x)

    i.e. ``scipy.stats.rankdata(z, method="average")`` over the non-missing units; NaN stays
    NaN. A constant column gives every unit ``(n + 1) / 2``.

    Parameters
    ----------
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    sorted_ : ndarray of shape (n_units, n_features)
        Fitted ``z`` sorted per column, NaN last.
    n_obs_ : ndarray of shape (n_features,)
        Non-missing fitted values per column.
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data), ranking.

    Examples
    --------
    >>> Rank().fit_transform([[10.0], [20.0], [20.0], [5.0]]).ravel().tolist()
    [2.0, 3.5, 3.5, 1.0]
    """

    constant_value = 2.5  # the average rank of 4 tied cells
    cost_rule = "negate"

    def _score(self, below, equal, n):
        return below + (equal + 1) / 2


@NORMALIZERS.register("percentile")
class Percentile(_RankBase):
    """Percentile rank in [0, 1]: the average-tie rank rescaled so worst = 0 and best = 1.

    ::

        r = below(z) + (equal(z) + 1) / 2          (average-tie rank, z = s * x)
        y = (r - 1) / (n - 1)

    ``n`` counts the non-missing units of the column. A column with one observed value, or a
    constant one, gives 0.5 everywhere (as ``minmax``). Values not seen in ``fit`` are clipped to
    [0, 1].

    Parameters
    ----------
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    sorted_ : ndarray of shape (n_units, n_features)
    n_obs_ : ndarray of shape (n_features,)
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data), ranking.

    Examples
    --------
    >>> Percentile().fit_transform([[1.0], [2.0], [2.0], [5.0], [9.0]]).ravel().tolist()
    [0.0, 0.375, 0.375, 0.75, 1.0]
    """

    constant_value = 0.5
    cost_rule = "negate"
    output_range = (0.0, 1.0)

    def _score(self, below, equal, n):
        if n == 1:
            return np.full(below.shape, 0.5)
        return np.clip((below + (equal + 1) / 2 - 1) / (n - 1), 0.0, 1.0)


@NORMALIZERS.register("borda")
class Borda(_RankBase):
    """Borda points: the number of units a unit strictly beats.

    ::

        y = below(z) = #{j : z_j < z}              (z = s * x)

    Points run from 0 (worst) to n - 1 (best). Ties: tied units score no point against each
    other, so each gets the points of the lowest rank of the tie,
    ``scipy.stats.rankdata(z, method="min") - 1``. A constant column gives 0 everywhere. Missing
    units neither beat nor are beaten.

    Parameters
    ----------
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    sorted_ : ndarray of shape (n_units, n_features)
    n_obs_ : ndarray of shape (n_features,)
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data), ranking.
    de Borda, J.-C. (1781). Mémoire sur les élections au scrutin. Histoire de l'Académie Royale
    des Sciences, Paris.

    Examples
    --------
    >>> Borda().fit_transform([[10.0], [20.0], [20.0], [5.0]]).ravel().tolist()
    [1.0, 2.0, 2.0, 0.0]
    """

    constant_value = 0.0
    cost_rule = "negate"
    output_range = (0.0, float("inf"))

    def _score(self, below, equal, n):
        return below
