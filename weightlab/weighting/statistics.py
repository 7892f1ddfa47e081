"""Count-weighted sufficient statistics: the contract between data-driven schemes and the engine.

A data-driven scheme (entropy, CRITIC, std, PCA, MEREC, Gini, ...) declares which statistics of a
group's members it reads (``statistics``, names from :data:`STATISTICS`) and supplies ONE compiled
(numba) function from those statistics to the group's weights (``weights_function``). Its nominal
``group_weights`` is that function applied to the statistics of the full sample (every unit counted
once, :func:`group_statistics`); the Monte Carlo engine's bootstrap only fills the same statistics
on a resample of units, each unit counted as often as it was drawn, and calls the same function
(:mod:`weightlab.robustness.boot_weights`). No scheme is written twice.

Statistics of a sample of units i with multiplicities ``c_i`` (``N = sum_i c_i``) and a member
column x (missing cells replaced by the sample's count-weighted mean of the column, as the nominal
fit does):

=========== ===================================================================================
``count``   ``N`` (a scalar: every member of a group is observed on the same units)
``mean``    ``sum c x / N``
``m2``      ``sum c (x - mean)**2`` (exactly 0 when ``min == max``)
``min``     smallest x drawn; ``max`` the largest
``ylny``    ``sum c y ln y`` with ``y = x - min(min, 0)`` (the column translated to be non-negative,
            ``0 ln 0 = 0``): the entropy sum
``absdiff`` ``sum_i sum_l c_i c_l |x_i - x_l|`` (Gini's mean difference times ``N**2``)
``cov``     per group, the centred cross-products ``sum c (x_a - mean_a)(x_b - mean_b)`` of its
            members a, b (the correlation matrix is ``cov_ab / sqrt(m2_a m2_b)``: PCA and CRITIC
            read it, so PCA fits the contract like any other scheme)
``sample``  the members' values on the distinct units drawn and the units' counts, for schemes
            whose formula is a sum over units of a non-linear function of several members (MEREC);
            the catch-all statistic, and the slowest (O(units x members) per group)
=========== ===================================================================================

``count``, ``mean``, ``min`` and ``max`` are always filled (the others need them).

The compiled function has the signature ::

    weights(n, st, cov, xs, cs, ns, members, prm, out, work)

``n`` = N; ``st[STAT, node]`` the member statistics (rows :data:`MEAN`, :data:`M2`, ...) of the
members' node ids ``members`` (int64); ``cov`` (>= nm x >= nm) the group's cross-products in member
order; ``xs[node, t]`` / ``cs[t]`` (``t < ns``) the sample; ``prm`` the scheme's parameter array
(:meth:`~weightlab.weighting.base.StatisticsScheme.parameters`); ``out[:nm]`` receives the weights
(>= 0, summing to 1); ``work`` is scratch of shape (>= 5, >= nm, >= nm). It must call only numba code
and allocate nothing.

Imports numpy and numba only (the engine's kernels import it).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .._numba_inlining import install as install_fast_inlining

install_fast_inlining()  # before the kernels below compile: weightlab._numba_inlining

# rows of the member statistics array st
MEAN, M2, MIN, MAX, YLNY, ABSDIFF = 0, 1, 2, 3, 4, 5
N_STATS = 6
# bits of a scheme's needs (count, mean, min and max are always filled)
NEED_M2, NEED_YLNY, NEED_ABSDIFF, NEED_COV, NEED_SAMPLE = 1, 2, 4, 8, 16
STATISTICS = {"count": 0, "mean": 0, "min": 0, "max": 0, "m2": NEED_M2, "ylny": NEED_YLNY,
              "absdiff": NEED_ABSDIFF, "cov": NEED_COV | NEED_M2, "sample": NEED_SAMPLE}
# entropy divergences 1 - e of a uniform column, and CRITIC C_j of perfectly correlated members, come out
# as +-1e-16 or so: anything below this is rounding noise and counts as 0
WEIGHT_NOISE = 1e-12


def needs_mask(names: "tuple[str, ...]", owner: str) -> int:
    """Bit mask of the statistics ``names`` (see :data:`STATISTICS`); unknown names are a bug of the scheme."""
    mask = 0
    for name in names:
        if name not in STATISTICS:
            raise ValueError(f"{owner} declares unknown statistic {name!r}; known: {', '.join(STATISTICS)}")
        mask |= STATISTICS[name]
    return mask


@nb.njit(cache=True)
def normalise_or_equal(out, nm):
    """``out[:nm] / sum(out[:nm])``, or equal weights when everything is 0 (no information to weigh by)."""
    total = 0.0
    for a in range(nm):
        total += out[a]
    for a in range(nm):
        out[a] = out[a] / total if total > 0.0 else 1.0 / nm


@nb.njit(cache=True)
def absdiff_sorted(vals, cnt, order, ns, n, lo):
    """``sum_i sum_l c_i c_l |x_i - x_l|`` from the values in increasing order ``vals[order[t]]``::

        2 sum_t c_t (x_t - lo) (2 C_t + c_t - N)      C_t = counts of the values before t

    (ties contribute 0 in any order; taking the values from the minimum ``lo`` makes a constant
    column exactly 0 and keeps the terms small)."""
    before = 0.0
    total = 0.0
    for t in range(ns):
        i = order[t]
        c = cnt[i]
        total += c * (vals[i] - lo) * (2.0 * before + c - n)
        before += c
    return max(2.0 * total, 0.0)


@nb.njit(cache=True, inline="always")
def fill_member(x, sample, ns, counts, n, needs, st, c, xs, buf):
    """Statistics of one member column ``x`` (all units; NaN = missing) on the sample into ``st[:, c]``.

    ``sample[:ns]`` are the distinct units drawn, ``counts[i]`` unit i's multiplicity, ``n`` their
    sum. Missing cells count as the sample's mean of the column. ``xs[c, :ns]`` receives the
    (filled) values with ``NEED_SAMPLE``; ``buf`` (2 x >= ns) is scratch of ``absdiff``.
    """
    s = 0.0
    cnt = 0.0
    lo = np.inf
    hi = -np.inf
    for t in range(ns):
        v = x[sample[t]]
        if v == v:
            w = counts[sample[t]]
            s += w * v
            cnt += w
            lo = min(lo, v)
            hi = max(hi, v)
    mean = s / cnt if cnt > 0.0 else 0.0
    if cnt < n:  # missing cells are filled with the mean
        lo = min(lo, mean)
        hi = max(hi, mean)
    st[MEAN, c], st[MIN, c], st[MAX, c] = mean, lo, hi
    if needs & NEED_M2:
        ss = 0.0
        for t in range(ns):
            v = x[sample[t]]
            d = v - mean if v == v else 0.0
            ss += counts[sample[t]] * d * d
        st[M2, c] = ss if hi > lo else 0.0
    if needs & NEED_YLNY:
        shift = -lo if lo < 0.0 else 0.0
        t_ = 0.0
        for t in range(ns):
            v = x[sample[t]]
            y = (v if v == v else mean) + shift
            if y > 0.0:
                t_ += counts[sample[t]] * y * math.log(y)
        st[YLNY, c] = t_
    if needs & (NEED_SAMPLE | NEED_ABSDIFF):
        vals, cw = buf[0], buf[1]
        for t in range(ns):
            v = x[sample[t]]
            vals[t] = v if v == v else mean
            cw[t] = counts[sample[t]]
        if needs & NEED_SAMPLE:
            for t in range(ns):
                xs[c, t] = vals[t]
        if needs & NEED_ABSDIFF:
            st[ABSDIFF, c] = absdiff_sorted(vals, cw, np.argsort(vals[:ns]), ns, n, lo)


@nb.njit(cache=True, inline="always")
def fill_cov(src, members, sample, ns, counts, st, cov):
    """Centred cross-products of the columns ``src[members]`` on the sample into ``cov`` (member order);
    needs ``st[MEAN]`` and ``st[M2]`` of the members (:func:`fill_member`). Missing cells count as
    the mean (they add 0)."""
    nm = members.shape[0]
    for a in range(nm):
        ca = members[a]
        cov[a, a] = st[M2, ca]
        for b in range(a + 1, nm):
            cb = members[b]
            s = 0.0
            if st[M2, ca] > 0.0 and st[M2, cb] > 0.0:
                xa, xb = src[ca], src[cb]
                ma, mb = st[MEAN, ca], st[MEAN, cb]
                for t in range(ns):
                    i = sample[t]
                    va, vb = xa[i], xb[i]
                    if va == va and vb == vb:
                        s += counts[i] * (va - ma) * (vb - mb)
            cov[a, b] = s
            cov[b, a] = s


@nb.njit(cache=True)
def group_statistics(Xt, needs, st, cov, xs, buf):
    """Statistics of the full sample (every unit once) of the members ``Xt`` (members x units), as the
    nominal ``group_weights`` feeds them to a scheme's compiled function."""
    m, n = Xt.shape
    sample = np.arange(n)
    counts = np.ones(n)
    members = np.arange(m)
    for a in range(m):
        fill_member(Xt[a], sample, n, counts, float(n), needs, st, a, xs, buf)
    if needs & NEED_COV:
        fill_cov(Xt, members, sample, n, counts, st, cov)
    return members, counts


@nb.njit(inline="always")
def correlation_into(st, cov, members, R):
    """Pearson correlations of the members from their cross-products into ``R[:nm, :nm]``: 1 on the
    diagonal, a constant member's row and column 0 (its ``m2`` is 0)."""
    nm = members.shape[0]
    for a in range(nm):
        va = st[M2, members[a]]
        for b in range(nm):
            vb = st[M2, members[b]]
            if va > 0.0 and vb > 0.0:
                # sqrt of each: va * vb underflows to 0 for members of about 1e-130 (and overflows)
                R[a, b] = 1.0 if a == b else cov[a, b] / (math.sqrt(va) * math.sqrt(vb))
            else:
                R[a, b] = 0.0
