"""Expert weights: the framework's own, a weights table, or AHP pairwise comparisons."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._io import read_toml
from .._params import NONE, InstanceOf
from ..errors import InputError, ParameterError
from .base import SCHEMES, WeightingScheme

# Saaty's random consistency index RI for matrices of order 1..10
RANDOM_INDEX = (0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49)


def ahp_weights(matrix: "np.ndarray | list") -> tuple[np.ndarray, float, float, float]:
    """Principal-eigenvector weights of an AHP pairwise comparison matrix (Saaty 1980).

    ::

        A w = lambda_max w,   w >= 0, sum w = 1
        CI = (lambda_max - m) / (m - 1),   CR = CI / RI_m

    Returns ``(weights, lambda_max, CI, CR)``; CR is 0 for m <= 2 (always consistent).
    """
    A = np.asarray(matrix, dtype=float)
    m = A.shape[0]
    if A.ndim != 2 or A.shape[1] != m:
        raise ParameterError(f"An AHP matrix must be square; got shape {A.shape}.")
    if not np.all(np.isfinite(A)) or np.any(A <= 0):
        raise ParameterError("AHP matrix entries must be positive numbers.")
    if not np.allclose(A * A.T, 1.0, rtol=1e-3):
        i, j = np.argwhere(~np.isclose(A * A.T, 1.0, rtol=1e-3))[0]
        raise ParameterError(f"AHP matrix is not reciprocal: a[{i}][{j}] * a[{j}][{i}] = {A[i, j] * A[j, i]:.4g} "
                             f"(should be 1).")
    values, vectors = np.linalg.eig(A)
    k = int(np.argmax(values.real))
    lam = float(values[k].real)
    w = np.abs(vectors[:, k].real)
    w = w / w.sum()
    ci = (lam - m) / (m - 1) if m > 2 else 0.0
    cr = ci / RANDOM_INDEX[m - 1] if 2 < m <= len(RANDOM_INDEX) else 0.0
    return w, lam, ci, cr


@SCHEMES.register("expert")
class Expert(WeightingScheme):
    """Weights set by people, not data.

    Default: the framework's nominal weights (renormalised in each group). ``weights`` overrides
    some members (a CSV file with columns ``member,weight`` or a dict); ``ahp`` gives pairwise
    comparison matrices per group (a TOML file or dict ``{group: {"members": [...], "matrix":
    [[...]]}}``, TOML: ``[groups.talent] members = [...] matrix = [[...]]``), whose principal
    eigenvectors become the group's weights (see :func:`ahp_weights`); a consistency ratio above
    0.1 gives a warning, and every CR is recorded in ``notes_``.

    Parameters
    ----------
    weights : str, Path, dict or None, default=None
    ahp : str, Path, dict or None, default=None

    References
    ----------
    Saaty, T. L. (1980). The Analytic Hierarchy Process. McGraw-Hill.
    OECD/JRC (2008), Handbook on Constructing Composite Indicators, section 6.1.
    """

    _parameter_constraints: ClassVar[dict] = {
        "weights": [NONE, InstanceOf((str, Path, dict), "a CSV path or a dict member -> weight")],
        "ahp": [NONE, InstanceOf((str, Path, dict), "a TOML path or a dict group -> {members, matrix}")],
    }

    def __init__(self, weights: "str | Path | dict | None" = None, ahp: "str | Path | dict | None" = None) -> None:
        self.weights = weights
        self.ahp = ahp

    def _overrides(self) -> dict[str, float]:
        if self.weights is None:
            return {}
        if isinstance(self.weights, dict):
            return {str(k): float(v) for k, v in self.weights.items()}
        path = Path(self.weights)
        try:
            table = pd.read_csv(path)
        except FileNotFoundError:
            raise InputError(f"Weights file {path} does not exist: check the path.") from None
        if not {"member", "weight"} <= set(table.columns):
            raise InputError(f"Weights file {path} needs columns member,weight.")
        w = pd.to_numeric(table["weight"], errors="coerce")
        if w.isna().any() or (w < 0).any():
            raise InputError(f"Weights file {path}: weights must be numbers >= 0 (row {int(w.isna().idxmax()) + 2}).")
        return dict(zip(table["member"].astype(str), w.astype(float)))

    def _matrices(self) -> dict[str, Any]:
        if self.ahp is None:
            return {}
        if isinstance(self.ahp, dict):
            doc = self.ahp
        else:
            doc = read_toml(self.ahp, "AHP file", InputError).get("groups", {})
        return doc

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        matrices = self._matrices()
        if group in matrices:
            entry = matrices[group]
            order = [str(m) for m in entry.get("members", [])]
            if sorted(order) != sorted(members):
                raise ParameterError(f"AHP matrix of group '{group}' lists members {order}; the group has {members}.")
            try:
                w, lam, ci, cr = ahp_weights(entry["matrix"])
            except ParameterError as exc:
                raise ParameterError(f"AHP matrix of group '{group}': {exc}") from None
            self.notes_.append(f"AHP group {group}: lambda_max={lam:.4f}, CI={ci:.4f}, CR={cr:.4f}")
            if cr > 0.1:
                warnings.warn(f"AHP matrix of group '{group}' has consistency ratio {cr:.3f} > 0.1: revise the "
                              f"judgements.", UserWarning, stacklevel=2)
            by_member = dict(zip(order, w))
            return np.array([by_member[m] for m in members])
        overrides = self._overrides()
        w = np.array([overrides.get(m, framework.node(m).weight) for m in members], dtype=float)
        if w.sum() <= 0:
            raise ParameterError(f"Expert weights of group '{group}' sum to 0: give a member a positive weight.")
        return w / w.sum()
