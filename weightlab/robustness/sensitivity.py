"""Which choice moves the ranks: Sobol' indices of every uncertain factor, globally and per unit.

``sample -> evaluate -> analyze`` as in SALib, each a separate step:

1. :func:`factors` names the uncertain inputs of a spec and the design columns each one owns
   (:mod:`weightlab.robustness.columns`); :class:`~weightlab.robustness.design.SaltelliDesign`
   samples A, B and AB_i for them;
2. :func:`weightlab.robustness.engine.evaluate` runs every row through the numba kernels and keeps
   each unit's rank (and score) per evaluation;
3. :func:`weightlab.robustness.sobol.analyze` estimates first-order and total indices with
   bootstrap intervals, for every output at once.

Outputs, for every factor:

- ``mean_abs_rank_shift``: the mean over units of ``|rank - nominal rank|`` (COINr's summary of a
  sensitivity run, Saisana, Saltelli & Tarantola 2005);
- ``all_ranks``: the share of the total rank variance (summed over units) due to the factor,
  i.e. the unit indices weighted by each unit's rank variance;
- each unit's rank (``sobol_units``), and each unit's score when the normalizer is fixed
  (``sobol_unit_scores``; scores of different normalizers are on different scales).

Memory: the ranks of all ``N (d + 2)`` evaluations are kept (4 bytes per unit and evaluation, plus
8 for scores): for 338 units, 6 factors and N = 8,192, 89 MB (+177 MB of scores). Runs needing
more than :data:`MAX_OUTPUT_BYTES` are refused with the figure and a smaller N that fits.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..data import Dataset
from ..errors import ParameterError, SpecError
from .config import MAX_OUTPUT_BYTES
from .factors import BY_NAME, RESAMPLE
from .design import SaltelliDesign
from .plan import Plan, compile_plan
from .sobol import Indices, analyze_stacked, resampling_counts
from .sobol import bootstrap_block as bootstrap_block_of
from .spec import UncertaintySpec

DUMMY = "dummy"
SOBOL_COLUMNS = ["S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi"]


def factors(plan: Plan) -> dict[str, list[int]]:
    """The uncertain factors of the plan's spec and the design columns each one owns.

    ``weights`` is one factor (all weight multipliers of the perturbed levels) unless the spec's
    ``[sensitivity] weight_groups`` is ``"level"`` (``weights_level1``, ... by member level) or
    ``"group"`` (``weights_<group>``: the members of one group).
    """
    spec, cols = plan.spec, plan.columns
    fw = plan.dataset.framework
    out: dict[str, list[int]] = {}
    for name in spec.uncertain_factors():
        if name == "weights":
            levels = range(1, fw.n_levels) if spec.weights.levels == "all" else spec.weights.levels
            nodes = [(i, c) for i, c in enumerate(plan.node_codes[:-1]) if fw.level_of(c) in levels]
            if spec.weight_groups == "one":
                out["weights"] = [cols.weights + i for i, _ in nodes]
            elif spec.weight_groups == "level":
                for lvl in levels:
                    out[f"weights_level{lvl}"] = [cols.weights + i for i, c in nodes if fw.level_of(c) == lvl]
            else:
                for i, c in nodes:
                    out.setdefault(f"weights_{fw.node(c).parent}", []).append(cols.weights + i)
        elif BY_NAME[name].kind == RESAMPLE:
            out[name] = [cols.bootstrap]
        else:  # a discrete factor: its columns (one per aggregation draw for the aggregator)
            out[name] = cols.columns_of(name)
    return out


@dataclass
class SensitivityResult:
    """Sobol' indices of a sensitivity run.

    Attributes
    ----------
    sobol : DataFrame
        ``output, factor, S1, S1_lo, S1_hi, ST, ST_lo, ST_hi`` for the global outputs
        (``mean_abs_rank_shift``, ``all_ranks``); the dummy factor last.
    sobol_units : DataFrame
        ``unit, name, factor, S1, ..., ST_hi``: each unit's rank, one row per unit and factor.
    sobol_unit_scores : DataFrame or None
        The same for each unit's score (only when the normalizer is fixed).
    manifest : dict
    """

    sobol: pd.DataFrame
    sobol_units: pd.DataFrame
    sobol_unit_scores: pd.DataFrame | None
    manifest: dict[str, Any] = field(default_factory=dict)
    dataset: Any = None  # the Dataset and UncertaintySpec of the run (their hashes go into manifest.json)
    spec: Any = None

    def ranking(self, output: str = "mean_abs_rank_shift") -> pd.DataFrame:
        """Factors of one global output sorted by total effect (largest first)."""
        t = self.sobol[self.sobol["output"] == output]
        return t.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)


def _unit_table(ix: Indices, names: list[str], cols: slice, ds: Dataset) -> pd.DataFrame:
    """``unit, name, factor, S1 ... ST_hi`` of the per-unit outputs ``cols``: units in data order,
    each unit's factors in the order of ``names``."""
    n, d = ds.n_units, len(names)
    return pd.DataFrame({"unit": np.repeat(ds.units.to_numpy(), d), "name": np.repeat(ds.names.to_numpy(), d),
                         "factor": np.tile(names, n),
                         **{k: getattr(ix, k)[:, cols].T.ravel() for k in SOBOL_COLUMNS}})


