"""Gini-coefficient weights (as pymcdm's ``gini_weights``)."""

from __future__ import annotations

import numba as nb

from .base import SCHEMES, StatisticsScheme
from .statistics import ABSDIFF, MEAN, MIN, normalise_or_equal


@nb.njit(cache=True)
def gini_weights(n, st, cov, xs, cs, ns, members, prm, out, work):
    """``G_j = absdiff_j / (2 N sum_i c_i y_ij)`` from ``count, mean, min, absdiff``, with ``y`` the column
    translated to minimum 0 if it has negative values (``absdiff`` does not change)."""
    nm = members.shape[0]
    for a in range(nm):
        c = members[a]
        shift = -st[MIN, c] if st[MIN, c] < 0.0 else 0.0
        s = n * (st[MEAN, c] + shift)
        out[a] = st[ABSDIFF, c] / (2.0 * n * s) if s > 0.0 else 0.0
    normalise_or_equal(out, nm)


@SCHEMES.register("gini")
class Gini(StatisticsScheme):
    """Gini weights: members whose values are more unequally spread across units weigh more::

        G_j = sum_i sum_k |x_ij - x_kj| / (2 n**2 mean_j)        (Gini coefficient of member j)
        w_j = G_j / sum_k G_k

    As for entropy, a column with negative values (e.g. z-scores) is first translated so that its
    minimum is 0 (``G`` is scale-invariant, so this equals Gini weights on min-max data); a column
    of zeros has ``G = 0``, and if every ``G`` is 0 the weights are equal (pymcdm divides by 0 there,
    and on negative columns computes with a mean that may be <= 0). Statistics: ``count, mean, min,
    absdiff`` (the double sum, from the values in sorted order: O(n) per member with the engine's
    precomputed order).

    References
    ----------
    Gini, C. (1912). Variabilità e mutabilità. Tipografia di Paolo Cuppini, Bologna.
    Kizielewicz, B., Więckowski, J., Sałabun, W. (2023). pymcdm — The universal library for solving
    multi-criteria decision-making problems. SoftwareX 22, 101368 (``pymcdm.weights.gini_weights``).
    """

    statistics = ("count", "mean", "min", "absdiff")
    weights_function = staticmethod(gini_weights)

    def __init__(self) -> None:
        pass
