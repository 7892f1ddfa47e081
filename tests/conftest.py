"""Fixtures shared by the plot and report tests: one modest Monte Carlo run on the built-in data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def demo_ds():
    from weightlab.datasets import load_ai_cities

    return load_ai_cities()


@pytest.fixture(scope="session")
def demo_mc(demo_ds):
    """The demo spec at 20,000 replications (keeps CPU low; the plots only need a distribution)."""
    import weightlab as wl

    return wl.run_robustness(demo_ds, wl.demo_spec(reps=20_000), threads=1)


@pytest.fixture(scope="session")
def demo_schemes(demo_ds):
    from weightlab.index import build_index

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mean-filled cells for data-driven weights
        return {s: build_index(demo_ds, scheme=s, imputation="mean") for s in ("equal", "entropy", "critic", "pca")}


def synthetic_sobol(factors=("weights", "normalizer", "aggregator", "scheme", "dummy"), units=("110000", "310000"),
                    names=("Beijing", "Shanghai"), seed: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Small sobol.csv / sobol_units.csv frames with the columns the sensitivity command writes."""
    rng = np.random.default_rng(seed)

    def rows(n):
        s1 = rng.uniform(0, 0.4, n)
        st = s1 + rng.uniform(0, 0.3, n)
        return {"S1": s1, "S1_lo": s1 - 0.05, "S1_hi": s1 + 0.05, "ST": st, "ST_lo": st - 0.04, "ST_hi": st + 0.06}

    g = pd.DataFrame({"output": ["mean_abs_rank_shift"] * len(factors), "factor": list(factors), **rows(len(factors))})
    u = pd.DataFrame({"unit": np.repeat(units, len(factors)), "name": np.repeat(names, len(factors)),
                      "factor": list(factors) * len(units), **rows(len(factors) * len(units))})
    return g, u
