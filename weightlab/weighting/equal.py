"""Equal weights."""

from __future__ import annotations

import numpy as np

from .base import SCHEMES, WeightingScheme


@SCHEMES.register("equal")
class Equal(WeightingScheme):
    """Equal weights inside every group: ``w_j = 1 / m`` for the m members.

    References
    ----------
    OECD/JRC (2008), Handbook on Constructing Composite Indicators, section 6.1.
    """

    def __init__(self) -> None:
        pass

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        return np.full(len(members), 1.0 / len(members))
