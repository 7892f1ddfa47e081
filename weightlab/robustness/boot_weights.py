"""Scheme weights re-estimated on a bootstrap resample of units, inside numba.

With ``[bootstrap] units = true`` each replication draws n units with replacement and every
data-driven scheme recomputes its weights on that sample through the contract of
:mod:`weightlab.weighting.statistics`: this module only fills the count-weighted statistics the
scheme declares (a unit drawn c times counts c times; missing cells count as the sample's column
mean, as in the nominal fit) and calls the scheme's own compiled function, the one its nominal
``group_weights`` calls on the full sample. There is no per-scheme code here.

- Dispatch: :data:`SCHEME_FUNCTIONS` holds the compiled function of every registered
  :class:`~weightlab.weighting.base.StatisticsScheme` (registry order), fixed when this module is
  imported; :func:`level_weights` reaches function ``fid`` by ``literal_unroll`` over that tuple, so
  each call is direct and inlinable. The plan gives each scheme option its function's index
  (``scheme_code = 1 + index``; 0 = weights not re-estimated), its parameter array and the bit mask
  of statistics to fill. numba's cache of a kernel does not notice a change in the functions it
  inlined from other files: :func:`_drop_stale_kernels` deletes this package's cached kernels
  when the table or any module it reads has changed.
- Filling: on NaN-free matrices the indicator-level sums ``sum c x``, ``sum c x**2``, ``sum c x ln x``
  and the within-group ``sum c x_a x_b`` come from one matrix product per block
  (``kernels._moment_products``, layouts of ``plan._moment_matrices``), min and max from the plan's
  sorted unit order (:func:`dense_indicator_weights`); elsewhere (missing cells, upper levels) the
  statistics are summed over the distinct units drawn by the same fillers the nominal path uses
  (:func:`weightlab.weighting.statistics.fill_member`, ``fill_cov``).
"""

from __future__ import annotations

import hashlib
import inspect
import math
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import numba as nb
import numpy as np
from numba import literal_unroll
from numba.core.errors import NumbaExperimentalFeatureWarning

from ..weighting import SCHEMES, StatisticsScheme
from ..weighting.statistics import (M2, MAX, MEAN, MIN, NEED_ABSDIFF, NEED_COV, NEED_SAMPLE, NEED_YLNY, YLNY, ABSDIFF,
                                    absdiff_sorted, fill_cov, fill_member)
from .factors import SLOT_SCHEME
from .tree import Replication, aggregate_group, tree_arrays

FIXED = 0  # plan.scheme_code of an option whose weights are not re-estimated (else 1 + function index)
LAYOUT_ENT, LAYOUT_COV = 1, 2  # moment layouts (plan.mom_layout): sum c x and sum c x ln x | sum c x, x**2, x_a x_b


class SampleStatistics(NamedTuple):
    """The statistics of one level's members on a bootstrap sample: the first six arguments of
    every scheme function (:mod:`weightlab.weighting.statistics`)."""

    n: float  # the sample's size (sum of the multiplicities)
    st: np.ndarray  # (N_STATS, n_nodes) member statistics
    cov: np.ndarray  # (n_groups, M, M) within-group cross-products, group g in row g - k
    xs: np.ndarray  # (n_nodes, n) member values on the distinct units drawn (the "sample" statistic)
    cs: np.ndarray  # (n,) multiplicities of the distinct units drawn
    ns: int  # number of distinct units drawn


class GroupRange(NamedTuple):
    """Groups ``g0 <= g < g1`` of the tree: group g's members are ``child_idx[child_ptr[g - k] ..
    child_ptr[g - k + 1] - 1]`` (``k`` indicators: group g is node g)."""

    child_ptr: np.ndarray
    child_idx: np.ndarray
    k: int
    g0: int
    g1: int


def statistics_schemes() -> list[type[StatisticsScheme]]:
    """Registered schemes written to the statistics contract, in registry order."""
    classes = [SCHEMES.get_class(name) for name in SCHEMES.available()]
    return [c for c in classes if issubclass(c, StatisticsScheme) and c.weights_function is not None]


SCHEME_FUNCTIONS = tuple(dict.fromkeys(c.weights_function for c in statistics_schemes()))
# typing a tuple of distinct functions makes numba try (and warn about) its first-class function type;
# level_weights only ever calls them directly
warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                        category=NumbaExperimentalFeatureWarning)


