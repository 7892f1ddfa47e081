"""numba kernels of the Monte Carlo engine. Imports numpy and numba only; takes plain arrays.

One replication ``r`` (see :func:`simulate_one`):

1. draw the choices (imputation, normalizer, aggregator per level, scheme, dropped indicator) from
   counter-based uniforms ``u(seed, r, i)``;
2. take the scheme's within-group weights for that choice (precomputed by the plan with the
   nominal Python code, or re-estimated here on a bootstrap resample of units), perturb them
   (uniform ``w * U(1-spread, 1+spread)`` or Dirichlet), zero the dropped indicator and
   renormalise inside every group, bottom-up (a group left empty gets weight 0);
3. score every unit: when one aggregator with power ``p`` is used at every level and the data are
   complete, the index collapses to ``(sum_j e_j x_j**p)**(1/p)`` (``exp(sum_j e_j ln x_j)`` for
   p = 0) with effective weights ``e_j``; otherwise groups are aggregated level by level, skipping
   missing members and renormalising their weights, with the same shift rule as
   :mod:`weightlab.aggregation`;
4. rank (1 = best, ties share the lowest rank) and add to integer accumulators.

Random numbers: ``u(seed, r, i)`` is a splitmix64 hash of (seed, replication, draw index), so a
replication's numbers do not depend on the thread or chunk that runs it, and integer accumulators
merge exactly: results are bit-identical for any thread count and chunk size.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .ranking import make_rank_workspace, rank_min_into

# draw-index layout of one replication's random stream
STREAM_IMPUTATION = 0
STREAM_NORMALIZER = 1
STREAM_SCHEME = 2
STREAM_DROP = 3
STREAM_AGGREGATOR = 8  # + aggregation level index
STREAM_NOISE = 64  # + node
STREAM_DIRICHLET = 1 << 20  # + node << 12 + draw
STREAM_BOOTSTRAP = 1 << 32  # + unit draw

# bootstrap re-estimation codes (plan.scheme_code)
FIXED, ENTROPY, CRITIC, STD = 0, 1, 2, 3

N_FACTORS = 5  # imputation, normalizer, aggregator pattern, scheme, drop
GOLD = np.uint64(0x9E3779B97F4A7C15)
GOLD2 = np.uint64(0xD1B54A32D192ED03)


@nb.njit(inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True)
def replication_key(seed, r):
    """Key of replication ``r``: splitmix64(seed ^ splitmix64((r + 1) * GOLD))."""
    return _mix(np.uint64(seed) ^ _mix((np.uint64(r) + np.uint64(1)) * GOLD))


@nb.njit(inline="always")
def _uniform(key, i):
    """Uniform in [0, 1): top 53 bits of splitmix64(key + (i + 1) * GOLD2)."""
    z = _mix(key + (np.uint64(i) + np.uint64(1)) * GOLD2)
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True)
def uniform(seed, r, i):
    """The engine's uniform number ``i`` of replication ``r`` (for tests and debugging)."""
    return _uniform(replication_key(seed, r), i)


@nb.njit(inline="always")
def _pick(u, cdf):
    """Index of the first cdf entry > u (cdf ends with 1.0)."""
    for j in range(cdf.shape[0] - 1):
        if u < cdf[j]:
            return j
    return cdf.shape[0] - 1


