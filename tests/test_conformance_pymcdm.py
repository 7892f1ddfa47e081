"""Entropy, CRITIC and standard-deviation weights against pymcdm on the same normalised matrices.

Differences of definition (each one pinned by a test below):

- entropy: pymcdm (1.4) refuses a column holding a 0 (its sum normalisation needs strictly
  positive values), where weightlab follows Shannon's ``0 ln 0 = 0``. The two agree on strictly
  positive matrices, so they are compared on min-max data rescaled to [1, 100];
- CRITIC: the same definition (min-max rescaling, sd with ddof=1, Pearson r): compared as is;
- standard deviation: pymcdm takes the sd of the matrix as given, weightlab of each column
  min-max rescaled to [0, 1] (so that the weights do not depend on the normaliser's scale). They
  agree on min-max [0, 1] data, and differ on z-scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pymcdm_weights = pytest.importorskip("pymcdm.weights")

from weightlab.datasets import load_ai_cities  # noqa: E402
from weightlab.index import normalise  # noqa: E402
from weightlab.weighting import SCHEMES  # noqa: E402


def _groups(normalizer: str, **params):
    """(group, matrix) for every indicator group of the built-in data, mean-imputed and normalised."""
    ds = load_ai_cities()
    X = normalise(ds, normalizer, "mean", **params)
    fw = ds.framework
    for group in fw.groups_at(2):
        members = fw.children(group)
        if len(members) > 1:
            yield group, members, X[members].to_numpy(dtype=float), fw


def _ours(name: str, members, M, group, fw) -> np.ndarray:
    return SCHEMES.get(name).group_weights(M, members, group, fw)


@pytest.mark.parametrize("group, members, M, fw", list(_groups("minmax", range=(1.0, 100.0))),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_entropy_matches_pymcdm_on_positive_minmax_data(group, members, M, fw):
    np.testing.assert_allclose(_ours("entropy", members, M, group, fw), pymcdm_weights.entropy_weights(M),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("group, members, M, fw", list(_groups("minmax")), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_critic_and_std_match_pymcdm_on_minmax_data(group, members, M, fw):
    np.testing.assert_allclose(_ours("critic", members, M, group, fw), pymcdm_weights.critic_weights(M),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_ours("std", members, M, group, fw), pymcdm_weights.standard_deviation_weights(M),
                               rtol=1e-10, atol=1e-12)


def test_critic_matches_pymcdm_on_zscores_too():
    for group, members, M, fw in _groups("zscore"):
        np.testing.assert_allclose(_ours("critic", members, M, group, fw), pymcdm_weights.critic_weights(M),
                                   rtol=1e-10, atol=1e-12)


def test_documented_difference_entropy_with_a_zero():
    """A column with one 0: weightlab keeps Shannon's 0 ln 0 = 0 (checked by hand); pymcdm refuses it
    (its sum normalisation needs strictly positive values; older versions set e = 0 instead)."""
    M = np.array([[0.0, 2.0], [1.0, 2.0], [3.0, 4.0]])
    p = M / M.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    d = 1 + plogp.sum(axis=0) / np.log(3)
    np.testing.assert_allclose(_ours("entropy", ["x", "y"], M, "g", None), d / d.sum(), rtol=1e-12)
    with pytest.raises(ValueError, match="positive"):
        pymcdm_weights.entropy_weights(M)


def test_documented_difference_std_on_zscores():
    """On z-scores every column has sd 1 for pymcdm (equal weights); weightlab rescales to [0, 1] first."""
    rng = np.random.default_rng(1)
    raw = pd.DataFrame(rng.lognormal(size=(50, 3)))
    Z = ((raw - raw.mean()) / raw.std(ddof=1)).to_numpy()
    np.testing.assert_allclose(pymcdm_weights.standard_deviation_weights(Z), np.full(3, 1 / 3))
    mm = (Z - Z.min(axis=0)) / (Z.max(axis=0) - Z.min(axis=0))
    sd = mm.std(axis=0, ddof=1)
    np.testing.assert_allclose(_ours("std", ["a", "b", "c"], Z, "g", None), sd / sd.sum(), rtol=1e-12)
