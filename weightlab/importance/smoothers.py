"""Main-effect estimators: ``S = Var(E[y | x]) / Var(y)`` from the units' data.

Pearson's correlation ratio of ``y`` on ``x`` (the first-order sensitivity index of Saltelli et
al. 2008, section 1.2.5; Paruolo, Saisana & Saltelli 2013) is the share of the variance of ``y``
that the conditional mean ``E[y | x]`` explains. It is estimated by smoothing ``y`` against ``x``
and dividing the variance of the fitted values by the variance of ``y``::

    S_hat = var(f_hat(x_u)) / var(y_u)            (u = the units)

Three estimators:

- :func:`spline_main_effect`: the penalised (natural cubic) smoothing spline with GCV,
  :func:`scipy.interpolate.make_smoothing_spline`; tied ``x`` are averaged and weighted by their
  count (the same least-squares problem as the raw data); the GCV search runs on
  :class:`ReinschGCV`.
- :func:`local_linear_main_effect`: Gaussian-kernel local linear regression with the bandwidth
  chosen by leave-one-out cross-validation (Fan & Gijbels 1996, section 4.1).
- :class:`SplineBasis`: a penalised cubic B-spline (``n_knots`` interior knots at quantiles of
  ``x``, penalty ``lam * integral f''^2``, GCV over a grid of ``lam``) written in Demmler-Reinsch
  form, so that one generalised eigen-decomposition per resample serves every ``lam`` and every
  ``y``: the fast estimator of the bootstrap and of the nonlinear inverse problem. With the
  penalty it converges to the same function as the full smoothing spline (Ruppert, Wand & Carroll
  2003, ch. 5); ``tests/test_importance.py`` compares the two.

Ties: a discrete ``x`` with fewer than :data:`MIN_DISTINCT` distinct values has no spline; its
main effect is the exact correlation ratio of the category means (:func:`category_main_effect`).

References
----------
Fan, J., Gijbels, I. (1996). Local Polynomial Modelling and Its Applications. Chapman & Hall.
Ruppert, D., Wand, M. P., Carroll, R. J. (2003). Semiparametric Regression. Cambridge UP.
Saltelli, A. et al. (2008). Global Sensitivity Analysis: The Primer. Wiley.
Green, P. J., Silverman, B. W. (1994). Nonparametric Regression and Generalized Linear Models.
Chapman & Hall (the Reinsch form, ch. 2).
Wahba, G. (1990). Spline Models for Observational Data. SIAM (GCV, ch. 4).
"""

from __future__ import annotations

import numba as nb
import numpy as np

MIN_DISTINCT = 5  # make_smoothing_spline needs at least five distinct abscissae
N_KNOTS = 20  # interior knots of the bootstrap spline basis
N_LAMBDA = 61  # grid of the smoothing parameter (GCV) of the bootstrap spline
N_BANDWIDTHS = 25  # grid of the local-linear bandwidth (leave-one-out CV)


def _variance_ratio(fitted: np.ndarray, y: np.ndarray) -> float:
    vy = float(np.var(y))
    return float(np.var(fitted) / vy) if vy > 0 else float("nan")


def category_main_effect(x: np.ndarray, y: np.ndarray) -> float:
    """Exact correlation ratio ``eta^2 = var(mean of y within each value of x) / var(y)``."""
    _, inv = np.unique(x, return_inverse=True)
    means = np.bincount(inv, y) / np.bincount(inv)
    return _variance_ratio(means[inv], y)


def spline_main_effect(x: np.ndarray, y: np.ndarray) -> float:
    """``S`` by :func:`scipy.interpolate.make_smoothing_spline` with its GCV smoothing parameter.

    Tied ``x`` are averaged and weighted by their count. The GCV parameter is the one scipy's own
    search finds (the same criterion, the same bounded Brent search over ``(0, n)``), evaluated in
    the Reinsch form of :class:`ReinschGCV` (O(n) per evaluation, compiled), because scipy's
    pure-Python evaluation takes ~0.4 s per call at n = 338; the spline is then scipy's for that
    parameter. ``tests/test_importance.py`` checks the parameter against scipy's own search.
    """
    from scipy.interpolate import make_smoothing_spline

    xu, inv, count = np.unique(x, return_inverse=True, return_counts=True)
    if len(xu) < MIN_DISTINCT:
        return category_main_effect(x, y)
    yu = np.bincount(inv, y) / count
    lam = ReinschGCV(xu, count.astype(float)).best_lambda(yu)
    spline = make_smoothing_spline(xu, yu, w=count.astype(float), lam=lam)
    return _variance_ratio(spline(xu)[inv], y)


