"""Weighting-scheme contract and the :class:`Weights` result.

A scheme computes the weights of the members of one group from their (normalised,
direction-adjusted) values: :meth:`WeightingScheme.group_weights`. :meth:`WeightingScheme.fit`
walks the hierarchy bottom-up: at each level it asks the scheme for the weights of every group's
members (or keeps the framework's nominal weights at levels the scheme is not applied to), then
aggregates the members into group scores, which are the data of the next level up. A group with a
single member gets weight 1.

Data-driven schemes need complete data: missing cells are replaced by the column mean of the values
they receive, for the weight computation only (a warning says so).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable

import numpy as np
import pandas as pd
from .._estimator import Estimator
from .._params import validate_params
from ..aggregation import AGGREGATORS, Aggregator, aggregate_tree
from ..errors import InputError, ParameterError
from ..framework import Framework
from ..registry import Registry

SCHEMES: Registry["WeightingScheme"] = Registry("weighting scheme")


@dataclass
class Weights:
    """Within-group weights of every non-root node of a framework.

    Attributes
    ----------
    framework : Framework
    values : pandas.Series
        Weight of each node (groups and indicators, not the root) inside its parent group; the
        members of every group sum to 1.
    scheme : str
        Name of the scheme that produced them ("nominal" for the framework's own weights).
    params : dict
        The scheme's parameters.
    notes : list of str
        Diagnostics (e.g. AHP consistency ratios, PCA factors retained).
    label : str
        Caveat of the data the weights were built on (e.g. "synthetic demo data"), kept in
        ``attrs["label"]`` of :meth:`to_frame`; set by :func:`weightlab.build_index`.
    """

    framework: Framework
    values: pd.Series
    scheme: str = "nominal"
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    label: str = ""

    @classmethod
    def nominal(cls, framework: Framework) -> "Weights":
        return cls(framework, framework.nominal_weights(), "nominal")

    def group(self, code: str) -> pd.Series:
        """Weights of the members of group ``code``."""
        return self.values[self.framework.children(code)]

    def effective(self) -> pd.Series:
        """Effective weight of each indicator in the index (product of weights up the tree)."""
        return self.framework.effective_weights(self.values)

    def to_frame(self, levels: Iterable[int] | None = None) -> pd.DataFrame:
        """Table with columns ``group, member, level, weight, effective_weight``.

        ``level`` is the member's level (1 = indicator); ``effective_weight`` is the indicator's
        weight in the index, empty (NaN) for group members. ``attrs["label"]`` holds ``label``.
        """
        fw = self.framework
        eff = self.effective()
        keep = None if levels is None else set(levels)
        rows = []
        for lvl in range(1, fw.n_levels):
            if keep is not None and lvl not in keep:
                continue
            for code in fw.codes_at(lvl):
                rows.append({
                    "group": fw.node(code).parent,
                    "member": code,
                    "level": lvl,
                    "weight": float(self.values[code]),
                    "effective_weight": float(eff[code]) if lvl == 1 else np.nan,
                })
        out = pd.DataFrame(rows, columns=["group", "member", "level", "weight", "effective_weight"])
        if self.label:
            out.attrs["label"] = self.label
        return out

    def __repr__(self) -> str:
        eff = self.effective()
        return (f"<Weights '{self.scheme}' of {len(self.values)} nodes; largest effective weight "
                f"{eff.max():.3f} ({eff.idxmax()}){'; ' + self.label if self.label else ''}>")


def parse_levels(level: "int | str | Iterable[int]", framework: Framework) -> list[int]:
    """Member levels a scheme is applied to: ``"all"`` -> 1 .. n_levels-1, or the given ones."""
    top = framework.n_levels - 1
    if isinstance(level, str):
        if level == "all":
            return list(range(1, top + 1))
        try:
            level = int(level)
        except ValueError:
            raise ParameterError(f"level must be 'all' or an integer in 1..{top}; got {level!r}.") from None
    levels = [level] if isinstance(level, (int, np.integer)) else list(level)
    for lvl in levels:
        if not 1 <= int(lvl) <= top:
            raise ParameterError(
                f"level {lvl} is outside 1..{top}: level N weights the level-N members inside their "
                f"groups (1 = indicators within their sub-pillars)."
            )
    return sorted({int(v) for v in levels})


class WeightingScheme(Estimator):
    """Base class. Subclasses implement :meth:`group_weights` and declare ``data_driven``."""

    name: ClassVar[str]
    data_driven: ClassVar[bool] = False
    # True: the scheme refuses values <= 0 unless given a shift (the common tests feed it positive data)
    requires_positive: ClassVar[bool] = False
    # What the common checks (weightlab.testing.check_scheme) hold the scheme to, declared with it:
    # parameters it cannot do without, and the weight of a constant member of a group whose other
    # members vary (None: the scheme does not look at the data, or promises nothing)
    example_params: ClassVar[dict] = {}
    constant_member_weight: ClassVar["float | None"] = None
    # False: the weights act on the values in their units (balanced: w ∝ 1/sd for equal correlations),
    # so rescaling one indicator rescales its weight; the common checks then skip the units check
    unit_free: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict] = {}

    def group_weights(self, X: np.ndarray, members: list[str], group: str, framework: Framework) -> np.ndarray:
        """Weights (summing to 1) of the ``members`` of ``group`` from their values ``X``.

        ``X`` has shape (n_units, n_members), is normalised so that higher is better, and has no
        NaN. Non-data-driven schemes may ignore it.
        """
        raise NotImplementedError

    def fit(self, X: pd.DataFrame, framework: Framework, level: "int | str | Iterable[int]" = "all",
            aggregator: "str | Aggregator | dict[int, str | Aggregator]" = "arithmetic") -> "WeightingScheme":
        """Compute weights for the whole hierarchy; the result is in ``self.weights_``.

        Parameters
        ----------
        X : DataFrame (n_units, n_indicators)
            Normalised, direction-adjusted indicator values (higher is better); columns are
            indicator codes.
        framework : Framework
        level : int, iterable of int or "all", default="all"
            Member levels this scheme weights (1 = indicators within their groups); other levels
            keep the framework's nominal weights.
        aggregator : name, Aggregator, or dict level -> either, default="arithmetic"
            How members are aggregated into the group scores that feed the next level's weights.
        """
        validate_params(self)
        levels = parse_levels(level, framework)
        aggregators = resolve_aggregators(aggregator, framework)
        nominal = framework.nominal_weights()
        self.notes_: list[str] = []  # schemes append diagnostics here (CR, factors kept, ...)
        warned = False

        def weigh(group: str, members: list[str], block: np.ndarray) -> np.ndarray:
            nonlocal warned
            if framework.level_of(members[0]) not in levels:
                return nominal[members].to_numpy()
            if len(members) == 1:
                return np.ones(1)
            if self.data_driven and np.isnan(block).any():
                empty = np.isnan(block).all(axis=0)
                if empty.any():
                    raise InputError(f"{self.name} weights: member '{members[int(np.argmax(empty))]}' of group "
                                     f"'{group}' has no values at all: fill it, impute, or drop it from the "
                                     f"framework.")
                if not warned:
                    warnings.warn(f"{self.name} weights: missing cells replaced by the column mean for the "
                                  f"weight computation only.", stacklevel=3)
                    warned = True
                block = np.where(np.isnan(block), np.nanmean(block, axis=0, keepdims=True), block)
            return _checked(self.group_weights(block, members, group, framework), self.name, group)

        weights, _ = aggregate_tree(X, framework, aggregators, weigh, keep_scores=False)
        self.weights_ = Weights(framework, weights, self.name, self.get_params(), list(self.notes_))
        return self


def _checked(w: np.ndarray, scheme: str, group: str) -> np.ndarray:
    """A group's weights as computed by a scheme, refused unless finite, >= 0 and summing to 1.

    Data so large that a scheme's sums overflow would otherwise give NaN or zero weights and drop
    members from the index without a word."""
    w = np.asarray(w, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not abs(w.sum() - 1.0) <= 1e-9:
        raise InputError(f"{scheme} weights of group '{group}' came out as {np.round(w, 6).tolist()}, not finite "
                         f"weights >= 0 summing to 1: the values are probably too large for floating point "
                         f"(rescale them, e.g. divide by 1e6) or degenerate for this scheme.")
    return w


class StatisticsScheme(WeightingScheme):
    """A data-driven scheme written once, as a compiled function of count-weighted statistics.

    Subclasses declare ``statistics`` (names from :data:`weightlab.weighting.statistics.STATISTICS`)
    and ``weights_function`` (a numba function with the signature documented there, wrapped in
    ``staticmethod``), and pack their parameters with :meth:`parameters`. :meth:`group_weights`
    is that function on the statistics of all units; the engine's bootstrap calls the same
    function on the statistics of each resample, so nominal and bootstrap weights share one formula.
    """

    data_driven = True
    constant_member_weight = 0.0  # a constant member carries no information in any statistic above
    statistics: ClassVar[tuple[str, ...]] = ()
    weights_function: ClassVar[Any] = None

    def parameters(self) -> np.ndarray:
        """The scheme's parameters as the float64 array ``prm`` its compiled function reads."""
        return np.zeros(0)

    @classmethod
    def needs(cls) -> int:
        """Bit mask of the declared statistics (:func:`weightlab.weighting.statistics.needs_mask`)."""
        from .statistics import needs_mask

        return needs_mask(cls.statistics, f"scheme '{cls.name}'")

    def compiled_weights(self, X: np.ndarray, group: str) -> tuple[np.ndarray, np.ndarray]:
        """``weights_function`` on the statistics of all rows of ``X`` (units x members): the weights and
        the function's scratch ``work`` (where a scheme may leave diagnostics)."""
        from .statistics import N_STATS, NEED_SAMPLE, group_statistics

        Xt = np.ascontiguousarray(np.asarray(X, dtype=float).T)
        m, n = Xt.shape
        size = max(m, 2)
        needs = self.needs()
        st, cov, buf = np.zeros((N_STATS, m)), np.zeros((size, size)), np.zeros((2, n))
        xs = np.zeros((m, n)) if needs & NEED_SAMPLE else np.zeros((1, 1))
        idx, counts = group_statistics(Xt, needs, st, cov, xs, buf)
        out, work = np.zeros(size), np.zeros((5, size, size))
        type(self).weights_function(float(n), st, cov, xs, counts, n, idx, self.parameters(), out, work)
        return out[:m].copy(), work  # checked by fit (_checked): finite, >= 0, summing to 1

    def group_weights(self, X, members, group, framework) -> np.ndarray:
        return self.compiled_weights(X, group)[0]


def resolve_aggregators(aggregator: "str | Aggregator | dict[int, Any]", framework: Framework) -> dict[int, Aggregator]:
    """One aggregator object per aggregation level (2 .. n_levels)."""
    levels = framework.aggregation_levels()
    if isinstance(aggregator, dict):
        missing = [lvl for lvl in levels if lvl not in aggregator]
        if missing:
            raise ParameterError(f"No aggregator given for level(s) {missing}; give one per level "
                                 f"{levels[0]}..{levels[-1]}.")
        return {lvl: AGGREGATORS.resolve(aggregator[lvl]) for lvl in levels}
    agg = AGGREGATORS.resolve(aggregator)
    return {lvl: agg for lvl in levels}
