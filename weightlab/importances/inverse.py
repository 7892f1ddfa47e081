"""Weights from target importance: the inverse problem of :mod:`weightlab.importances.table`.

Given the members ``X`` (n x m) of one group and target importances ``t`` (normalised to sum 1),
find within-group weights ``w`` (>= 0, summing to 1) whose importance in the group score matches.

- :func:`linear_balance`: the exact solution for an arithmetic group score ``y = X w``. Since
  ``corr(x_i, y) = (Sigma w)_i / (sigma_i sd(y))``, the correlations are proportional to ``t`` iff
  ``Sigma w`` is proportional to ``D_sigma t``::

      w  ∝  Sigma^-1 D_sigma t            (D_sigma = diag of the members' standard deviations)

  It is feasible iff every component is >= 0. Otherwise the members with negative components are
  reported and the nearest feasible weights in the simplex are found by SLSQP (started from the
  NNLS solution of ``Sigma w = D_sigma t``) on the same objective, with the remaining gap.
- :func:`nonlinear_balance`: Becker et al. (2017): the same objective on the main effects ``S_i``
  (re-estimated at each step, with the group's own aggregator), from the linear solution, by
  Nelder-Mead on ``w = softmax(theta)``.
- :func:`r_nelder_mead` and :func:`coinr_balance`: COINr's ``get_opt_weights`` (R's
  ``optim(method = "Nelder-Mead")`` on correlations with the index, one level at a time,
  unconstrained, ``reltol = 0.1``, ``maxit = 500``), for COINr users.

The objective of the first two is ``sum_i (I_i / sum_j I_j - t_i)^2`` with ``I`` = r or S.

References
----------
Becker, W., Saisana, M., Paruolo, P., Vandecasteele, I. (2017). Weights and importance in
composite indicators: closing the gap. Ecological Indicators 80, 12-22.
Nash, J. C. (1990). Compact Numerical Methods for Computers, 2nd ed., Adam Hilger (ch. 14, the
Nelder-Mead code of R's ``optim``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import InputError, ParameterError

FEASIBLE_TOL = 1e-12  # a linear-solution component above -FEASIBLE_TOL counts as >= 0


@dataclass
class Balance:
    """Weights found for target importance, and how close they come.

    Attributes
    ----------
    weights : ndarray
        Within-group weights (>= 0, sum 1; COINr mode: possibly negative, as COINr).
    achieved : ndarray
        The normalised importance those weights give (r or S shares).
    target : ndarray
        The normalised targets.
    gap : float
        ``max_i |achieved_i - target_i|``.
    feasible : bool
        The exact (linear) solution has no negative weight.
    negative : list of str
        Members the exact solution would give a negative weight.
    converged : bool
    n_evaluations : int
    objective_start, objective : float
        The objective at the start and at the end (nonlinear and COINr modes).
    """

    weights: np.ndarray
    achieved: np.ndarray
    target: np.ndarray
    feasible: bool = True
    negative: list = field(default_factory=list)
    converged: bool = True
    n_evaluations: int = 0
    objective_start: float = float("nan")
    objective: float = float("nan")

    @property
    def gap(self) -> float:
        return float(np.max(np.abs(self.achieved - self.target)))

    def note(self, group: str, measure: str) -> str:
        """One line for the Weights' notes."""
        parts = [f"{group}: {measure}-balanced, gap {self.gap:.2g}"]
        if not self.feasible:
            parts.append(f"exact solution needs negative weights for {', '.join(self.negative)}: nearest feasible "
                         f"weights used")
        if not self.converged:
            parts.append("optimiser did not converge")
        return "; ".join(parts)