class ReinschGCV:
    """The GCV criterion of :func:`scipy.interpolate.make_smoothing_spline`, in O(n) per evaluation.

    The natural cubic smoothing spline at distinct sorted ``x`` with weights ``w`` minimises
    ``sum w (y - f)^2 + lam integral f''^2``. In Reinsch's form (Green & Silverman 1994, section
    2.3.3) with ``h_j = x_{j+1} - x_j``, ``Q`` (n x (n-2), column j holds ``1/h_j,
    -1/h_j - 1/h_{j+1}, 1/h_{j+1}``) and ``R`` ((n-2) tridiagonal, ``(h_j + h_{j+1})/3`` and
    ``h_{j+1}/6``)::

        T = R + lam Q' W^-1 Q,   gamma = T^-1 Q' y,   y - f = lam W^-1 Q gamma,
        tr(I - A) = lam tr(T^-1 Q' W^-1 Q),

    ``T`` is pentadiagonal: a banded LDL' gives ``gamma`` and the five central bands of ``T^-1``
    (Hutchinson & de Hoog 1985), which is all the trace needs. scipy's criterion is::

        GCV(lam) = |y - f|^2 / n / (1 - tr(A)/n)^2          (unweighted residuals)

    and :meth:`best_lambda` runs scipy's search on it (bounded Brent over ``(0, n)``).

    References
    ----------
    Hutchinson, M. F., de Hoog, F. R. (1985). Smoothing noisy data with spline functions.
    Numerische Mathematik 47, 99-106.
    """

    def __init__(self, x: np.ndarray, w: np.ndarray) -> None:
        self.h = np.diff(np.asarray(x, dtype=float))
        self.w = np.asarray(w, dtype=float)
        self.n = len(self.w)

    def gcv(self, lam: float, y: np.ndarray) -> float:
        return float(_reinsch_gcv(float(lam), self.h, self.w, np.asarray(y, dtype=float)))

    def best_lambda(self, y: np.ndarray) -> float:
        """scipy's search: ``minimize_scalar(gcv, bounds=(0, n), method="bounded")``."""
        from scipy.optimize import minimize_scalar

        res = minimize_scalar(self.gcv, bounds=(0, self.n), method="bounded", args=(y,))
        return float(res.x)


@nb.njit(cache=True)
def _reinsch_gcv(lam, h, w, y):
    """GCV of the smoothing spline at ``lam`` (see :class:`ReinschGCV`)."""
    n = y.shape[0]
    m = n - 2
    q0, q1, q2 = np.empty(m), np.empty(m), np.empty(m)
    for j in range(m):
        q0[j], q1[j], q2[j] = 1.0 / h[j], -1.0 / h[j] - 1.0 / h[j + 1], 1.0 / h[j + 1]
    p0, p1, p2 = np.zeros(m), np.zeros(m), np.zeros(m)  # bands of Q' W^-1 Q
    t0, t1, t2 = np.zeros(m), np.zeros(m), np.zeros(m)  # bands of T
    b = np.empty(m)
    for j in range(m):
        p0[j] = q0[j] ** 2 / w[j] + q1[j] ** 2 / w[j + 1] + q2[j] ** 2 / w[j + 2]
        if j + 1 < m:
            p1[j] = q1[j] * q0[j + 1] / w[j + 1] + q2[j] * q1[j + 1] / w[j + 2]
        if j + 2 < m:
            p2[j] = q2[j] * q0[j + 2] / w[j + 2]
        t0[j] = (h[j] + h[j + 1]) / 3.0 + lam * p0[j]
        t1[j] = (h[j + 1] / 6.0 if j + 1 < m else 0.0) + lam * p1[j]
        t2[j] = lam * p2[j]
        b[j] = q0[j] * y[j] + q1[j] * y[j + 1] + q2[j] * y[j + 2]
    D, l1, l2 = np.zeros(m), np.zeros(m), np.zeros(m)  # T = L D L', L unit lower with bands l1, l2
    for i in range(m):
        d = t0[i]
        if i >= 1:
            d -= l1[i - 1] ** 2 * D[i - 1]
        if i >= 2:
            d -= l2[i - 2] ** 2 * D[i - 2]
        D[i] = d
        if i + 1 < m:
            c = t1[i]
            if i >= 1:
                c -= l2[i - 1] * l1[i - 1] * D[i - 1]
            l1[i] = c / d
        if i + 2 < m:
            l2[i] = t2[i] / d
    u = np.empty(m)
    for i in range(m):
        v = b[i]
        if i >= 1:
            v -= l1[i - 1] * u[i - 1]
        if i >= 2:
            v -= l2[i - 2] * u[i - 2]
        u[i] = v
    g = np.empty(m)
    for i in range(m - 1, -1, -1):
        v = u[i] / D[i]
        if i + 1 < m:
            v -= l1[i] * g[i + 1]
        if i + 2 < m:
            v -= l2[i] * g[i + 2]
        g[i] = v
    z0, z1, z2 = np.zeros(m + 2), np.zeros(m + 2), np.zeros(m + 2)  # central bands of T^-1 (padded)
    for i in range(m - 1, -1, -1):
        z2[i] = -l1[i] * z1[i + 1] - l2[i] * z0[i + 2] if i + 2 < m else 0.0
        z1[i] = -l1[i] * z0[i + 1] - l2[i] * z1[i + 1] if i + 1 < m else 0.0
        z0[i] = 1.0 / D[i] - l1[i] * z1[i] - l2[i] * z2[i]
    tr = 0.0
    for i in range(m):
        tr += z0[i] * p0[i] + 2.0 * z1[i] * p1[i] + 2.0 * z2[i] * p2[i]
    rss = 0.0
    for i in range(n):
        qg = 0.0
        if i < m:
            qg += q0[i] * g[i]
        if 1 <= i <= m:
            qg += q1[i - 1] * g[i - 1]
        if 2 <= i:
            qg += q2[i - 2] * g[i - 2]
        r = lam * qg / w[i]
        rss += r * r
    return rss / n / (lam * tr / n) ** 2


