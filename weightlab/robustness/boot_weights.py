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

from .tree import aggregate_group, column

# bootstrap re-estimation codes (plan.scheme_code)
FIXED, ENTROPY, CRITIC, STD = 0, 1, 2, 3


@nb.njit(cache=True)
def _normalise_or_equal(out, nm):
    """``out / sum(out)``, or equal weights when everything is 0 (as weighting/_common.py)."""
    total = 0.0
    for a in range(nm):
        total += out[a]
    for a in range(nm):
        out[a] = out[a] / total if total > 0.0 else 1.0 / nm


@nb.njit(cache=True)
def _boot_group_weights(code, members, nm, counts, sample, n_s, n_boot, X, m, vals, k, xlnx, use_xlnx, ddof,
                        out, bw, cen):
    """Scheme weights of one group's members on the bootstrap sample.

    ``sample[:n_s]`` lists the distinct units drawn and ``counts`` their multiplicities; the
    formulas are those of the Python schemes (entropy, CRITIC, std) evaluated on the resampled rows,
    with missing cells replaced by the sample's column mean, as in the nominal code. ``bw`` (4 x
    max_members) and ``cen`` (max_members x n) are scratch.
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
            out[a] = 1.0 + (t_ / s - math.log(s)) * inv_log_n if s > 0.0 else 0.0
    else:
        # sd of the min-max rescaled column and (CRITIC) Pearson correlations
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
        for a in range(nm):
            rng = hi[a] - lo[a]
            sdr = sd[a] / rng if rng > 0.0 else 0.0
            if code == STD:
                out[a] = sdr
            else:
                conflict = 0.0
                for b in range(nm):
                    r = 0.0
                    if a == b:
                        r = 1.0 if sd[a] > 0.0 else 0.0
                    elif sd[a] > 0.0 and sd[b] > 0.0:
                        cov = 0.0
                        for t in range(n_s):
                            cov += counts[sample[t]] * cen[a, t] * cen[b, t]
                        r = cov / (n_boot - ddof) / (sd[a] * sd[b])
                    conflict += 1.0 - r
                out[a] = sdr * conflict
    _normalise_or_equal(out, nm)


# reassociation lets LLVM vectorise the count-weighted sums below; they run only on NaN-free data
DENSE_FLAGS = {"reassoc", "nsz", "nnan", "ninf", "contract"}


@nb.njit(cache=True, fastmath=DENSE_FLAGS)
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


@nb.njit(cache=True)
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


@nb.njit(cache=True, fastmath=DENSE_FLAGS)
def _dense_wsum(a, cw):
    s = 0.0
    for i in range(a.shape[0]):
        s += cw[i] * a[i]
    return s


@nb.njit(cache=True, fastmath=DENSE_FLAGS)
def _dense_dot(a, b, cw):
    s = 0.0
    for i in range(a.shape[0]):
        s += cw[i] * a[i] * b[i]
    return s


@nb.njit(cache=True)
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


@nb.njit(cache=True)
def _boot_group_weights_dense(code, members, nm, cw, n_boot, X, m, vals, k, xlnx, use_xlnx, ddof, out, bw,
                              x_order):
    """As :func:`_boot_group_weights` for NaN-free data, from count-weighted moments.

    ``cw[i]`` is unit i's multiplicity in the sample. Variances and covariances use
    ``(sum c x y - N mean_x mean_y) / (N - ddof)``.
    """
    mean, lo, hi, sd = bw[0], bw[1], bw[2], bw[3]
    for a in range(nm):
        col = column(vals, X, m, members[a], k)
        s1, s2 = _dense_moments(col, cw)
        lo[a], hi[a] = _drawn_range(col, cw, x_order[m, members[a]] if members[a] < k else x_order[0, 0, :0])
        mean[a] = s1 / n_boot
        var = (s2 - n_boot * mean[a] * mean[a]) / (n_boot - ddof) if n_boot - ddof > 0 else 0.0
        sd[a] = math.sqrt(var) if var > 0.0 and hi[a] > lo[a] else 0.0
    if code == ENTROPY:
        inv_log_n = 1.0 / math.log(n_boot)
        for a in range(nm):
            col = column(vals, X, m, members[a], k)
            shift = -lo[a] if lo[a] < 0.0 else 0.0
            s = n_boot * (mean[a] + shift)
            if use_xlnx and members[a] < k and shift == 0.0:
                t = _dense_wsum(xlnx[m, members[a]], cw)
            else:
                t = _entropy_term(col, cw, shift)
            out[a] = 1.0 + (t / s - math.log(s)) * inv_log_n if s > 0.0 else 0.0
    else:
        for a in range(nm):
            rng = hi[a] - lo[a]
            sdr = sd[a] / rng if rng > 0.0 else 0.0
            if code == STD:
                out[a] = sdr
            else:
                conflict = 0.0
                col_a = column(vals, X, m, members[a], k)
                for b in range(nm):
                    r = 0.0
                    if a == b:
                        r = 1.0 if sd[a] > 0.0 else 0.0
                    elif sd[a] > 0.0 and sd[b] > 0.0:
                        sab = _dense_dot(col_a, column(vals, X, m, members[b], k), cw)
                        cov = (sab - n_boot * mean[a] * mean[b]) / (n_boot - ddof)
                        r = cov / (sd[a] * sd[b])
                    conflict += 1.0 - r
                out[a] = sdr * conflict
    _normalise_or_equal(out, nm)




@nb.njit(cache=True)
def bootstrap_weights(p, pat, w, X, m, vals, scratch, counts, sample, n_s, n_boot, scheme, bw, cen):
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
                                                  p.x_order)
                    else:
                        _boot_group_weights(p.scheme_code[scheme], p.child_idx[c0:c1], c1 - c0, counts, sample,
                                            n_s, n_boot, X, m, vals, k, p.xlnx, p.xlnx_ok[m], p.ddof, wtmp, bw, cen)
                    for ci in range(c0, c1):
                        w[p.child_idx[ci]] = wtmp[ci - c0]
            if lvl <= top_needed:
                aggregate_group(p, g, a, w, m, vals, scratch, counts, True)

