"""Plain numpy / scikit-learn reference of the PCA weighting schemes ("pca", "pca1").

This is the implementation weightlab's nominal PCA weights used before the schemes moved to one
compiled function of sufficient statistics (weightlab/weighting/pca_kernel.py): scikit-learn's PCA
on the z-scores and a numpy varimax. The tests hold the kernel to it.
"""

from __future__ import annotations

import numpy as np


def varimax(loadings: np.ndarray, max_iter: int = 1000, tol: float = 1e-14) -> np.ndarray:
    """Kaiser's (raw) varimax rotation of a loading matrix (p x k) by pairwise planar rotations::

        tan(4 phi) = 2 (p sum(uv) - sum(u) sum(v)) / (p sum(u**2 - v**2) - ((sum u)**2 - (sum v)**2))

    with ``u = x**2 - y**2``, ``v = 2xy`` over the p rows of factors (a, b); sweeps until no angle exceeds ``tol``.
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


def _normalise_or_equal(v: np.ndarray) -> np.ndarray:
    total = v.sum()
    return v / total if total > 0 else np.full(len(v), 1.0 / len(v))


def _components(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA as SkPCA

    X = np.asarray(X, dtype=float)
    sd = X.std(axis=0, ddof=1)
    Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    pca = SkPCA(svd_solver="full").fit(Z)
    return pca.explained_variance_, pca.components_


def pca_weights(X: np.ndarray, n_factors=None, rotation="varimax", min_variance=0.6,
                min_share=0.1) -> tuple[np.ndarray, int]:
    """PCA weights of the columns of X (OECD/JRC Handbook 2008 §6.1) and the number of factors kept."""
    eig, comps = _components(X)
    m = X.shape[1]
    if n_factors is not None:
        k = min(int(n_factors), m)
    else:
        share = eig / eig.sum() if eig.sum() > 0 else np.full(m, 1.0 / m)
        qualifies = (eig > 1.0) | (share > min_share)
        k = max(1, int(np.flatnonzero(qualifies)[-1]) + 1 if qualifies.any() else 1)
        while k < m and share[:k].sum() < min_variance:
            k += 1
    L = comps[:k].T * np.sqrt(np.maximum(eig[:k], 0.0))
    if rotation == "varimax":
        L = varimax(L)
    sq = L ** 2
    explained = sq.sum(axis=0)
    scaled = sq / np.where(explained > 0, explained, 1.0)
    factor = sq.argmax(axis=1)  # the factor of the highest loading (Handbook §6.1 step 5, Table 18)
    factor_weight = explained / explained.sum() if explained.sum() > 0 else np.full(k, 1.0 / k)
    return _normalise_or_equal(factor_weight[factor] * scaled[np.arange(m), factor]), k


def first_component_weights(X: np.ndarray) -> np.ndarray:
    """``|v_1| / sum |v_1|`` of the first principal component of the z-scores."""
    return _normalise_or_equal(np.abs(_components(X)[1][0]))