def function_index(scheme_class: type) -> int:
    """Position of the scheme's compiled function in :data:`SCHEME_FUNCTIONS` (-1: not in the table)."""
    fn = getattr(scheme_class, "weights_function", None)
    return SCHEME_FUNCTIONS.index(fn) if fn in SCHEME_FUNCTIONS else -1


@nb.njit(cache=True)
def level_weights(fid, stats, groups, prm, w, scratch):
    """Weights of the members of every group of :class:`GroupRange` ``groups`` with 2+ members into
    ``w``, by function ``fid`` of :data:`SCHEME_FUNCTIONS` with parameters ``prm`` on the filled
    :class:`SampleStatistics` ``stats``; ``scratch = (out, work)``: one group's weights and the
    functions' work arrays."""
    n, st, cov, xs, cs, ns = stats
    child_ptr, child_idx, k, g0, g1 = groups
    out, work = scratch
    i = 0
    for f in literal_unroll(SCHEME_FUNCTIONS):
        if i == fid:
            for g in range(g0, g1):
                c0, c1 = child_ptr[g - k], child_ptr[g - k + 1]
                if c1 - c0 > 1:
                    members = child_idx[c0:c1]
                    f(n, st, cov[g - k], xs, cs, ns, members, prm, out, work)
                    for a in range(c1 - c0):
                        w[members[a]] = out[a]
        i += 1


@nb.njit(inline="always")
def hierarchy(p):
    """The plan's fields read by :func:`_moment_statistics`: numba copies (and reference-counts) every
    array of a tuple passed to a function, and the whole plan's would cost more than the work."""
    t = p.tree
    return t.n_indicators, t.n_units, t.level_ptr, t.child_ptr, t.child_idx, p.data.pair_ptr, p.data.x_order


