"""PCA / factor-analysis weights (OECD/JRC Handbook 2008, after Nicoletti et al. 2000)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._params import NONE, Interval, Options
from ._common import normalise_or_equal
from .base import SCHEMES, WeightingScheme


def varimax(loadings: np.ndarray, max_iter: int = 1000, tol: float = 1e-14) -> np.ndarray:
    """Kaiser's (raw) varimax rotation of a loading matrix (p x k) by pairwise planar rotations.

    For each pair of factors (a, b), with ``u = x**2 - y**2`` and ``v = 2xy`` over the p rows, the
    angle maximising the varimax criterion is (Kaiser 1958)::

        tan(4 phi) = 2 (p sum(uv) - sum(u) sum(v)) / (p sum(u**2 - v**2) - ((sum u)**2 - (sum v)**2))

    Sweeps over all pairs repeat until no angle exceeds ``tol``.
    """
    L = np.array(loadings, dtype=float, copy=True)
    p, k = L.shape
    for _ in range(max_iter):
        largest = 0.0
        for a in range(k):
            for b in range(a + 1, k):
                x, y = L[:, a].copy(), L[:, b].copy()
                u, v = x * x - y * y, 2.0 * x * y
                num = 2.0 * (p * (u * v).sum() - u.sum() * v.sum())
                den = p * (u * u - v * v).sum() - (u.sum() ** 2 - v.sum() ** 2)
                phi = 0.25 * np.arctan2(num, den)
                largest = max(largest, abs(phi))
                c, s = np.cos(phi), np.sin(phi)
                L[:, a], L[:, b] = c * x + s * y, -s * x + c * y
        if largest < tol:
            break
    return L


def _standardise(X: np.ndarray) -> np.ndarray:
    sd = X.std(axis=0, ddof=1)
    return (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


@SCHEMES.register("pca")
class PCA(WeightingScheme):
    """Weights from principal components with varimax rotation (OECD/JRC Handbook 2008, §6.1).

    1. Standardise the members (z-scores, ddof=1), so PCA works on their correlation matrix.
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

    data_driven = True
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

    def _components(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.decomposition import PCA as SkPCA

        Z = _standardise(np.asarray(X, dtype=float))
        pca = SkPCA(svd_solver="full").fit(Z)
        return pca.explained_variance_, pca.components_

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        eig, comps = self._components(X)
        m = len(members)
        if self.n_factors is not None:
            k = min(int(self.n_factors), m)
        else:
            share = eig / eig.sum() if eig.sum() > 0 else np.full(m, 1.0 / m)
            qualifies = (eig > 1.0) | (share > self.min_share)
            k = max(1, int(np.flatnonzero(qualifies)[-1]) + 1 if qualifies.any() else 1)
            while k < m and share[:k].sum() < self.min_variance:
                k += 1
        L = comps[:k].T * np.sqrt(np.maximum(eig[:k], 0.0))
        if self.rotation == "varimax":
            L = varimax(L)
        sq = L ** 2
        explained = sq.sum(axis=0)
        scaled = sq / np.where(explained > 0, explained, 1.0)
        factor = sq.argmax(axis=1)  # highest loading (step 5)
        factor_weight = explained / explained.sum() if explained.sum() > 0 else np.full(k, 1.0 / k)
        self.notes_.append(f"PCA group {group}: {k} factor(s), explained variance "
                           f"{', '.join(f'{v:.3f}' for v in explained)}")
        return normalise_or_equal(factor_weight[factor] * scaled[np.arange(m), factor])


@SCHEMES.register("pca1")
class FirstComponent(PCA):
    """Absolute loadings of the first principal component of the standardised members::

        w_j = |v_1j| / sum_k |v_1k|      v_1 = first eigenvector of the correlation matrix

    Parameters
    ----------
    (none)

    References
    ----------
    OECD/JRC (2008). Handbook on Constructing Composite Indicators, section 6.1 (weights from
    principal components). Jolliffe, I. T. (2002). Principal Component Analysis, 2nd ed. Springer.
    """

    _parameter_constraints: ClassVar[dict] = {}

    def __init__(self) -> None:
        pass

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        _, comps = self._components(X)
        return normalise_or_equal(np.abs(comps[0]))
