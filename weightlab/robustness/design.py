"""Designs: the rows of uniforms that the engine evaluates (SALib's *sample* step).

A design supplies, for replication indices ``r0 .. r1 - 1``, a ``(r1 - r0, n_cols)`` array of
uniforms in [0, 1) laid out as :mod:`weightlab.robustness.columns` describes. Rows are produced
chunk by chunk, so memory does not grow with the number of replications, and row ``r`` depends
only on (seed, design, r): results are bit-identical for any thread count or chunk size.

- :class:`StreamDesign`: the counter-based stream (the default of ``robustness``). The kernels
  compute its uniforms themselves; ``rows`` returns an empty array to say so.
- :class:`SobolDesign`: scrambled Sobol' points (:class:`scipy.stats.qmc.Sobol`, Owen-type
  linear matrix scrambling plus a digital shift, seeded), point ``r`` for replication ``r``.
- :class:`SaltelliDesign`: Saltelli's A, B, AB_i design for Sobol' indices (Saltelli 2002;
  Saltelli et al. 2010): base point j of a ``2 * n_cols``-dimensional scrambled Sobol' sequence
  gives ``A_j`` (first half) and ``B_j`` (second half); the evaluations of base sample j are
  ``A_j, B_j, AB_1j, ..., AB_dj`` where ``AB_ij`` is ``A_j`` with the columns of factor i taken
  from ``B_j`` (a factor may own several columns: the weights, grouped).
- :class:`ArrayDesign`: a user's own rows.

References
----------
Saltelli, A. (2002). Making best use of model evaluations to compute sensitivity indices.
Computer Physics Communications 145(2), 280-297.
Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M., Tarantola, S. (2010). Variance
based sensitivity analysis of model output. Design and estimator for the total sensitivity index.
Computer Physics Communications 181(2), 259-270.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from ..errors import ParameterError

SOBOL_MAX_POINTS = 1 << 30  # scipy's Sobol' engine generates at most 2**30 points


def _sobol(dim: int, seed: int):
    from scipy.stats import qmc

    return qmc.Sobol(dim, scramble=True, seed=np.random.default_rng(seed))


def _sobol_rows(engine, r0: int, r1: int) -> np.ndarray:
    """Points ``r0 .. r1 - 1`` of a Sobol' engine, whatever it generated before."""
    engine.reset()
    if r0:
        engine.fast_forward(r0)
    with warnings.catch_warnings():  # balance holds for the whole run's 2**m points, not each chunk
        warnings.filterwarnings("ignore", message="The balance properties of Sobol")
        return engine.random(r1 - r0)


class StreamDesign:
    """The counter-based stream of :mod:`weightlab.robustness.rng` (computed inside the kernels)."""

    name = "stream"

    def __init__(self, n_cols: int) -> None:
        self.n_cols = n_cols

    def rows(self, r0: int, r1: int) -> np.ndarray:
        return np.empty((0, self.n_cols))


class SobolDesign:
    """Scrambled Sobol' points of dimension ``n_cols``; replication r is point r."""

    name = "sobol"

    def __init__(self, n_cols: int, seed: int) -> None:
        self.n_cols = n_cols
        self._engine = _sobol(n_cols, seed)

    def rows(self, r0: int, r1: int) -> np.ndarray:
        if r1 > SOBOL_MAX_POINTS:
            raise ParameterError(f"a Sobol' design has at most 2**30 = {SOBOL_MAX_POINTS:,} points; asked for "
                                 f"{r1:,}: lower reps or use [sampling] method = \"stream\".")
        return _sobol_rows(self._engine, r0, r1)


class SaltelliDesign:
    """Saltelli's A, B, AB_i rows for ``base_samples`` base samples and factors owning ``groups`` of columns.

    Evaluation ``r = j * (d + 2) + t`` is ``A_j`` (t = 0), ``B_j`` (t = 1) or ``AB_ij`` (t = 2 + i).
    """

    name = "saltelli"

    def __init__(self, n_cols: int, groups: Sequence[Sequence[int]], base_samples: int, seed: int) -> None:
        if base_samples < 2:
            raise ParameterError(f"--base-samples must be at least 2; got {base_samples}.")
        if base_samples > SOBOL_MAX_POINTS:
            raise ParameterError(f"--base-samples must be at most 2**30; got {base_samples:,}.")
        self.n_cols = n_cols
        self.groups = [np.asarray(g, dtype=np.int64) for g in groups]
        self.base_samples = base_samples
        self.per_sample = len(self.groups) + 2
        self.n_rows = base_samples * self.per_sample
        self._engine = _sobol(2 * n_cols, seed)

    def rows(self, r0: int, r1: int) -> np.ndarray:
        d = self.per_sample
        j0, j1 = r0 // d, -(-r1 // d)
        base = _sobol_rows(self._engine, j0, min(j1, self.base_samples))
        A, B = base[:, :self.n_cols], base[:, self.n_cols:]
        out = np.repeat(A, d, axis=0)
        out[1::d] = B
        for i, cols in enumerate(self.groups):
            out[2 + i::d, cols] = B[:, cols]
        return out[r0 - j0 * d:r1 - j0 * d]


class ArrayDesign:
    """A user's own design: row r of ``U`` for replication r."""

    name = "array"

    def __init__(self, U: np.ndarray, n_cols: int) -> None:
        U = np.asarray(U, dtype=float)
        if U.ndim != 2 or U.shape[1] != n_cols:
            raise ParameterError(f"a design must be a 2-D array with {n_cols} columns (one per input, see "
                                 f"plan.columns); got shape {U.shape}.")
        if not np.isfinite(U).all() or U.min(initial=0.0) < 0.0 or U.max(initial=0.0) >= 1.0:
            raise ParameterError("a design's values must be uniforms in [0, 1).")
        self.n_cols = n_cols
        self.U = np.ascontiguousarray(U)
        self.n_rows = U.shape[0]

    def rows(self, r0: int, r1: int) -> np.ndarray:
        return self.U[r0:r1]
