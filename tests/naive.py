"""Plain numpy twins of the engine's compiled kernels (as stumpy's tests/naive.py).

One twin per kernel, written from the formula the kernel's docstring states and sharing no code with
it: splitmix64 and the counter-based uniforms (:mod:`weightlab.robustness.rng`; the gamma variates'
plain twin is :func:`weightlab.robustness.reference.gamma`, the reference rebuild's), the min-rank (:mod:`weightlab.robustness.ranking`), the power-mean tree
(:mod:`weightlab.robustness.tree`), the count-weighted statistics the bootstrap fills
(:mod:`weightlab.weighting.statistics`, :mod:`weightlab.robustness.boot_weights`) and every
statistics-based weighting scheme (:data:`SCHEME_TWINS`, which tests/test_naive_kernels.py requires to
cover every registered one). Slow and obvious by design: a resample is the sample's rows repeated,
not counts.
"""

from __future__ import annotations

import math

import numpy as np

from .naive_pca import first_component_weights, pca_weights

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # splitmix64's increment (Steele, Lea and Flood 2014)
GOLDEN2 = 0xD1B54A32D192ED03  # the engine's second odd constant: draw i of a stream


# ------------------------------------------------------------------ random numbers
def splitmix64_finalizer(z: int) -> int:
    """The output function of Vigna's splitmix64.c, with Python integers."""
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def splitmix64(seed: int, count: int) -> list[int]:
    """The first ``count`` outputs of splitmix64.c's ``next()`` from state ``seed``: the state grows by
    the golden gamma, then is finalized."""
    out, state = [], seed
    for _ in range(count):
        state = (state + GOLDEN) & M64
        out.append(splitmix64_finalizer(state))
    return out


def uniform_at(key: int, i: int) -> float:
    """Draw ``i`` of the stream ``key``: the top 53 bits of splitmix64(key + (i + 1) * GOLDEN2), in [0, 1)."""
    return (splitmix64_finalizer(key + (i + 1) * GOLDEN2) >> 11) / 2.0 ** 53


