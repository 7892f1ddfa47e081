"""Shannon entropy weights."""

from __future__ import annotations

import math

import numba as nb

from .base import SCHEMES, StatisticsScheme
from .statistics import MEAN, MIN, WEIGHT_NOISE, YLNY, normalise_or_equal


@nb.njit(cache=True)
def entropy_weights(n, st, cov, xs, cs, ns, members, prm, out, work):
    """Entropy weights from ``count``, ``mean``, ``min`` and ``ylny``: with ``y = x + shift`` (the
    column translated to minimum 0 if it has negative values), ``s = sum c y = N (mean + shift)`` and
    ``t = sum c y ln y``, ``sum p ln p = t / s - ln s``, so ``d = 1 + (t / s - ln s) / ln N``."""
    inv_log_n = 1.0 / math.log(n)
    nm = members.shape[0]
    for a in range(nm):
        c = members[a]
        shift = -st[MIN, c] if st[MIN, c] < 0.0 else 0.0
        s = n * (st[MEAN, c] + shift)
        d = 1.0 + (st[YLNY, c] / s - math.log(s)) * inv_log_n if s > 0.0 else 0.0
        out[a] = d if d > WEIGHT_NOISE else 0.0
    normalise_or_equal(out, nm)


@SCHEMES.register("entropy")
class Entropy(StatisticsScheme):
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

    Statistics: ``count, mean, min, ylny`` (:mod:`weightlab.weighting.statistics`).

    References
    ----------
    Shannon, C. E. (1948). A mathematical theory of communication. Bell System Technical Journal.
    Zou, Z., Yun, Y., Sun, J. (2006). Entropy method for determination of weight of evaluating
    indicators in fuzzy synthetic evaluation. J. Environmental Sciences 18(5), 1020-1023.
    """

    statistics = ("count", "mean", "min", "ylny")
    weights_function = staticmethod(entropy_weights)

    def __init__(self) -> None:
        pass
