"""Sobol' sensitivity estimators and their bootstrap intervals (SALib's *analyze* step).

Inputs are model outputs on Saltelli's design (:class:`weightlab.robustness.design.SaltelliDesign`):
``fA`` and ``fB`` of shape (N, m) (N base samples, m outputs) and ``fAB`` of shape (d, N, m), the
outputs with factor i's columns taken from B. With ``V`` the variance of the pooled ``fA``, ``fB``
(ddof 0):

- first order, Saltelli et al. (2010), Table 2 (b)::

      S1_i = mean(fB * (fAB_i - fA)) / V

- total effect, Jansen (1999), Saltelli et al. (2010) Table 2 (f)::

      ST_i = mean((fA - fAB_i) ** 2) / (2 V)

- a dummy factor that changes nothing, after Khorashadi Zadeh et al. (2017) (as sensobol's
  ``sobol_dummy``): its indices are estimated from A and B alone, as sample moments whose true
  value is 0, so their spread shows the noise floor of the design::

      S1_dummy = cov(fA, fB) / V          ST_dummy = 1 - var(fB) / V

An output that never changes (``V = 0``) has every index 0, with zero-width intervals.

Intervals are bootstrap percentile intervals: one matrix of resampling indices (B x N, drawn once
from the seed) serves every output and factor, so intervals of different outputs are computed on
the same resamples. Resampled means are one matrix product ``C @ terms / N`` with ``C[b, k]`` the
multiplicity of block k in resample b and ``terms`` summed over each block.

The unit of resampling is a block of g consecutive base samples (:func:`bootstrap_block`: g = N /
1,024 for N >= 2,048 a power of two, so the product's cost stops growing with N; g = 1 below).
Each resample is still the estimators applied to the N base samples it drew. For independent base
samples, blocks of g are independent draws of g samples each, and the resampled spread is the
same: on the Ishigami function, N = 8,192, the bootstrap standard deviations of the six indices,
averaged over 30 seeds, were 0.0109, 0.0099, 0.0101, 0.0155, 0.0075, 0.0048 with blocks of 8
against 0.0109, 0.0097, 0.0100, 0.0156, 0.0073, 0.0049 without. On scrambled Sobol' points
(the sensitivity designs) both are conservative: the estimates' spread over 30 scramblings was 7
to 37 times smaller than either bootstrap's (blocks of consecutive points are balanced, so blocks
give intervals up to 25 % narrower than single points there, still several times wider than the
error).

References
----------
Jansen, M. J. W. (1999). Analysis of variance designs for model output. Computer Physics
Communications 117, 35-43.
Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M., Tarantola, S. (2010). Variance
based sensitivity analysis of model output. Design and estimator for the total sensitivity index.
Computer Physics Communications 181(2), 259-270.
Khorashadi Zadeh, F., Nossent, J., Sarrazin, F., Pianosi, F., van Griensven, A., Wagener, T.,
Bauwens, W. (2017). Comparison of variance-based and moment-independent global sensitivity
analysis approaches by application to the SWAT model. Environmental Modelling & Software 91, 210-222.
Puy, A., Lo Piano, S., Saltelli, A., Levin, S. A. (2022). sensobol: an R package to compute
variance-based sensitivity indices. Journal of Statistical Software 102(5).
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from .config import BATCH_BYTES, MIN_BLOCKS, TERM_ROWS
from .parallel import run_split


def _ratio(num: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``num / var``, 0 where the output is constant (var = 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, num / np.where(var > 0, var, 1.0), 0.0)


def _pooled_mean(fA: np.ndarray, fB: np.ndarray) -> np.ndarray:
    """The pooled A/B mean of each output. Outputs are centred on it (as scipy.stats.sobol_indices
    does: the estimators of S1 are not shift-invariant, and centring keeps resampled variances free
    of cancellation)."""
    return 0.5 * (fA.mean(axis=0) + fB.mean(axis=0))


def _centred(fA, fB, fAB):
    """Outputs minus their pooled A/B mean."""
    c = _pooled_mean(fA, fB)
    return fA - c, fB - c, fAB - c


def pooled_variance(fA: np.ndarray, fB: np.ndarray) -> np.ndarray:
    """Variance (ddof 0) of the pooled outputs of A and B, per output."""
    return np.var(np.concatenate([fA, fB], axis=0), axis=0)


def first_order(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray) -> np.ndarray:
    """Saltelli et al. (2010): ``S1_i = mean(fB (fAB_i - fA)) / V`` on centred outputs; (d, N, m) -> (d, m)."""
    a, b, ab = _centred(fA, fB, fAB)
    return _ratio(np.mean(b * (ab - a), axis=1), pooled_variance(fA, fB))


def total_order(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray) -> np.ndarray:
    """Jansen (1999): ``ST_i = mean((fA - fAB_i)**2) / (2 V)``; (d, N, m) -> (d, m)."""
    return _ratio(0.5 * np.mean((fA - fAB) ** 2, axis=1), pooled_variance(fA, fB))


def dummy_indices(fA: np.ndarray, fB: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a factor that changes nothing: ``cov(fA, fB) / V`` and ``1 - var(fB) / V`` (ddof 0)."""
    var = pooled_variance(fA, fB)
    cov = np.mean(fA * fB, axis=0) - fA.mean(axis=0) * fB.mean(axis=0)
    return _ratio(cov, var), _ratio(var - fB.var(axis=0), var)


