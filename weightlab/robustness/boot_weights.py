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
from .tree import aggregate_group, column, normalise_or_equal, tree_arrays

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
        _pca_weights(code, R, nm, prm, out, pw)
        return
    for a in range(nm):
        out[a] = _contrast_weight(code, a, nm, sd[a], hi[a] - lo[a], pw, 0)
    normalise_or_equal(out, nm)


@nb.njit(inline="always")
def _pca_weights(code, R, nm, prm, out, pw):
    """PCA (``prm = (n_factors or 0, varimax, min_variance, min_share)``) or first-PC weights from
    the correlation matrix ``R`` of ``nm`` members into ``out``; ``pw[1:]`` is scratch."""
    pca_weights_from_cov(R, nm, int(prm[0]), prm[1] > 0.0, prm[2], prm[3], code == PCA1, out, pw[1:])


@nb.njit(inline="always")
def _contrast_weight(code, a, nm, sd, rng, R, g):
    """Unnormalised std or CRITIC weight of member ``a``: the sd of its min-max rescaled values
    (``sd / range``), times ``sum_k (1 - r_ak)`` with ``r = R[g]`` clipped to [-1, 1] for CRITIC
    (below WEIGHT_NOISE it is 0)."""
    v = sd / rng if rng > 0.0 else 0.0
    if code == CRITIC:
        conflict = 0.0
        for b in range(nm):
            conflict += 1.0 - min(max(R[g, a, b], -1.0), 1.0)
        v = v * conflict
        v = v if v > WEIGHT_NOISE else 0.0
    return v


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


# reassociation lets LLVM vectorise the count-weighted sums of the dense path (NaN-free data only)
DENSE_FLAGS = {"reassoc", "nsz", "contract"}


@nb.njit(cache=True, fastmath=DENSE_FLAGS)
def _weighted_sums(cw, src, c, n):
    """``(sum_i cw_i x_i, sum_i cw_i x_i**2)`` with ``x = src[c]`` (vectorised)."""
    s1 = 0.0
    s2 = 0.0
    for i in range(n):
        x = src[c, i]
        s1 += cw[i] * x
        s2 += cw[i] * x * x
    return s1, s2


@nb.njit(cache=True, fastmath=DENSE_FLAGS)
def _weighted_cross(cw, src, a, b, n):
    """``sum_i cw_i src[a, i] src[b, i]`` (vectorised)."""
    s = 0.0
    for i in range(n):
        s += cw[i] * src[a, i] * src[b, i]
    return s


