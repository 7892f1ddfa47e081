"""Standard-deviation weights."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._params import Interval
from ._common import minmax_columns, normalise_or_equal
from .base import SCHEMES, WeightingScheme


@SCHEMES.register("std")
class StdDev(WeightingScheme):
    """Weights proportional to each member's standard deviation on min-max rescaled data::

        w_j = sd(x'_j) / sum_k sd(x'_k),    x'_j = (x_j - min x_j) / (max x_j - min x_j)

    Rescaling makes the weights independent of the normaliser's scale (identity on min-max data).
    All-constant members get equal weights.

    Parameters
    ----------
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation.

    References
    ----------
    Diakoulaki, D., Mavrotas, G., Papayannakis, L. (1995). Determining objective weights in
    multiple criteria problems: the CRITIC method. Computers & Operations Research 22(7), 763-770
    (the contrast-only part of CRITIC). Wang, Y.-M., Luo, Y. (2010). Integration of correlations
    with standard deviations for determining attribute weights in multiple attribute decision
    making. Mathematical and Computer Modelling 51(1-2), 1-12.
    """

    data_driven = True
    _parameter_constraints: ClassVar[dict] = {"ddof": [Interval(0, 1, integer=True)]}

    def __init__(self, ddof: int = 1) -> None:
        self.ddof = ddof

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        return normalise_or_equal(minmax_columns(X).std(axis=0, ddof=self.ddof))
