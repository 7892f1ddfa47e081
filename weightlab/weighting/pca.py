"""PCA / factor-analysis weights (OECD/JRC Handbook 2008, after Nicoletti et al. 2000)."""

from __future__ import annotations

from typing import ClassVar

import numba as nb
import numpy as np

from .._params import NONE, Interval, Options
from ..errors import InputError
from .base import SCHEMES, StatisticsScheme
from .pca_kernel import pca_weights_from_cov
from .statistics import correlation_into


@nb.njit(cache=True)
def pca_weights(n, st, cov, xs, cs, ns, members, prm, out, work):
    """PCA weights from the correlation matrix (``m2``, ``cov``); ``prm = (n_factors or 0, varimax,
    min_variance, min_share)``; :func:`weightlab.weighting.pca_kernel.pca_weights_from_cov` on
    ``work[0]`` with scratch ``work[1:]``."""
    correlation_into(st, cov, members, work[0])
    pca_weights_from_cov(work[0], members.shape[0], int(prm[0]), prm[1] > 0.0, prm[2], prm[3], False, out,
                         work[1:])


@nb.njit(cache=True)
def first_component_weights(n, st, cov, xs, cs, ns, members, prm, out, work):
    """``|v_1| / sum |v_1|`` from the correlation matrix (``m2``, ``cov``)."""
    correlation_into(st, cov, members, work[0])
    pca_weights_from_cov(work[0], members.shape[0], 0, False, 0.0, 0.0, True, out, work[1:])


def _refuse_singular(name: str, X: np.ndarray, group: str) -> None:
    """No more units than members: the correlation matrix is singular and PCA would keep factors of
    eigenvalue 0 without a word."""
    n, m = np.shape(X)
    if n <= m:
        raise InputError(f"{name} weights of group '{group}': {n} units for {m} members. With no more units than "
                         f"members the correlation matrix is singular and PCA keeps factors of eigenvalue 0: use "
                         f"another scheme for this group's level, fewer members, or more units.")


@SCHEMES.register("pca")
class PCA(StatisticsScheme):
    """Weights from principal components with varimax rotation (OECD/JRC Handbook 2008, §6.1).

    1. Standardise the members (z-scores), so PCA works on their correlation matrix.
    2. Keep ``n_factors`` components; by default the Handbook's three criteria as its Technology
       Achievement Index example applies them (Tables 16-17 keep 4 factors, the 4th with
       eigenvalue 0.9 but 11.1 % of the variance): every component with eigenvalue > 1 or an
       individual share of variance > ``min_share``, then more in order until they explain at
       least ``min_variance`` cumulatively (at least one).
    3. Loadings ``L = eigenvectors * sqrt(eigenvalues)``; rotate them by varimax (``rotation``).
    4. Square the loadings and scale each factor's column to sum to 1.
    5. Give each member to the factor on which it has its highest (rotated) loading, ``argmax_f
       |L_jf|`` (the Handbook: "group indicators with the highest factor loadings into intermediate
       composite indicators"), not to the factor where its *scaled* squared loading is largest.
    6. Factor weight = the factor's share of the variance explained by the retained (rotated)
       factors, ``sum_j L_jf**2 / sum_jf L_jf**2``.
    7. ``w_j`` = factor weight x scaled squared loading of j on its factor, renormalised to 1.
       Steps 5-7 together give ``w_j ∝ max_f L_jf**2``.

    On the Handbook's TAI data this reproduces Table 18 (.17 .15 .11 .07 .08 .12 .14 .16) to within
    the rounding of its Table 17 (exports joins the Internet/electricity/schooling factor, where
    it loads 0.65, rather than the patents factor, where it loads 0.55 but has the larger scaled
    share 0.22 > 0.16).


    The correlation matrix is a statistic like the others (``r_ab = cov_ab / sqrt(m2_a m2_b)``,
    :mod:`weightlab.weighting.statistics`): the eigen-decomposition (cyclic Jacobi) and varimax run
    in one compiled function, :mod:`weightlab.weighting.pca_kernel`, for the nominal weights and for
    every bootstrap resample alike. A constant member has correlations 0 and weight 0.

    Parameters
    ----------
    n_factors : int or None, default=None
        Components to keep (capped at the number of members); None applies the rule above.
    rotation : {"varimax", "none"}, default="varimax"
    min_variance : float, default=0.6
        Cumulative explained variance the default rule must reach.
    min_share : float, default=0.1
        Individual share of variance that also qualifies a component under the default rule.

    Attributes (in ``notes_``): factors retained and their explained variance.

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.1 (Technology
    Achievement Index example, Tables 15-18). Nicoletti, G., Scarpetta, S., Boylaud, O. (2000).
    Summary indicators of product market regulation. OECD Economics Department WP 226.
    """

    statistics = ("count", "m2", "cov")
    weights_function = staticmethod(pca_weights)
    _parameter_constraints: ClassVar[dict] = {
        "n_factors": [NONE, Interval(1, None, integer=True)],
        "rotation": [Options(("varimax", "none"))],
        "min_variance": [Interval(0, 1)],
        "min_share": [Interval(0, 1)],
    }

    def __init__(self, n_factors: int | None = None, rotation: str = "varimax", min_variance: float = 0.6,
                 min_share: float = 0.1) -> None:
        self.n_factors = n_factors
        self.rotation = rotation
        self.min_variance = min_variance
        self.min_share = min_share

    def parameters(self) -> np.ndarray:
        return np.array([float(self.n_factors or 0), float(self.rotation == "varimax"), float(self.min_variance),
                         float(self.min_share)])

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        _refuse_singular(self.name, X, group)
        w, work = self.compiled_weights(X, group)
        explained = work[4, 1, :len(members)]  # pca_weights_from_cov's report (its scratch plane 3)
        explained = explained[np.isfinite(explained)]
        self.notes_.append(f"PCA group {group}: {len(explained)} factor(s), explained variance "
                           f"{', '.join(f'{v:.3f}' for v in explained)}")
        return w


@SCHEMES.register("pca1")
class FirstComponent(StatisticsScheme):
    """Absolute loadings of the first principal component of the standardised members::

        w_j = |v_1j| / sum_k |v_1k|      v_1 = first eigenvector of the correlation matrix

    Statistics: ``count, m2, cov`` (the correlation matrix), as "pca".

    Parameters
    ----------
    (none)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.1 (weights from
    principal components). Jolliffe, I. T. (2002). Principal Component Analysis, 2nd ed. Springer.
    """

    statistics = ("count", "m2", "cov")
    weights_function = staticmethod(first_component_weights)

    def __init__(self) -> None:
        pass

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        _refuse_singular(self.name, X, group)
        return self.compiled_weights(X, group)[0]
