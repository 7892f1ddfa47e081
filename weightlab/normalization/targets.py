"""Distance to a target (COINr's ``n_dist2targ``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._params import NONE, InstanceOf, Interval
from ..errors import ParameterError
from .base import NORMALIZERS, Normalizer, Table, nan_extremes
from .goalposts import _per_column


@NORMALIZERS.register("dist_to_target")
class DistToTarget(Normalizer):
    """Progress from the worst unit towards a target, as COINr's ``n_dist2targ``.

    With min and max over the units (ignoring NaN) and the target ``t`` of the column::

        y = (x - min(x)) / (t - min(x))          benefit (s = +1)
        y = (max(x) - x) / (max(x) - t)          cost    (s = -1)

    so the worst unit gets 0 and a unit at the target gets 1; units beyond the target get more
    than 1 unless ``cap=True`` (then ``y = min(y, 1)``). A column whose worst value already meets
    the target (``t == min`` for a benefit, ``t == max`` for a cost) is refused: the distance is
    undefined.

    Parameters
    ----------
    targets : number, sequence or dict column -> number
        One target per column (COINr iMeta's ``Target`` column; the pipeline fills it from the
        framework's ``target`` of each indicator).
    cap : bool, default=False
        Cap the output at 1 (COINr ``cap_max``).
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    min_, max_ : ndarray of shape (n_features,)
        Column minima and maxima of ``x``.
    targets_ : ndarray of shape (n_features,)
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    Becker, W., Caperna, G., Del Sorbo, M., Norlén, H., Papadimitriou, E., Saisana, M. (2022).
    COINr: An R package for developing composite indicators. Journal of Open Source Software
    7(78), 4567 (function ``n_dist2targ``). OECD/JRC Handbook 2008, section 5 (distance to a
    target).

    Examples
    --------
    >>> DistToTarget(targets=5.0).fit_transform([[1.0], [3.0], [7.0]]).ravel().tolist()
    [0.0, 0.5, 1.5]
    """

    example_params = {"targets": 6.0}
    constant_value = 0.0
    cost_rule = "negate"
    output_range = (0.0, float("inf"))

    @classmethod
    def negated_params(cls, params: dict) -> dict:
        """Targets of ``-x``: ``-t`` (one number, as ``example_params``)."""
        return {**params, "targets": -params["targets"]}

    _parameter_constraints = {**Normalizer._parameter_constraints,
                              "targets": [NONE, Interval(None, None),
                                          InstanceOf((list, tuple, np.ndarray, dict, pd.Series),
                                                     "a sequence or a dict column -> number")],
                              "cap": [InstanceOf((bool,), "True or False")]}

    def __init__(self, targets=None, cap=False, directions=None):
        self.targets = targets
        self.cap = cap
        self.directions = directions

    def _fit(self, table: Table) -> None:
        if self.targets is None:
            raise ParameterError("DistToTarget needs 'targets' (one per indicator): set Target in the COINr "
                                 "iMeta file or 'target' for each indicator of the framework.")
        targets = _per_column(self.targets, "targets", table, "DistToTarget")
        lo, hi = nan_extremes(table.values)
        width = np.where(self.directions_ > 0, targets - lo, hi - targets)
        bad = width == 0
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"DistToTarget: {table.col(j)} already has its worst value at the target "
                                 f"{targets[j]:g}; the distance to target is undefined: change the target.")
        self.min_, self.max_, self.targets_ = lo, hi, targets

    def _transform(self, table: Table) -> np.ndarray:
        x = table.values
        benefit = self.directions_ > 0
        y = np.where(benefit, x - self.min_, self.max_ - x) / np.where(benefit, self.targets_ - self.min_,
                                                                          self.max_ - self.targets_)
        return np.minimum(y, 1.0) if self.cap else y
