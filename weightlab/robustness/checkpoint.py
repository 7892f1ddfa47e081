"""Checkpoints of a Monte Carlo run: the integer accumulators and the next block, saved atomically.

A checkpoint is a ``.npz`` file (numpy's zip of arrays, no pickle) with the accumulated quantities
of :mod:`weightlab.robustness.accumulators` by name (Python integers as decimal strings), the rank
layout's arrays (``bands_<field>``, and ``exact_<field>`` for the exact pass's segments of coarse
counts), the per-unit score-bin ranges, the next block to run, the batch estimates of a
``--until-converged`` run, and a fingerprint of everything the result depends on: the compiled plan's
arrays (data after treatment and normalisation, hierarchy, choices, weights, seed), the spec, the
unit ids, the design, the replications or stopping rule, and the engine's tuning constants
(:mod:`weightlab.robustness.config`).
Replications depend only on (seed, design, index) and integer sums are exact, so a run resumed from
any checkpoint ends with the result of an unbroken run, bit for bit; a resume whose fingerprint
differs is refused.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._io import atomic_path
from ..errors import InputError
from . import config
from .accumulators import Accumulators, counts_from_arrays, counts_to_arrays
from .coarse import LAYOUTS, Segments

FORMAT = "weightlab-checkpoint-3"


def _layout_arrays(prefix: str, layout) -> dict[str, np.ndarray]:
    return {f"{prefix}{name}": a for name, a in zip(layout._fields, layout)}


def _layout_of(cls, prefix: str, arrays: dict[str, np.ndarray]):
    return cls(*(arrays[f"{prefix}{name}"] for name in cls._fields))


def run_fingerprint(plan, design, until=None) -> str:
    """SHA-256 of what a run's result depends on (see the module docstring)."""
    h = hashlib.sha256()
    from .plan import kernel_fields

    for name, value in kernel_fields(plan.kernel):
        h.update(name.encode())
        if isinstance(value, np.ndarray):
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value))  # the array's buffer: no bytes copy of a matrix
        else:
            h.update(repr(value).encode())
    rule = None if until is None else [until.quantiles, until.tolerance, until.max_reps, until.batch_reps,
                                       until.min_batches]
    h.update(json.dumps({"spec": plan.spec.to_dict(), "units": [str(u) for u in plan.dataset.units],
                         "design": design.name, "until": rule, "config": config.constants()},
                        sort_keys=True, default=str).encode())
    return h.hexdigest()


class RunState(NamedTuple):
    accumulators: Accumulators
    next_block: int
    batch_quantiles: np.ndarray


def save_checkpoint(path: str | Path, fingerprint: str, acc: Accumulators, next_block: int, until=None) -> None:
    """Write a checkpoint atomically (temporary file in the same directory, then ``os.replace``)."""
    meta = {"format": FORMAT, "fingerprint": fingerprint, "next_block": int(next_block), "design": acc.design,
            "second_pass_units": acc.second_pass_units, "replayed_reps": acc.replayed_reps, "layout": acc.bands.name}
    batches = until.batch_quantiles if until is not None else np.zeros((0, 0, 0), dtype=np.int32)
    layout = _layout_arrays("bands_", acc.bands)
    if acc.exact is not None:
        layout.update(_layout_arrays("exact_", acc.exact), exact_counts=acc.exact_counts)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **counts_to_arrays(acc.counts), **layout, bin_lo=acc.bin_lo,
                     bin_hi=acc.bin_hi, batch_quantiles=batches)


def load_checkpoint(path: str | Path, fingerprint: str) -> RunState:
    """Read a checkpoint written for the same inputs (else a clear :class:`InputError`)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files if k != "meta"}
    except FileNotFoundError:
        raise InputError(f"--resume {path}: no such file; give the file written by --checkpoint.") from None
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"--resume {path} is not a weightlab checkpoint ({exc}); give the file written by "
                         f"--checkpoint, or start afresh without --resume.") from None
    if meta.get("format") != FORMAT:
        raise InputError(f"--resume {path} is not a weightlab checkpoint (format {meta.get('format')!r}).")
    if meta["fingerprint"] != fingerprint:
        raise InputError(f"--resume {path} was written for other inputs (data, framework, spec, seed, replications "
                         f"or stopping rule differ): resume with the same inputs, or start afresh without --resume.")
    acc = Accumulators(counts_from_arrays(arrays), _layout_of(LAYOUTS[meta["layout"]], "bands_", arrays),
                       arrays["bin_lo"], arrays["bin_hi"], design=meta["design"],
                       second_pass_units=int(meta["second_pass_units"]), replayed_reps=int(meta["replayed_reps"]))
    if "exact_ptr" in arrays:
        acc.exact, acc.exact_counts = _layout_of(Segments, "exact_", arrays), arrays["exact_counts"]
    return RunState(acc, int(meta["next_block"]), arrays["batch_quantiles"])


class CheckpointWriter:
    """Saves a run's state to ``path`` at most every ``every`` seconds (and when forced)."""

    def __init__(self, path: str | Path, fingerprint: str, every: float = 5.0) -> None:
        self.path, self.fingerprint, self.every = Path(path), fingerprint, float(every)
        self.last = time.monotonic()

    def maybe_save(self, acc: Accumulators, next_block: int, until=None, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.every:
            save_checkpoint(self.path, self.fingerprint, acc, next_block, until)
            self.last = time.monotonic()