def bootstrap_block(n: int) -> int:
    """How many consecutive base samples are resampled together: the largest power of two g that
    divides n and leaves at least :data:`MIN_BLOCKS` blocks (1, every base sample on its own, for
    n < 2 MIN_BLOCKS or odd n)."""
    g = 1
    while n % (2 * g) == 0 and n // (2 * g) >= MIN_BLOCKS:
        g *= 2
    return g


def resampling_indices(n: int, n_boot: int, seed: int, block: int = 1) -> np.ndarray:
    """The (n_boot x n) matrix of base-sample indices of the bootstrap resamples: each draws n / block
    blocks of ``block`` consecutive base samples with replacement (``numpy.random.default_rng(seed)``),
    so it holds n base samples."""
    if block < 1 or n % block:
        raise ValueError(f"bootstrap blocks of {block} do not divide {n} base samples")
    drawn = np.random.default_rng(seed).integers(0, n // block, size=(n_boot, n // block))
    return (drawn[:, :, None] * block + np.arange(block)).reshape(n_boot, n)


def resampling_counts(n: int, n_boot: int, seed: int, block: int = 1) -> np.ndarray:
    """``C[b, k]``: how often block k (base samples ``k * block .. (k + 1) * block - 1``) is drawn in
    resample b of :func:`resampling_indices`; shape (n_boot, n / block).

    float32: the counts are small integers, exact in float32, and the products with them run twice
    as fast (the intervals' precision is far above what float32 sums lose)."""
    G = n // block
    blocks = resampling_indices(n, n_boot, seed, block)[:, ::block] // block
    flat = (blocks + G * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * G).reshape(n_boot, G).astype(np.float32)


class Indices(NamedTuple):
    """Sobol' indices of m outputs for d factors plus the dummy (last row): arrays (d + 1, m)."""

    S1: np.ndarray
    S1_lo: np.ndarray
    S1_hi: np.ndarray
    ST: np.ndarray
    ST_lo: np.ndarray
    ST_hi: np.ndarray


N_TERMS = 5  # a, b, a**2, b**2, a b; then 3 per factor


@nb.njit(nogil=True, cache=True)
def _fill_terms(Y, centre, o0, T, part, t0, t1, per_task):
    """Per base sample j, the products whose means make the estimators, for outputs ``o0 .. o0 + w``
    of ``Y`` (:func:`stacked`) centred on ``centre``: ``a, b, a**2, b**2, a b``, then ``b (ab_i - a)``
    for each factor i, then ``(a - ab_i)**2``, then ``ab_i``. Row k of ``T`` (G, (5 + 3 d) w), float32,
    gets their sums over the block of base samples ``k N / G .. (k + 1) N / G - 1`` (the unit of
    resampling), block by block of w columns. Tasks ``t0 .. t1 - 1`` (task t: blocks ``t * per_task ..
    (t + 1) * per_task - 1``); ``part[t]`` gets task t's float64 sums."""
    N, d = Y.shape[0], Y.shape[1] - 2
    G, K = T.shape
    g = N // G
    w = K // (N_TERMS + 3 * d)
    row = np.empty(K)
    for t in range(t0, t1):
        acc = part[t]
        for blk in range(t * per_task, min(G, (t + 1) * per_task)):
            row[:] = 0.0
            for j in range(blk * g, (blk + 1) * g):
                for o in range(w):
                    c = centre[o0 + o]
                    a = Y[j, 0, o0 + o] - c
                    b = Y[j, 1, o0 + o] - c
                    vals = (a, b, a * a, b * b, a * b)
                    for k in range(N_TERMS):
                        row[k * w + o] += vals[k]
                    for i in range(d):
                        z = Y[j, 2 + i, o0 + o] - c
                        row[(N_TERMS + i) * w + o] += b * (z - a)
                        row[(N_TERMS + d + i) * w + o] += (a - z) * (a - z)
                        row[(N_TERMS + 2 * d + i) * w + o] += z
            for k in range(K):
                T[blk, k] = row[k]
                acc[k] += row[k]


def stacked(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray) -> np.ndarray:
    """``Y`` (N, d + 2, m), float64: per base sample the outputs on A, B, AB_1 .. AB_d, the order in
    which :class:`~weightlab.robustness.design.SaltelliDesign` lays out its rows. 1-D ``fA``/``fB``
    (and 2-D ``fAB``) are one output."""
    fA, fB, fAB = np.asarray(fA), np.asarray(fB), np.asarray(fAB)
    if fA.ndim == 1:
        fA, fB, fAB = fA[:, None], fB[:, None], fAB[:, :, None]
    Y = np.empty((fA.shape[0], fAB.shape[0] + 2, fA.shape[1]))
    Y[:, 0], Y[:, 1], Y[:, 2:] = fA, fB, np.moveaxis(fAB, 0, 1)
    return Y


def _terms(Y: np.ndarray, o0: int = 0, w: int | None = None, block: int = 1,
           centre: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The estimators' products (:func:`_fill_terms`) of outputs ``o0 .. o0 + w`` summed over blocks of
    ``block`` base samples, as a float32 (N / block, (5 + 3 d) w) matrix, and their float64 means over
    the base samples."""
    N, d, m = Y.shape[0], Y.shape[1] - 2, Y.shape[2]
    w = m - o0 if w is None else w
    T = np.empty((N // block, (N_TERMS + 3 * d) * w), dtype=np.float32)
    centre = _pooled_mean(Y[:, 0], Y[:, 1]) if centre is None else centre  # of all outputs
    per_task = max(1, TERM_ROWS // block)
    part = np.zeros((-(-T.shape[0] // per_task), T.shape[1]))
    run_split(lambda _t, t0, t1: _fill_terms(Y, centre, o0, T, part, t0, t1, per_task), part.shape[0],
              nb.get_num_threads())
    sums = part[0].copy()
    for t in range(1, part.shape[0]):  # in task order, whatever the threads
        sums += part[t]
    return T, sums / N


def _numerators(means: np.ndarray, d: int, m: int):
    """Numerators of S1 and ST (factors, then the dummy) and the variance from the means of
    :func:`_terms` over the base samples (rows: the sample itself, or bootstrap resamples).

    Each row's outputs are re-centred on that row's pooled mean ``c``, as the estimators are on the
    sample itself (S1's numerator is not shift-invariant): ``mean((b - c)(ab - a)) = mean(b (ab - a))
    - c (mean(ab) - mean(a))``. Returns arrays (d + 1, R, m), (d + 1, R, m) and (R, m).
    """
    part = [means[:, k * m:(k + 1) * m] for k in range(N_TERMS + 3 * d)]
    mA, mB, mA2, mB2, mAB = part[:N_TERMS]
    c = 0.5 * (mA + mB)
    var = 0.5 * (mA2 + mB2) - c * c
    cross, sq, lin = part[N_TERMS:N_TERMS + d], part[N_TERMS + d:N_TERMS + 2 * d], part[N_TERMS + 2 * d:]
    num1 = np.stack([cross[i] - c * (lin[i] - mA) for i in range(d)] + [mAB - mA * mB])
    numT = np.stack([0.5 * t for t in sq] + [var - (mB2 - mB * mB)])
    return num1, numT, var


def _block_of(counts: np.ndarray, n: int) -> int:
    """The block size of resampling counts of shape (n_boot, n / block)."""
    G = counts.shape[1]
    if G == 0 or n % G:
        raise ValueError(f"resampling counts over {G} blocks do not fit {n} base samples")
    return n // G


def resampled_indices(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray, counts: np.ndarray):
    """S1 and ST (factors, then the dummy) of each bootstrap resample: arrays (d + 1, n_boot, m).

    ``counts`` is :func:`resampling_counts` (its shape gives the block size); resample b's indices
    equal the estimators applied to the base samples it drew (to float32 rounding of the sums)."""
    Y = stacked(fA, fB, fAB)
    N, d, m = Y.shape[0], Y.shape[1] - 2, Y.shape[2]
    T, _ = _terms(Y, block=_block_of(counts, N))
    num1, numT, var = _numerators((counts @ T).astype(float) / N, d, m)
    return _ratio(num1, var), _ratio(numT, var)


def analyze(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray, n_boot: int = 1000, seed: int = 0,
            conf: float = 0.95, pooled: bool = False, counts: np.ndarray | None = None,
            block: int | None = None) -> Indices:
    """First-order and total indices of every output and factor, the dummy's, and their intervals.

    Parameters
    ----------
    fA, fB : ndarray (N, m) or (N,)
        Outputs on the A and B matrices.
    fAB : ndarray (d, N, m) or (d, N)
        Outputs on AB_i (A with factor i's columns from B).
    n_boot : int, default=1000
        Bootstrap resamples (0: no intervals; the bounds equal the estimates).
    seed : int, default=0
        Seed of the resampling indices.
    conf : float, default=0.95
        Coverage of the percentile intervals.
    pooled : bool, default=False
        Also return the indices of all outputs together (numerators and variances summed over the
        outputs: the share of the total variance due to each factor) as a last column.
    counts : ndarray (n_boot, N / block), optional
        :func:`resampling_counts` computed once for several calls (then ``n_boot``, ``seed`` and
        ``block`` are not used), so that all outputs are resampled alike.
    block : int, optional
        Consecutive base samples resampled together (default :func:`bootstrap_block`: at least
        1,024 blocks; 1 is the bootstrap of single base samples).

    Returns
    -------
    Indices
        Arrays of shape (d + 1, m) (or (d + 1, m + 1) with ``pooled``): rows are the factors, then the dummy.
    """
    return analyze_stacked(stacked(fA, fB, fAB), n_boot, seed, conf, pooled, counts, block)


def analyze_stacked(Y: np.ndarray, n_boot: int = 1000, seed: int = 0, conf: float = 0.95, pooled: bool = False,
                    counts: np.ndarray | None = None, block: int | None = None) -> Indices:
    """:func:`analyze` of the outputs ``Y`` (N, d + 2, m) laid out as :func:`stacked` (float64,
    C-contiguous: the engine's outputs reshaped, without a copy per matrix)."""
    N, d, m = Y.shape[0], Y.shape[1] - 2, Y.shape[2]
    if counts is None:
        g = bootstrap_block(N) if block is None else block
        counts = resampling_counts(N, n_boot, seed, g) if n_boot > 0 else np.zeros((0, N // g), dtype=np.float32)
    g = _block_of(counts, N)
    centre = _pooled_mean(Y[:, 0], Y[:, 1])  # once for every batch of outputs
    n_boot = counts.shape[0]
    q = [(1 - conf) / 2, (1 + conf) / 2]
    cols = m + (1 if pooled else 0)
    out = {k: np.empty((d + 1, cols)) for k in Indices._fields}
    width = max(1, BATCH_BYTES // (4 * (N // g) * (N_TERMS + 3 * d)))

    def store(sl, est, boot):
        (num1, numT, var), (b1, bT, bV) = est, boot
        out["S1"][:, sl], out["ST"][:, sl] = _ratio(num1, var)[:, 0], _ratio(numT, var)[:, 0]
        if n_boot > 0:
            (out["S1_lo"][:, sl], out["S1_hi"][:, sl]), (out["ST_lo"][:, sl], out["ST_hi"][:, sl]) = (
                np.quantile(_ratio(b1, bV), q, axis=1), np.quantile(_ratio(bT, bV), q, axis=1))
        else:
            out["S1_lo"][:, sl] = out["S1_hi"][:, sl] = out["S1"][:, sl]
            out["ST_lo"][:, sl] = out["ST_hi"][:, sl] = out["ST"][:, sl]

    totals = None
    for c0 in range(0, m, width):
        sl = slice(c0, min(m, c0 + width))
        w = sl.stop - sl.start
        terms, means = _terms(Y, sl.start, w, g, centre)
        est = _numerators(means[None, :], d, w)
        # resampled means: one product with the counts for all outputs (float32: see resampling_counts)
        boot = _numerators((counts @ terms).astype(float) / N, d, w)
        store(sl, est, boot)
        if pooled:
            sums = [tuple(x.sum(axis=-1, keepdims=True) for x in t) for t in (est, boot)]
            totals = sums if totals is None else [tuple(u + v for u, v in zip(t0, t1))
                                                  for t0, t1 in zip(totals, sums)]
    if pooled:
        store(slice(m, m + 1), *totals)
    return Indices(**out)
