"""Helpers shared by the data-driven schemes."""

from __future__ import annotations

import numpy as np

# entropy divergences 1 - e of a uniform column, and CRITIC C_j of perfectly correlated members, come out
# as +-1e-16 or so: anything below this is rounding noise and counts as 0 (the engine's bootstrap
# kernels use the same floor, robustness/boot_weights.py)
WEIGHT_NOISE = 1e-12


def minmax_columns(X: np.ndarray) -> np.ndarray:
    """Rescale each column to [0, 1]: ``(x - min) / (max - min)``; a constant column becomes 0."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    rng = hi - lo
    return np.where(rng > 0, (X - lo) / np.where(rng > 0, rng, 1.0), 0.0)


def normalise_or_equal(v: np.ndarray) -> np.ndarray:
    """``v / sum(v)``; equal weights when every entry is 0 (no information to weigh by)."""
    v = np.asarray(v, dtype=float)
    total = v.sum()
    return v / total if total > 0 else np.full(len(v), 1.0 / len(v))
