"""CRITIC weights (Diakoulaki, Mavrotas and Papayannakis 1995)."""

from __future__ import annotations

from typing import ClassVar

import numba as nb
import numpy as np

from .._params import Interval
from .base import SCHEMES, StatisticsScheme
from .statistics import WEIGHT_NOISE, correlation_into, normalise_or_equal
from .std import minmax_sd


@nb.njit(cache=True)
def critic_weights(n, st, cov, xs, cs, ns, members, prm, out, work):
    """``C_j = minmax_sd_j * sum_k (1 - r_jk)`` from ``count, min, max, m2, cov``; ``prm = (ddof,)``.
    Pearson ``r = cov_jk / sqrt(m2_j m2_k)`` is invariant under the min-max rescaling; ``r_jj`` = 1 (0
    for a constant member, whose correlations are all 0)."""
    nm = members.shape[0]
    R = work[0]
    correlation_into(st, cov, members, R)
    for a in range(nm):
        conflict = 0.0
        for b in range(nm):
            conflict += 1.0 - min(max(R[a, b], -1.0), 1.0)
        v = minmax_sd(n, st, members[a], prm[0]) * conflict
        out[a] = v if v > WEIGHT_NOISE else 0.0
    normalise_or_equal(out, nm)


@SCHEMES.register("critic")
class Critic(StatisticsScheme):
    """CRITIC: contrast (standard deviation) times conflict (low correlation with the others)::

        x'_j = (x_j - min x_j) / (max x_j - min x_j)
        C_j  = sd(x'_j) * sum_k (1 - r_jk)          r = Pearson correlation of x'
        w_j  = C_j / sum_k C_k

    A constant member has ``sd = 0`` (so ``C = 0``) and its correlations are taken as 0. If every
    ``C`` is 0 the weights are equal. ``r`` is clipped to [-1, 1] and ``C_j`` below ``1e-12`` counts as
    0, so the rounding noise of perfectly correlated members (``1 - r = +-1e-16``) never becomes a
    weight: such members get equal weights. Statistics: ``count, min, max, m2, cov``.

    Parameters
    ----------
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation.

    References
    ----------
    Diakoulaki, D., Mavrotas, G., Papayannakis, L. (1995). Determining objective weights in
    multiple criteria problems: the CRITIC method. Computers & Operations Research 22(7), 763-770.
    """

    statistics = ("count", "min", "max", "m2", "cov")
    weights_function = staticmethod(critic_weights)
    _parameter_constraints: ClassVar[dict] = {"ddof": [Interval(0, 1, integer=True)]}

    def __init__(self, ddof: int = 1) -> None:
        self.ddof = ddof

    def parameters(self) -> np.ndarray:
        return np.array([float(self.ddof)])