@nb.njit(cache=True, inline="always")
def _dense_level(h, lvl, m, src, cw, n_boot, ddof, use_xlnx, code, st, Rg, w, mom, use_mom):
    """Statistics of every member of every group at member level ``lvl`` on the bootstrap sample.

    ``h`` is :func:`hierarchy` of the plan: numba copies (and reference-counts) every array of a
    tuple passed to a function, and the whole plan's would cost more than this work.

    For NaN-free data; ``src`` holds the members' values by node (matrix ``m`` for indicators, the
    group scores otherwise) and ``cw[i]`` is unit i's multiplicity. Per member node c: ``st[0, c]``
    mean, ``st[1, c]``/``st[2, c]`` min/max over the drawn units, ``st[3, c]`` sd with
    ``(sum c x**2 - N mean**2) / (N - ddof)``, ``st[4, c]`` the entropy divergence (entropy only);
    per group g the Pearson correlations of its members in ``Rg[g]`` (CRITIC, PCA). Entropy, std and
    CRITIC weights of the groups with several members go straight into ``w`` (PCA is left to the
    caller). With ``use_mom`` (indicator level) the count-weighted sums are read from ``mom``, this
    replication's row of ``c @ mom_ent[m]`` or ``c @ mom_cov[m]`` (see ``plan._moment_matrices``),
    computed for the whole block by one matrix product. Inlined, index-based and calling only the
    vectorised sums above (which do not take the plan): numba then keeps no reference counting of
    the plan's arrays per replication, which would cost more than the indicator level's work.
    """
    k, n, level_ptr, child_ptr, child_idx, pair_ptr, x_order = h
    inv_log_n = 1.0 / math.log(n_boot)
    for c in range(level_ptr[lvl - 1], level_ptr[lvl]):
        s1 = 0.0
        s2 = 0.0
        t = 0.0
        # entropy on a non-negative matrix: sum c x ln x from the plan's x ln x (indicator level)
        xlnx = code == ENTROPY and use_xlnx and use_mom
        if use_mom:  # sum c x, then sum c x ln x (entropy layout) or sum c x**2
            s1 = mom[c]
            if xlnx:
                t = mom[k + c]
            else:
                s2 = mom[k + c]
        else:  # sum c x and sum c x**2 (the sd of std, CRITIC and PCA)
            s1, s2 = _weighted_sums(cw, src, c, n)
        if lvl == 1:  # units sorted by value (plan): first and last drawn, a couple of steps
            a = 0  # (indexing x_order in full: a view per member would cost a reference count)
            while cw[x_order[m, c, a]] == 0.0:
                a += 1
            b = n - 1
            while cw[x_order[m, c, b]] == 0.0:
                b -= 1
            lo, hi = src[c, x_order[m, c, a]], src[c, x_order[m, c, b]]
        else:
            lo = np.inf
            hi = -np.inf
            for i in range(n):
                if cw[i] > 0.0:
                    lo = min(lo, src[c, i])
                    hi = max(hi, src[c, i])
        mean = s1 / n_boot
        var = (s2 - n_boot * mean * mean) / (n_boot - ddof) if n_boot - ddof > 0 else 0.0
        st[0, c], st[1, c], st[2, c] = mean, lo, hi
        st[3, c] = math.sqrt(var) if var > 0.0 and hi > lo else 0.0
        if code == ENTROPY:
            shift = -lo if lo < 0.0 else 0.0  # 0 whenever xlnx (the matrix is non-negative)
            total = n_boot * (mean + shift)
            if not xlnx:
                for i in range(n):
                    if cw[i] > 0.0:
                        y = src[c, i] + shift
                        if y > 0.0:
                            t += cw[i] * y * math.log(y)
            st[4, c] = _entropy_divergence(t, total, inv_log_n)
    for g in range(level_ptr[lvl], level_ptr[lvl + 1]):
        c0, c1 = child_ptr[g - k], child_ptr[g - k + 1]
        if c1 - c0 < 2:
            continue
        if code != ENTROPY and code != STD:
            _group_correlations(h, g, c0, c1, src, cw, n_boot, ddof, st, Rg, mom, use_mom)
        if code == PCA or code == PCA1:
            continue
        total = 0.0
        for a in range(c1 - c0):
            c = child_idx[c0 + a]
            if code == ENTROPY:
                v = st[4, c]
            else:
                v = _contrast_weight(code, a, c1 - c0, st[3, c], st[2, c] - st[1, c], Rg, g)
            w[c] = v
            total += v
        for a in range(c1 - c0):
            c = child_idx[c0 + a]
            w[c] = w[c] / total if total > 0.0 else 1.0 / (c1 - c0)


