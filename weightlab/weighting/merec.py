"""MEREC weights: method based on the removal effects of criteria (Keshavarz-Ghorabaee et al. 2021)."""

from __future__ import annotations

import math
from typing import ClassVar

import numba as nb
import numpy as np

from .._params import NONE, Interval
from ..errors import InputError
from .base import SCHEMES, StatisticsScheme
from .statistics import MIN, normalise_or_equal


@nb.njit(cache=True)
def merec_weights(n, st, cov, xs, cs, ns, members, prm, out, work):
    """MEREC from ``min`` and the ``sample``; ``prm = (shift,)`` (0: none). With ``d_ij = ln x_ij - ln min_j``
    (``= |ln(min_j / x_ij)|``), ``S_i = ln(1 + sum_j d_ij / m)``, ``S'_ij = ln(1 + (sum_k d_ik - d_ij) / m)``
    and ``E_j = sum_i c_i (S_i - S'_ij)``. A column whose minimum is <= 0 is translated to minimum
    ``shift``; if that leaves one non-positive (no shift), every ``E`` is 0 (equal weights)."""
    nm = members.shape[0]
    shift = prm[0]
    off = work[0, 0]
    ok = True
    for a in range(nm):
        lo = st[MIN, members[a]]
        off[a] = shift - lo if shift > 0.0 and lo <= 0.0 else 0.0
        ok &= lo + off[a] > 0.0
        out[a] = 0.0
    if ok:
        log_min = work[0, 1]
        for a in range(nm):
            log_min[a] = math.log(st[MIN, members[a]] + off[a])
        d = work[1, 0]
        for t in range(ns):
            total = 0.0
            for a in range(nm):
                d[a] = math.log(xs[members[a], t] + off[a]) - log_min[a]
                total += d[a]
            s_all = math.log1p(total / nm)
            for a in range(nm):
                out[a] += cs[t] * (s_all - math.log1p((total - d[a]) / nm))
        for a in range(nm):
            out[a] = max(out[a], 0.0)
    normalise_or_equal(out, nm)


@SCHEMES.register("merec")
class MEREC(StatisticsScheme):
    """MEREC: a member weighs more the more the units' overall performance changes without it::

        n_ij  = min_k x_kj / x_ij                               (benefit direction)
        S_i   = ln(1 + (1/m) sum_j |ln n_ij|)
        S'_ij = ln(1 + (1/m) sum_{k != j} |ln n_ik|)
        E_j   = sum_i |S'_ij - S_i|,      w_j = E_j / sum_k E_k

    weightlab's normalised values are already direction-adjusted (higher is better), so every
    member is treated as a benefit criterion; the paper (and pymcdm's ``merec_weights``) normalise a
    cost column by ``x_ij / max_k x_kj`` instead, which equals the benefit formula applied to
    ``1 / x``. MEREC needs strictly positive values: with ``shift`` (e.g. 0.01), a member whose
    minimum is <= 0 is first translated so that its minimum is ``shift`` (the aggregators' shift
    rule); without it such data are refused. Statistics: ``count, min, sample`` (``S_i`` is a
    non-linear function of a whole row: the sum runs over the units drawn, O(units x members)).
    If every ``E`` is 0 the weights are equal.

    Parameters
    ----------
    shift : float or None, default=None
        Minimum given to a member column whose minimum is <= 0; None refuses such columns.

    References
    ----------
    Keshavarz-Ghorabaee, M., Amiri, M., Zavadskas, E. K., Turskis, Z., Antucheviciene, J. (2021).
    Determination of objective weights using a new method based on the removal effects of criteria
    (MEREC). Symmetry 13(4), 525. https://doi.org/10.3390/sym13040525
    """

    requires_positive = True
    statistics = ("count", "min", "sample")
    weights_function = staticmethod(merec_weights)
    _parameter_constraints: ClassVar[dict] = {"shift": [NONE, Interval(0, None, closed="neither")]}

    def __init__(self, shift: float | None = None) -> None:
        self.shift = shift

    def parameters(self) -> np.ndarray:
        return np.array([float(self.shift or 0.0)])

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        lo = np.asarray(X, dtype=float).min(axis=0)
        if self.shift is None and (lo <= 0).any():
            j = int(np.argmax(lo <= 0))
            raise InputError(f"merec weights need strictly positive values, but member '{members[j]}' of group "
                             f"'{group}' has minimum {lo[j]:.4g}: give the scheme a shift (e.g. "
                             f"{{name = \"merec\", shift = 0.01}} or --param shift=0.01) or use a positive "
                             f"normalizer range (range=1,100).")
        return super().group_weights(X, members, group, framework)
