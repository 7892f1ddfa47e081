"""The tuning constants of the Monte Carlo engine, in one place (after stumpy's ``config``).

The modules that use a constant import it from here (and tests may patch it there, on that module).
None of them changes what a replication computes; several change how the result is counted or
summarised (block size, score bins, pilots, band thresholds), so the checkpoint fingerprint hashes
all of them (:func:`weightlab.robustness.checkpoint.run_fingerprint`): a resume under other
constants is refused instead of mixing two layouts.
"""

from __future__ import annotations

# kernels and plan
BLOCK = 128  # replications per block (the unit of work of a thread; the rows of one matrix product)
Q_MAX = 1 << 24  # quantisation of scores for exact integer sums
MAX_REPS_PER_SLOT = 1 << 14  # keeps sum of q**2 per slot and chunk below 2**63
WIDE_UNITS = 4096  # from this many units the ranking uses 22-bit keys (rank_finite_wide; faster from ~3,000)

# accumulators
SCORE_BINS = 256  # bins of each unit's score histogram
PILOT_REPS = 1024  # replications whose score range sets each unit's histogram bins (and rank bands' pilot)

# rank bands (many units) and coarse counts (many units with wide bands)
BAND_UNITS = 2048  # above this many units the engine counts ranks in bands (and writes them sparse)
MIN_PAD = 8  # ranks added at least on each side of a unit's pilot range
PAD = 0.5  # and this fraction of that range
BAND_CELLS = 1 << 24  # above this many band cells (units x mean band) the engine counts coarse, then exact
COARSE_PILOT_REPS = 256  # replications whose rank ranges set the bands of coarse counts (engine._pilot_bands)
LOG_BYTES = 640 << 20  # memory for pass 1's rank log (RankLog): 2 bytes per unit and logged replication
EXACT_WIDTH = 256  # bands of at most this many ranks are counted at width 1

# memory, convergence, scale-out
RUN_BYTES = 1152 << 20  # data, plan, workspaces, counts, accumulators and rank log of one run
BATCH_REPS = 4096  # replications per batch of the convergence rule (32 blocks)
MIN_BATCHES = 20  # batches before the convergence rule is first checked
TASK_CHUNKS = 4  # a Dask task: this many default chunks of a worker

# sensitivity (Sobol' indices)
MAX_OUTPUT_BYTES = 8 << 30  # ranks (and scores) of all evaluations of a sensitivity run
BATCH_BYTES = 64 << 20  # memory of the bootstrap terms of one batch of outputs
MIN_BLOCKS = 1024  # base samples are resampled in blocks, at least this many (sobol.bootstrap_block)
TERM_ROWS = 256  # base samples per task of the terms kernel


def constants() -> dict[str, int | float]:
    """Every constant of this module by name (what the checkpoint fingerprint hashes)."""
    return {k: v for k, v in globals().items() if k.isupper()}
