"""numba kernels of the Monte Carlo engine. Imports numpy and numba only; takes plain arrays.

Replications are processed in blocks of ``BLOCK`` consecutive indices, ``[b * BLOCK, (b + 1) * BLOCK)``.
For each replication ``r`` of a block (:func:`_draw`):

1. read the replication's row of uniforms from its design (:mod:`weightlab.robustness.columns`:
   the counter-based stream ``u(seed, r, i)`` of :mod:`weightlab.robustness.rng` by default, or
   the rows of a quasi-random or Saltelli design, :mod:`weightlab.robustness.design`) and map them
   to the choices (imputation, normalizer, aggregator per level, scheme, dropped indicator,
   treatment);
2. take the scheme's within-group weights for that choice (precomputed by the plan with the
   nominal Python code, or re-estimated on a bootstrap resample of units,
   :mod:`weightlab.robustness.boot_weights`), perturb them (uniform ``w * U(1-spread, 1+spread)`` or
   Dirichlet), zero the dropped indicator and renormalise inside every group, bottom-up;
3. score every unit (:func:`_score`): when one aggregator with power ``p`` is used at every
   level and the data are complete, the index collapses to ``(sum_j e_j x_j**p)**(1/p)``
   (``exp(sum_j e_j ln x_j)`` for p = 0) with effective weights ``e_j``, and the replications of
   the block that share a matrix are scored together by one matrix product ``E @ T`` (BLAS);
   otherwise groups are aggregated level by level (:mod:`weightlab.robustness.tree`);
4. rank (1 = best, ties share the lowest rank) and add to integer accumulators (:func:`_add_block`),
   or keep every replication's ranks and scores (:func:`store_block`, for Sobol estimators).

Which replications share a product depends only on the block, never on threads or chunks, and
integer accumulators merge exactly: results are bit-identical for any thread count and chunk size.

Compile time. A cold cache compiles everything once (figures: docs/performance.md). One slot kernel
per variant (:func:`run_blocks`, :func:`run_blocks_bootstrap`) inlines the whole block pipeline
(``inline="always"``: numba inlines the IR, so the pipeline is optimised and code-generated once,
inside the kernel) and calls separately compiled helpers only one level down: numba links a
separately compiled function into every function above it and optimises and code-generates it again
there. The slots run on Python threads (:mod:`weightlab.robustness.slots`), not in a numba
``prange``: compiling the parallel loop was the largest single cost.
:mod:`weightlab._numba_inlining` removes numba's redundant copies of inlined IR. Rows are written
with loops, not slice assignments, which also compile the formatting of their shape-mismatch errors.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numba as nb
import numpy as np

from .._numba_inlining import install as install_fast_inlining
from ..weighting.statistics import N_STATS
from .boot_weights import (FIXED, LAYOUT_COV, LAYOUT_ENT, bootstrap_weights, dense_indicator_weights,
                           first_level_in_block, has_moments)
from .accumulators import COARSE, DENSE, SEGMENTS
from .config import BLOCK
from .factors import F_AGGREGATOR, F_DROP, F_SCHEME, N_SLOTS, SLOT_AGGREGATOR, SLOT_DROP, SLOT_SCHEME
from .ranking import rank_finite_for, rank_general, rank_workspace
from .rng import (STREAM_BOOTSTRAP, STREAM_DIRICHLET, STREAM_NOISE, gamma, key_of, pick, replication_key,
                  uniform_at, uniforms_into)
from .tree import Replication, effective_weights, exp_into, ginv, renormalise, scores_tree

install_fast_inlining()  # before the kernels below compile: weightlab._numba_inlining

__all__ = ["BLOCK", "ACCUMULATE", "RANGES", "STORE", "Chunk", "Outputs", "Workspace", "Kernels", "make_workspaces",
           "slot_workspace", "make_workspace", "store_block", "run_blocks", "run_blocks_bootstrap", "kernels_for"]

ACCUMULATE, RANGES, STORE = 0, 1, 2  # what the slot kernel does with a block's scores (_run_blocks)


class Chunk(NamedTuple):
    """What one call of the slot kernel runs: blocks ``b_lo .. b_hi - 1`` of a run of ``reps``
    replications, and what it does with their scores (``mode``: :data:`ACCUMULATE`,
    :data:`RANGES` or :data:`STORE`). Replication ``r`` reads the counter-based stream when
    ``rows`` is empty, else row ``r - row0`` of the design rows ``rows``."""

    b_lo: int
    b_hi: int
    reps: int
    rows: np.ndarray  # (rows, n_cols) design rows of the chunk, or (0, n_cols): the counter-based stream
    row0: int  # the replication of rows[0]
    mode: int


class Outputs(NamedTuple):
    """Where one slot's results go, by the chunk's mode (see :func:`_run_blocks`)."""

    acc: tuple  # ACCUMULATE: the slot's accumulators (accumulators.KernelCounts)
    score_bins: tuple  # ACCUMULATE: (bin_lo, bin_scale) of the score histograms
    ranges: tuple  # RANGES: (lo, hi), widened to each unit's finite scores
    stored: tuple  # STORE: (ranks, scores), one row per replication of the chunk


class Workspace(NamedTuple):
    """Per-thread scratch. Rows ``q`` of the block arrays belong to replication ``b * BLOCK + q``,
    except in ``S`` and ``R``, grouped by matrix product: there it is row ``srow[q]``."""

    U: np.ndarray  # (BLOCK, n_cols) the design's uniforms of each replication (columns.py)
    rkey: np.ndarray  # (BLOCK,) uint64 key of each replication's bootstrap resample
    W: np.ndarray  # (BLOCK, n_nodes) member weights
    E: np.ndarray  # (BLOCK, k) effective indicator weights
    S: np.ndarray  # (BLOCK, n) scores, replication q in row srow[q]
    choice: np.ndarray  # (BLOCK, N_SLOTS) option index per choice slot (factors.py; plan.factor_options order)
    mat: np.ndarray  # (BLOCK,) matrix index (treatment x imputation x normalizer)
    pat: np.ndarray  # (BLOCK,) aggregator pattern
    srow: np.ndarray  # (BLOCK,) row of S (and R) holding replication b * BLOCK + q
    Eg: np.ndarray  # (BLOCK, k) effective weights of one product
    eff: np.ndarray  # (n_nodes,)
    noise: np.ndarray  # (n_nodes,) one replication's weight multipliers' uniforms (counter-based stream)
    sums: np.ndarray  # (n_nodes,)
    vals: np.ndarray  # (n_nodes, n) group scores (level-by-level path, bootstrap; else (n_nodes, 0): scores_by_level)
    agg: np.ndarray  # (4, n) scratch of tree.aggregate_group
    counts: np.ndarray  # (n,) zeros (the level-by-level path's unused multiplicities)
    C: np.ndarray  # (BLOCK, n) bootstrap multiplicities (float64) of each replication
    Cg: np.ndarray  # (BLOCK, n) those of one moment product
    mom: np.ndarray  # (BLOCK, n_moments) count-weighted sums of the indicator moments (plan.mom_*)
    momg: np.ndarray  # (BLOCK * n_moments,) result of one moment product
    brows: np.ndarray  # (BLOCK,) rows of one moment product
    ub: np.ndarray  # (n,) uniforms of the bootstrap draws
    sample: np.ndarray  # (n,) distinct bootstrap units
    bw: np.ndarray  # (4, max(n, M)) bootstrap scratch: absdiff buffer, sample counts, one group's weights
    cen: np.ndarray  # (n_nodes, n) bootstrap "sample" statistic: member values on the distinct units drawn
    pw: np.ndarray  # (5, M, M) scratch of the schemes' compiled functions, M = max(max_members, 2)
    st: np.ndarray  # (N_STATS, n_nodes) bootstrap member statistics (weighting.statistics)
    Rg: np.ndarray  # (n_nodes, M, M) bootstrap cross-products per group
    ex: np.ndarray  # (2 * n,) scratch of exp_into
    R: np.ndarray  # (BLOCK, n) int32 ranks of the rows of S
    ok: np.ndarray  # (BLOCK,) bool: row ranked by the fast path
    bins: np.ndarray  # (BLOCK, n) uint16 score-histogram bins


def scores_by_level(p) -> bool:
    """Whether a run of plan ``p`` fills ``Workspace.vals``: replications scored level by level
    (:func:`_score`: an aggregator pattern that mixes aggregators, or a matrix with missing cells)
    or weights re-estimated on bootstrap samples. Other plans score with matrix products only and
    get an empty ``vals``, which would take 356 MB per thread at 100,000 units and 445 nodes (its
    pages are never touched, but the run's memory accounting, :mod:`.memory`, counts every array)."""
    return bool(p.schemes.bootstrap or p.data.has_nan.any() or not p.choices.pattern_same.all())


def make_workspaces(p, n_slots: int) -> Workspace:
    """One :class:`Workspace` for ``n_slots`` threads: every array has a leading slot axis (see
    :func:`slot_workspace`). Allocated once per run: allocating per chunk inside the threads cost
    fresh page faults every chunk. Plain numpy: compiled, the allocations would add loaded code to
    a run's memory."""
    n, k, nn, mm = p.tree.n_units, p.tree.n_indicators, p.tree.n_nodes, p.tree.max_members
    M = max(mm, 2)
    nc = n if p.schemes.bootstrap else 1
    n_mom = p.data.mom_cov.shape[2]
    t = n_slots
    return Workspace(
        U=np.empty((t, BLOCK, p.columns.n_cols)), rkey=np.empty((t, BLOCK), dtype=np.uint64),
        W=np.empty((t, BLOCK, nn)), E=np.empty((t, BLOCK, k)), S=np.empty((t, BLOCK, n)),
        choice=np.empty((t, BLOCK, N_SLOTS), dtype=np.int64), mat=np.empty((t, BLOCK), dtype=np.int64),
        pat=np.empty((t, BLOCK), dtype=np.int64), srow=np.empty((t, BLOCK), dtype=np.int64),
        Eg=np.empty((t, BLOCK, k)), eff=np.empty((t, nn)), noise=np.empty((t, nn)), sums=np.empty((t, nn)),
        vals=np.empty((t, nn, n if scores_by_level(p) else 0)), agg=np.empty((t, 4, n)), counts=np.zeros((t, n)),
        C=np.zeros((t, BLOCK, nc)),
        Cg=np.empty((t, BLOCK, nc)), mom=np.zeros((t, BLOCK, n_mom)), momg=np.empty((t, BLOCK * n_mom)),
        brows=np.empty((t, BLOCK), dtype=np.int64), ub=np.empty((t, n)), sample=np.empty((t, n), dtype=np.int64),
        bw=np.zeros((t, 4, max(n, M))), cen=np.zeros((t, nn if p.schemes.bootstrap else 1, n)),
        pw=np.zeros((t, 5, M, M)),
        st=np.zeros((t, N_STATS, nn)),
        Rg=np.zeros((t, nn, M, M)), ex=np.empty((t, 2 * n)), R=np.empty((t, BLOCK, n), dtype=np.int32),
        ok=np.empty((t, BLOCK), dtype=np.bool_), bins=np.empty((t, BLOCK, n), dtype=np.uint16))


def slot_workspace(wss: Workspace, t: int) -> Workspace:
    """Slot ``t``'s :class:`Workspace`: views of :func:`make_workspaces`' arrays."""
    return Workspace(*(a[t] for a in wss))


def make_workspace(p) -> Workspace:
    """A :class:`Workspace` for one thread."""
    return Workspace(*(a[0] for a in make_workspaces(p, 1)))


# ----------------------------------------------------------------------------- one replication's draws
# The per-replication helpers are inlined into the slot kernel: a call per block would cost numba's
# reference counting of the plan's arrays on entry and exit, more than the work itself.
@nb.njit(inline="always")
def _fill_uniforms(p, ws, chunk, r0, nq):
    """Rows ``0 .. nq - 1`` of ``ws.U``: the uniforms of replications ``r0 .. r0 + nq - 1``.

    With empty ``chunk.rows`` they come from the counter-based stream (column ``c`` is
    ``u(seed, r, stream index of c)``, see :mod:`weightlab.robustness.columns`), and ``ws.rkey[q]`` is
    the replication key; otherwise replication r reads ``chunk.rows[r - chunk.row0]`` and its bootstrap
    key is :func:`~weightlab.robustness.rng.key_of` its bootstrap column.
    """
    U, rkey, design, d0 = ws.U, ws.rkey, chunk.rows, chunk.row0
    if design.shape[0] == 0:
        nc = p.columns.col_stream.shape[0]
        for q in range(nq):
            key = replication_key(p.seed, r0 + q)
            rkey[q] = key
            for c in range(nc):
                U[q, c] = uniform_at(key, p.columns.col_stream[c])
        return  # the weight multipliers are drawn where they are used (_perturb_uniform)
    for q in range(nq):
        src = design[r0 - d0 + q]
        for c in range(p.columns.n_cols):
            U[q, c] = src[c]
        rkey[q] = key_of(p.seed, src[p.columns.col_boot])


@nb.njit(inline="always")
def _draw_choices(p, ws, nq):
    """Options of the block's replications from their uniforms ``ws.U`` and their schemes' (unperturbed)
    weights (``ws.choice``, ``ws.mat``, ``ws.pat``, ``ws.W``).

    The data-stage options select the matrix by their mixed-radix index (``p.choices.stages``, most
    significant first, :mod:`weightlab.robustness.factors`); a factor without a design column
    (``p.choices.col`` -1) takes option 0. Each listed factor's option goes to its choice slot.
    """
    U, choice, mat, pat, W = ws.U, ws.choice, ws.mat, ws.pat, ws.W
    n_agg = p.choices.n_opts[F_AGGREGATOR]
    for q in range(nq):
        u = U[q]
        c = choice[q]
        m = 0
        for s in range(p.choices.stages.shape[0]):
            f = p.choices.stages[s]
            o = pick(u[p.choices.col[f]], p.choices.cdf[f]) if p.choices.col[f] >= 0 else 0
            m = m * p.choices.n_opts[f] + o
            if p.choices.slot[f] >= 0:
                c[p.choices.slot[f]] = o
        pt = 0
        mult = 1
        for lvl in range(p.choices.n_agg_draws):
            pt += mult * pick(u[p.choices.col[F_AGGREGATOR] + lvl], p.choices.cdf[F_AGGREGATOR])
            mult *= n_agg
        scheme = pick(u[p.choices.col[F_SCHEME]], p.choices.cdf[F_SCHEME])
        c[SLOT_AGGREGATOR] = pt
        c[SLOT_SCHEME] = scheme
        c[SLOT_DROP] = pick(u[p.choices.col[F_DROP]], p.choices.cdf[F_DROP])  # 0: keep all, else indicator drop - 1
        mat[q] = m
        pat[q] = pt
        base = p.schemes.base_w[scheme, m, pt]
        for i in range(base.shape[0]):  # loops, not slice assignments: those compile their shape errors
            W[q, i] = base[i]


@nb.njit(inline="always")
def _perturb_uniform(p, ws, nq, from_design):
    """``w_i *= U(1 - spread, 1 + spread)`` for the nodes of the perturbed levels.

    The uniforms are the row's weight columns of a design; under the counter-based stream they are
    drawn here, one replication at a time into the small ``noise`` buffer, which stays in L1 (the
    block's ``U`` rows would otherwise be written and read back for them)."""
    U, rkey, W, noise = ws.U, ws.rkey, ws.W, ws.noise
    lo, width = 1.0 - p.noise.spread, 2.0 * p.noise.spread
    c0 = p.columns.col_w
    for q in range(nq):
        w = W[q]
        if from_design:
            u = U[q, c0:]
        else:
            uniforms_into(rkey[q], STREAM_NOISE, noise, 0, p.tree.n_nodes - 1)
            u = noise
        for i in range(p.tree.n_nodes - 1):
            if p.noise.perturb_level[p.tree.node_level[i]]:
                w[i] *= lo + width * u[i]


@nb.njit(inline="always")
def _perturb_dirichlet(p, ws, nq, from_design):
    """``w_i ~ Gamma(concentration * w_i)``; renormalised within groups this is Dirichlet(c w).

    The gamma variates of node i come from the replication key (counter-based stream) or, for a
    design, from the key of the node's weight column."""
    U, rkey, W = ws.U, ws.rkey, ws.W
    for q in range(nq):
        key = rkey[q]
        w = W[q]
        for i in range(p.tree.n_nodes - 1):
            if p.noise.perturb_level[p.tree.node_level[i]] and w[i] > 0.0:
                if from_design:
                    key = key_of(p.seed, U[q, p.columns.col_w + i])
                w[i] = gamma(key, STREAM_DIRICHLET + (i << 12), p.noise.concentration * w[i])


@nb.njit(inline="always")
def _finish_weights(p, ws, nq):
    """Zero the dropped indicator, renormalise within groups, effective indicator weights into ``ws.E``."""
    choice, W, E, sums, eff = ws.choice, ws.W, ws.E, ws.sums, ws.eff
    for q in range(nq):
        w = W[q]
        if choice[q, SLOT_DROP] > 0:
            w[choice[q, SLOT_DROP] - 1] = 0.0
        renormalise(w, p, sums)
        effective_weights(w, eff, p)
        for j in range(p.tree.n_indicators):
            E[q, j] = eff[j]


@nb.njit(cache=True)
def _draw_multiplicities(p, ws, nq):
    """``C[q, i]``: how many of the n units drawn with replacement for row q (data-driven schemes) are unit i."""
    n = p.tree.n_units
    for q in range(nq):
        if p.schemes.scheme_code[ws.choice[q, SLOT_SCHEME]] == FIXED:
            continue
        uniforms_into(ws.rkey[q], STREAM_BOOTSTRAP, ws.ub, 0, n)
        c = ws.C[q]
        c[:] = 0.0
        for j in range(n):
            c[min(int(ws.ub[j] * n), n - 1)] += 1.0


@nb.njit(cache=True)
def _moment_products(p, ws, nq, m, layout):
    """``mom[q] = C[q] @ mom_ent[m]`` (``layout`` LAYOUT_ENT) or ``C[q] @ mom_cov[m]`` (LAYOUT_COV) for the
    block's rows on NaN-free matrix ``m`` whose scheme the plan serves by that layout
    (``p.schemes.mom_layout``): one matrix product for all of them."""
    cnt = 0
    for q in range(nq):
        s = ws.choice[q, SLOT_SCHEME]
        if p.schemes.scheme_code[s] != FIXED and ws.mat[q] == m and p.schemes.mom_layout[s, m] == layout:
            ws.brows[cnt] = q
            ws.Cg[cnt, :] = ws.C[q]
            cnt += 1
    if cnt == 0:
        return
    M = p.data.mom_ent[m] if layout == LAYOUT_ENT else p.data.mom_cov[m]
    width = M.shape[1]
    out = ws.momg[:cnt * width].reshape((cnt, width))
    np.dot(ws.Cg[:cnt], M, out)
    for j in range(cnt):
        ws.mom[ws.brows[j], :width] = out[j]


@nb.njit(cache=True)
def _bootstrap_block(p, ws, nq):
    """For the block's replications with a data-driven scheme: draw n units with replacement and
    re-estimate the scheme's weights on them (into ``ws.W``). The indicator-level moments of all of
    them come from one matrix product per matrix and layout; the rest of the per-replication work is
    inlined (see the note above about reference counting)."""
    n = p.tree.n_units
    _draw_multiplicities(p, ws, nq)
    if has_moments(p):
        for m in range(p.data.X.shape[0]):
            if not p.data.has_nan[m]:
                _moment_products(p, ws, nq, m, LAYOUT_ENT)
                _moment_products(p, ws, nq, m, LAYOUT_COV)
        dense_indicator_weights(p, ws, nq)
    upper = False  # levels above the indicators re-estimated too
    for lvl in range(1, p.tree.n_levels - 1):
        upper |= p.schemes.scheme_level[lvl]
    for q in range(nq):
        scheme = ws.choice[q, SLOT_SCHEME]
        code = p.schemes.scheme_code[scheme]
        first_done = first_level_in_block(p, code, ws.mat[q])
        if code == FIXED or (first_done and not upper):
            continue
        counts = ws.C[q]
        n_s = 0
        for i in range(n):  # the distinct units drawn
            if counts[i] > 0.0:
                ws.sample[n_s] = i
                n_s += 1
        bootstrap_weights(p, ws, q, n_s, first_done)


@nb.njit(inline="always")
def _draw(p, ws, chunk, r0, nq, bootstrap):
    """Choices and weights of replications ``r0 .. r0 + nq - 1`` into rows ``0 .. nq - 1`` of ``ws``,
    from the counter-based stream (``chunk.rows`` empty) or from rows ``r - chunk.row0`` of ``chunk.rows``.

    ``bootstrap`` is a literal at each call site, so the re-estimation code is compiled only into
    the kernels that use it (it would double every run's compile time and loaded code). Each step
    loops over the whole block and is inlined, so no call is made per replication.
    """
    _fill_uniforms(p, ws, chunk, r0, nq)
    _draw_choices(p, ws, nq)
    if bootstrap:
        _bootstrap_block(p, ws, nq)
    if p.noise.perturb == 1:
        _perturb_uniform(p, ws, nq, chunk.rows.shape[0] > 0)
    elif p.noise.perturb == 2:
        _perturb_dirichlet(p, ws, nq, chunk.rows.shape[0] > 0)
    _finish_weights(p, ws, nq)


# ----------------------------------------------------------------------------- scores of a block
@nb.njit(inline="always")
def _score_products(p, ws, nq, m, a, j0):
    """Rows of the block using matrix ``m`` and aggregator ``a`` at every level: ``g^-1(E @ T)``
    straight into rows ``j0, j0 + 1, ...`` of ``S`` (``srow[q]``); returns the next free row."""
    cnt = 0
    for q in range(nq):
        if ws.mat[q] == m and p.choices.pattern_same[ws.pat[q]] and p.choices.pattern_aggs[ws.pat[q], 0] == a:
            ws.srow[q] = j0 + cnt
            for j in range(p.tree.n_indicators):
                ws.Eg[cnt, j] = ws.E[q, j]
            cnt += 1
    if cnt == 0:
        return j0
    out = ws.S[j0:j0 + cnt]
    np.dot(ws.Eg[:cnt], p.data.T[m, a], out)
    power = p.choices.agg_power[a]
    n = p.tree.n_units
    if power != 1.0:
        for j in range(cnt):
            row = out[j]
            if power == 0.0:
                exp_into(row, row, ws.ex, n)
            else:
                for i in range(n):
                    row[i] = ginv(row[i], power)
    return j0 + cnt


@nb.njit(inline="always")
def _score(p, ws, chunk, b, bootstrap):
    """Draw and score replications ``b * BLOCK .. min((b + 1) * BLOCK, chunk.reps) - 1``; returns their count.

    Replication ``b * BLOCK + q`` is scored into row ``srow[q]`` of ``S``: the replications of one
    matrix product take consecutive rows, which the product writes directly.
    """
    r0 = b * BLOCK
    nq = min(BLOCK, chunk.reps - r0)
    _draw(p, ws, chunk, r0, nq, bootstrap)
    j = 0
    for m in range(p.data.X.shape[0]):
        if not p.data.has_nan[m]:
            for a in range(p.choices.agg_power.shape[0]):
                j = _score_products(p, ws, nq, m, a, j)
    root = p.tree.n_nodes - 1
    for q in range(nq):
        m, pat = ws.mat[q], ws.pat[q]
        if not p.choices.pattern_same[pat] or p.data.has_nan[m]:
            scores_tree(p, pat, Replication(ws.W[q], m, ws.vals, ws.agg, ws.counts))
            for i in range(p.tree.n_units):
                ws.S[j, i] = ws.vals[root, i]
            ws.srow[q] = j
            j += 1
    return nq


# ----------------------------------------------------------------------------- accumulators
@nb.njit(inline="always")
def _count_columns(hist, idx, nq, n, base):
    """``hist[i, idx[q, i] - base] += 1`` for rows ``q < nq`` and units ``i < n``.

    Unit by unit over the whole block, so each unit's histogram row stays in L1; four units are
    interleaved because one unit's consecutive increments often hit the same bin, and each would
    otherwise wait for the previous store.
    """
    m4 = n - n % 4
    for i in range(0, m4, 4):
        h0, h1, h2, h3 = hist[i], hist[i + 1], hist[i + 2], hist[i + 3]
        for q in range(nq):
            d = idx[q]
            h0[np.uint32(d[i] - base)] += 1  # unsigned: numba skips the negative-index test
            h1[np.uint32(d[i + 1] - base)] += 1
            h2[np.uint32(d[i + 2] - base)] += 1
            h3[np.uint32(d[i + 3] - base)] += 1
    for i in range(m4, n):
        h = hist[i]
        for q in range(nq):
            h[np.uint32(idx[q, i] - base)] += 1


@nb.njit(cache=True)
def _count_bands(flat, L, outside, R, nq):
    """``flat[off[i] + rank - lo[i]] += 1`` for the ranks of unit i inside its band ``[lo[i], lo[i] +
    width[i])`` (rows ``q < nq`` of ``R``; ``off``, ``lo``, ``width`` of the layout ``L``,
    :class:`~weightlab.robustness.accumulators.LayoutArrays`); a rank outside is counted in ``outside[0, i]`` and widens
    ``[outside[1, i], outside[2, i]]``, the range of unit i's ranks outside its band (the engine then
    counts those units again, exactly, in a second pass). Compiled apart, not inlined: the dense
    path of :func:`_add_block` keeps its code."""
    off, lo, width, n = L.off, L.lo, L.width, R.shape[1]
    for i in range(n):
        o, b, w = off[i], lo[i], width[i]
        for q in range(nq):
            k = R[q, i] - b
            if 0 <= k < w:
                flat[o + k] += 1
            else:
                r = R[q, i]
                outside[0, i] += 1
                outside[1, i] = min(outside[1, i], r)
                outside[2, i] = max(outside[2, i], r)


@nb.njit(cache=True)
def _count_coarse(flat, L, stats, R, nq, j):
    """Pass 1 of :mod:`weightlab.robustness.coarse`: ``flat[off[i] + c] += 1`` with cell ``c = 1 +
    (rank - lo[i]) >> shift[i]`` inside unit i's band, 0 below it, ``nbins[i] + 1`` above (rows
    ``q < nq`` of ``R``; the layout ``L``'s ``off``, ``lo``, ``shift`` and ``width``, which holds
    ``nbins``); and the exact ``stats[0, i]`` sum, minimum and maximum of its ranks. With ``0 <= j <
    log.shape[0]`` the block's ranks are also logged for pass 2
    (:class:`weightlab.robustness.coarse.RankLog`, ``L.log``): ``log[j, i, q] = rank - log_base[i]``,
    65535 where that is not in 0..65534.

    Unit by unit: the unit's column of ranks is copied into a small buffer, its cells and sums are
    computed there in a loop without stores to the counts (LLVM vectorises it), then the cells are
    counted; all three in one loop was slower."""
    off, lo, nbins, shift, log, log_base, n = L.off, L.lo, L.width, L.shift, L.log, L.log_base, R.shape[1]
    col = np.empty(nq, dtype=np.int64)
    logged = 0 <= j < log.shape[0]
    for i in range(n):
        o, b, top, s = off[i], lo[i], nbins[i] + 1, shift[i]
        total, rmin, rmax = stats[0, i], stats[1, i], stats[2, i]
        for q in range(nq):
            col[q] = R[q, i]
        if logged:
            row, c0 = log[j, i], log_base[i]
            for q in range(nq):
                row[q] = min(np.uint64(col[q] - c0), np.uint64(65535))  # below the base: wraps, then 65535
        for q in range(nq):
            r = col[q]
            total += r
            rmin = min(rmin, r)
            rmax = max(rmax, r)
            k = r - b
            col[q] = 0 if k < 0 else min((k >> s) + 1, top)
        for q in range(nq):
            flat[o + col[q]] += 1
        stats[0, i], stats[1, i], stats[2, i] = total, rmin, rmax


@nb.njit(cache=True)
def _count_segments(flat, L, R, nq):
    """Pass 2 of :mod:`weightlab.robustness.coarse`: ``flat[off[s] + rank - lo[s]] += 1`` for the
    ranks (rows ``q < nq`` of ``R``) of unit i inside one of its segments ``s`` in ``ptr[i] ..
    ptr[i + 1] - 1`` (disjoint; ``off``, ``lo``, ``width``, ``ptr`` of the layout ``L``).

    Unit by unit, segment by segment over the unit's column of ranks (copied into a small buffer):
    few ranks fall inside a segment, so the test is well predicted; searching each rank's segment
    among the unit's is slower."""
    off, lo, width, ptr, n = L.off, L.lo, L.width, L.ptr, R.shape[1]
    col = np.empty(nq, dtype=np.int64)
    for i in range(n):
        s0, s1 = ptr[i], ptr[i + 1]
        if s0 == s1:
            continue
        for q in range(nq):
            col[q] = R[q, i]
        for s in range(s0, s1):
            a, w, o = lo[s], np.uint64(width[s]), off[s]
            for q in range(nq):
                k = np.uint64(col[q] - a)  # a rank below the segment wraps around to a huge k
                if k < w:
                    flat[o + k] += 1


@nb.njit(inline="always")
def _clamped_index(x, top):
    """``int(x)`` clamped to ``[0, top]``: a histogram bin or a quantised score (truncation toward 0
    equals floor wherever the result is not clamped to 0)."""
    return min(max(np.int64(x), 0), top)


@nb.njit(inline="always")
def _add_block(p, ws, nq, acc, score_bins, b):
    """Add the first ``nq`` rows of ranks ``ws.R`` and scores ``ws.S`` to one thread's integer accumulators
    ``acc`` (:class:`weightlab.robustness.accumulators.KernelCounts`: one slot's arrays by name).

    Rank counts go into ``acc.rank_counts`` by the kind of ``acc.layout``
    (:class:`~weightlab.robustness.accumulators.LayoutArrays`): dense, ``rank_counts[i, rank - 1]``;
    otherwise into ``rank_counts[0]``, the band counts of :func:`_count_bands`, the coarse counts
    of :func:`_count_coarse` (block ``b``'s ranks also go to row ``b - log_first[0]`` of the
    coarse pass's rank log, if it has that row) or the segment counts of :func:`_count_segments`
    (nothing else is counted); ``acc.rank_stats`` holds the layout's statistics of the ranks.
    ``score_hist[i, bin]`` counts, with unit i's bins ``floor((s - bin_lo[i]) * bin_scale[i])``
    (``score_bins = (bin_lo, bin_scale)``)
    clamped to the edge bins; ``score_q``/``score_q2`` sum the quantised score ``q = round((s -
    lo) * Q / (hi - lo))`` and ``q**2``; NaN scores are counted apart (``nan_count``);
    ``choice_count[f, option]`` counts the options drawn. ``ws.ok[q]`` says that row q has no NaN or
    infinite score (the fast ranking path checked it).
    """
    S, R, ok, choice, bins = ws.S, ws.R, ws.ok, ws.choice, ws.bins
    bin_lo, bin_scale = score_bins
    n = p.tree.n_units
    L = acc.layout
    rank_counts, score_hist, score_q, score_q2, nan_count = (acc.rank_counts, acc.score_hist, acc.score_q,
                                                             acc.score_q2, acc.nan_count)
    if L.kind == SEGMENTS:  # the exact pass of coarse counts: only the ranks in its segments
        _count_segments(rank_counts[0], L, R, nq)
        return
    choice_count = acc.choice_count
    for q in range(nq):
        for f in range(choice_count.shape[0]):  # the listed factors' slots
            choice_count[f, choice[q, f]] += 1
    if L.kind == DENSE:
        _count_columns(rank_counts, R, nq, n, 1)
    elif L.kind == COARSE:
        _count_coarse(rank_counts[0], L, acc.rank_stats, R, nq, b - L.log_first[0])
    else:
        _count_bands(rank_counts[0], L, acc.rank_stats, R, nq)
    lo = p.scale.score_lo
    qscale = p.scale.q_max / (p.scale.score_hi - p.scale.score_lo)
    nb_max = score_hist.shape[1] - 1
    q_max = p.scale.q_max
    all_finite = True
    for q in range(nq):
        all_finite &= ok[q]
    if all_finite:
        for q in range(nq):  # vectorised: no branches
            s, b = S[q], bins[q]
            for i in range(n):
                v = _clamped_index((s[i] - lo) * qscale + 0.5, q_max)
                score_q[i] += v
                score_q2[i] += v * v
                b[i] = _clamped_index((s[i] - bin_lo[i]) * bin_scale[i], nb_max)
        _count_columns(score_hist, bins, nq, n, 0)
        return
    for q in range(nq):
        for i in range(n):
            s = S[q, i]
            if s == s:
                v = _clamped_index((s - lo) * qscale + 0.5, q_max)
                score_q[i] += v
                score_q2[i] += v * v
                score_hist[i, _clamped_index((s - bin_lo[i]) * bin_scale[i], nb_max)] += 1
            else:
                nan_count[i] += 1


@nb.njit(inline="always")
def _rank_rows(nq, S, R, ok, rank_ws):
    """Ranks of the first ``nq`` rows of ``S`` into ``R``; ``ok[q]`` says whether row q took the
    fast path (all scores finite), else the general one ranked it."""
    for q in range(nq):
        ok[q] = rank_finite_for(S[q], R[q], rank_ws)
    for q in range(nq):
        if not ok[q]:
            rank_general(S[q], R[q], rank_ws)


@nb.njit(inline="always")
def store_block(ws, nq, row0, stored):
    """Copy replication ``q``'s ranks (and scores, unless ``out_scores`` is empty) from the first
    ``nq`` rows of ``ws.R`` (``ws.S``) into row ``row0 + q`` of ``stored = (out_ranks, out_scores)``."""
    out_ranks, out_scores = stored
    keep_scores = out_scores.shape[0] > 0
    for q in range(nq):
        row = ws.srow[q]
        for i in range(out_ranks.shape[1]):
            out_ranks[row0 + q, i] = ws.R[row, i]
        if keep_scores:
            for i in range(out_scores.shape[1]):
                out_scores[row0 + q, i] = ws.S[row, i]


@nb.njit(inline="always")
def _score_ranges(S, nq, lo, hi):
    """Widen each unit's [lo, hi] to the finite scores of the block's first ``nq`` rows."""
    for q in range(nq):
        for i in range(S.shape[1]):
            s = S[q, i]
            if s - s == 0.0:
                lo[i] = min(lo[i], s)
                hi[i] = max(hi[i], s)


class Kernels(NamedTuple):
    """The entry points for one plan (see :func:`kernels_for`)."""

    run_blocks: Callable


def kernels_for(p) -> Kernels:
    """The plan's kernels: the bootstrap variants when it re-estimates scheme weights (each variant is
    compiled only when used)."""
    if p.schemes.bootstrap:
        return Kernels(run_blocks_bootstrap)
    return Kernels(run_blocks)


# ----------------------------------------------------------------------------- the slot kernel
@nb.njit(inline="always")
def _run_blocks(p, ws, rank_buf, chunk, out, bootstrap):
    """The blocks of :class:`Chunk` ``chunk`` of one slot (thread), in order.

    The slot works in its own :class:`Workspace` ``ws`` and ranks in its row ``rank_buf`` of
    :func:`weightlab.robustness.ranking.rank_buffers`; its results go to :class:`Outputs` ``out``.

    ``chunk.mode`` 0 (ACCUMULATE): ``out.acc`` holds the slot's accumulators by name and the rank
    layout (:class:`weightlab.robustness.accumulators.KernelCounts`, filled by :func:`_add_block`);
    with ``out.score_bins = (bin_lo, bin_scale)`` unit i's score bins span ``[bin_lo[i], bin_lo[i] +
    n_bins / bin_scale[i]]``. All integer: merging slots is exact in any order. Mode 1 (RANGES):
    nothing is accumulated; ``out.ranges = (lo, hi)`` are widened to each unit's finite scores.
    Mode 2 (STORE): replication r's ranks (and scores) go to row ``r - chunk.row0`` of
    ``out.stored = (ranks, scores)`` (:func:`store_block`), for estimators that need every evaluation.
    """
    lo, hi = out.ranges
    mode = chunk.mode
    rank_ws = rank_workspace(rank_buf, p.tree.n_units)
    for b in range(chunk.b_lo, chunk.b_hi):
        nq = _score(p, ws, chunk, b, bootstrap)
        if mode == RANGES:
            _score_ranges(ws.S, nq, lo, hi)
            continue
        _rank_rows(nq, ws.S, ws.R, ws.ok, rank_ws)
        if mode == STORE:
            store_block(ws, nq, b * BLOCK - chunk.row0, out.stored)
        else:
            _add_block(p, ws, nq, out.acc, out.score_bins, b)


@nb.njit(nogil=True, cache=True)
def run_blocks(p, ws, rank_buf, chunk, out):
    """:func:`_run_blocks` for plans with fixed scheme weights (releases the GIL)."""
    _run_blocks(p, ws, rank_buf, chunk, out, False)


@nb.njit(nogil=True, cache=True)
def run_blocks_bootstrap(p, ws, rank_buf, chunk, out):
    """:func:`_run_blocks` for plans that re-estimate scheme weights on bootstrap samples (releases the GIL)."""
    _run_blocks(p, ws, rank_buf, chunk, out, True)
