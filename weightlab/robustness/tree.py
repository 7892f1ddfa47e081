"""Weights and scores over the hierarchy, inside numba (numpy and numba only).

Nodes are numbered indicators first, then the groups level by level, the root last (see
:mod:`weightlab.robustness.plan`); ``w`` holds each node's weight inside its parent group.

- :func:`renormalise`: members of every group sum to 1, bottom-up; a group left with no weight
  (every member dropped) gets weight 0 in its own parent.
- :func:`effective_weights`: product of the within-group weights from a node up to the root.
- :func:`aggregate_group` / :func:`scores_tree`: the weighted power mean of every group's members,
  level by level, skipping missing members and renormalising the weights of the others, with the
  shift rule of :mod:`weightlab.aggregation` (OECD/JRC Handbook 2008, §6.2).
- :func:`exp_into`: ``exp`` of a vector without libm calls, so the loop vectorises.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np


class Replication(NamedTuple):
    """What :func:`aggregate_group` and :func:`scores_tree` read and write for one replication."""

    w: np.ndarray  # (n_nodes,) member weights
    m: int  # the data matrix (plan.data.X[m], plan.data.T[m])
    vals: np.ndarray  # (n_nodes, n) group scores, written group by group
    scratch: np.ndarray  # (4, n) scratch
    counts: np.ndarray  # (n,) bootstrap multiplicities (read only when sample_only)


@nb.njit(cache=True, inline="always")
def renormalise(w, p, sums):
    """Make members of every group sum to 1, bottom-up; an empty (all-zero) group gets weight 0."""
    sums[:] = 0.0
    for lvl in range(p.tree.n_levels - 1):
        a, b = p.tree.level_ptr[lvl], p.tree.level_ptr[lvl + 1]
        for i in range(a, b):
            sums[p.tree.node_parent[i]] += w[i]
        for i in range(a, b):
            s = sums[p.tree.node_parent[i]]
            w[i] = w[i] / s if s > 0.0 else 0.0
        for i in range(a, b):
            parent = p.tree.node_parent[i]
            if sums[parent] <= 0.0 and parent != p.tree.n_nodes - 1:
                w[parent] = 0.0


@nb.njit(cache=True, inline="always")
def effective_weights(w, eff, p):
    """Effective weight of every node: product of within-group weights up to the root."""
    root = p.tree.n_nodes - 1
    eff[root] = 1.0
    for i in range(root - 1, -1, -1):
        eff[i] = w[i] * eff[p.tree.node_parent[i]]


@nb.njit(cache=True, inline="always")
def column(vals, X, m, node, k):
    """Values of ``node`` for every unit: an indicator column of matrix ``m``, or a group score."""
    return X[m, node] if node < k else vals[node]


@nb.njit(inline="always")
def _g(x, power):
    if power == 1.0:
        return x
    if power == 0.0:
        return math.log(x)
    return x ** power


@nb.njit(inline="always")
def ginv(t, power):
    """Inverse of the power transform: ``t**(1/p)``, ``exp(t)`` for p = 0."""
    if power == 1.0:
        return t
    if power == 0.0:
        return math.exp(t)
    return t ** (1.0 / power)


LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238  # ln 2 split in two parts (Cody and Waite) for an exact reduction
LN2_LO = 1.9082149292705877e-10


@nb.njit(cache=True, fastmath={"contract"})
def exp_into(x, out, scratch, n):
    """``out[:n] = exp(x[:n])`` for x in [-700, 700] (clamped), vectorisable; ``out`` may be ``x``.

    ``x = k ln2 + r`` with ``|r| <= ln2 / 2``; ``exp(r)`` by its Taylor series to degree 13
    (truncation < 1e-17 relative) into ``scratch[:n]``; ``2**k`` is built in the exponent bits of
    ``scratch[n:2n]``; the product goes to ``out``. Agrees with ``math.exp`` to a few ulp.

    Compiled on its own (not inlined) so that the multiply-adds contract to FMA instructions
    whoever calls it (twice as fast). Reading ``x`` and writing ``out`` in different loops keeps
    both loops vectorised when ``out`` is ``x``: LLVM's overlap check would otherwise send a
    shared loop to its scalar version.
    """
    poly = scratch[:n]
    bits = scratch[n:2 * n].view(np.int64)
    for i in range(n):
        v = min(max(x[i], -700.0), 700.0)
        kf = math.floor(v * LOG2E + 0.5)
        r = (v - kf * LN2_HI) - kf * LN2_LO
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
        poly[i] = q
        bits[i] = (np.int64(kf) + 1023) << 52
    scale = scratch[n:2 * n]
    for i in range(n):
        out[i] = poly[i] * scale[i]


@nb.njit(inline="always")
def tree_arrays(p):
    """The plan's fields read by :func:`aggregate_group`. Numba copies and reference-counts every
    array of a tuple passed to a function: per group, the whole plan's cost more than the work."""
    t, c = p.tree, p.choices
    return t.n_indicators, t.n_units, c.agg_power, c.agg_need, c.agg_shift, t.child_ptr, t.child_idx, p.data.T, p.data.X