@nb.njit(inline="always")
def _group_correlations(h, g, c0, c1, src, cw, n_boot, ddof, st, Rg, mom, use_mom):
    """Pearson correlations of the members ``child_idx[c0:c1]`` of group ``g`` on the sample, into
    ``Rg[g]`` (with ``use_mom``, ``sum c x_a x_b`` is read from ``mom``)."""
    k, n, _, _, child_idx, pair_ptr, _ = h
    nm = c1 - c0
    for a in range(c1 - c0):
        ca = child_idx[c0 + a]
        Rg[g, a, a] = 1.0 if st[3, ca] > 0.0 else 0.0
        for b in range(a + 1, c1 - c0):
            cb = child_idx[c0 + b]
            r = 0.0
            if st[3, ca] > 0.0 and st[3, cb] > 0.0:
                if use_mom:
                    sab = mom[2 * k + pair_ptr[g - k] + a * nm - a * (a + 1) // 2 + b - a - 1]
                else:
                    sab = _weighted_cross(cw, src, ca, cb, n)
                cov = (sab - n_boot * st[0, ca] * st[0, cb]) / (n_boot - ddof)
                r = cov / (st[3, ca] * st[3, cb])
            Rg[g, a, b] = r
            Rg[g, b, a] = r


@nb.njit(inline="always")
def hierarchy(p):
    """The plan's fields read by :func:`_dense_level`."""
    return p.n_indicators, p.n_units, p.level_ptr, p.child_ptr, p.child_idx, p.pair_ptr, p.x_order


@nb.njit(cache=True)
def dense_indicator_weights(p, choice, mat, C, mom, W, st, Rg, nq):
    """Entropy, std and CRITIC weights inside the indicator groups of the rows ``q < nq`` that
    re-estimate them on a NaN-free matrix, from their moments ``mom[q]``, into ``W[q]``.

    One call per block; ``use_mom`` is a literal, so the looping branches of :func:`_dense_level`
    are compiled out.
    """
    n = p.n_units
    h = hierarchy(p)
    for q in range(nq):
        code = p.scheme_code[choice[q, 3]]
        m = mat[q]
        if first_level_in_block(p, code, m):
            _dense_level(h, 1, m, p.X[m], C[q], n, p.ddof, p.xlnx_ok[m], code, st, Rg, W[q], mom[q], True)


@nb.njit(inline="always")
def has_moments(p):
    """Whether the plan holds the indicator moment matrices (``plan._moment_matrices``): it does when
    bootstrap re-estimation reaches the indicator level."""
    return p.mom_cov.shape[1] == p.n_units


@nb.njit(inline="always")
def first_level_in_block(p, code, m):
    """Whether :func:`dense_indicator_weights` computes this row's indicator-level weights."""
    return (p.scheme_level[0] and not p.has_nan[m] and has_moments(p)
            and (code == ENTROPY or code == STD or code == CRITIC))


@nb.njit(inline="always")
def bootstrap_weights(p, pat, w, X, m, vals, scratch, counts, sample, n_s, n_boot, scheme, bw, cen, pw, st, Rg,
                      mom, use_mom, first_done):
    """Re-estimate the weights on the bootstrap sample (levels below the top only as needed).

    ``counts[i]`` (float) is unit i's multiplicity in the sample; ``sample[:n_s]`` lists the distinct
    units drawn (needed by the sparse path only). ``st`` (5 x n_nodes) and ``Rg`` (n_nodes x M x M)
    are scratch of the dense (NaN-free) path; with ``use_mom`` its indicator-level sums are read from
    ``mom`` (see :func:`_dense_level`). ``first_done``: the indicator level's weights are already in
    ``w`` (:func:`dense_indicator_weights`).
    """
    k = p.n_indicators
    top_needed = 0
    for lvl in range(p.n_levels - 1):
        if p.scheme_level[lvl]:
            top_needed = lvl
    dense = not p.has_nan[m]
    code = p.scheme_code[scheme]
    prm = p.scheme_params[scheme]
    for lvl in range(1, p.n_levels):
        a = p.pattern_aggs[pat, lvl - 1]
        if p.scheme_level[lvl - 1] and dense and not (lvl == 1 and first_done):
            _dense_level(hierarchy(p), lvl, m, X[m] if lvl == 1 else vals, counts, n_boot, p.ddof, p.xlnx_ok[m],
                         code, st, Rg, w, mom, use_mom and lvl == 1)
        for g in range(p.level_ptr[lvl], p.level_ptr[lvl + 1]):
            if p.scheme_level[lvl - 1]:
                c0, c1 = p.child_ptr[g - k], p.child_ptr[g - k + 1]
                if c1 - c0 > 1 and (not dense or code == PCA or code == PCA1):
                    wtmp = bw[4]
                    if dense:
                        _pca_weights(code, Rg[g], c1 - c0, prm, wtmp, pw)
                    else:
                        _boot_group_weights(code, p.child_idx[c0:c1], c1 - c0, counts, sample,
                                            n_s, n_boot, X, m, vals, k, p.xlnx, p.xlnx_ok[m], p.ddof, wtmp, bw, cen,
                                            prm, pw)
                    for ci in range(c0, c1):
                        w[p.child_idx[ci]] = wtmp[ci - c0]
            if lvl <= top_needed:
                aggregate_group(tree_arrays(p), g, a, w, m, vals, scratch, counts, True)
