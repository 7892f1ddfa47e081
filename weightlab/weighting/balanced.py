"""Weights that deliver a target importance (:mod:`weightlab.importances.inverse`)."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Iterable

import numpy as np
import pandas as pd

from .._params import InstanceOf, Interval, Options, validate_params
from ..aggregation import aggregate_tree
from ..errors import ParameterError
from ..framework import Framework
from .base import SCHEMES, Weights, WeightingScheme, parse_levels, resolve_aggregators


@SCHEMES.register("balanced")
class Balanced(WeightingScheme):
    """Weights whose importance in the index matches a target (Becker et al. 2017; COINr).

    ``mode="exact"`` (default) works group by group, bottom-up, against the group's own score:

    - ``measure="r"``: the exact linear solution ``w ∝ Sigma^-1 D_sigma t`` (correlations with the
      group score proportional to the targets ``t``; exact for arithmetic groups), or, when it
      needs negative weights, the nearest feasible weights in the simplex (a note names the
      members and the remaining gap);
    - ``measure="S"``: the main-effect shares ``S_i / sum S`` matched to ``t`` (Becker et al. 2017),
      re-estimated with the group's aggregator at each step, from the linear solution.

    ``mode="coinr"`` reproduces COINr's ``get_opt_weights``: for each weighted level (bottom-up)
    the level's weights are found by R's Nelder-Mead (``toler``, ``maxiter``: COINr's 0.1 and 500)
    on the Pearson correlations of the level's members with the *index*, ``optype="balance"``
    (``log(mean((t - r / sum r)^2))``, started at ``t``) or ``"infomax"`` (``-sum r``). As in COINr
    the optimiser is unconstrained and stops early: weights can be negative (a warning and a note
    say so) and the balance is only as good as the loose tolerance. Only ``measure="r"``.

    Levels the scheme is not applied to keep the framework's weights (``--level N`` optimises only
    level N, as COINr's ``Level``).

    Parameters
    ----------
    target : "equal" or dict member -> relative importance, default="equal"
        By name; a group's members are either all named or none (equal). CLI:
        ``--param target=equal`` or ``--param target=Conn:1,Sust:2``.
    measure : {"r", "S"}, default="r"
    mode : {"exact", "coinr"}, default="exact"
    optype : {"balance", "infomax"}, default="balance"
        COINr mode only.
    toler : float, default=0.1
        COINr mode: R's ``reltol``.
    maxiter : int, default=500
        COINr mode: R's ``maxit``; nonlinear mode: Nelder-Mead iterations.

    Notes
    -----
    The robustness engine fits the scheme once per normalised matrix and aggregator pattern of a
    plan (like every scheme); with ``[bootstrap] units = true`` it refuses the scheme (its weights
    cannot be re-estimated inside the compiled kernels).

    References
    ----------
    Becker, W., Saisana, M., Paruolo, P., Vandecasteele, I. (2017). Weights and importance in
    composite indicators: closing the gap. Ecological Indicators 80, 12-22.
    Becker, W. et al. (2022). COINr: an R package for developing composite indicators. JOSS 7(78),
    4567 (``get_opt_weights``).
    """

    data_driven = True
    constant_member_weight = 0.0  # a constant member has no correlation to balance
    unit_free = False  # w ∝ Sigma^-1 D_sigma t: rescaling a member rescales its weight inversely
    _parameter_constraints: ClassVar[dict] = {
        "target": [InstanceOf((str, dict, list, tuple), "'equal' or a mapping member -> importance")],
        "measure": [Options(("r", "S"))],
        "mode": [Options(("exact", "coinr"))],
        "optype": [Options(("balance", "infomax"))],
        "toler": [Interval(0, None, closed="neither")],
        "maxiter": [Interval(1, None, integer=True)],
    }

    def __init__(self, target: Any = "equal", measure: str = "r", mode: str = "exact", optype: str = "balance",
                 toler: float = 0.1, maxiter: int = 500) -> None:
        self.target = target
        self.measure = measure
        self.mode = mode
        self.optype = optype
        self.toler = toler
        self.maxiter = maxiter

    # ------------------------------------------------------------------ targets
    def _targets(self, framework: Framework) -> "str | dict[str, float]":
        t = self.target
        if isinstance(t, str):
            if t == "equal":
                return t
            t = [t]
        if isinstance(t, (list, tuple)):  # ["A:2", "B:1"] from --param target=A:2,B:1
            out = {}
            for item in t:
                name, sep, value = str(item).partition(":")
                try:
                    out[name.strip()] = float(value)
                except ValueError:
                    sep = ""
                if not sep:
                    raise ParameterError(f"target entry {item!r} is not NAME:VALUE (e.g. target=Conn:1,Sust:2), "
                                         f"nor 'equal'.")
            t = out
        codes = set(framework.nominal_weights().index)
        unknown = [k for k in t if k not in codes]
        if unknown:
            raise ParameterError(f"target names {unknown[0]!r}, which is not a node of the framework.")
        return dict(t)

    def _group_target(self, targets, members: list[str], group: str) -> np.ndarray:
        from ..importances.inverse import target_shares

        if isinstance(targets, str) or not any(m in targets for m in members):
            return target_shares("equal", members, group)
        return target_shares({k: v for k, v in targets.items() if k in members}, members, group)

    # ------------------------------------------------------------------ fitting
    def fit(self, X: pd.DataFrame, framework: Framework, level: "int | str | Iterable[int]" = "all",
            aggregator: Any = "arithmetic") -> "Balanced":
        validate_params(self)
        if self.mode == "coinr" and self.measure != "r":
            raise ParameterError("The balanced scheme's COINr mode balances Pearson correlations: use measure='r' "
                                 "with mode='coinr', or mode='exact' for measure='S'.")
        self._targets_ = self._targets(framework)
        self._aggregators_ = resolve_aggregators(aggregator, framework)
        if self.mode == "exact":
            return super().fit(X, framework, level, aggregator)
        return self._fit_coinr(X, framework, parse_levels(level, framework))

    def group_weights(self, X: np.ndarray, members: list[str], group: str, framework: Framework) -> np.ndarray:
        from ..importances.inverse import linear_balance, nonlinear_balance

        t = self._group_target(self._targets_, members, group)
        peak = np.max(np.abs(X), axis=0)
        varies = np.var(X / np.where(peak > 0, peak, 1.0), axis=0) > 0
        if varies.sum() < 2:  # nothing to balance: as the other schemes, equal weights without information
            self.notes_.append(f"{group}: fewer than two members vary across units; equal weights")
            return np.full(len(members), 1.0 / len(members))
        idx = np.flatnonzero(varies)
        names = [members[j] for j in idx]
        sub = X[:, idx]
        sol = linear_balance(sub, t[idx] / t[idx].sum(), names)
        if self.measure == "S":
            agg = self._aggregators_[framework.level_of(group)]
            sol = nonlinear_balance(sub, sol.target, lambda w: agg.aggregate(sub, w, group=group, members=names),
                                    sol.weights, maxiter=self.maxiter)
        note = sol.note(group, self.measure)
        if not varies.all():
            note += f"; constant member(s) {', '.join(m for m, v in zip(members, varies) if not v)} get weight 0"
        self.notes_.append(note)
        w = np.zeros(len(members))
        w[idx] = sol.weights
        return w

    def _fit_coinr(self, X: pd.DataFrame, framework: Framework, levels: list[int]) -> "Balanced":
        from ..importances.inverse import coinr_balance, target_shares

        fw, aggs = framework, self._aggregators_
        weights = fw.nominal_weights().astype(float).copy()
        self.notes_: list[str] = []
        self.coinr_results_: dict[int, Any] = {}
        root = fw.index.code
        filled = X[fw.indicator_codes].astype(float)
        filled = filled.fillna(filled.mean())
        for lvl in levels:
            codes = fw.codes_at(lvl)
            t = target_shares(self._targets_ if not isinstance(self._targets_, str) else "equal", codes, f"level {lvl}")

            def correlations(w: np.ndarray, codes=codes, lvl=lvl) -> np.ndarray:
                trial = weights.copy()
                trial[codes] = w
                _, sc = aggregate_tree(filled, fw, aggs, lambda g, members, block: trial[members].to_numpy())
                y = sc[fw.n_levels][root].to_numpy()
                return np.array([np.corrcoef(sc[lvl][c].to_numpy(), y)[0, 1] for c in codes])

            res, w = coinr_balance(correlations, weights[codes].to_numpy(), t, self.optype, self.toler, self.maxiter)
            weights[codes] = w
            r = correlations(w)
            self.coinr_results_[lvl] = {"result": res, "weights": pd.Series(w, index=codes),
                                        "obtained": pd.Series(r / r.sum() if self.optype == "balance" else r,
                                                              index=codes)}
            self.notes_.append(f"level {lvl}: COINr Nelder-Mead {'converged' if res.convergence == 0 else 'stopped'}"
                               f" after {res.fncount} evaluations, objective {res.value:.4g}")
            neg = [c for c in codes if weights[c] < 0]
            if neg:
                msg = f"level {lvl}: COINr's unconstrained optimiser gave negative weights to {', '.join(neg)}"
                self.notes_.append(msg)
                warnings.warn(msg + " (use mode='exact' for weights >= 0).", stacklevel=2)
        within = weights.copy()
        for g in [g for lvl in range(2, fw.n_levels + 1) for g in fw.groups_at(lvl)]:
            members = fw.children(g)
            total = float(weights[members].sum())
            if total == 0:
                raise ParameterError(f"COINr mode: the weights of group {g!r} sum to 0; no group score exists.")
            within[members] = weights[members] / total
        self.weights_ = Weights(fw, within, self.name, self.get_params(), list(self.notes_))
        return self
