"""Generated benchmark cases for many units (seeded, heavy-tailed): the seed's hierarchy (25
indicators) or a wide one (400 indicators: 4 pillars x 10 sub-pillars x 10 indicators).

Values follow the demo's recipe: two latent factors (size, tech strength) drive lognormal
indicators with indicator-specific loadings and noise, a third of the indicators are counts with
many zeros for small units, and a few cells are missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from weightlab.data import Dataset
from weightlab.framework import Framework


def wide_framework(pillars: int = 4, subs: int = 10, per_sub: int = 10) -> Framework:
    groups, inds = [], []
    for p in range(pillars):
        groups.append({"code": f"P{p}", "parent": "idx"})
        for s in range(subs):
            groups.append({"code": f"P{p}S{s}", "parent": f"P{p}"})
            for j in range(per_sub):
                inds.append({"code": f"x{p}_{s}_{j}", "parent": f"P{p}S{s}", "direction": -1 if j == 9 else 1})
    return Framework.from_dict({"index": {"code": "idx"}, "groups": groups, "indicators": inds})


def make_case(n_units: int, wide: bool = False, seed: int = 2024) -> Dataset:
    """``n_units`` units on the seed's 25-indicator framework (``wide``: the 400-indicator one)."""
    if wide:
        fw = wide_framework()
    else:
        from weightlab.datasets import load_ai_cities

        fw = load_ai_cities().framework
    k = len(fw.indicator_codes)
    rng = np.random.default_rng(seed)
    size = rng.normal(size=n_units)
    tech = 0.4 * size + 0.9 * rng.normal(size=n_units)
    a, b = rng.uniform(0.3, 1.5, k), rng.uniform(0.0, 1.2, k)
    noise = rng.uniform(0.2, 0.9, k)
    x = np.exp(size[:, None] * a + tech[:, None] * b + rng.normal(size=(n_units, k)) * noise)
    counts = rng.random(k) < 1 / 3
    lam = x[:, counts] * rng.uniform(0.05, 2.0, counts.sum())
    x[:, counts] = rng.poisson(lam)  # many zeros for small units
    x[rng.random((n_units, k)) < 0.002] = np.nan
    units = pd.Index([f"u{i:06d}" for i in range(n_units)], name="unit")
    values = pd.DataFrame(x, index=units, columns=fw.indicator_codes)
    return Dataset(values, fw, pd.Series(units, index=units, name="name"), label="generated benchmark case")
