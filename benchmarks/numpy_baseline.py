"""The engine's work written the plain way in batched numpy: a baseline for the benchmark.

It reads the same compiled plan (precomputed matrices and scheme weights) and the same counter-based
random numbers as the numba engine, then does each batch of replications with whole-array numpy
operations: draws, perturbation, renormalisation, effective weights, scores (one matrix product per
shared matrix), exact min-ranks via numpy's (SIMD) argsort with ties resolved to their lowest rank,
and a bincount histogram. Supports what the fixed-data specs need: any weight noise except
Dirichlet, normalizer / imputation / scheme / drop choices, one aggregator for all levels, and
complete data (no bootstrap).
"""

from __future__ import annotations

import numpy as np

from weightlab.robustness.factors import BY_NAME, DISCRETE

GOLD = np.uint64(0x9E3779B97F4A7C15)
GOLD2 = np.uint64(0xD1B54A32D192ED03)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(keys: np.ndarray, i: int) -> np.ndarray:
    z = _mix(keys + (np.uint64(i) + np.uint64(1)) * GOLD2)
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _pick(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def min_ranks(scores: np.ndarray) -> np.ndarray:
    """Row-wise competition ranks (1 = highest, ties share the lowest rank)."""
    b, n = scores.shape
    order = np.argsort(-scores, axis=1)  # ties are contiguous in any sort: no need for a stable one
    s = np.take_along_axis(scores, order, axis=1)
    new = np.ones_like(s, dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    pos = np.where(new, np.arange(1, n + 1)[None, :], 0)
    sorted_ranks = np.maximum.accumulate(pos, axis=1)
    ranks = np.empty_like(sorted_ranks)
    np.put_along_axis(ranks, order, sorted_ranks, axis=1)
    return ranks


def run_numpy(kp, reps: int, batch: int = 10_000) -> np.ndarray:
    """Rank histogram (units x ranks) of replications 0..reps-1, computed in numpy batches."""
    with np.errstate(over="ignore"):  # splitmix64 relies on wrapping uint64 arithmetic
        return _run_numpy(kp, reps, batch)


def _run_numpy(kp, reps: int, batch: int) -> np.ndarray:
    if kp.noise.perturb == 2 or kp.schemes.bootstrap or kp.data.has_nan.any() or not kp.choices.pattern_same.all():
        raise ValueError("numpy baseline: Dirichlet noise, bootstrap, missing data and mixed aggregators "
                         "are not implemented")
    n, k, n_nodes = kp.tree.n_units, kp.tree.n_indicators, kp.tree.n_nodes
    parent = kp.tree.node_parent
    hist = np.zeros(n * n, dtype=np.int64)
    def cdf(name):  # the factor's option CDF (plan.KernelPlan.cdf rows are padded with 1.0)
        f = DISCRETE.index(BY_NAME[name])
        return kp.choices.cdf[f, :kp.choices.n_opts[f]]

    n_norm = kp.choices.n_opts[DISCRETE.index(BY_NAME["normalizer"])]
    perturbed = np.flatnonzero(kp.noise.perturb_level[kp.tree.node_level[:-1]]) if kp.noise.perturb == 1 else []
    for r0 in range(0, reps, batch):
        r = np.arange(r0, min(reps, r0 + batch), dtype=np.uint64)
        keys = _mix(kp.seed ^ _mix((r + np.uint64(1)) * GOLD))
        m = _pick(_uniform(keys, 0), cdf("imputation")) * n_norm + _pick(_uniform(keys, 1), cdf("normalizer"))
        pat = _pick(_uniform(keys, 8), cdf("aggregator"))
        scheme = _pick(_uniform(keys, 2), cdf("scheme"))
        drop = _pick(_uniform(keys, 3), cdf("drop_indicator")) - 1
        w = kp.schemes.base_w[scheme, m, pat].copy()
        for i in perturbed:
            w[:, i] *= 1.0 - kp.noise.spread + 2.0 * kp.noise.spread * _uniform(keys, 64 + i)
        rows = np.flatnonzero(drop >= 0)
        w[rows, drop[rows]] = 0.0
        for lvl in range(kp.tree.n_levels - 1):  # renormalise inside groups, bottom-up
            a, b = kp.tree.level_ptr[lvl], kp.tree.level_ptr[lvl + 1]
            sums = np.zeros((len(r), n_nodes))
            np.add.at(sums.T, parent[a:b], w[:, a:b].T)
            s = sums[:, parent[a:b]]
            w[:, a:b] = np.where(s > 0, w[:, a:b] / np.where(s > 0, s, 1.0), 0.0)
            empty = (sums <= 0) & np.isin(np.arange(n_nodes), parent[a:b])[None, :]
            empty[:, n_nodes - 1] = False
            w[empty] = 0.0
        eff = np.empty_like(w)
        eff[:, -1] = 1.0
        for i in range(n_nodes - 2, -1, -1):
            eff[:, i] = w[:, i] * eff[:, parent[i]]
        a_idx = kp.choices.pattern_aggs[pat, 0]
        scores = np.zeros((len(r), n))
        for combo in np.unique(m * 64 + a_idx):
            sel = np.flatnonzero(m * 64 + a_idx == combo)
            T = kp.data.T[combo // 64, combo % 64]
            acc = eff[sel, :k] @ T  # one BLAS product per (matrix, aggregator), as the kernel does
            power = kp.choices.agg_power[combo % 64]
            if power == 0.0:
                acc = np.exp(acc)
            elif power != 1.0:
                acc = acc ** (1.0 / power)
            scores[sel] = acc
        ranks = min_ranks(scores)
        hist += np.bincount((np.arange(n)[None, :] * n + ranks - 1).ravel(), minlength=n * n)
    return hist.reshape(n, n)
