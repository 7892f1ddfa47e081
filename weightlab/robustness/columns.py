"""The columns of a design: which uniform in [0, 1) of a replication feeds which input of the model.

Every replication reads one row of uniforms ``U[r, :]`` (numpy only; the kernels import it):

==========================  ==========================================================  ==============
column                      input                                                       stream index
==========================  ==========================================================  ==============
``COL_IMPUTATION`` (0)      imputation option (inverse CDF of its probabilities)        0
``COL_NORMALIZER`` (1)      normalizer option                                           1
``COL_SCHEME`` (2)          weighting-scheme option                                     2
``COL_DROP`` (3)            dropped indicator (0: none)                                 3
``COL_AGGREGATOR + l``      aggregator option of aggregation draw ``l``                 8 + l
``col_treatment``           treatment option (only when the treatment varies)           4
``col_bootstrap``           key of the bootstrap resample of units                      (the replication key)
``col_weights + i``         multiplier ``U(1 - spread, 1 + spread)`` of node ``i``,     64 + i
                            or the key of its Dirichlet (gamma) draws
==========================  ==========================================================  ==============

With the counter-based stream (the default design) column ``c`` of replication ``r`` is
``u(seed, r, stream index of c)`` of :mod:`weightlab.robustness.rng`, so results are those of the
engine before designs existed, bit for bit. Quasi-random and Saltelli designs supply the rows
instead (:mod:`weightlab.robustness.design`).
The treatment column exists only in plans whose spec lists two treatments or more, so the rows of
every other spec (and their Sobol' and Saltelli designs, whose dimension is ``n_cols``) are
unchanged. Inputs that need many numbers (the n draws of a
bootstrap resample, the gamma variates of Dirichlet noise) take one column as a key:
``key = splitmix64(seed ^ floor(u * 2**53))``, then draw from the counter-based stream of that key.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

COL_IMPUTATION = 0
COL_NORMALIZER = 1
COL_SCHEME = 2
COL_DROP = 3
COL_AGGREGATOR = 4  # + aggregation draw


class Columns(NamedTuple):
    """Column layout of one plan's design rows."""

    n_agg_draws: int
    n_weights: int  # non-root nodes
    treatment: bool = False  # a treatment column (the spec lists two treatments or more)

    @property
    def col_treatment(self) -> int:
        """The treatment column, -1 when the treatment is fixed (no column: option 0)."""
        return COL_AGGREGATOR + self.n_agg_draws if self.treatment else -1

    @property
    def bootstrap(self) -> int:
        return COL_AGGREGATOR + self.n_agg_draws + int(self.treatment)

    @property
    def weights(self) -> int:
        return self.bootstrap + 1

    @property
    def n_cols(self) -> int:
        return self.weights + self.n_weights

    def stream_indices(self) -> np.ndarray:
        """Stream index (rng) of the scalar columns ``0 .. bootstrap - 1`` under the counter-based stream."""
        from .rng import (STREAM_AGGREGATOR, STREAM_DROP, STREAM_IMPUTATION, STREAM_NORMALIZER, STREAM_SCHEME,
                          STREAM_TREATMENT)

        out = [STREAM_IMPUTATION, STREAM_NORMALIZER, STREAM_SCHEME, STREAM_DROP]
        out += [STREAM_AGGREGATOR + lvl for lvl in range(self.n_agg_draws)]
        out += [STREAM_TREATMENT] if self.treatment else []
        return np.array(out, dtype=np.int64)