@nb.njit(cache=True)
def _normal(key, base, counter):
    """Standard normal by Box-Muller from two uniforms of the stream (uses 2 draws)."""
    u1 = _uniform(key, base + counter)
    u2 = _uniform(key, base + counter + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@nb.njit(cache=True)
def _gamma(key, base, alpha):
    """Gamma(alpha, 1) by Marsaglia and Tsang (2000); alpha < 1 boosted by U**(1/alpha)."""
    boost = 1.0
    counter = 0
    if alpha < 1.0:
        boost = (1.0 - _uniform(key, base)) ** (1.0 / alpha)
        counter = 1
        alpha += 1.0
    d = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = _normal(key, base, counter)
        counter += 2
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(key, base + counter)
        counter += 1
        if math.log(u + 1e-300) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost


# ----------------------------------------------------------------------------- weights
@nb.njit(cache=True)
def _renormalise(w, p, sums):
    """Make members of every group sum to 1, bottom-up; an empty (all-zero) group gets weight 0."""
    sums[:] = 0.0
    for lvl in range(p.n_levels - 1):
        a, b = p.level_ptr[lvl], p.level_ptr[lvl + 1]
        for i in range(a, b):
            sums[p.node_parent[i]] += w[i]
        for i in range(a, b):
            s = sums[p.node_parent[i]]
            w[i] = w[i] / s if s > 0.0 else 0.0
        for i in range(a, b):
            parent = p.node_parent[i]
            if sums[parent] <= 0.0 and parent != p.n_nodes - 1:
                w[parent] = 0.0


@nb.njit(cache=True)
def _perturb(w, key, p):
    if p.perturb == 1:
        for i in range(p.n_nodes - 1):
            if p.perturb_level[p.node_level[i]]:
                w[i] *= 1.0 - p.spread + 2.0 * p.spread * _uniform(key, STREAM_NOISE + i)
    elif p.perturb == 2:
        for i in range(p.n_nodes - 1):
            if p.perturb_level[p.node_level[i]] and w[i] > 0.0:
                w[i] = _gamma(key, STREAM_DIRICHLET + (i << 12), p.concentration * w[i])


@nb.njit(cache=True)
def _effective(w, eff, p):
    """Effective weight of every node: product of within-group weights up to the root."""
    root = p.n_nodes - 1
    eff[root] = 1.0
    for i in range(root - 1, -1, -1):
        eff[i] = w[i] * eff[p.node_parent[i]]


# ----------------------------------------------------------------------------- bootstrap weights
@nb.njit(cache=True)
def _column(vals, X, m, node, k):
    return X[m, node] if node < k else vals[node]


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
        col = _column(vals, X, m, members[a], k)
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
            col = _column(vals, X, m, members[a], k)
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
            col = _column(vals, X, m, members[a], k)
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
        col = _column(vals, X, m, members[a], k)
        s1, s2 = _dense_moments(col, cw)
        lo[a], hi[a] = _drawn_range(col, cw, x_order[m, members[a]] if members[a] < k else x_order[0, 0, :0])
        mean[a] = s1 / n_boot
        var = (s2 - n_boot * mean[a] * mean[a]) / (n_boot - ddof) if n_boot - ddof > 0 else 0.0
        sd[a] = math.sqrt(var) if var > 0.0 and hi[a] > lo[a] else 0.0
    if code == ENTROPY:
        inv_log_n = 1.0 / math.log(n_boot)
        for a in range(nm):
            col = _column(vals, X, m, members[a], k)
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
                col_a = _column(vals, X, m, members[a], k)
                for b in range(nm):
                    r = 0.0
                    if a == b:
                        r = 1.0 if sd[a] > 0.0 else 0.0
                    elif sd[a] > 0.0 and sd[b] > 0.0:
                        sab = _dense_dot(col_a, _column(vals, X, m, members[b], k), cw)
                        cov = (sab - n_boot * mean[a] * mean[b]) / (n_boot - ddof)
                        r = cov / (sd[a] * sd[b])
                    conflict += 1.0 - r
                out[a] = sdr * conflict
    _normalise_or_equal(out, nm)


# ----------------------------------------------------------------------------- scores
@nb.njit(inline="always")
def _g(x, power):
    if power == 1.0:
        return x
    if power == 0.0:
        return math.log(x)
    return x ** power


LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238  # ln 2 split in two parts (Cody and Waite) for an exact reduction
LN2_LO = 1.9082149292705877e-10
POW2 = np.ldexp(1.0, np.arange(-1022, 1024)).astype(np.float64)  # 2**k for k = -1022 .. 1023


@nb.njit(inline="always")
def _exp(x, pow2):
    """exp(x) for x in [-700, 700] without a libm call, so loops over units vectorise.

    ``x = k ln2 + r`` with ``|r| <= ln2 / 2``; ``exp(r)`` by its Taylor series to degree 13
    (truncation < 1e-17 relative), times ``2**k`` from a table. Agrees with ``math.exp`` to a few ulp.
    """
    x = min(max(x, -700.0), 700.0)
    kf = math.floor(x * LOG2E + 0.5)
    r = (x - kf * LN2_HI) - kf * LN2_LO
    q = 1.0 / 6227020800.0
    q = q * r + 1.0 / 479001600.0
    q = q * r + 1.0 / 39916800.0
    q = q * r + 1.0 / 3628800.0
    q = q * r + 1.0 / 362880.0
    q = q * r + 1.0 / 40320.0
    q = q * r + 1.0 / 5040.0
    q = q * r + 1.0 / 720.0
    q = q * r + 1.0 / 120.0
    q = q * r + 1.0 / 24.0
    q = q * r + 1.0 / 6.0
    q = q * r + 0.5
    q = q * r + 1.0
    q = q * r + 1.0
    return q * pow2[int(kf) + 1022]


@nb.njit(inline="always")
def _ginv(t, power):
    if power == 1.0:
        return t
    if power == 0.0:
        return math.exp(t)
    return t ** (1.0 / power)


@nb.njit(cache=True)
def _aggregate_group(p, g, a, w, X, m, vals, offsets, counts, sample_only):
    """Power-mean of group ``g``'s members into ``vals[g]`` (skip missing, renormalise).

    The shift rule looks at the column minimum over all units, or over the bootstrap sample
    (``counts > 0``) when ``sample_only`` (as the nominal code does when it fits weights on it).
    """
    k = p.n_indicators
    power = p.agg_power[a]
    need = p.agg_need[a]
    shift = p.agg_shift[a]
    c0, c1 = p.child_ptr[g - k], p.child_ptr[g - k + 1]
    n = p.n_units
    for ci in range(c0, c1):
        c = p.child_idx[ci]
        offsets[ci - c0] = 0.0
        if need > 0 and shift > 0.0 and w[c] > 0.0:
            col = _column(vals, X, m, c, k)
            lo = np.inf
            for i in range(n):
                if col[i] < lo and (not sample_only or counts[i] > 0):
                    lo = col[i]
            if (need == 2 and lo <= 0.0) or (need == 1 and lo < 0.0):
                offsets[ci - c0] = shift - lo
    out = vals[g]
    for i in range(n):
        num = 0.0
        den = 0.0
        for ci in range(c0, c1):
            c = p.child_idx[ci]
            wc = w[c]
            if wc > 0.0:
                x = X[m, c, i] if c < k else vals[c, i]
                if x == x:
                    num += wc * _g(x + offsets[ci - c0], power)
                    den += wc
        out[i] = _ginv(num / den, power) if den > 0.0 else np.nan


@nb.njit(cache=True)
def _scores_tree(p, pat, w, m, vals, offsets, counts):
    """Level-by-level scores of every node into ``vals`` (the index in ``vals[root]``)."""
    for lvl in range(1, p.n_levels):  # aggregation level lvl + 1
        a = p.pattern_aggs[pat, lvl - 1]
        for g in range(p.level_ptr[lvl], p.level_ptr[lvl + 1]):
            _aggregate_group(p, g, a, w, p.X, m, vals, offsets, counts, False)


@nb.njit(cache=True)
def _boot_weights_only(p, pat, w, X, m, vals, offsets, counts, sample, n_s, n_boot, scheme, bw, cen):
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
                _aggregate_group(p, g, a, w, X, m, vals, offsets, counts, True)


@nb.njit(cache=True)
def simulate_one(r, p, w, eff, vals, offsets, counts, scores, choice, sample, bw, cen):
    """Replication ``r``: fills ``w`` (member weights), ``eff``, ``scores`` and ``choice``.

    ``counts``, ``sample`` (n), ``bw`` (5 x max_members) and ``cen`` (max_members x n) are bootstrap
    scratch (see :func:`make_workspace`).
    """
    key = replication_key(p.seed, r)
    n, k = p.n_units, p.n_indicators
    imp = _pick(_uniform(key, STREAM_IMPUTATION), p.imputation_cdf)
    nrm = _pick(_uniform(key, STREAM_NORMALIZER), p.normalizer_cdf)
    m = imp * p.normalizer_cdf.shape[0] + nrm
    pat = 0
    mult = 1
    n_agg = p.agg_cdf.shape[0]
    for lvl in range(p.n_agg_draws):
        pat += mult * _pick(_uniform(key, STREAM_AGGREGATOR + lvl), p.agg_cdf)
        mult *= n_agg
    scheme = _pick(_uniform(key, STREAM_SCHEME), p.scheme_cdf)
    drop = _pick(_uniform(key, STREAM_DROP), p.drop_cdf) - 1  # -1: keep all
    choice[0], choice[1], choice[2], choice[3], choice[4] = imp, nrm, pat, scheme, drop + 1
    for i in range(p.n_nodes):
        w[i] = p.base_w[scheme, m, pat, i]
    boot = p.bootstrap and p.scheme_code[scheme] != FIXED
    n_boot = 0
    if boot:
        counts[:] = 0
        for j in range(n):
            counts[min(int(_uniform(key, STREAM_BOOTSTRAP + j) * n), n - 1)] += 1
        n_s = 0
        for i in range(n):
            if counts[i] > 0:
                sample[n_s] = i
                n_s += 1
        n_boot = n
        _boot_weights_only(p, pat, w, p.X, m, vals, offsets, counts, sample, n_s, n_boot, scheme, bw, cen)
    _perturb(w, key, p)
    if drop >= 0:
        w[drop] = 0.0
    _renormalise(w, p, eff)  # eff is free scratch until _effective fills it
    _effective(w, eff, p)
    if p.pattern_same[pat] and not p.has_nan[m]:
        a = p.pattern_aggs[pat, 0]
        power = p.agg_power[a]
        T = p.T[m, a]
        for i in range(n):
            scores[i] = 0.0
        for j in range(k):
            e = eff[j]
            if e != 0.0:
                row = T[j]
                for i in range(n):
                    scores[i] += e * row[i]
        if power == 0.0:
            pow2 = POW2
            for i in range(n):
                scores[i] = _exp(scores[i], pow2)
        elif power != 1.0:
            for i in range(n):
                scores[i] = _ginv(scores[i], power)
    else:
        _scores_tree(p, pat, w, m, vals, offsets, counts)
        root = vals[p.n_nodes - 1]
        for i in range(n):
            scores[i] = root[i]


@nb.njit(cache=True)
def make_workspace(p):
    """Per-thread scratch of :func:`simulate_one`: w, eff, vals, offsets, counts, scores, choice,
    sample, bw, cen."""
    n = p.n_units
    return (np.empty(p.n_nodes), np.empty(p.n_nodes), np.empty((p.n_nodes, n)), np.empty(p.max_members),
            np.zeros(n, dtype=np.int64), np.empty(n), np.empty(N_FACTORS, dtype=np.int64),
            np.empty(n, dtype=np.int64), np.empty((5, p.max_members)), np.empty((p.max_members, n)))


# ----------------------------------------------------------------------------- the chunk kernel
@nb.njit(parallel=True, cache=True)
def run_chunk(p, r0, r1, n_slots, rank_hist, score_hist, score_q, score_q2, nan_count, choice_count):
    """Replications ``r0 .. r1-1`` split into ``n_slots`` contiguous slices, one per thread slot.

    Slot ``t`` adds into ``rank_hist[t]`` (units x ranks), ``score_hist[t]`` (units x bins),
    ``score_q[t]``/``score_q2[t]`` (sums of quantised scores and their squares), ``nan_count[t]`` and
    ``choice_count[t]`` (factor x option). All integer: merging slots is exact in any order.
    """
    n, k = p.n_units, p.n_indicators
    total = r1 - r0
    for t in nb.prange(n_slots):
        a = r0 + (total * t) // n_slots
        b = r0 + (total * (t + 1)) // n_slots
        w, eff, vals, offsets, counts, scores, choice, sample, bw, cen = make_workspace(p)
        ranks = np.empty(n, dtype=np.int32)
        ws = make_rank_workspace(n)
        lo = p.score_lo
        qscale = p.q_max / (p.score_hi - p.score_lo)
        bscale = score_hist.shape[2] / (p.score_hi - p.score_lo)
        nb_max = score_hist.shape[2] - 1
        for r in range(a, b):
            simulate_one(r, p, w, eff, vals, offsets, counts, scores, choice, sample, bw, cen)
            rank_min_into(scores, ranks, ws)
            for i in range(n):
                rank_hist[t, i, ranks[i] - 1] += 1
                s = scores[i]
                if s == s:
                    z = (s - lo)
                    q = int(z * qscale + 0.5)
                    q = min(max(q, 0), p.q_max)
                    score_q[t, i] += q
                    score_q2[t, i] += q * q
                    bi = min(max(int(z * bscale), 0), nb_max)
                    score_hist[t, i, bi] += 1
                else:
                    nan_count[t, i] += 1
            for f in range(N_FACTORS):
                choice_count[t, f, choice[f]] += 1
