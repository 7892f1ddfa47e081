"""Standard-deviation weights."""

from __future__ import annotations

import math
from typing import ClassVar

import numba as nb
import numpy as np

from .._params import Interval
from .base import SCHEMES, StatisticsScheme
from .statistics import M2, MAX, MIN, normalise_or_equal


@nb.njit(inline="always")
def minmax_sd(n, st, c, ddof):
    """sd of member ``c`` after min-max rescaling: ``sqrt(m2 / (N - ddof)) / (max - min)`` (0 if constant)."""
    rng = st[MAX, c] - st[MIN, c]
    if rng > 0.0 and n - ddof > 0.0 and st[M2, c] > 0.0:
        return math.sqrt(st[M2, c] / (n - ddof)) / rng
    return 0.0


@nb.njit(cache=True)
def std_weights(n, st, cov, xs, cs, ns, members, prm, out, work):
    """``w ∝ minmax_sd`` from ``count, min, max, m2``; ``prm = (ddof,)``."""
    nm = members.shape[0]
    for a in range(nm):
        out[a] = minmax_sd(n, st, members[a], prm[0])
    normalise_or_equal(out, nm)


@SCHEMES.register("std")
class StdDev(StatisticsScheme):
    """Weights proportional to each member's standard deviation on min-max rescaled data::

        w_j = sd(x'_j) / sum_k sd(x'_k),    x'_j = (x_j - min x_j) / (max x_j - min x_j)

    Rescaling makes the weights independent of the normaliser's scale (identity on min-max data).
    All-constant members get equal weights. Statistics: ``count, min, max, m2``.

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

    statistics = ("count", "min", "max", "m2")
    weights_function = staticmethod(std_weights)
    _parameter_constraints: ClassVar[dict] = {"ddof": [Interval(0, 1, integer=True)]}

    def __init__(self, ddof: int = 1) -> None:
        self.ddof = ddof

    def parameters(self) -> np.ndarray:
        return np.array([float(self.ddof)])
