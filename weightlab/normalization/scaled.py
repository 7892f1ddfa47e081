"""Scaling by fixed parameters (COINr's ``n_scaled``)."""

from __future__ import annotations

import numpy as np

from .._params import Interval
from .base import NORMALIZERS, Normalizer, Table


@NORMALIZERS.register("scaled")
class Scaled(Normalizer):
    """Subtract a fixed centre and divide by a fixed scale, times 100, as COINr's ``n_scaled``.

    With ``s = +1`` for a benefit and ``s = -1`` for a cost column::

        y = 100 * (s * x - center) / scale

    Nothing is learned from the data (like goalposts without the clipping), so scores stay
    comparable across editions. COINr applies the direction first, as here.

    Parameters
    ----------
    center : float, default=0.0
        COINr ``npara[1]``.
    scale : float, default=1.0
        COINr ``npara[2]``; must be > 0.
    directions : None, sequence of +1/-1 or dict column -> +1/-1, default=None

    Attributes
    ----------
    directions_ : ndarray of shape (n_features,)

    References
    ----------
    Becker et al. (2022). COINr: An R package for developing composite indicators. JOSS 7(78),
    4567 (function ``n_scaled``).

    Examples
    --------
    >>> Scaled(center=50, scale=10).fit_transform([[40.0], [55.0]]).ravel().tolist()
    [-100.0, 50.0]
    """

    cost_rule = "negate"

    _parameter_constraints = {**Normalizer._parameter_constraints, "center": [Interval(None, None)],
                              "scale": [Interval(0, None, closed="neither")]}

    def __init__(self, center=0.0, scale=1.0, directions=None):
        self.center = center
        self.scale = scale
        self.directions = directions

    def _fit(self, table: Table) -> None:
        pass

    def _transform(self, table: Table) -> np.ndarray:
        return 100.0 * (self._signed(table) - self.center) / self.scale
