"""Small datasets shared by the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weightlab.data import Dataset

# index -> g1 (a; b, a cost indicator), g2 (c, d); a has a Chinese name (for encoding tests)
TWO_GROUP_FRAMEWORK = """[index]
code = "idx"
[[groups]]
code = "g1"
parent = "idx"
[[groups]]
code = "g2"
parent = "idx"
[[indicators]]
code = "a"
parent = "g1"
name_zh = "人工智能企业"
[[indicators]]
code = "b"
parent = "g1"
direction = -1
[[indicators]]
code = "c"
parent = "g2"
[[indicators]]
code = "d"
parent = "g2"
"""


def random_dataset(n_units: int = 40, seed: int = 3, missing: int = 0) -> Dataset:
    """A small 3-level dataset: 7 indicators (one cost), 3 sub-pillars (one single-member), 2 pillars."""
    from weightlab.testing import three_level_framework

    fw = three_level_framework(cost=("x3",))
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_units, 1))
    vals = np.exp(0.8 * latent + rng.normal(scale=0.7, size=(n_units, 7))) * rng.uniform(1, 50, size=7)
    vals[rng.random((n_units, 7)) < 0.1] = 0.0
    vals[:3] = 0.0  # three units tied at zero everywhere
    df = pd.DataFrame(vals, columns=fw.indicator_codes, index=pd.Index([f"u{i:02d}" for i in range(n_units)],
                                                                        name="unit"))
    if missing:
        cells = rng.choice(n_units * 7, size=missing, replace=False)
        for c in cells:
            df.iat[c // 7, c % 7] = np.nan
    return Dataset(df, fw, pd.Series(df.index, index=df.index, name="name"))


def assert_replications_match_rebuild(dataset: Dataset, spec, plan, reps: int) -> dict:
    """Replications ``0 .. reps-1`` of the engine (choices, scores to 1e-12, ranks, effective weights)
    against the plain rebuild of weightlab/robustness/reference.py; returns the options seen per factor."""
    from weightlab.robustness.engine import debug_replication
    from weightlab.robustness.reference import rebuild

    seen = {f: set() for f in plan.factor_options}
    for r in range(reps):
        got = debug_replication(plan, r)
        want = rebuild(dataset, spec, r)
        for factor, option in want["choices"].items():
            assert got["choices"][factor] == option, (r, factor)
            seen[factor].add(option)
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-12, atol=1e-12, err_msg=f"r={r}")
        np.testing.assert_array_equal(got["ranks"], want["ranks"], err_msg=f"r={r}")
        eff = np.array([got["effective_weights"][c] for c in dataset.framework.indicator_codes])
        np.testing.assert_allclose(eff, want["effective_weights"].to_numpy(), rtol=1e-12, atol=1e-14)
    return seen