def run_sensitivity(dataset: Dataset, spec: UncertaintySpec, base_samples: int = 8192, n_boot: int = 1000,
                    seed: int | None = None, threads: int | None = None, chunk_size: int | None = None,
                    conf: float = 0.95, progress: Callable[[int, int], None] | None = None,
                    scheduler=None, bootstrap_block: int | None = None) -> SensitivityResult:
    """Sobol' first-order and total indices of every uncertain factor of ``spec`` on ``dataset``.

    Parameters
    ----------
    dataset : Dataset
    spec : UncertaintySpec
        Its uncertain factors (``spec.uncertain_factors()``) are the factors; ``reps`` is ignored.
    base_samples : int, default=8192
        N: the design has ``N (d + 2)`` evaluations for d factors (a power of 2 keeps the Sobol'
        points balanced).
    n_boot : int, default=1000
        Bootstrap resamples for the percentile intervals.
    seed : int, optional
        Seed of the design and of the resampling (default: the spec's).
    conf : float, default=0.95
        Coverage of the intervals.
    scheduler : str or distributed.Client, optional
        Where the evaluations run (:func:`weightlab.robustness.engine.run_plan`; default: local threads).
    bootstrap_block : int, optional
        Consecutive base samples resampled together for the intervals (default
        :func:`weightlab.robustness.sobol.bootstrap_block`; 1: single base samples).
    """
    from .engine import evaluate
    from .pool import thread_count

    if n_boot < 0:
        raise ParameterError(f"--bootstrap must be >= 0; got {n_boot}.")
    if bootstrap_block is not None and (bootstrap_block < 1 or base_samples % bootstrap_block):
        raise ParameterError(f"--bootstrap-block must be a divisor of --base-samples {base_samples:,}; got "
                             f"{bootstrap_block}.")
    if not 0 < conf < 1:
        raise ParameterError(f"the confidence level must be in (0, 1); got {conf}.")
    seed = spec.seed if seed is None else int(seed)
    if base_samples & (base_samples - 1):
        warnings.warn(f"--base-samples {base_samples:,} is not a power of 2: the Sobol' points lose their "
                      f"balance properties (intervals are still valid); {1 << base_samples.bit_length():,} or "
                      f"{1 << (base_samples.bit_length() - 1):,} keep them.", stacklevel=2)
    from .checks import check_nominal, check_run

    notes = check_run(dataset, spec)
    t0 = time.perf_counter()
    plan = compile_plan(dataset, spec)
    nominal = check_nominal(dataset, spec, plan).ranks.to_numpy()
    groups = factors(plan)
    if not groups:
        raise SpecError(f"{spec.source or 'spec'}: nothing is uncertain, so there is nothing to attribute: add "
                        f"[weights] perturb or a [choices] list with two options or more.")
    names = list(groups)
    d, n = len(names), dataset.n_units
    keep_scores = len(spec.choices.normalizer) == 1
    design = SaltelliDesign(plan.columns.n_cols, list(groups.values()), base_samples, seed)
    need = design.n_rows * n * (4 + (8 if keep_scores else 0))
    if need > MAX_OUTPUT_BYTES:
        fit = max(2, 1 << int(np.log2(MAX_OUTPUT_BYTES / (need / base_samples))))
        raise ParameterError(f"--base-samples {base_samples:,} keeps {need / 2**30:.1f} GiB of ranks"
                             f"{' and scores' if keep_scores else ''} ({design.n_rows:,} evaluations x {n:,} "
                             f"units); the limit is {MAX_OUTPUT_BYTES / 2**30:.0f} GiB: use --base-samples {fit:,} "
                             f"or fewer.")
    t1 = time.perf_counter()
    ranks, scores = evaluate(plan, design, scores=keep_scores, threads=threads, chunk_size=chunk_size,
                             progress=progress, scheduler=scheduler)
    t2 = time.perf_counter()

    per = d + 2
    # evaluations are laid out A, B, AB_1 .. AB_d per base sample: (N, d + 2, units) is sobol.stacked's layout
    R = ranks.reshape(base_samples, per, n)
    dev = R - nominal.astype(R.dtype)  # integer ranks: exact, and half the memory of float64
    shift = np.abs(dev, out=dev).mean(axis=2, keepdims=True)
    R = R.astype(float)
    # each unit's rank, and (last column) all ranks pooled: numerators and variances summed over units
    block = bootstrap_block_of(base_samples) if bootstrap_block is None else bootstrap_block
    C = resampling_counts(base_samples, n_boot, seed, block)  # one resampling for every output
    ix_units = analyze_stacked(R, conf=conf, pooled=True, counts=C)
    g_shift = analyze_stacked(shift, conf=conf, counts=C)
    all_names = names + [DUMMY]
    rows = []
    for out_name, ix, col in (("mean_abs_rank_shift", g_shift, 0), ("all_ranks", ix_units, n)):
        for f_i, f in enumerate(all_names):
            rows.append({"output": out_name, "factor": f,
                         **{k: float(getattr(ix, k)[f_i, col]) for k in SOBOL_COLUMNS}})
    sobol = pd.DataFrame(rows)
    units = _unit_table(ix_units, all_names, slice(0, n), dataset)
    unit_scores = None
    if keep_scores:
        ix_s = analyze_stacked(np.ascontiguousarray(scores.reshape(base_samples, per, n), dtype=float), conf=conf,
                               counts=C)
        unit_scores = _unit_table(ix_s, all_names, slice(None), dataset)
    t3 = time.perf_counter()
    evals = design.n_rows
    manifest = {  # the data's items (label, data, framework) come first in manifest.json: results.write
        "spec": spec.to_dict(),
        "seed": seed,
        "design": f"Saltelli A, B, AB_i on scrambled Sobol' points (scipy.stats.qmc.Sobol, dimension "
                  f"{2 * plan.columns.n_cols}); {base_samples:,} base samples x ({d} factors + 2) = {evals:,} "
                  f"evaluations; the dummy factor needs none",
        "estimators": "S1: Saltelli et al. (2010); ST: Jansen (1999); dummy: Khorashadi Zadeh et al. (2017)",
        "intervals": f"bootstrap percentile, {n_boot} resamples of the base samples"
                     + (f" in {base_samples // block:,} blocks of {block} consecutive ones" if block > 1 else "")
                     + f", {conf:.0%}",
        "bootstrap_block": block,
        "factors": {f: [int(c) for c in cols] for f, cols in groups.items()},
        "base_samples": base_samples, "evaluations": evals, "bootstrap": n_boot,
        "memory_bytes": int(need),
        "threads": thread_count(threads),
        "notes": notes,
        "compile_plan_s": t1 - t0, "evaluate_s": t2 - t1, "analyze_s": t3 - t2,
        "evaluations_per_s": evals / (t2 - t1) if t2 > t1 else float("nan"),
    }
    return SensitivityResult(sobol, units, unit_scores, manifest, dataset, spec)