def local_linear_main_effect(x: np.ndarray, y: np.ndarray) -> float:
    """``S`` by local linear regression, Gaussian kernel, bandwidth by leave-one-out CV.

    For bandwidth ``h`` the fit at ``x_i`` is ``sum_j l_ij y_j`` with
    ``l_ij = K_ij (s2_i - d_ij s1_i) / (s0_i s2_i - s1_i^2)``, ``d_ij = x_j - x_i``,
    ``s_k,i = sum_j K_ij d_ij^k``; the leave-one-out residual is ``(y_i - f_i) / (1 - l_ii)``.
    Bandwidths: ``sd(x) * 10^[-1.5, 0.5]`` (the largest is close to the global linear fit).
    """
    if len(np.unique(x)) < MIN_DISTINCT:
        return category_main_effect(x, y)
    d = x[None, :] - x[:, None]
    sd = float(np.std(x))
    best, best_fit = np.inf, None
    for h in sd * np.logspace(-1.5, 0.5, N_BANDWIDTHS):
        k = np.exp(-0.5 * (d / h) ** 2)
        s0, s1, s2 = k.sum(1), (k * d).sum(1), (k * d * d).sum(1)
        det = s0 * s2 - s1 * s1
        if np.any(det <= 1e-12 * s0 * s2):
            continue  # too narrow: some unit has no neighbour to fit a line
        lmat = k * (s2[:, None] - d * s1[:, None]) / det[:, None]
        fit = lmat @ y
        lii = np.diag(lmat)
        if np.any(lii >= 1 - 1e-9):
            continue
        cv = float(np.mean(((y - fit) / (1 - lii)) ** 2))
        if cv < best:
            best, best_fit = cv, fit
    if best_fit is None:
        return category_main_effect(x, y)
    return _variance_ratio(best_fit, y)


