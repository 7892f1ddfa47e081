"""Shannon entropy weights."""

from __future__ import annotations

import numpy as np

from ._common import WEIGHT_NOISE, normalise_or_equal
from .base import SCHEMES, WeightingScheme


@SCHEMES.register("entropy")
class Entropy(WeightingScheme):
    """Entropy weights: members whose values are more unequal across units weigh more::

        p_ij = x_ij / sum_i x_ij
        e_j  = -(1 / ln n) * sum_i p_ij ln p_ij        (0 ln 0 = 0)
        d_j  = 1 - e_j
        w_j  = d_j / sum_k d_k

    The input must be non-negative: a column with negative values (e.g. z-scores) is first
    translated so that its minimum is 0; since ``p`` is scale-invariant this equals entropy on
    min-max data. A column summing to 0 carries no information (``d_j = 0``); if every ``d`` is 0
    the weights are equal. ``d_j`` below ``1e-12`` is rounding noise of a (nearly) uniform column and
    counts as 0, so that noise of either sign never becomes a weight (negative, or the whole group's).

    References
    ----------
    Shannon, C. E. (1948). A mathematical theory of communication. Bell System Technical Journal.
    Zou, Z., Yun, Y., Sun, J. (2006). Entropy method for determination of weight of evaluating
    indicators in fuzzy synthetic evaluation. J. Environmental Sciences 18(5), 1020-1023.
    """

    data_driven = True

    def __init__(self) -> None:
        pass

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        X = X - np.minimum(X.min(axis=0), 0.0)
        n = X.shape[0]
        total = X.sum(axis=0)
        p = X / np.where(total > 0, total, 1.0)
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        e = -plogp.sum(axis=0) / np.log(n)
        d = np.where(total > 0, 1.0 - e, 0.0)
        return normalise_or_equal(np.where(d > WEIGHT_NOISE, d, 0.0))
