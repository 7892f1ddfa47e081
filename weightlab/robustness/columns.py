"""The columns of a design: which uniform in [0, 1) of a replication feeds which input of the model.

Every replication reads one row of uniforms ``U[r, :]`` (numpy only; the kernels import it). The
layout derives from the factor table (:mod:`weightlab.robustness.factors`):

==============================  ==========================================================  ==============
column                          input                                                       stream index
==============================  ==========================================================  ==============
0                               imputation option (inverse CDF of its probabilities)        0
1                               normalizer option                                           1
2                               weighting-scheme option                                     2
3                               dropped indicator (0: none)                                 3
4 + l                           aggregator option of aggregation draw ``l``                 8 + l
then, only when they vary       treatment option, denomination option                       4, 5
``bootstrap``                   key of the bootstrap resample of units                      (the replication key)
``weights + i``                 multiplier ``U(1 - spread, 1 + spread)`` of node ``i``,     64 + i
                                or the key of its Dirichlet (gamma) draws
==============================  ==========================================================  ==============

With the counter-based stream (the default design) column ``c`` of replication ``r`` is
``u(seed, r, stream index of c)`` of :mod:`weightlab.robustness.rng`, so results are those of the
engine before designs existed, bit for bit. Quasi-random and Saltelli designs supply the rows
instead (:mod:`weightlab.robustness.design`).
A factor added after the first ones (treatment, denomination) has a column only in plans whose spec
lists two of its options or more, so the rows of every other spec (and their Sobol' and Saltelli
designs, whose dimension is ``n_cols``) are unchanged. Inputs that need many numbers (the n draws of a
bootstrap resample, the gamma variates of Dirichlet noise) take one column as a key:
``key = splitmix64(seed ^ floor(u * 2**53))``, then draw from the counter-based stream of that key.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .factors import DISCRETE, Factor


class Columns(NamedTuple):
    """Column layout of one plan's design rows."""

    n_agg_draws: int
    n_weights: int  # non-root nodes
    varying: tuple = ()  # names of the factors with a column only when they vary, that vary here

    def scalar_factors(self) -> list[Factor]:
        """The discrete factors with columns, in column order."""
        always = sorted((f for f in DISCRETE if f.column_when_fixed), key=lambda f: f.stream)
        extra = sorted((f for f in DISCRETE if not f.column_when_fixed and f.name in self.varying),
                       key=lambda f: f.stream)
        return always + extra

    def _width(self, f: Factor) -> int:
        return self.n_agg_draws if f.name == "aggregator" else 1

    def columns_of(self, name: str) -> list[int]:
        """The columns of discrete factor ``name`` (none when it has no column: option 0)."""
        c = 0
        for f in self.scalar_factors():
            if f.name == name:
                return list(range(c, c + self._width(f)))
            c += self._width(f)
        return []

    def col(self, name: str) -> int:
        """The (first) column of discrete factor ``name``, -1 when it has none."""
        cols = self.columns_of(name)
        return cols[0] if cols else -1

    @property
    def bootstrap(self) -> int:
        return sum(self._width(f) for f in self.scalar_factors())

    @property
    def weights(self) -> int:
        return self.bootstrap + 1

    @property
    def n_cols(self) -> int:
        return self.weights + self.n_weights

    def stream_indices(self) -> np.ndarray:
        """Stream index (rng) of the scalar columns ``0 .. bootstrap - 1`` under the counter-based stream."""
        return np.array([f.stream + t for f in self.scalar_factors() for t in range(self._width(f))],
                        dtype=np.int64)
