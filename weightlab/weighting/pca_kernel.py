"""numba kernel of the PCA weighting schemes ("pca", "pca1"), for the nominal build and the bootstrap.

:func:`pca_weights_from_cov` computes the weights of :class:`weightlab.weighting.pca.PCA` ("pca")
and :class:`weightlab.weighting.pca.FirstComponent` ("pca1") from the correlation matrix of a
group's members (a constant member has an all-zero row and column); the tests check it against
scikit-learn's PCA and the numpy varimax of ``tests/naive_pca.py``:

1. eigen-decompose the matrix by the cyclic Jacobi method (Golub & Van Loan, *Matrix
   Computations*, 4th ed., 2013, §8.5.2-8.5.3: symmetric Schur 2 x 2 rotations, row-by-row sweeps)
   until the off-diagonal Frobenius norm is below ``1e-15`` times the matrix norm (at most 100
   sweeps), and sort the eigenpairs by decreasing eigenvalue;
2. retain factors as OECD/JRC (2008), *Handbook on Constructing Composite Indicators*, §6.1 (TAI
   example, Tables 15-18) applies them: ``n_factors`` (capped at the member count), or
   every component with eigenvalue > 1 or variance share > ``min_share`` up to the last such one,
   then more until the cumulative share reaches ``min_variance`` (at least one);
3. loadings ``eigenvector * sqrt(eigenvalue)``, rotated by Kaiser's (1958) raw varimax with the
   planar rotations, sweep order, ``arctan2`` angle formula and stopping rule (largest angle
   < 1e-14, at most 1000 sweeps; the numpy reference ``varimax`` in ``tests/naive_pca.py``);
4. squared loadings scaled to sum 1 per factor, each member given to its highest-loading factor,
   factor weight = share of the explained variance, renormalised (equal weights when all are 0).

``first_only`` gives the "pca1" weights ``|v_1| / sum |v_1|`` instead. Eigenvector signs do not
matter: the weights use squared or absolute loadings, and varimax is sign-equivariant.

Where the result is decided by rounding, no two implementations need agree:
(a) two varying members with 2+ factors kept load exactly alike on both factors (eigenvectors
(1, +-1)/sqrt2), so which factor each joins is a floating-point tie; (b) eigenvalues up to
``ZERO_EIGENVALUE`` x trace (rank-deficient resamples: fewer distinct units than members) are set
to 0 here, so a factor forced in by ``n_factors`` on such noise never takes a member, whereas
scikit-learn's PCA may hand a member to it (weight ~1e-33). Elsewhere the weights agree to ~1e-13.

Kaiser, H. F. (1958). The varimax criterion for analytic rotation in factor analysis.
Psychometrika 23(3), 187-200.

Imports numpy, numba and math only; nothing is allocated per call (scratch comes from
:func:`make_pca_work`).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .statistics import normalise_or_equal

JACOBI_TOL = 1e-15
JACOBI_MAX_SWEEPS = 100
VARIMAX_TOL = 1e-14
VARIMAX_MAX_ITER = 1000
# eigenvalues up to this fraction of the trace are rounding noise of a rank-deficient matrix
# (constant members, fewer distinct units than members) and count as exactly 0
ZERO_EIGENVALUE = 1e-12


@nb.njit(cache=True)
def make_pca_work(max_members):
    """Scratch for :func:`pca_weights_from_cov` on groups of up to ``max_members`` members."""
    m = max(max_members, 2)
    return np.zeros((4, m, m))


@nb.njit(cache=True)
def _jacobi_eigen(A, V, n):
    """Cyclic Jacobi on the symmetric ``A[:n, :n]`` (overwritten: its diagonal ends up holding the
    eigenvalues); the eigenvectors are accumulated in the columns of ``V[:n, :n]``."""
    norm2 = 0.0
    for i in range(n):
        for j in range(n):
            V[i, j] = 1.0 if i == j else 0.0
            norm2 += A[i, j] * A[i, j]
    if norm2 == 0.0:
        return
    thresh2 = (JACOBI_TOL * JACOBI_TOL) * norm2
    for _ in range(JACOBI_MAX_SWEEPS):
        off2 = 0.0
        for i in range(n):
            for j in range(n):
                if i != j:
                    off2 += A[i, j] * A[i, j]
        if off2 <= thresh2:
            return
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = A[p, q]
                if apq == 0.0:
                    continue
                # symmetric Schur 2 x 2 (Golub & Van Loan, Algorithm 8.5.1)
                tau = (A[q, q] - A[p, p]) / (2.0 * apq)
                if abs(tau) > 1e150:
                    t = 0.5 / tau
                elif tau >= 0.0:
                    t = 1.0 / (tau + math.sqrt(1.0 + tau * tau))
                else:
                    t = -1.0 / (-tau + math.sqrt(1.0 + tau * tau))
                c = 1.0 / math.sqrt(1.0 + t * t)
                s = t * c
                # A <- J^T A J, V <- V J with J = [[c, s], [-s, c]] in the (p, q) plane
                for k in range(n):
                    akp = A[k, p]
                    akq = A[k, q]
                    A[k, p] = c * akp - s * akq
                    A[k, q] = s * akp + c * akq
                for k in range(n):
                    apk = A[p, k]
                    aqk = A[q, k]
                    A[p, k] = c * apk - s * aqk
                    A[q, k] = s * apk + c * aqk
                A[p, q] = 0.0
                A[q, p] = 0.0
                for k in range(n):
                    vkp = V[k, p]
                    vkq = V[k, q]
                    V[k, p] = c * vkp - s * vkq
                    V[k, q] = s * vkp + c * vkq


@nb.njit(cache=True)
def _varimax(L, p, k):
    """Raw varimax of ``L[:p, :k]`` in place, exactly as ``weightlab.weighting.pca.varimax``."""
    for _ in range(VARIMAX_MAX_ITER):
        largest = 0.0
        for a in range(k):
            for b in range(a + 1, k):
                su = 0.0
                sv = 0.0
                suv = 0.0
                sd = 0.0
                for i in range(p):
                    x = L[i, a]
                    y = L[i, b]
                    u = x * x - y * y
                    v = 2.0 * x * y
                    su += u
                    sv += v
                    suv += u * v
                    sd += u * u - v * v
                num = 2.0 * (p * suv - su * sv)
                den = p * sd - (su * su - sv * sv)
                phi = 0.25 * math.atan2(num, den)
                largest = max(largest, abs(phi))
                c = math.cos(phi)
                s = math.sin(phi)
                for i in range(p):
                    x = L[i, a]
                    y = L[i, b]
                    L[i, a] = c * x + s * y
                    L[i, b] = -s * x + c * y
        if largest < VARIMAX_TOL:
            return


@nb.njit(cache=True)
def pca_weights_from_cov(C, nm, n_factors, varimax, min_variance, min_share, first_only, out, work):
    """PCA ("pca") or first-component ("pca1") weights of ``nm`` members from their correlation matrix.

    C : (>= nm, >= nm) float64; its top-left ``nm x nm`` block is the ddof=1 covariance of the
        z-scored members (the correlation matrix), a constant member's row and column all 0.
    n_factors : int, factors to keep (capped at ``nm``); 0 applies the Handbook retention rule.
    varimax : bool, rotate the retained loadings by raw varimax.
    min_variance, min_share : float, parameters of the retention rule.
    first_only : bool, the "pca1" variant ``|v_1| / sum |v_1|``.
    out : float64, its first ``nm`` entries receive the weights (sum 1; equal when all are 0).
    work : float64 scratch of shape (>= 4, >= nm, >= nm), see :func:`make_pca_work`; afterwards
        (unless ``first_only``) ``work[3, 1, :nm]`` holds the variance explained by each retained
        factor, NaN for the others.
    """
    if nm <= 1:
        if nm == 1:
            out[0] = 1.0
        return
    A, V, L, vec = work[0], work[1], work[2], work[3]
    for i in range(nm):
        for j in range(nm):
            A[i, j] = C[i, j]
    _jacobi_eigen(A, V, nm)

    # sort the eigenpairs by decreasing eigenvalue (first index wins ties) into vec[0], L's columns;
    # eigenvalues of the positive semi-definite matrix below ZERO_EIGENVALUE * trace are rounding
    # and count as 0 (their loadings vanish instead of being normalised noise)
    trace = 0.0
    for i in range(nm):
        trace += abs(C[i, i])
    eig = vec[0]
    for r in range(nm):
        best = -1
        bval = 0.0
        for j in range(nm):
            d = A[j, j]
            if d == d and (best < 0 or d > bval):
                best = j
                bval = d
        eig[r] = bval if bval > ZERO_EIGENVALUE * trace else 0.0
        A[best, best] = np.nan  # taken
        for i in range(nm):
            L[i, r] = V[i, best]

    if first_only:
        for a in range(nm):
            out[a] = abs(L[a, 0])
        normalise_or_equal(out, nm)
        return

    # factors retained
    if n_factors > 0:
        k = min(n_factors, nm)
    else:
        total = 0.0
        for r in range(nm):
            total += eig[r]
        k = 1
        for r in range(nm):
            share = eig[r] / total if total > 0.0 else 1.0 / nm
            if eig[r] > 1.0 or share > min_share:
                k = r + 1
        while k < nm:
            cum = 0.0
            for r in range(k):
                cum += eig[r] / total if total > 0.0 else 1.0 / nm
            if cum >= min_variance:
                break
            k += 1

    for r in range(k):
        root = math.sqrt(eig[r])
        for i in range(nm):
            L[i, r] *= root
    if varimax:
        _varimax(L, nm, k)

    explained = vec[1]
    grand = 0.0
    for r in range(k):
        e = 0.0
        for i in range(nm):
            e += L[i, r] * L[i, r]
        explained[r] = e
        grand += e
    for r in range(k, nm):  # factors not retained (read back by the nominal scheme's notes)
        explained[r] = np.nan
    for a in range(nm):
        best = 0
        bval = -1.0
        for r in range(k):  # the factor of the member's highest loading (Handbook §6.1 step 5)
            sq = L[a, r] * L[a, r]
            if sq > bval:
                best = r
                bval = sq
        fw = explained[best] / grand if grand > 0.0 else 1.0 / k
        out[a] = fw * bval / (explained[best] if explained[best] > 0.0 else 1.0)
    normalise_or_equal(out, nm)
