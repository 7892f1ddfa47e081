"""Run until converged: batches of replications until every unit's rank quantiles are precise enough.

Estimator (batch means; e.g. Flegal and Jones 2011 for the method, Doss et al. 2014 for quantiles):
the replications are split into consecutive batches of ``b`` replications (whole blocks). Batch
``j`` gives each unit's quantile ``q_j`` (the median and the band limits, by the same inverted CDF
as the run's own estimate) from that batch's rank histogram alone. After ``B`` batches the Monte
Carlo standard error of the whole run's quantile is estimated by

    se = sd(q_1, ..., q_B) / sqrt(B)        (sample standard deviation, ddof = 1)

Replications are independent, so this is the usual standard error of a mean of ``B``
approximately normal batch estimates. The run stops after the first batch at which ``B >=
min_batches`` and every unit's ``se`` of every quantile is below ``tolerance`` (in ranks), or when
``max_reps`` replications are done. The rule depends only on the batches' results, which depend
only on (seed, design, replication index): a converged run is deterministic, and equal to a
fixed run with the replications it used.

References
----------
Flegal, J. M., Jones, G. L. (2011). Implementing MCMC: estimating with confidence. In Handbook of
Markov Chain Monte Carlo, Chapman & Hall, 175-197.
Doss, C. R., Flegal, J. M., Jones, G. L., Neath, R. C. (2014). Markov chain Monte Carlo estimation
of quantiles. Electronic Journal of Statistics 8(2), 2448-2478.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .config import BATCH_REPS, MIN_BATCHES
from .kernels import BLOCK


class Convergence:
    """The stopping rule of ``--until-converged`` and its batch estimates.

    Parameters
    ----------
    quantiles : sequence of float
        Rank quantiles watched (the spec's ``[outputs] quantiles``: median and band limits).
    tolerance : float, default=0.5
        Largest accepted standard error, in ranks.
    max_reps : int, default=10_000_000
        Replications at most (rounded down to whole batches).
    batch_reps : int, default=4096
        Replications per batch (rounded up to whole blocks of ``kernels.BLOCK``).
    min_batches : int, default=20
    """

    def __init__(self, quantiles, tolerance: float = 0.5, max_reps: int = 10_000_000,
                 batch_reps: int = BATCH_REPS, min_batches: int = MIN_BATCHES) -> None:
        if not tolerance > 0:
            raise ParameterError(f"--tolerance must be a positive number of ranks; got {tolerance}.")
        if min_batches < 2:
            raise ParameterError(f"min_batches must be at least 2; got {min_batches}.")
        self.quantiles = tuple(float(q) for q in quantiles)
        self.tolerance = float(tolerance)
        self.batch_blocks = -(-int(batch_reps) // BLOCK)
        self.batch_reps = self.batch_blocks * BLOCK
        self.min_batches = int(min_batches)
        batches = int(max_reps) // self.batch_reps
        if batches < self.min_batches:
            raise ParameterError(f"--max-reps must be at least {self.min_batches} batches of {self.batch_reps:,} "
                                 f"= {self.min_batches * self.batch_reps:,} replications; got {max_reps:,}.")
        self.max_reps = batches * self.batch_reps
        self._batches: list[np.ndarray] = []

    def observe_quantiles(self, quantiles: np.ndarray) -> None:
        """Add one batch by its (units, quantiles) estimates (the rank layout's ``batch_quantiles``:
        with rank bands, a batch's ranks outside a unit's band are left out of its estimate; with
        coarse rank counts they are resolved exactly by the batch's own exact pass, :mod:`.coarse`)."""
        self._batches.append(np.asarray(quantiles).astype(np.int32))

    def restore(self, batch_quantiles: np.ndarray) -> None:
        """Continue from the batch estimates of a checkpoint."""
        self._batches = list(batch_quantiles)

    @property
    def batch_quantiles(self) -> np.ndarray:
        """(batches, units, quantiles) int32: each batch's quantile estimates."""
        return np.asarray(self._batches, dtype=np.int32)

    @property
    def n_batches(self) -> int:
        return len(self._batches)

    def standard_errors(self) -> np.ndarray:
        """(units, quantiles) batch-means standard errors (NaN before two batches)."""
        B = len(self._batches)
        if B < 2:
            return np.full((0, len(self.quantiles)), np.nan) if B == 0 else np.full(self._batches[0].shape, np.nan)
        return np.std(self.batch_quantiles.astype(float), axis=0, ddof=1) / np.sqrt(B)

    def converged(self) -> bool:
        return self.n_batches >= self.min_batches and bool((self.standard_errors() < self.tolerance).all())

    def describe(self) -> dict:
        """The stopping rule and its outcome, for the manifest."""
        se = self.standard_errors()
        return {
            "rule": f"stop after the first batch of {self.batch_reps:,} replications at which at least "
                    f"{self.min_batches} batches are done and every unit's Monte Carlo standard error of "
                    f"each rank quantile {list(self.quantiles)} is below {self.tolerance} ranks, or at "
                    f"{self.max_reps:,} replications",
            "estimator": "batch means: se = sd(batch quantiles, ddof=1) / sqrt(batches), each batch's quantile "
                         "by inverted CDF of its own rank histogram",
            "tolerance": self.tolerance, "batch_reps": self.batch_reps, "min_batches": self.min_batches,
            "max_reps": self.max_reps, "batches": self.n_batches, "converged": self.converged(),
            "largest_se": float(np.nanmax(se)) if se.size else None,
        }