def target_shares(target: Any, members: list[str], group: str = "") -> np.ndarray:
    """Normalised targets of ``members``: ``"equal"`` or a mapping member -> relative importance.

    Raises
    ------
    ParameterError
        A mapping that names an unknown member, leaves a member out, or gives a value <= 0.
    """
    if isinstance(target, str):
        if target != "equal":
            raise ParameterError(f"target must be 'equal' or importances by member name (e.g. "
                                 f"target=A:2,B:1); got {target!r}.")
        return np.full(len(members), 1.0 / len(members))
    given = dict(target)
    unknown = [k for k in given if k not in members]
    if unknown:
        raise ParameterError(f"target names {unknown[0]!r}, which is not a member of group {group!r} "
                             f"(members: {', '.join(members)}).")
    missing = [m for m in members if m not in given]
    if missing:
        raise ParameterError(f"target for group {group!r} leaves out {', '.join(missing)}: give every member a "
                             f"value, or none (equal).")
    t = np.array([given[m] for m in members], dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ParameterError(f"target values of group {group!r} must be numbers > 0; got {t.tolist()}.")
    return t / t.sum()


def _r_shares(cov: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Normalised correlations of the members with ``y = X w`` from their covariance matrix."""
    cw = cov @ w
    r = cw / np.sqrt(np.diag(cov)) / np.sqrt(max(float(w @ cw), 1e-300))
    return r / r.sum()


def _objective(shares: np.ndarray, target: np.ndarray) -> float:
    return float(np.sum((shares - target) ** 2))


def linear_balance(X: np.ndarray, target: np.ndarray, members: list[str] | None = None) -> Balance:
    """The exact linear solution ``w ∝ Sigma^-1 D_sigma t``, or the nearest feasible weights.

    ``X`` (n x m) are the members' values (no NaN), ``target`` the normalised targets.
    """
    from scipy.optimize import minimize, nnls

    X = np.asarray(X, dtype=float)
    m = X.shape[1]
    names = list(members) if members is not None else [str(j) for j in range(m)]
    scale = np.max(np.abs(X), axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if not np.all(scale == 1.0):  # solve on columns of unit size (no under/overflow in the covariances):
        sol = linear_balance(X / scale, target, names)  # y = sum (w s)(x / s), so w = w~ / s, renormalised
        w = sol.weights / scale
        sol.weights = w / w.sum()
        return sol
    cov = np.cov(X, rowvar=False)
    sd = np.sqrt(np.diag(cov))
    if np.any(sd == 0):
        raise InputError(f"Cannot balance: member {names[int(np.argmin(sd))]!r} is constant across units.")
    rhs = sd * target
    try:
        raw = np.linalg.solve(cov, rhs)
    except np.linalg.LinAlgError:
        raw = np.linalg.lstsq(cov, rhs, rcond=None)[0]
    total = raw.sum()
    if total > 0 and np.all(raw / total >= -FEASIBLE_TOL):
        w = np.clip(raw / total, 0, None)
        w /= w.sum()
        return Balance(w, _r_shares(cov, w), target)
    negative = [names[j] for j in range(m) if (raw[j] / total if total > 0 else raw[j]) < -FEASIBLE_TOL] or names
    start = nnls(cov, rhs)[0]
    start = start / start.sum() if start.sum() > 0 else np.full(m, 1.0 / m)
    res = minimize(lambda v: _objective(_r_shares(cov, v), target), start, method="SLSQP",
                   bounds=[(0.0, 1.0)] * m, constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1.0}],
                   options={"ftol": 1e-14, "maxiter": 500})
    w = np.clip(res.x if res.fun <= _objective(_r_shares(cov, start), target) else start, 0, None)
    w /= w.sum()
    return Balance(w, _r_shares(cov, w), target, feasible=False, negative=negative, converged=bool(res.success),
                   n_evaluations=int(res.nfev), objective=_objective(_r_shares(cov, w), target))


def nonlinear_balance(X: np.ndarray, target: np.ndarray, aggregate: Callable[[np.ndarray], np.ndarray],
                      start: np.ndarray, maxiter: int = 400) -> Balance:
    """Becker et al. (2017): weights whose main-effect shares ``S_i / sum S`` match ``target``.

    ``aggregate(w)`` returns the group score for weights ``w``; ``S_i`` is re-estimated at each step by
    the penalised spline of :class:`~weightlab.importances.smoothers.SplineBasis` (one basis per member,
    built once). Nelder-Mead on ``w = softmax(theta)`` from ``start`` (the linear solution).
    """
    from scipy.optimize import minimize

    from .smoothers import MIN_DISTINCT, SplineBasis, category_main_effect

    X = np.asarray(X, dtype=float)
    ones = np.ones((1, X.shape[0]))
    bases = [SplineBasis(x) if len(np.unique(x)) >= MIN_DISTINCT else None for x in X.T]

    def shares(w: np.ndarray) -> np.ndarray:
        y = aggregate(w)
        S = np.array([b.main_effects(ones, y[None, :])[0, 0] if b is not None else category_main_effect(x, y)
                      for b, x in zip(bases, X.T)])
        return S / S.sum()

    def weights_of(theta: np.ndarray) -> np.ndarray:
        e = np.exp(theta - theta.max())
        return e / e.sum()

    theta0 = np.log(np.clip(start, 1e-6, None))
    f0 = _objective(shares(weights_of(theta0)), target)
    res = minimize(lambda th: _objective(shares(weights_of(th)), target), theta0, method="Nelder-Mead",
                   options={"maxiter": maxiter, "xatol": 1e-5, "fatol": 1e-12})
    theta = res.x if res.fun <= f0 else theta0
    w = weights_of(theta)
    return Balance(w, shares(w), target, converged=bool(res.success), n_evaluations=int(res.nfev),
                   objective_start=f0, objective=min(float(res.fun), f0))


@dataclass
class NelderMeadResult:
    """What R's ``optim(method = "Nelder-Mead")`` returns: ``par``, ``value``, ``fncount``,
    ``convergence`` (0 converged, 1 ``maxit`` reached, 10 simplex degenerate)."""

    par: np.ndarray
    value: float
    fncount: int
    convergence: int


def r_nelder_mead(fn: Callable[[np.ndarray], float], par: np.ndarray, reltol: float = 1.49e-8,
                  maxit: int = 500, alpha: float = 1.0, beta: float = 0.5, gamma: float = 2.0,
                  abstol: float = -np.inf) -> NelderMeadResult:
    """R's Nelder-Mead (``nmmin`` of R's ``src/appl/optim.c``, Nash 1990), step for step.

    Initial simplex: ``par`` and ``par + step e_j`` with ``step = 0.1 max|par|`` (0.1 if all zero);
    stops when the simplex's function values span less than ``reltol (|f(par)| + reltol)``, or after
    ``maxit`` evaluations. Non-finite values count as 1e35. Coefficients: reflection ``alpha``,
    contraction ``beta``, expansion ``gamma`` (R's defaults 1, 0.5, 2).
    """
    big = 1.0e35
    b = np.array(par, dtype=float)
    n = len(b)
    f = fn(b.copy())
    if not np.isfinite(f):
        raise InputError("The objective cannot be evaluated at the initial weights.")
    funcount = 1
    convtol = reltol * (abs(f) + reltol)
    P = np.zeros((n + 1, n + 2))  # rows 0..n-1: coordinates, row n: function value; column n+1: centroid
    P[n, 0] = f
    P[:n, 0] = b
    L = 1
    size = 0.0
    step = max([0.1 * abs(v) for v in b if 0.1 * abs(v) > 0] or [0.0])
    if step == 0.0:
        step = 0.1
    for j in range(2, n + 2):
        P[:n, j - 1] = b
        trystep = step
        while P[j - 2, j - 1] == b[j - 2]:
            P[j - 2, j - 1] = b[j - 2] + trystep
            trystep *= 10
        size += trystep
    oldsize = size
    calcvert = True
    fail = 0
    C = n + 2

    def value(v: np.ndarray) -> float:
        out = fn(v.copy())
        return out if np.isfinite(out) else big

    while True:
        if calcvert:
            for j in range(n + 1):
                if j + 1 != L:
                    P[n, j] = value(P[:n, j])
                    funcount += 1
            calcvert = False
        VL = P[n, L - 1]
        VH = VL
        H = L
        for j in range(1, n + 2):
            if j != L:
                fj = P[n, j - 1]
                if fj < VL:
                    L, VL = j, fj
                if fj > VH:
                    H, VH = j, fj
        if VH <= VL + convtol or VL <= abstol:
            break
        P[:n, C - 1] = (P[:n, :n + 1].sum(axis=1) - P[:n, H - 1]) / n
        b = (1.0 + alpha) * P[:n, C - 1] - alpha * P[:n, H - 1]
        f = value(b)
        funcount += 1
        VR = f
        if VR < VL:
            P[n, C - 1] = f
            ext = gamma * b + (1 - gamma) * P[:n, C - 1]
            P[:n, C - 1] = b
            b = ext
            f = value(b)
            funcount += 1
            if f < VR:
                P[:n, H - 1] = b
                P[n, H - 1] = f
            else:
                P[:n, H - 1] = P[:n, C - 1]
                P[n, H - 1] = VR
        else:
            if VR < VH:
                P[:n, H - 1] = b
                P[n, H - 1] = VR
            b = (1 - beta) * P[:n, H - 1] + beta * P[:n, C - 1]
            f = value(b)
            funcount += 1
            if f < P[n, H - 1]:
                P[:n, H - 1] = b
                P[n, H - 1] = f
            elif VR >= VH:
                calcvert = True
                size = 0.0
                for j in range(n + 1):
                    if j + 1 != L:
                        P[:n, j] = beta * (P[:n, j] - P[:n, L - 1]) + P[:n, L - 1]
                        size += float(np.abs(P[:n, j] - P[:n, L - 1]).sum())
                if size < oldsize:
                    oldsize = size
                else:
                    fail = 10
                    break
        if funcount > maxit:
            break
    if funcount > maxit:
        fail = 1
    return NelderMeadResult(P[:n, L - 1].copy(), float(P[n, L - 1]), funcount, fail)


def coinr_balance(correlations: Callable[[np.ndarray], np.ndarray], start: np.ndarray, target: np.ndarray | None,
                  optype: str = "balance", toler: float = 0.1, maxiter: int = 500) -> tuple[NelderMeadResult, np.ndarray]:
    """COINr's ``get_opt_weights`` objective under :func:`r_nelder_mead`.

    ``correlations(w)`` returns the correlations of the level's members with the index when the
    level's weights are ``w / sum(w)``. ``balance``: ``log(sum((t - r / sum r)^2) / m)``, start at
    ``t``; ``infomax``: ``-sum r``, start at ``start`` (the current weights). Returns the optimiser's
    result and the level's weights ``par / sum(par)`` (which may be negative, as in COINr).
    """
    if optype not in ("balance", "infomax"):
        raise ParameterError(f"optype must be 'balance' or 'infomax' (COINr's optype); got {optype!r}.")

    def objective(w: np.ndarray) -> float:
        r = correlations(w / w.sum())
        if optype == "infomax":
            return -float(r.sum())
        with np.errstate(divide="ignore"):
            return float(np.log(np.sum((target - r / r.sum()) ** 2) / len(r)))

    init = np.asarray(target if optype == "balance" else start, dtype=float)
    res = r_nelder_mead(objective, init, reltol=toler, maxit=maxiter)
    return res, res.par / res.par.sum()
