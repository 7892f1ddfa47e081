"""CRITIC weights (Diakoulaki, Mavrotas and Papayannakis 1995)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._params import Interval
from ._common import WEIGHT_NOISE, minmax_columns, normalise_or_equal
from .base import SCHEMES, WeightingScheme


@SCHEMES.register("critic")
class Critic(WeightingScheme):
    """CRITIC: contrast (standard deviation) times conflict (low correlation with the others)::

        x'_j = (x_j - min x_j) / (max x_j - min x_j)
        C_j  = sd(x'_j) * sum_k (1 - r_jk)          r = Pearson correlation of x'
        w_j  = C_j / sum_k C_k

    A constant member has ``sd = 0`` (so ``C = 0``) and its correlations are taken as 0. If every
    ``C`` is 0 the weights are equal. ``r`` is clipped to [-1, 1] and ``C_j`` below ``1e-12`` counts as
    0, so the rounding noise of perfectly correlated members (``1 - r = +-1e-16``) never becomes a
    weight: such members get equal weights.

    Parameters
    ----------
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation.

    References
    ----------
    Diakoulaki, D., Mavrotas, G., Papayannakis, L. (1995). Determining objective weights in
    multiple criteria problems: the CRITIC method. Computers & Operations Research 22(7), 763-770.
    """

    data_driven = True
    _parameter_constraints: ClassVar[dict] = {"ddof": [Interval(0, 1, integer=True)]}

    def __init__(self, ddof: int = 1) -> None:
        self.ddof = ddof

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        Z = minmax_columns(np.asarray(X, dtype=float))
        sd = Z.std(axis=0, ddof=self.ddof)
        centred = Z - Z.mean(axis=0)
        cov = centred.T @ centred / (Z.shape[0] - self.ddof)
        denom = np.outer(sd, sd)
        r = np.where(denom > 0, cov / np.where(denom > 0, denom, 1.0), 0.0)
        np.fill_diagonal(r, np.where(sd > 0, 1.0, 0.0))
        C = sd * (1.0 - np.clip(r, -1.0, 1.0)).sum(axis=1)
        return normalise_or_equal(np.where(C > WEIGHT_NOISE, C, 0.0))