@nb.njit(inline="always")
def _moment_statistics(p, h, ws, q, needs, layout):
    """Statistics (the ``needs`` bits) of the indicators of row ``q``'s NaN-free matrix ``m =
    ws.mat[q]`` into ``st = ws.st`` and ``cov = ws.Rg``, on its sample: ``src = X[m]``, the
    multiplicities ``cw = ws.C[q]`` (size ``n_boot``, the number of units), and the row ``mom =
    ws.mom[q]`` of ``C @ mom_ent[m]`` (layout
    :data:`LAYOUT_ENT`) or ``C @ mom_cov[m]`` (:data:`LAYOUT_COV`); min and max are the first and last
    units drawn in the plan's sorted order ``x_order`` (a couple of steps). ``m2`` and ``cov`` come
    from raw sums (``sum c x**2 - N mean**2``); ``ylny`` from ``sum c x ln x`` on a non-negative
    matrix, else by a loop with the column's shift; ``absdiff`` by one pass in sorted order."""
    k, n, level_ptr, child_ptr, child_idx, pair_ptr, x_order = h
    m = ws.mat[q]
    src = p.data.X[m]
    cw = ws.C[q]
    mom = ws.mom[q]
    n_boot = float(n)
    st = ws.st
    cov = ws.Rg
    for c in range(k):
        mean = mom[c] / n_boot
        a = 0  # (indexing x_order in full: a view per member would cost a reference count)
        while cw[x_order[m, c, a]] == 0.0:
            a += 1
        b = n - 1
        while cw[x_order[m, c, b]] == 0.0:
            b -= 1
        lo, hi = src[c, x_order[m, c, a]], src[c, x_order[m, c, b]]
        st[MEAN, c], st[MIN, c], st[MAX, c] = mean, lo, hi
        if layout == LAYOUT_COV:
            v = mom[k + c] - n_boot * mean * mean
            st[M2, c] = v if v > 0.0 and hi > lo else 0.0
        if needs & NEED_YLNY:
            if layout == LAYOUT_ENT:  # the matrix is non-negative: no shift
                st[YLNY, c] = mom[k + c]
            else:
                shift = -lo if lo < 0.0 else 0.0
                t = 0.0
                for i in range(n):
                    if cw[i] > 0.0:
                        y = src[c, i] + shift
                        if y > 0.0:
                            t += cw[i] * y * math.log(y)
                st[YLNY, c] = t
        if needs & NEED_ABSDIFF:
            st[ABSDIFF, c] = absdiff_sorted(src[c], cw, x_order[m, c], n, n_boot, lo)
    if needs & NEED_COV:
        for g in range(level_ptr[1], level_ptr[2]):
            c0, c1 = child_ptr[g - k], child_ptr[g - k + 1]
            nm = c1 - c0
            C = cov[g - k]
            for a in range(nm):
                ca = child_idx[c0 + a]
                C[a, a] = st[M2, ca]
                for b in range(a + 1, nm):
                    cb = child_idx[c0 + b]
                    s = 0.0
                    if st[M2, ca] > 0.0 and st[M2, cb] > 0.0:
                        sab = mom[2 * k + pair_ptr[g - k] + a * nm - a * (a + 1) // 2 + b - a - 1]
                        s = sab - n_boot * st[MEAN, ca] * st[MEAN, cb]
                    C[a, b] = s
                    C[b, a] = s


@nb.njit(inline="always")
def _sample_rows(src, counts, sample, xs, cs):
    """List the distinct units drawn (``counts[i] > 0``) into ``sample`` and their counts into ``cs``;
    copy the rows of ``src`` on them into ``xs`` (the ``sample`` statistic of NaN-free data).
    Returns their number."""
    ns = 0
    for i in range(counts.shape[0]):
        if counts[i] > 0.0:
            sample[ns] = i
            cs[ns] = counts[i]
            ns += 1
    for c in range(src.shape[0]):
        for t in range(ns):
            xs[c, t] = src[c, sample[t]]
    return ns


@nb.njit(cache=True)
def dense_indicator_weights(p, ws, nq):
    """Weights inside the indicator groups of the rows ``q < nq`` of workspace ``ws``
    (:class:`weightlab.robustness.kernels.Workspace`) that re-estimate them on a NaN-free matrix,
    from their moments ``ws.mom[q]`` (:func:`_moment_statistics`), into ``ws.W[q]``. One call per
    block. ``ws.bw`` rows: 2 the sample counts, 3 the weights of one group."""
    choice, mat, C, W, st, cov, xs, bw, sample, work = (ws.choice, ws.mat, ws.C, ws.W, ws.st, ws.Rg, ws.cen, ws.bw,
                                                         ws.sample, ws.pw)
    n = p.tree.n_units
    k = p.tree.n_indicators
    h = hierarchy(p)
    groups = GroupRange(p.tree.child_ptr, p.tree.child_idx, k, p.tree.level_ptr[1], p.tree.level_ptr[2])
    scratch = (bw[3], work)
    for q in range(nq):
        s = choice[q, SLOT_SCHEME]
        code = p.schemes.scheme_code[s]
        m = mat[q]
        if first_level_in_block(p, code, m):
            needs = p.schemes.scheme_needs[s]
            _moment_statistics(p, h, ws, q, needs, p.schemes.mom_layout[s, m])
            ns = 0
            if needs & NEED_SAMPLE:
                ns = _sample_rows(p.data.X[m], C[q], sample, xs, bw[2])
            level_weights(code - 1, SampleStatistics(float(n), st, cov, xs, bw[2], ns), groups,
                          p.schemes.scheme_params[s], W[q], scratch)


@nb.njit(inline="always")
def has_moments(p):
    """Whether the plan holds the indicator moment matrices (``plan._moment_matrices``): it does when
    bootstrap re-estimation reaches the indicator level."""
    return p.data.mom_cov.shape[1] == p.tree.n_units


@nb.njit(inline="always")
def first_level_in_block(p, code, m):
    """Whether :func:`dense_indicator_weights` computes this row's indicator-level weights."""
    return p.schemes.scheme_level[0] and not p.data.has_nan[m] and has_moments(p) and code != FIXED


@nb.njit(inline="always")
def bootstrap_weights(p, ws, q, n_s, first_done):
    """Re-estimate row ``q``'s weights ``w = ws.W[q]`` on its bootstrap sample, level by level (levels
    below the top only as needed), from statistics summed over the distinct units drawn
    ``ws.sample[:n_s]`` with multiplicities ``ws.C[q]`` (float). ``first_done``: the indicator
    level's weights are already in ``w`` (:func:`dense_indicator_weights`). ``ws.bw`` rows: 0-1
    scratch of ``absdiff``, 2 the sample counts, 3 the weights of one group."""
    pat, w, m, counts, scheme = ws.pat[q], ws.W[q], ws.mat[q], ws.C[q], ws.choice[q, SLOT_SCHEME]
    X, sample = p.data.X, ws.sample
    vals, st, cov, xs, bw, work = ws.vals, ws.st, ws.Rg, ws.cen, ws.bw, ws.pw
    n_boot = float(p.tree.n_units)
    rep = Replication(w, m, vals, ws.agg, counts)
    k = p.tree.n_indicators
    top_needed = 0
    for lvl in range(p.tree.n_levels - 1):
        if p.schemes.scheme_level[lvl]:
            top_needed = lvl
    fid = p.schemes.scheme_code[scheme] - 1
    needs = p.schemes.scheme_needs[scheme]
    prm = p.schemes.scheme_params[scheme]
    cs = bw[2]
    stats, scratch = SampleStatistics(n_boot, st, cov, xs, cs, n_s), (bw[3], work)
    for t in range(n_s):
        cs[t] = counts[sample[t]]
    for lvl in range(1, p.tree.n_levels):
        if p.schemes.scheme_level[lvl - 1] and not (lvl == 1 and first_done):
            src = X[m] if lvl == 1 else vals
            for c in range(p.tree.level_ptr[lvl - 1], p.tree.level_ptr[lvl]):
                fill_member(src[c], sample, n_s, counts, n_boot, needs, st, c, xs, bw)
            if needs & NEED_COV:
                for g in range(p.tree.level_ptr[lvl], p.tree.level_ptr[lvl + 1]):
                    c0, c1 = p.tree.child_ptr[g - k], p.tree.child_ptr[g - k + 1]
                    if c1 - c0 > 1:
                        fill_cov(src, p.tree.child_idx[c0:c1], sample, n_s, counts, st, cov[g - k])
            groups = GroupRange(p.tree.child_ptr, p.tree.child_idx, k, p.tree.level_ptr[lvl], p.tree.level_ptr[lvl + 1])
            level_weights(fid, stats, groups, prm, w, scratch)
        if lvl <= top_needed:
            a = p.choices.pattern_aggs[pat, lvl - 1]
            for g in range(p.tree.level_ptr[lvl], p.tree.level_ptr[lvl + 1]):
                aggregate_group(tree_arrays(p), g, a, rep, True)


def _fingerprint() -> str:
    """Hash of the scheme table and of the source of every module its functions and fillers come from
    (the weighting package and any plug-in module)."""
    h = hashlib.sha256()
    modules = {f.py_func.__module__ for f in SCHEME_FUNCTIONS}
    modules |= {name for name in sys.modules if name.startswith("weightlab.weighting")}
    for f in SCHEME_FUNCTIONS:
        h.update(f"{f.py_func.__module__}.{f.py_func.__qualname__};".encode())
    for name in sorted(modules):
        try:
            h.update(inspect.getsource(sys.modules[name]).encode())
        except (OSError, TypeError):  # no source file (interactive): hash its names' bytecode instead
            for value in vars(sys.modules[name]).values():
                code = getattr(getattr(value, "py_func", value), "__code__", None)
                if code is not None:
                    h.update(code.co_code)
    return h.hexdigest()


def _drop_stale_kernels() -> None:
    """Delete the cached kernels of this package and of :mod:`weightlab.weighting` when the scheme table
    or a module it reads changed since they were cached.

    numba invalidates a cached function only when its own file changes, but the engine's kernels
    inline every scheme function of :data:`SCHEME_FUNCTIONS` and the schemes inline the fillers of
    :mod:`weightlab.weighting.statistics`: a scheme registered or edited since (a plug-in, a new
    version) would otherwise run the cached code."""
    from ..weighting.statistics import normalise_or_equal

    try:
        dirs = {Path(level_weights._cache._cache_path), Path(normalise_or_equal._cache._cache_path)}
        stamp = Path(level_weights._cache._cache_path) / "scheme_table.sha256"
        fingerprint = _fingerprint()
        if not stamp.exists():  # first use of this cache: whatever it holds was built from these files
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(fingerprint)
            return
        if stamp.read_text() == fingerprint:
            return
        for d in dirs:
            for f in list(d.glob("*.nbi")) + list(d.glob("*.nbc")):
                f.unlink(missing_ok=True)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(fingerprint)
    except (OSError, AttributeError):  # read-only cache or another numba layout: numba's own rules apply
        pass


_drop_stale_kernels()