# ------------------------------------------------------------------ ranking
def rank_min(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score, ties share the best (lowest) rank, NaN last (tied among themselves)."""
    s = np.asarray(scores, dtype=float)
    seen = ~np.isnan(s)
    out = np.full(len(s), int(seen.sum()) + 1, dtype=np.int64)
    for i in np.flatnonzero(seen):
        out[i] = 1 + int(np.sum(s[seen] > s[i]))
    return out


# ------------------------------------------------------------------ the power-mean tree
def power_mean_rows(block: np.ndarray, w: np.ndarray, power: float, shift: float | None) -> np.ndarray:
    """Weighted power mean of each row over the members present (weight > 0, value not NaN); a member
    column below the power's bound (<= 0 for power <= 0, < 0 for power > 0 other than 1) is first
    moved to minimum ``shift``; a row with nothing present is NaN."""
    x = np.array(block, dtype=float)
    for c in range(x.shape[1]):
        lo = np.nanmin(x[:, c]) if not np.isnan(x[:, c]).all() else np.nan
        below = (lo <= 0) if power <= 0 else (lo < 0 and power != 1)
        if shift and below:
            x[:, c] = x[:, c] - lo + shift
    out = np.full(len(x), np.nan)
    for i in range(len(x)):
        ok = ~np.isnan(x[i]) & (w > 0)
        if not ok.any():
            continue
        wi = w[ok] / w[ok].sum()
        xi = x[i, ok]
        out[i] = math.exp(float(np.sum(wi * np.log(xi)))) if power == 0 else float(np.sum(wi * xi ** power)) ** (1 / power)
    return out


def scores_tree(values: "dict[str, np.ndarray]", framework, weights: "dict[str, float]",
                aggregators: "dict[int, tuple[float, float | None]]") -> "dict[str, np.ndarray]":
    """Scores of every node, level by level: a group's score is :func:`power_mean_rows` of its members
    with their weights; ``aggregators[level] = (power, shift)``. ``values`` holds the indicators'."""
    scores = dict(values)
    for level in framework.aggregation_levels():
        power, shift = aggregators[level]
        for group in framework.groups_at(level):
            members = framework.children(group)
            block = np.column_stack([scores[c] for c in members])
            scores[group] = power_mean_rows(block, np.array([weights[c] for c in members]), power, shift)
    return scores


# ------------------------------------------------------------------ count-weighted statistics
def resample(X: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The rows of ``X`` repeated ``counts`` times, each column's missing cells filled with the mean
    of its values in the resample (the nominal fit's rule)."""
    R = np.repeat(np.asarray(X, dtype=float), np.asarray(counts, dtype=int), axis=0)
    mean = np.array([np.mean(c[~np.isnan(c)]) if (~np.isnan(c)).any() else 0.0 for c in R.T])
    return np.where(np.isnan(R), mean, R)


def member_statistics(x: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """The statistics of :mod:`weightlab.weighting.statistics` of one member on a resample, from the
    repeated rows: mean, m2 = sum (x - mean)**2, min, max, ylny = sum y ln y (y = x - min(min, 0)),
    absdiff = sum_i sum_l |x_i - x_l|."""
    r = resample(np.asarray(x, dtype=float)[:, None], counts)[:, 0]
    y = r - min(r.min(), 0.0)
    ylny = float(np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)))
    m2 = float(np.sum((r - r.mean()) ** 2)) if r.max() > r.min() else 0.0
    return {"mean": float(r.mean()), "m2": m2, "min": float(r.min()), "max": float(r.max()), "ylny": ylny,
            "absdiff": float(np.abs(r[:, None] - r[None, :]).sum())}


def cross_products(X: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``sum (x_a - mean_a)(x_b - mean_b)`` of the members on the resample (a constant member's are 0)."""
    R = resample(X, counts)
    D = R - R.mean(axis=0)
    C = D.T @ D
    constant = R.max(axis=0) == R.min(axis=0)
    C[constant, :] = 0.0
    C[:, constant] = 0.0
    return C


# ------------------------------------------------------------------ statistics-based schemes
NOISE = 1e-12  # the schemes' documented rounding-noise floor (1 - e, C_j below it count as 0)


def _normalise_or_equal(v: np.ndarray) -> np.ndarray:
    total = v.sum()
    return v / total if total > 0 else np.full(len(v), 1.0 / len(v))


def _minmax(R: np.ndarray) -> np.ndarray:
    width = R.max(axis=0) - R.min(axis=0)
    return (R - R.min(axis=0)) / np.where(width > 0, width, 1.0)


def entropy_weights(R: np.ndarray) -> np.ndarray:
    """Shannon entropy weights: ``d_j = 1 - e_j``, ``e_j = -sum p ln p / ln n``, p the column shares (a
    column with negative values translated to minimum 0)."""
    Y = R - np.minimum(R.min(axis=0), 0.0)
    d = np.zeros(R.shape[1])
    for j in range(R.shape[1]):
        s = Y[:, j].sum()
        if s > 0:
            p = Y[:, j] / s
            e = -np.sum(p[p > 0] * np.log(p[p > 0])) / math.log(len(R))
            d[j] = 1 - e if 1 - e > NOISE else 0.0
    return _normalise_or_equal(d)


def std_weights(R: np.ndarray, ddof: int = 1) -> np.ndarray:
    """Standard deviations of the min-max rescaled members."""
    return _normalise_or_equal(_minmax(R).std(axis=0, ddof=ddof))


def critic_weights(R: np.ndarray, ddof: int = 1) -> np.ndarray:
    """CRITIC: ``sd_j * sum_k (1 - r_jk)`` on min-max rescaled members (a constant member: r = 0)."""
    Z = _minmax(R)
    sd = Z.std(axis=0, ddof=ddof)
    constant = R.max(axis=0) == R.min(axis=0)
    m = R.shape[1]
    r = np.eye(m)
    for a in range(m):
        for b in range(m):
            if a != b:
                r[a, b] = 0.0 if constant[a] or constant[b] else np.corrcoef(Z[:, a], Z[:, b])[0, 1]
    r[constant, constant] = 0.0
    C = sd * (1 - np.clip(r, -1, 1)).sum(axis=1)
    return _normalise_or_equal(np.where(C > NOISE, C, 0.0))


def gini_weights(R: np.ndarray) -> np.ndarray:
    """Gini coefficients ``sum_i sum_k |y_i - y_k| / (2 n**2 mean y)`` (y translated to minimum 0 if
    negative)."""
    Y = R - np.minimum(R.min(axis=0), 0.0)
    n = len(Y)
    G = np.array([np.abs(y[:, None] - y[None, :]).sum() / (2 * n * n * y.mean()) if y.mean() > 0 else 0.0
                  for y in Y.T])
    return _normalise_or_equal(G)


def merec_weights(R: np.ndarray, shift: float | None = None) -> np.ndarray:
    """MEREC (Keshavarz-Ghorabaee et al. 2021) for benefit members: ``n_ij = min_j / x_ij``,
    ``S_i = ln(1 + mean_j |ln n_ij|)``, ``S'_ij`` without member j, ``E_j = sum_i |S'_ij - S_i|``."""
    X = R.copy()
    lo = X.min(axis=0)
    if shift:
        X = np.where(lo <= 0, X - lo + shift, X)
    if (X.min(axis=0) <= 0).any():
        return np.full(X.shape[1], 1.0 / X.shape[1])
    m = X.shape[1]
    ln_n = np.abs(np.log(X.min(axis=0) / X))
    S = np.log(1 + ln_n.sum(axis=1) / m)
    E = np.array([np.abs(np.log(1 + (ln_n.sum(axis=1) - ln_n[:, j]) / m) - S).sum() for j in range(m)])
    return _normalise_or_equal(E)


def _pca(R: np.ndarray, n_factors=None, rotation="varimax", min_variance=0.6, min_share=0.1) -> np.ndarray:
    return pca_weights(R, n_factors, rotation, min_variance, min_share)[0]


# scheme name -> twin(resampled members, **the scheme's parameters): the weights of the group
SCHEME_TWINS = {
    "entropy": entropy_weights, "std": std_weights, "critic": critic_weights, "gini": gini_weights,
    "merec": merec_weights, "pca": _pca, "pca1": first_component_weights,
}
