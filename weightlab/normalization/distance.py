"""Distance to a reference: ratios to the best unit or to a chosen unit.

Ratios need non-negative values. Cost columns (``s = -1``) are first reflected inside their
observed range, ``x' = min(x) + max(x) - x``: the order reverses, the values stay in
``[min, max]`` (so stay non-negative), and the ratio is then taken on ``x'``.
"""

from __future__ import annotations

import numpy as np

from .._params import InstanceOf
from ..errors import InputError
from .base import NORMALIZERS, Normalizer, Table, check_nonnegative, nan_extremes, reflect_costs

_WHY = "a ratio to a reference is only meaningful on a ratio scale"


class _RatioBase(Normalizer):
    def __sklearn_tags__(self):  # sklearn >= 1.6
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _learn_range(self, table: Table) -> None:
        check_nonnegative(table, type(self).__name__, _WHY)
        self.min_, self.max_ = nan_extremes(table.values)

    def _reflected(self, table: Table) -> np.ndarray:
        check_nonnegative(table, type(self).__name__, _WHY)
        return reflect_costs(table.values, self.directions_, self.min_, self.max_)


@NORMALIZERS.register("dist_to_max")
class DistToMax(_RatioBase):
    """Ratio to the best unit (the leader).

    ::

        y = x / max(x)                              benefit (s = +1)
        y = (min(x) + max(x) - x) / max(x)          cost    (s = -1)
          = 1 - (x - min(x)) / max(x)

    min and max over the units, ignoring NaN. The best unit gets 1 and the worst
    ``min(x) / max(x)`` in both cases. Values must be non-negative. A column whose maximum is 0
    (all zeros: every unit equals the maximum) gives 1.

    Parameters
    ----------
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    min_, max_ : ndarray of shape (n_features,)
        Column minima and maxima of ``x``.
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data), distance to a reference (the
    leader).

    Examples
    --------
    >>> DistToMax().fit_transform([[1.0], [2.0], [4.0]]).ravel().tolist()
    [0.25, 0.5, 1.0]
    """

    constant_value = 1.0
    cost_rule = "reflect"
    output_range = (0.0, 1.0)

    def __init__(self, directions=None):
        self.directions = directions

    def _fit(self, table: Table) -> None:
        self._learn_range(table)

    def _transform(self, table: Table) -> np.ndarray:
        Z = self._reflected(table)
        zero = self.max_ == 0
        out = Z / np.where(zero, 1.0, self.max_)
        out[:, zero] = np.where(np.isnan(Z[:, zero]), np.nan, 1.0)
        return out


@NORMALIZERS.register("dist_to_ref")
class DistToRef(_RatioBase):
    """Ratio to a reference unit.

    ::

        y = x / x_ref                                              benefit (s = +1)
        y = (min(x) + max(x) - x) / (min(x) + max(x) - x_ref)      cost    (s = -1)

    The reference unit gets 1; better units get more than 1. Values must be non-negative, and the
    reference's (reflected) value must be positive and not missing in every column.

    Parameters
    ----------
    ref : str or int
        The reference unit: a DataFrame index label (unit id), or an integer row position
        ``0 .. n-1``. An integer that is also an index label is read as the label. Required.
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    ref_position_ : int
        Row position of the reference unit in the data given to ``fit``.
    ref_values_ : ndarray of shape (n_features,)
        The reference's values after reflecting cost columns (the denominators).
    min_, max_ : ndarray of shape (n_features,)
        Column minima and maxima of ``x``.
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators: Methodology and User Guide.
    OECD Publishing, Paris. Section 5 (Normalisation of data), distance to a reference.

    Examples
    --------
    >>> DistToRef(ref=1).fit_transform([[1.0], [2.0], [4.0]]).ravel().tolist()
    [0.5, 1.0, 2.0]
    """

    example_params = {"ref": 1}  # the second unit (a position: the checks' tables have string ids or none)
    constant_value = 1.0
    cost_rule = "reflect"

    _parameter_constraints = {**Normalizer._parameter_constraints,
                              "ref": [InstanceOf((str, int, np.integer),
                                                 "a unit id (index label) or an integer row position")]}

    def __init__(self, ref=None, directions=None):
        self.ref = ref
        self.directions = directions

    def _position(self, table: Table) -> int:
        n = table.values.shape[0]
        ref = self.ref
        if table.index is not None and ref in table.index:
            loc = table.index.get_indexer([ref]) if table.index.is_unique else np.array([-1])
            if loc[0] < 0:
                raise InputError(f"DistToRef: unit id {ref!r} appears more than once in the index of X; "
                                 f"make the ids unique or pass a row position.")
            return int(loc[0])
        if isinstance(ref, (int, np.integer)) and 0 <= ref < n:
            return int(ref)
        ids = "" if table.index is None else f"a unit id of X (e.g. {list(table.index[:3])}) nor "
        raise InputError(f"DistToRef: ref={ref!r} is neither {ids}a row position in 0..{n - 1}; pick an "
                         f"existing unit.")

    def _fit(self, table: Table) -> None:
        pos = self._position(table)
        self._learn_range(table)
        ref_values = self._reflected(table)[pos]
        bad = np.isnan(ref_values) | (ref_values <= 0)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise InputError(f"DistToRef: the reference unit ({table.row(pos)}) has value "
                             f"{ref_values[j]:g} in {table.col(j)} (after reflecting cost columns); x / x_ref "
                             f"needs a positive reference: pick another ref.")
        self.ref_position_ = pos
        self.ref_values_ = ref_values

    def _transform(self, table: Table) -> np.ndarray:
        return self._reflected(table) / self.ref_values_