class SplineBasis:
    """A penalised cubic B-spline in ``x`` in Demmler-Reinsch form, for many weightings and ``y``.

    For unit weights ``c`` (bootstrap counts; 0 = not drawn) and basis matrix ``B`` (n x K), the
    penalised fit minimises ``sum_u c_u (y_u - B_u beta)^2 + lam beta' Omega beta`` with
    ``Omega_jk = integral B_j'' B_k''``. With ``G = B' C B = L L'`` and
    ``L^-1 Omega L^-T = U diag(d) U'``, ``z = U' L^-1 B' C y`` and ``s_k = 1 / (1 + lam d_k)``:

        sum c f^2 = sum_k (s_k z_k)^2,    tr(hat) = sum_k s_k,
        RSS = y'Cy - 2 sum s_k z_k^2 + sum s_k^2 z_k^2,    GCV = N RSS / (N - tr)^2,   N = sum c.

    So one eigen-decomposition per weighting serves every ``lam`` of the grid and every ``y``.
    The grid is ``10^[-2, 2] / d`` between the largest and the smallest non-null eigenvalue of the
    full sample (the largest ``lam`` leaves essentially the straight line, the null space of the
    penalty).
    """

    def __init__(self, x: np.ndarray, n_knots: int = N_KNOTS) -> None:
        from scipy.interpolate import BSpline

        x = np.asarray(x, dtype=float)
        xu = np.unique(x)
        inner = np.unique(np.quantile(xu, np.linspace(0, 1, min(n_knots, len(xu) - 2) + 2)[1:-1]))
        lo, hi = float(xu[0]), float(xu[-1])
        inner = inner[(inner > lo) & (inner < hi)]
        t = np.r_[[lo] * 4, inner, [hi] * 4]
        self.K = len(t) - 4
        self.B = BSpline.design_matrix(np.clip(x, lo, hi), t, 3).toarray()
        self.omega = _penalty(t, self.K)
        g, d, _ = self._decompose(np.ones((1, len(x))))
        pos = np.sort(d[0])[2:]  # the penalty's null space (lines) has two zero eigenvalues
        pos = pos[pos > 1e-12 * pos[-1]] if pos.size else pos
        if pos.size == 0:
            self.lams = np.zeros(1)
        else:
            self.lams = np.logspace(np.log10(1e-2 / pos[-1]), np.log10(1e2 / pos[0]), N_LAMBDA)

    def _decompose(self, counts: np.ndarray):
        K, B = self.K, self.B
        BB = (B[:, :, None] * B[:, None, :]).reshape(len(B), K * K)
        G = (counts @ BB).reshape(len(counts), K, K)
        G += np.eye(K) * (1e-10 * np.trace(G, axis1=1, axis2=2))[:, None, None]
        L = np.linalg.cholesky(G)
        Linv = np.linalg.inv(L)
        M = Linv @ self.omega @ np.swapaxes(Linv, 1, 2)
        d, U = np.linalg.eigh((M + np.swapaxes(M, 1, 2)) / 2)
        P = np.swapaxes(U, 1, 2) @ Linv  # z = P B' C y
        return G, np.clip(d, 0, None), P

    def main_effects(self, counts: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """``S`` for each weighting (rows of ``counts``, R x n) and each ``y`` (rows of ``ys``, m x n): (R, m)."""
        counts = np.asarray(counts, dtype=float)
        _, d, P = self._decompose(counts)
        N = counts.sum(1)
        g = np.einsum("rkj,rj->rk", P, counts @ self.B)  # for sum c f
        S = np.empty((len(counts), len(ys)))
        shrink = 1.0 / (1.0 + self.lams[None, :, None] * d[:, None, :])  # R x lam x K
        trace = shrink.sum(2)
        for j, y in enumerate(ys):
            z = np.einsum("rkj,rj->rk", P, counts @ (self.B * y[:, None]))
            yy, y1 = counts @ (y * y), counts @ y
            z2 = z * z
            rss = yy[:, None] - np.einsum("rlk,rk->rl", 2 * shrink - shrink ** 2, z2)
            gcv = N[:, None] * np.maximum(rss, 0) / np.maximum(N[:, None] - trace, 1e-12) ** 2
            best = shrink[np.arange(len(counts)), np.argmin(gcv, axis=1)]  # R x K
            f2 = ((best * z) ** 2).sum(1) / N
            f1 = (best * z * g).sum(1) / N
            vy = yy / N - (y1 / N) ** 2
            S[:, j] = (f2 - f1 ** 2) / np.where(vy > 0, vy, np.nan)
        return S


def _penalty(t: np.ndarray, K: int) -> np.ndarray:
    """``Omega_jk = integral B_j'' B_k''`` (second derivatives are linear per knot interval: 2-point
    Gauss-Legendre quadrature is exact)."""
    from scipy.interpolate import BSpline

    knots = np.unique(t)
    a, b = knots[:-1], knots[1:]
    gx, gw = np.polynomial.legendre.leggauss(2)
    pts = ((b - a)[:, None] * (gx[None, :] + 1) / 2 + a[:, None]).ravel()
    wts = ((b - a)[:, None] / 2 * gw[None, :]).ravel()
    D2 = np.column_stack([BSpline(t, np.eye(K)[j], 3).derivative(2)(pts) for j in range(K)])
    return (D2 * wts[:, None]).T @ D2
