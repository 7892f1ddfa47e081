"""Scheme weights re-estimated on a bootstrap resample of units, inside numba.

With ``[bootstrap] units = true`` each replication draws n units with replacement and the
data-driven schemes recompute their weights on that sample, with the formulas of the Python
schemes (:mod:`weightlab.weighting`), missing cells replaced by the sample's column mean as the
nominal code does:

- entropy (Shannon; Zou et al. 2006): ``p_ij = x_ij / sum_i x_ij``,
  ``e_j = -(1 / ln n) sum_i p_ij ln p_ij``, ``w_j ∝ 1 - e_j`` (columns with negative values are
  translated to minimum 0);
- CRITIC (Diakoulaki, Mavrotas & Papayannakis 1995): ``w_j ∝ sigma_j sum_k (1 - r_jk)`` on min-max
  rescaled columns, Pearson ``r``;
- std: ``w_j ∝ sigma_j`` of the min-max rescaled column;
- PCA / first-PC (OECD/JRC Handbook 2008 §6.1): from the correlation matrix of the sample, by
  :mod:`weightlab.robustness.pca_kernel`.

A unit drawn c times counts c times: sums are count-weighted. NaN-free data take a dense path
(vectorised count-weighted moments); data with missing cells a sparse path over the drawn units.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .pca_kernel import pca_weights_from_cov
from .tree import aggregate_group, column, normalise_or_equal

# bootstrap re-estimation codes (plan.scheme_code)
FIXED, ENTROPY, CRITIC, STD, PCA, PCA1 = 0, 1, 2, 3, 4, 5
# as weighting/_common.py WEIGHT_NOISE: entropy divergences and CRITIC C_j below this are rounding noise
WEIGHT_NOISE = 1e-12


@nb.njit(cache=True)
def _weights_from_stats(code, nm, sd, lo, hi, R, prm, out, pw):
    """std, CRITIC or PCA weights from the sample's sd, range and correlation matrix ``R``.

    std: ``sd / range`` (the sd of the min-max rescaled column); CRITIC: that times
    ``sum_k (1 - r_jk)`` with ``r`` clipped to [-1, 1]; PCA / first PC from ``R`` by
    :func:`weightlab.robustness.pca_kernel.pca_weights_from_cov` with the scheme's parameters
    ``prm = (n_factors or 0, varimax, min_variance, min_share)``.
    """
    if code == PCA or code == PCA1:
        pca_weights_from_cov(R, nm, int(prm[0]), prm[1] > 0.0, prm[2], prm[3], code == PCA1, out, pw[1:])
        return
    for a in range(nm):
        rng = hi[a] - lo[a]
        sdr = sd[a] / rng if rng > 0.0 else 0.0
        if code == STD:
            out[a] = sdr
        else:
            conflict = 0.0
            for b in range(nm):
                conflict += 1.0 - min(max(R[a, b], -1.0), 1.0)
            c = sdr * conflict
            out[a] = c if c > WEIGHT_NOISE else 0.0
    normalise_or_equal(out, nm)


@nb.njit(inline="always")
def _entropy_divergence(t, s, inv_log_n):
    """``d = 1 - e`` from ``t = sum c y ln y`` and ``s = sum c y``; noise below WEIGHT_NOISE is 0."""
    d = 1.0 + (t / s - math.log(s)) * inv_log_n if s > 0.0 else 0.0
    return d if d > WEIGHT_NOISE else 0.0


@nb.njit(cache=True)
def _boot_group_weights(code, members, nm, counts, sample, n_s, n_boot, X, m, vals, k, xlnx, use_xlnx, ddof,
                        out, bw, cen, prm, pw):
    """Scheme weights of one group's members on the bootstrap sample.

    ``sample[:n_s]`` lists the distinct units drawn and ``counts`` their multiplicities; the
    formulas are those of the Python schemes evaluated on the resampled rows, with missing cells
    replaced by the sample's column mean, as in the nominal code. ``bw`` (4 x max_members), ``cen``
    (max_members x n) and ``pw`` (5 x max_members x max_members) are scratch; ``prm`` holds the PCA
    parameters.
    """
    mean, lo, hi, sd = bw[0], bw[1], bw[2], bw[3]
    for a in range(nm):
        col = column(vals, X, m, members[a], k)
        s = 0.0
        cnt = 0.0
        la = np.inf
        ha = -np.inf
        for t in range(n_s):
            i = sample[t]
            x = col[i]
            if x == x:
                c = counts[i]
                s += c * x
                cnt += c
                la = min(la, x)
                ha = max(ha, x)
        mean[a] = s / cnt if cnt > 0 else 0.0
        if cnt < n_boot:  # missing cells are filled with the mean
            la = min(la, mean[a])
            ha = max(ha, mean[a])
        lo[a] = la
        hi[a] = ha
    if code == ENTROPY:
        inv_log_n = 1.0 / math.log(n_boot)
        for a in range(nm):
            col = column(vals, X, m, members[a], k)
            shift = -lo[a] if lo[a] < 0.0 else 0.0
            s = 0.0
            t_ = 0.0
            if use_xlnx and members[a] < k and shift == 0.0 and not hi[a] != hi[a]:
                row = xlnx[m, members[a]]
                for t in range(n_s):
                    i = sample[t]
                    x = col[i]
                    c = counts[i]
                    if x == x:
                        s += c * x
                        t_ += c * row[i]
                    else:
                        x = mean[a]
                        s += c * x
                        t_ += c * (x * math.log(x) if x > 0.0 else 0.0)
            else:
                for t in range(n_s):
                    i = sample[t]
                    x = col[i]
                    if x != x:
                        x = mean[a]
                    x += shift
                    c = counts[i]
                    s += c * x
                    t_ += c * (x * math.log(x) if x > 0.0 else 0.0)
            out[a] = _entropy_divergence(t_, s, inv_log_n)
        normalise_or_equal(out, nm)
    else:
        for a in range(nm):
            col = column(vals, X, m, members[a], k)
            ss = 0.0
            for t in range(n_s):
                i = sample[t]
                x = col[i]
                if x != x:
                    x = mean[a]
                d = x - mean[a]
                cen[a, t] = d
                ss += counts[i] * d * d
            sd[a] = math.sqrt(ss / (n_boot - ddof)) if n_boot - ddof > 0 else 0.0
        R = pw[0]
        if code != STD:  # Pearson correlations
            for a in range(nm):
                for b in range(nm):
                    r = 0.0
                    if a == b:
                        r = 1.0 if sd[a] > 0.0 else 0.0
                    elif sd[a] > 0.0 and sd[b] > 0.0:
                        cov = 0.0
                        for t in range(n_s):
                            cov += counts[sample[t]] * cen[a, t] * cen[b, t]
                        r = cov / (n_boot - ddof) / (sd[a] * sd[b])
                    R[a, b] = r
        _weights_from_stats(code, nm, sd, lo, hi, R, prm, out, pw)


# reassociation lets LLVM vectorise the count-weighted sums below (NaN-free data only). The helpers are
# inlined into _dense_stats/_dense_entropy, which carry the flags: a function that calls nothing keeps
# no reference counting in its loops (numba prunes it), which matters more than the arithmetic here.
DENSE_FLAGS = {"reassoc", "nsz", "contract"}


@nb.njit(inline="always")
def _dense_moments(col, cw):
    """Count-weighted sum and sum of squares of a NaN-free column (vectorised)."""
    s1 = 0.0
    s2 = 0.0
    for i in range(col.shape[0]):
        c = cw[i]
        x = col[i]
        s1 += c * x
        s2 += c * x * x
    return s1, s2


@nb.njit(inline="always")
def _drawn_range(col, cw, order):
    """Min and max of ``col`` over drawn units (``cw > 0``).

    With ``order`` (units sorted by ``col``, from the plan) this is the first and last drawn unit
    in that order, a couple of steps on average; without it (group scores) a full scan.
    """
    n = col.shape[0]
    if order.shape[0] == n:
        a = 0
        while cw[order[a]] == 0.0:
            a += 1
        b = n - 1
        while cw[order[b]] == 0.0:
            b -= 1
        return col[order[a]], col[order[b]]
    lo = np.inf
    hi = -np.inf
    for i in range(n):
        if cw[i] > 0.0:
            lo = min(lo, col[i])
            hi = max(hi, col[i])
    return lo, hi


@nb.njit(inline="always")
def _dense_wsum(a, cw):
    s = 0.0
    for i in range(a.shape[0]):
        s += cw[i] * a[i]
    return s


@nb.njit(inline="always")
def _dense_dot(a, b, cw):
    s = 0.0
    for i in range(a.shape[0]):
        s += cw[i] * a[i] * b[i]
    return s


@nb.njit(inline="always")
def _entropy_term(col, cw, shift):
    """sum_i c_i y ln y with y = x + shift (0 ln 0 = 0); logs, so kept out of the fastmath code."""
    t = 0.0
    for i in range(col.shape[0]):
        c = cw[i]
        if c > 0.0:
            y = col[i] + shift
            if y > 0.0:
                t += c * y * math.log(y)
    return t


@nb.njit(cache=True, fastmath=DENSE_FLAGS)
def _dense_stats(code, members, nm, cw, n_boot, X, m, vals, k, ddof, bw, x_order, R):
    """Count-weighted mean, drawn range, sd (into ``bw``) and, for CRITIC/PCA, correlations (into ``R``).

    For NaN-free data; ``cw[i]`` is unit i's multiplicity in the sample. Variances and covariances
    use ``(sum c x y - N mean_x mean_y) / (N - ddof)``. Calls only pure helpers, so numba keeps no
    reference counting in its loops.
    """
    mean, lo, hi, sd = bw[0], bw[1], bw[2], bw[3]
    for a in range(nm):
        col = column(vals, X, m, members[a], k)
        s1, s2 = _dense_moments(col, cw)
        lo[a], hi[a] = _drawn_range(col, cw, x_order[m, members[a]] if members[a] < k else x_order[0, 0, :0])
        mean[a] = s1 / n_boot
        var = (s2 - n_boot * mean[a] * mean[a]) / (n_boot - ddof) if n_boot - ddof > 0 else 0.0
        sd[a] = math.sqrt(var) if var > 0.0 and hi[a] > lo[a] else 0.0
    if code == ENTROPY or code == STD:
        return
    for a in range(nm):
        col_a = column(vals, X, m, members[a], k)
        for b in range(nm):
            r = 0.0
            if a == b:
                r = 1.0 if sd[a] > 0.0 else 0.0
            elif sd[a] > 0.0 and sd[b] > 0.0:
                sab = _dense_dot(col_a, column(vals, X, m, members[b], k), cw)
                cov = (sab - n_boot * mean[a] * mean[b]) / (n_boot - ddof)
                r = cov / (sd[a] * sd[b])
            R[a, b] = r


@nb.njit(cache=True, fastmath=DENSE_FLAGS)
def _dense_entropy(members, nm, cw, n_boot, X, m, vals, k, xlnx, use_xlnx, bw, out):
    """Entropy divergences ``1 - e_j`` of the members on the sample (before normalisation)."""
    mean, lo = bw[0], bw[1]
    inv_log_n = 1.0 / math.log(n_boot)
    for a in range(nm):
        col = column(vals, X, m, members[a], k)
        shift = -lo[a] if lo[a] < 0.0 else 0.0
        s = n_boot * (mean[a] + shift)
        if use_xlnx and members[a] < k and shift == 0.0:
            t = _dense_wsum(xlnx[m, members[a]], cw)
        else:
            t = _entropy_term(col, cw, shift)
        out[a] = _entropy_divergence(t, s, inv_log_n)


@nb.njit(cache=True)
def _boot_group_weights_dense(code, members, nm, cw, n_boot, X, m, vals, k, xlnx, use_xlnx, ddof, out, bw,
                              x_order, prm, pw):
    """As :func:`_boot_group_weights` for NaN-free data, from count-weighted moments."""
    _dense_stats(code, members, nm, cw, n_boot, X, m, vals, k, ddof, bw, x_order, pw[0])
    if code == ENTROPY:
        _dense_entropy(members, nm, cw, n_boot, X, m, vals, k, xlnx, use_xlnx, bw, out)
        normalise_or_equal(out, nm)
    else:
        _weights_from_stats(code, nm, bw[3], bw[1], bw[2], pw[0], prm, out, pw)


@nb.njit(cache=True)
def bootstrap_weights(p, pat, w, X, m, vals, scratch, counts, sample, n_s, n_boot, scheme, bw, cen, pw):
    """Re-estimate the weights on the bootstrap sample (levels below the top only as needed)."""
    k = p.n_indicators
    top_needed = 0
    for lvl in range(p.n_levels - 1):
        if p.scheme_level[lvl]:
            top_needed = lvl
    dense = not p.has_nan[m]
    cw = cen[0]  # multiplicities as floats (cen is only used by the sparse path)
    if dense:
        for i in range(p.n_units):
            cw[i] = counts[i]
    for lvl in range(1, p.n_levels):
        a = p.pattern_aggs[pat, lvl - 1]
        for g in range(p.level_ptr[lvl], p.level_ptr[lvl + 1]):
            if p.scheme_level[lvl - 1]:
                c0, c1 = p.child_ptr[g - k], p.child_ptr[g - k + 1]
                if c1 - c0 > 1:
                    wtmp = bw[4]
                    if dense:
                        _boot_group_weights_dense(p.scheme_code[scheme], p.child_idx[c0:c1], c1 - c0, cw, n_boot,
                                                  X, m, vals, k, p.xlnx, p.xlnx_ok[m], p.ddof, wtmp, bw,
                                                  p.x_order, p.scheme_params[scheme], pw)
                    else:
                        _boot_group_weights(p.scheme_code[scheme], p.child_idx[c0:c1], c1 - c0, counts, sample,
                                            n_s, n_boot, X, m, vals, k, p.xlnx, p.xlnx_ok[m], p.ddof, wtmp, bw, cen,
                                            p.scheme_params[scheme], pw)
                    for ci in range(c0, c1):
                        w[p.child_idx[ci]] = wtmp[ci - c0]
            if lvl <= top_needed:
                aggregate_group(p, g, a, w, m, vals, scratch, counts, True)

