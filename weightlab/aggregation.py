"""Aggregators: weighted power means of a group's members.

All four are the weighted generalised (power) mean (OECD/JRC Handbook 2008, section 6; Decancq and
Lugo 2013)::

    M_p(x; w) = ( sum_j w_j x_j**p / sum_j w_j ) ** (1/p)        p != 0
    M_0(x; w) = exp( sum_j w_j ln x_j / sum_j w_j )                (geometric)

with ``p = 1`` arithmetic, ``p = 0`` geometric, ``p = -1`` harmonic and any ``p`` for ``genmean``.

Missing members: with ``skip_missing=True`` the weights are renormalised over the members present
in each row (a row with no member present gives NaN); with ``skip_missing=False`` any missing member
makes the row NaN.

Positivity: ``p <= 0`` needs strictly positive members and any other ``p != 1`` non-negative ones
(with negative members ``x**p`` is undefined for non-integer p, not monotone for even p, and the
``1/p`` root of a negative mean undefined for odd p). By default such input is an error. With ``shift=eps`` every member column whose minimum is
below the allowed bound is translated so that its minimum equals ``eps``
(``x' = x - min(x) + eps``); columns already valid are left unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, ClassVar, Sequence

import numpy as np
from ._estimator import Estimator
from ._params import NONE, Interval, validate_params
from .errors import InputError
from .registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .framework import Framework

AGGREGATORS: Registry["Aggregator"] = Registry("aggregator")


class Aggregator(Estimator):
    """Weighted power mean; subclasses fix or expose the exponent ``power``."""

    name: ClassVar[str]
    example_params: ClassVar[dict] = {}  # parameters the common checks (weightlab.testing) construct it with
    _parameter_constraints: ClassVar[dict] = {"shift": [NONE, Interval(0, None, closed="neither")]}

    shift: float | None = None

    @property
    def power(self) -> float:
        raise NotImplementedError

    def needs_positive(self) -> bool:
        """True when members must be > 0 (p <= 0)."""
        return self.power <= 0

    def needs_nonnegative(self) -> bool:
        """True when members must be >= 0 (p > 0, p != 1)."""
        return self.power > 0 and self.power != 1

    def prepare(self, values: np.ndarray, group: str = "", members: Sequence[str] = ()) -> np.ndarray:
        """Check positivity and apply ``shift`` column by column (see module docstring)."""
        validate_params(self)
        x = np.array(values, dtype=float, copy=True)
        if not (self.needs_positive() or self.needs_nonnegative()):
            return x
        strict = self.needs_positive()
        with np.errstate(invalid="ignore"):
            col_min = np.nanmin(np.where(np.isnan(x).all(axis=0, keepdims=True), np.inf, x), axis=0)
        bad = (col_min <= 0) if strict else (col_min < 0)
        if not bad.any():
            return x
        if self.shift is None:
            j = int(np.argmax(bad))
            member = members[j] if len(members) > j else f"column {j}"
            where = f" of group '{group}'" if group else ""
            need = "strictly positive" if strict else "non-negative"
            raise InputError(
                f"The {self.name} aggregator{where} needs {need} values, but member '{member}' has minimum "
                f"{col_min[j]:.4g}: pass shift=EPS (CLI: --param shift=0.01) or use a positive normalizer "
                f"range (e.g. minmax with range=1,100)."
            )
        x[:, bad] = x[:, bad] - col_min[bad] + self.shift
        for j in np.flatnonzero(bad):
            before, after = np.asarray(values, dtype=float)[:, j], x[:, j]
            seen = ~np.isnan(after)
            if np.ptp(np.asarray(before, dtype=float)[seen]) > 0 and np.ptp(after[seen]) == 0:
                member = members[j] if len(members) > j else f"column {j}"
                raise InputError(f"The {self.name} aggregator's shift={self.shift:g} is so large that member "
                                 f"'{member}'{f' of group {group!r}' if group else ''} becomes one value for every "
                                 f"unit (floating point): use a small shift such as 0.01.")
        return x

    def aggregate(self, values: np.ndarray, weights: np.ndarray, skip_missing: bool = True,
                  group: str = "", members: Sequence[str] = ()) -> np.ndarray:
        """Aggregate ``values`` (n_units, n_members) with ``weights`` (n_members,) into (n_units,)."""
        x = self.prepare(values, group, members)
        w = np.asarray(weights, dtype=float)
        present = ~np.isnan(x)
        wmat = np.where(present, w[None, :], 0.0)
        wsum = wmat.sum(axis=1)
        if not skip_missing:
            wsum = np.where(present.all(axis=1), wsum, 0.0)
        p = self.power
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                t = np.where(present, np.log(np.where(present, x, 1.0)), 0.0)
            else:
                t = np.where(present, np.where(present, x, 1.0) ** p, 0.0)
            mean_t = (wmat * t).sum(axis=1) / wsum
            out = np.exp(mean_t) if p == 0 else (mean_t if p == 1 else mean_t ** (1.0 / p))
        out = np.where(wsum > 0, out, np.nan)
        overflow = (wsum > 0) & ~np.isfinite(out)
        if overflow.any():
            where = f" of group '{group}'" if group else ""
            raise InputError(f"The {self.name} aggregator{where} overflows floating point in row "
                             f"{int(np.argmax(overflow))}: the members' values are too large; rescale them (e.g. "
                             f"a normalizer, or divide the data by 1e6).")
        return out


@AGGREGATORS.register("arithmetic")
class Arithmetic(Aggregator):
    """Weighted arithmetic mean (fully compensatory).

    ::

        y = sum_j w_j x_j / sum_j w_j

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.2 (aggregation methods).
    Decancq, K., Lugo, M. A. (2013). Weights in multidimensional indices of wellbeing: an overview.
    Econometric Reviews 32(1), 7-34.
    """

    _parameter_constraints: ClassVar[dict] = {}

    def __init__(self) -> None:
        pass

    @property
    def power(self) -> float:
        return 1.0


@AGGREGATORS.register("geometric")
class Geometric(Aggregator):
    """Weighted geometric mean, ``exp(sum_j w_j ln x_j / sum_j w_j)``; needs x > 0 or ``shift``.

    Parameters
    ----------
    shift : float or None, default=None
        If given, member columns with minimum <= 0 are translated to minimum ``shift``.

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.2 (aggregation methods).
    Decancq, K., Lugo, M. A. (2013). Weights in multidimensional indices of wellbeing: an overview.
    Econometric Reviews 32(1), 7-34.
    """

    def __init__(self, shift: float | None = None) -> None:
        self.shift = shift

    @property
    def power(self) -> float:
        return 0.0


@AGGREGATORS.register("harmonic")
class Harmonic(Aggregator):
    """Weighted harmonic mean, ``sum_j w_j / sum_j (w_j / x_j)``; needs x > 0 or ``shift``.

    Parameters
    ----------
    shift : float or None, default=None
        If given, member columns with minimum <= 0 are translated to minimum ``shift``.

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.2 (aggregation methods).
    Decancq, K., Lugo, M. A. (2013). Weights in multidimensional indices of wellbeing: an overview.
    Econometric Reviews 32(1), 7-34.
    """

    def __init__(self, shift: float | None = None) -> None:
        self.shift = shift

    @property
    def power(self) -> float:
        return -1.0


@AGGREGATORS.register("genmean")
class GeneralisedMean(Aggregator):
    """Weighted generalised (power) mean ``(sum_j w_j x_j**p / sum_j w_j)**(1/p)``, geometric at p=0.

    Parameters
    ----------
    p : float, default=0.5
        Exponent; smaller p is less compensatory (p -> -inf tends to the minimum).
    shift : float or None, default=None
        If given, member columns that violate positivity are translated to minimum ``shift``.

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.2 (aggregation methods).
    Decancq, K., Lugo, M. A. (2013). Weights in multidimensional indices of wellbeing: an overview.
    Econometric Reviews 32(1), 7-34.
    """

    _parameter_constraints: ClassVar[dict] = {
        "p": [Interval(-50, 50)],
        "shift": [NONE, Interval(0, None, closed="neither")],
    }

    def __init__(self, p: float = 0.5, shift: float | None = None) -> None:
        self.p = p
        self.shift = shift

    @property
    def power(self) -> float:
        return float(self.p)


def aggregate_tree(X: "pd.DataFrame", framework: "Framework", aggregators: "dict[int, Aggregator]",
                   weigh: "Callable[[str, list[str], np.ndarray], np.ndarray]",
                   skip_missing: bool = True, keep_scores: bool = True
                   ) -> "tuple[pd.Series, dict[int, pd.DataFrame]]":
    """Aggregate indicator values up the hierarchy, level by level.

    For each aggregation level (2 .. top) and each group at it, ``weigh(group, members, block)``
    returns the members' weights given their values ``block`` (n_units, n_members); the group's
    score is ``aggregators[level].aggregate(block, weights)``. Returns the member weights of every
    non-root node and the scores at every level (level 1 = ``X`` itself; none with ``keep_scores=False``).
    """
    import pandas as pd

    nominal = framework.nominal_weights()
    weights = dict(zip(nominal.index, nominal.to_numpy()))
    # columns as plain arrays, code -> (n_units,): label lookups in DataFrames cost more than the sums
    cols = dict(zip(framework.indicator_codes, X[framework.indicator_codes].to_numpy(dtype=float).T))
    scores: dict[int, pd.DataFrame] = {1: X[framework.indicator_codes].astype(float)} if keep_scores else {}
    for level in framework.aggregation_levels():
        out = {}
        for group in framework.groups_at(level):
            members = framework.children(group)
            block = np.column_stack([cols[c] for c in members])
            w = np.asarray(weigh(group, members, block), dtype=float)
            weights.update(zip(members, w))
            out[group] = cols[group] = aggregators[level].aggregate(block, w, skip_missing, group=group,
                                                                     members=members)
        if keep_scores:
            scores[level] = pd.DataFrame(out, index=X.index)
    return pd.Series(np.array([weights[c] for c in nominal.index], dtype=float), index=nominal.index), scores
