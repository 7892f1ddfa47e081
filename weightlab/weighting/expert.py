"""Expert weights: the framework's own, a weights table, or AHP pairwise comparisons."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._io import read_toml
from .._params import NONE, InstanceOf, validate_params
from ..errors import InputError, ParameterError
from .base import SCHEMES, WeightingScheme

# Saaty's random consistency index RI for matrices of order 1..15 (the table commonly cited from
# Saaty 1980); orders above 15 are refused
RANDOM_INDEX = (0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59)


def ahp_weights(matrix: "np.ndarray | list") -> tuple[np.ndarray, float, float, float]:
    """Principal-eigenvector weights of an AHP pairwise comparison matrix (Saaty 1980).

    ::

        A w = lambda_max w,   w >= 0, sum w = 1
        CI = (lambda_max - m) / (m - 1),   CR = CI / RI_m

    Returns ``(weights, lambda_max, CI, CR)``; CR is 0 for m <= 2 (always consistent). RI is
    tabulated up to m = 15; larger matrices are refused.
    """
    try:
        A = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError("An AHP matrix must be a square table of positive numbers (a list of equal-length "
                             "rows, e.g. [[1, 3], [0.333, 1]]).") from None
    m = A.shape[0] if A.ndim else 0
    if A.ndim != 2 or A.shape[1] != m or m == 0:
        raise ParameterError(f"An AHP matrix must be square; got shape {A.shape}.")
    if m > len(RANDOM_INDEX):
        raise ParameterError(f"An AHP matrix of order {m} has no tabulated random index (orders 1..{len(RANDOM_INDEX)}); "
                             f"split the group into smaller ones.")
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
    cr = ci / RANDOM_INDEX[m - 1] if m > 2 else 0.0
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
            out = {}
            for k, v in self.weights.items():
                try:
                    out[str(k)] = float(v)
                except (TypeError, ValueError):
                    out[str(k)] = float("nan")
                if not np.isfinite(out[str(k)]) or out[str(k)] < 0:
                    raise ParameterError(f"Expert weight of '{k}' is {v!r}: weights must be numbers >= 0.")
            return out
        import io

        from .._io import read_text

        path = Path(self.weights)
        text = read_text(path, "Weights file", InputError, encoding_option=False)
        try:
            table = pd.read_csv(io.StringIO(text), dtype={"member": str})
        except (ValueError, OSError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(".")
            raise InputError(f"Cannot read weights file {path} ({first}): save it as a CSV with columns "
                             f"member,weight.") from None
        if not {"member", "weight"} <= set(table.columns):
            raise InputError(f"Weights file {path} needs columns member,weight.")
        w = pd.to_numeric(table["weight"], errors="coerce")
        bad = (w.isna() | ~np.isfinite(w.fillna(0.0)) | (w < 0)).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"Weights file {path}: weight {table['weight'].iloc[row]!r} of member "
                             f"{table['member'].iloc[row]!r} (row {row + 2}) must be a number >= 0.")
        members = table["member"].astype(str).str.strip()
        dup = members.duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            raise InputError(f"Weights file {path}: member {members.iloc[row]!r} is listed twice (again on row "
                             f"{row + 2}): give each member one weight.")
        return dict(zip(members, w.astype(float)))

    def _matrices(self) -> dict[str, Any]:
        if self.ahp is None:
            return {}
        if isinstance(self.ahp, dict):
            doc, where = self.ahp, "ahp"
        else:
            doc, where = read_toml(self.ahp, "AHP file", InputError, encoding_option=False).get("groups"), f"AHP file {self.ahp}"
            if not isinstance(doc, dict) or not doc:
                raise InputError(f"{where} has no [groups.<code>] tables: write one per group, with members = "
                                 f"[...] and matrix = [[...], ...].")
        for group, entry in doc.items():
            if not isinstance(entry, dict) or "members" not in entry or "matrix" not in entry:
                raise ParameterError(f"{where}: the entry of group '{group}' needs 'members' (a list of codes) and "
                                     f"'matrix' (the pairwise comparisons).")
        return doc

    def fit(self, X, framework, level="all", aggregator="arithmetic") -> "Expert":
        """As :meth:`WeightingScheme.fit`, after checking that every group of ``ahp`` and every member of
        ``weights`` exists in ``framework`` (a misspelt code would otherwise be ignored silently)."""
        validate_params(self)
        groups = {framework.index.code, *(g.code for g in framework.groups)}
        unknown = sorted(set(self._matrices()) - groups)
        if unknown:
            raise ParameterError(f"AHP matrices given for unknown group(s) {', '.join(unknown)}: use group codes "
                                 f"of the framework ({', '.join(sorted(groups)[:8])}).")
        members = {n.code for n in [*framework.groups, *framework.indicators]}
        unknown = sorted(set(self._overrides()) - members)
        if unknown:
            raise ParameterError(f"Expert weights given for unknown member(s) {', '.join(unknown[:5])}: use "
                                 f"indicator or group codes of the framework.")
        return super().fit(X, framework, level, aggregator)

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
            if len(w) != len(order):
                raise ParameterError(f"AHP matrix of group '{group}' is {len(w)}x{len(w)} but lists {len(order)} "
                                     f"members: give one row and one column per member, in the order of "
                                     f"'members'.")
            self.notes_.append(f"AHP group {group}: lambda_max={lam:.4f}, CI={ci:.4f}, CR={cr:.4f}")
            if cr > 0.1:
                warnings.warn(f"AHP matrix of group '{group}' has consistency ratio {cr:.3f} > 0.1: revise the "
                              f"judgements.", UserWarning, stacklevel=2)
            by_member = dict(zip(order, w))
            return np.array([by_member[m] for m in members])
        overrides = self._overrides()
        w = np.array([overrides.get(m, framework.node(m).weight) for m in members], dtype=float)
        with np.errstate(over="ignore"):
            total = w.sum()
        if not np.isfinite(total):
            raise ParameterError(f"Expert weights of group '{group}' overflow when summed: weights are relative "
                                 f"within a group, so scale them down (e.g. divide them all by 1e6).")
        if w.sum() <= 0:
            raise ParameterError(f"Expert weights of group '{group}' sum to 0: give a member a positive weight.")
        return w / w.sum()