@nb.njit(cache=True, inline="always")
def aggregate_group(t, g, a, rep, sample_only):
    """Power mean of group ``g``'s members into ``vals[g]``, skipping missing members::

        score_i = g^-1( sum_c w_c g(x_ci + shift_c) / sum_c w_c )    over members c with x_ci present

    ``t`` is :func:`tree_arrays` of the plan, ``a`` the aggregator, ``rep`` the replication's
    :class:`Replication`. Loops member by member over all units, so the inner
    loops vectorise. Indicator members read ``g(x + shift)`` precomputed by the plan (``p.data.T``);
    group members are transformed here, with the shift rule looking at the column minimum over all
    units, or over the bootstrap sample (``counts > 0``) when ``sample_only`` (as the nominal code
    does when it fits weights on it). ``scratch`` is (4, n).
    """
    k, n, agg_power, agg_need, agg_shift, child_ptr, child_idx, T, X = t
    w, m, vals, scratch, counts = rep
    power = agg_power[a]
    need = agg_need[a]
    shift = agg_shift[a]
    num, den, tmp = scratch[0], scratch[1], scratch[2]
    for i in range(n):
        num[i] = 0.0
        den[i] = 0.0
    for ci in range(child_ptr[g - k], child_ptr[g - k + 1]):
        c = child_idx[ci]
        wc = w[c]
        if wc <= 0.0:
            continue
        if c < k and not sample_only:
            for i in range(n):
                x = T[m, a, c, i]
                present = x == x
                num[i] += wc * x if present else 0.0
                den[i] += wc if present else 0.0
            continue
        src = column(vals, X, m, c, k)
        off = 0.0
        if need > 0 and shift > 0.0:
            lo = np.inf
            for i in range(n):
                if src[i] < lo and (not sample_only or counts[i] > 0):
                    lo = src[i]
            if (need == 2 and lo <= 0.0) or (need == 1 and lo < 0.0):
                off = shift - lo
        for i in range(n):
            tmp[i] = _g(src[i] + off, power)
        for i in range(n):
            x = tmp[i]
            present = x == x
            num[i] += wc * x if present else 0.0
            den[i] += wc if present else 0.0
    out = vals[g]
    if power == 0.0:  # exp of the weighted mean of logs, vectorised
        for i in range(n):
            num[i] = num[i] / den[i] if den[i] > 0.0 else 0.0
        exp_into(num, out, scratch[2:4].reshape(2 * n), n)
        for i in range(n):
            out[i] = out[i] if den[i] > 0.0 else np.nan
    else:
        for i in range(n):
            out[i] = ginv(num[i] / den[i], power) if den[i] > 0.0 else np.nan


@nb.njit(cache=True)
def scores_tree(p, pat, rep):
    """Level-by-level scores of every node of :class:`Replication` ``rep`` with aggregator pattern
    ``pat`` into ``rep.vals`` (the index in ``vals[root]``)."""
    t = tree_arrays(p)
    for lvl in range(1, p.tree.n_levels):  # aggregation level lvl + 1
        a = p.choices.pattern_aggs[pat, lvl - 1]
        for g in range(p.tree.level_ptr[lvl], p.tree.level_ptr[lvl + 1]):
            aggregate_group(t, g, a, rep, False)
