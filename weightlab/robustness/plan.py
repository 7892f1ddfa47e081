"""Compile a dataset and an uncertainty spec into a :class:`KernelPlan` of plain arrays.

Everything that does not change between replications is computed here, once, with the nominal
Python code: one normalised matrix per (treatment, imputation, normalizer) choice (imputed, then
treated, then normalised: the pipeline's order, :mod:`weightlab.pipeline`), each scheme's within-group
weights for every (matrix, aggregator pattern) — so data-driven weights are exactly those of
:func:`weightlab.index.build_index` —, the transformed matrices ``x**p`` / ``ln x`` of the fast
path, and the hierarchy as index arrays. The kernels then never touch pandas or Python objects.

Node order: indicators (framework order), then the groups of level 2, 3, ... and the root last, so
parents always come after their members.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..aggregation import Aggregator
from ..data import Dataset
from ..errors import SpecError, WeightlabError
from ..index import normalise
from ..treatment import impute, treat
from ..weighting.base import StatisticsScheme, parse_levels
from ..weighting.statistics import NEED_COV, NEED_M2
from . import boot_weights as BW
from .columns import Columns
from .spec import Option, UncertaintySpec

Q_MAX = 1 << 24  # quantisation of scores for exact integer sums
MAX_REPS_PER_SLOT = 1 << 14  # keeps sum of q**2 per slot and chunk below 2**63


class KernelPlan(NamedTuple):
    """Arrays and scalars read by the kernels (see kernels.py for their use)."""

    seed: np.uint64
    n_units: int
    n_indicators: int
    n_nodes: int
    n_levels: int
    node_parent: np.ndarray
    node_level: np.ndarray
    level_ptr: np.ndarray
    child_ptr: np.ndarray
    child_idx: np.ndarray
    max_members: int
    X: np.ndarray
    has_nan: np.ndarray
    x_order: np.ndarray
    pair_ptr: np.ndarray
    mom_ent: np.ndarray
    mom_cov: np.ndarray
    T: np.ndarray
    agg_power: np.ndarray
    agg_need: np.ndarray
    agg_shift: np.ndarray
    pattern_aggs: np.ndarray
    pattern_same: np.ndarray
    n_agg_draws: int
    imputation_cdf: np.ndarray
    normalizer_cdf: np.ndarray
    treatment_cdf: np.ndarray
    agg_cdf: np.ndarray
    scheme_cdf: np.ndarray
    drop_cdf: np.ndarray
    base_w: np.ndarray
    scheme_code: np.ndarray
    scheme_params: np.ndarray
    scheme_needs: np.ndarray
    mom_layout: np.ndarray
    scheme_level: np.ndarray
    bootstrap: bool
    perturb: int
    spread: float
    concentration: float
    perturb_level: np.ndarray
    score_lo: float
    score_hi: float
    q_max: int
    n_cols: int  # design columns (columns.py)
    col_stream: np.ndarray  # stream index of the scalar columns 0 .. col_boot - 1
    col_boot: int
    col_w: int
    col_treat: int  # treatment column, -1 when the treatment is fixed


@dataclass
class Plan:
    """A compiled run: the kernel arrays plus the labels needed to read results back."""

    kernel: KernelPlan
    spec: UncertaintySpec
    dataset: Dataset
    node_codes: list[str]
    factor_options: dict[str, list[str]]
    patterns: list[tuple[str, ...]]
    matrices: dict[tuple[str, str, str], pd.DataFrame]  # (treatment, imputation, normalizer) labels
    columns: Columns

    @property
    def n_units(self) -> int:
        return self.kernel.n_units


def treated_dataset(dataset: Dataset, imputation: Option, treatment: Option, source: str = "spec"
                    ) -> tuple[Dataset, str]:
    """The data a (imputation, treatment) choice normalises, and the imputation left to apply.

    Treatment ``none``: the data as given and the imputation (``index.normalise`` imputes). Otherwise
    the pipeline's order: the values are imputed (:func:`weightlab.treatment.impute`), then treated
    (:func:`weightlab.treatment.treat`, the coinr rule with the option's parameters), and nothing is
    left to impute. A treatment the data cannot take (log1p of values <= -1, boxcox of a constant
    indicator) is a SpecError naming the option.
    """
    if treatment.name == "none":
        return dataset, imputation.name
    try:
        values, _report = treat(impute(dataset.values, imputation.name), treatment.name, rule=treatment.build())
    except WeightlabError as exc:
        raise SpecError(f"{source}: [choices] treatment '{treatment.label}' after imputation "
                        f"'{imputation.label}': {exc}") from None
    return replace(dataset, values=values), "none"


def _into_plan(df: pd.DataFrame, x: np.ndarray, framework) -> pd.DataFrame:
    """Copy the normalised table ``df`` (units x indicators) into the plan's row ``x`` (indicators x
    units, framework order) and return ``x`` as a read-only units x indicators DataFrame.

    The returned frame shares ``x``'s memory, so the plan holds each normalised matrix once (at
    100,000 units and 400 indicators one is 305 MiB) and ``df`` is freed by the caller. Writing to
    the frame raises instead of changing what the kernels read. Columns are copied one at a time:
    reordering the whole table first would make one more full copy.
    """
    for j, code in enumerate(framework.indicator_codes):
        x[j] = df[code].to_numpy(dtype=float)
    view = x.view()
    view.flags.writeable = False
    return pd.DataFrame(view.T, index=df.index, columns=list(framework.indicator_codes), copy=False)


def _transformed(X: np.ndarray, aggs: list, members: list[str]) -> np.ndarray:
    """``T[m, a] = g_a(x + shift)`` of each matrix ``X[m]`` and aggregator ``a`` (``g(x) = x**p``,
    ``ln x`` at ``p = 0``; ``Aggregator.prepare`` adds the shift), shape (matrices, aggregators,
    indicators, units).

    With one aggregator of power 1 (the arithmetic mean) ``T`` is ``X`` itself: ``prepare`` changes
    nothing (a power of 1 needs no positivity, so no shift) and ``x**1 == x``, and the view saves
    one copy of every matrix. Otherwise each ``T[m, a]`` is computed (``prepare`` works column by
    column, on the indicators' values over the units).
    """
    if len(aggs) == 1 and aggs[0].power == 1.0:
        return X[:, None]
    n_mat, k, n = X.shape
    T = np.empty((n_mat, len(aggs), k, n))
    for m in range(n_mat):
        for a_i, agg in enumerate(aggs):
            vals = agg.prepare(X[m].T, members=members)
            with np.errstate(divide="ignore", invalid="ignore"):
                T[m, a_i] = (np.log(vals) if agg.power == 0 else vals ** agg.power).T
    return T


def _cdf(probs: np.ndarray) -> np.ndarray:
    c = np.cumsum(np.asarray(probs, dtype=float))
    c = c / c[-1]
    c[-1] = 1.0
    return c


def _need(agg: Aggregator) -> int:
    return 2 if agg.needs_positive() else (1 if agg.needs_nonnegative() else 0)


def _level_mask(levels: "str | list[int]", framework) -> np.ndarray:
    mask = np.zeros(framework.n_levels, dtype=np.bool_)
    for lvl in parse_levels(levels, framework):
        mask[lvl - 1] = True
    return mask


def _moment_matrices(X, has_nan, xlnx_ok, child_ptr, child_idx, level_ptr, k, needed):
    """Per matrix, the columns whose count-weighted sums are the bootstrap moments of the indicators.

    With ``c`` a row of bootstrap multiplicities, ``c @ mom_ent[m]`` gives ``sum c x_j`` (columns
    ``0..k-1``) and ``sum c x_j ln x_j`` (``k..2k-1``) on a non-negative matrix (layout
    ``boot_weights.LAYOUT_ENT``); ``c @ mom_cov[m]`` (``LAYOUT_COV``) gives ``sum c x_j``,
    ``sum c x_j**2`` (``k..2k-1``) and ``sum c x_a x_b`` for each pair ``a < b`` of members of an
    indicator group, pair ``(a, b)`` of group ``g`` (node index) in column
    ``2k + pair_ptr[g - k] + a * nm - a * (a + 1) // 2 + b - a - 1`` (``nm`` members).
    The kernels compute these sums for a whole block of replications with one matrix product.
    Matrices with missing cells (sparse path) get zeros. Dummy arrays when not ``needed``.
    """
    n_groups = len(child_ptr) - 1
    pair_ptr = np.zeros(n_groups, dtype=np.int64)
    pairs = []
    for g in range(int(level_ptr[1]) - k, int(level_ptr[2]) - k):  # groups whose members are indicators
        members = child_idx[child_ptr[g]:child_ptr[g + 1]]
        pair_ptr[g] = len(pairs)
        pairs += [(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
    if not needed:
        return pair_ptr, np.zeros((1, 1, 1)), np.zeros((1, 1, 1))
    n_mat, _, n = X.shape
    mom_ent = np.zeros((n_mat, n, 2 * k))
    mom_cov = np.zeros((n_mat, n, 2 * k + len(pairs)))
    for m in range(n_mat):
        if has_nan[m]:
            continue
        x = X[m]
        if xlnx_ok[m]:
            xlnx = np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)
            mom_ent[m] = np.concatenate([x, xlnx]).T
        mom_cov[m] = np.concatenate([x, x * x] + [x[[a]] * x[[b]] for a, b in pairs]).T
    return pair_ptr, mom_ent, mom_cov


def _scheme_table(spec: UncertaintySpec, schemes: list, xlnx_ok: np.ndarray):
    """Per scheme option, what the bootstrap kernels need to re-estimate its weights.

    ``scheme_code[s]``: 0 when the option's weights stay fixed (not data-driven, or no bootstrap),
    else 1 + the index of its compiled function in ``boot_weights.SCHEME_FUNCTIONS``;
    ``scheme_params[s]``: its parameter array (:meth:`StatisticsScheme.parameters`, zero-padded);
    ``scheme_needs[s]``: the bit mask of statistics it reads; ``mom_layout[s, m]``: the moment
    product that serves it on NaN-free matrix m (``LAYOUT_COV`` when it reads ``m2`` or ``cov`` or
    the matrix has negative values, else the narrower ``LAYOUT_ENT``).
    """
    ch = spec.choices
    n_s = len(schemes)
    code = np.zeros(n_s, dtype=np.int64)
    needs = np.zeros(n_s, dtype=np.int64)
    layout = np.zeros((n_s, len(xlnx_ok)), dtype=np.int64)
    params = [np.zeros(0)] * n_s
    if spec.bootstrap_units:
        for s, (opt, scheme) in enumerate(zip(ch.scheme, schemes)):
            if not scheme.data_driven:
                continue
            fid = BW.function_index(type(scheme))
            if fid < 0:
                why = ("was registered after the engine was imported: import the module that registers it before "
                       "weightlab.robustness" if isinstance(scheme, StatisticsScheme) and scheme.weights_function
                       is not None else "computes its weights in Python only (no compiled statistics function, see "
                       "weightlab.weighting.statistics)")
                raise SpecError(f"{spec.source or 'spec'}: [bootstrap] units = true re-estimates weights inside the "
                                f"engine, but scheme '{opt.label}' {why}: remove it from [choices] scheme or set "
                                f"units = false.")
            code[s] = 1 + fid
            needs[s] = scheme.needs()
            params[s] = np.asarray(scheme.parameters(), dtype=float)
            wide = needs[s] & (NEED_M2 | NEED_COV)
            layout[s] = np.where(xlnx_ok & (wide == 0), BW.LAYOUT_ENT, BW.LAYOUT_COV)
    table = np.zeros((n_s, max([1] + [len(v) for v in params])))
    for s, v in enumerate(params):
        table[s, :len(v)] = v
    return code, table, needs, layout


def compile_plan(dataset: Dataset, spec: UncertaintySpec) -> Plan:
    """Precompute everything a run needs. Raises SpecError for choices that cannot work on the data."""
    fw = dataset.framework
    spec.check_against(fw)
    ch = spec.choices
    codes = list(fw.indicator_codes)
    for lvl in range(2, fw.n_levels + 1):
        codes += fw.groups_at(lvl)
    pos = {c: i for i, c in enumerate(codes)}
    k, n, n_nodes, L = len(fw.indicator_codes), dataset.n_units, len(codes), fw.n_levels
    node_parent = np.array([pos[fw.node(c).parent] if fw.node(c).parent else -1 for c in codes], dtype=np.int64)
    node_level = np.array([fw.level_of(c) - 1 for c in codes], dtype=np.int64)
    level_ptr = np.searchsorted(node_level, np.arange(L + 1)).astype(np.int64)
    child_ptr, child_idx = [0], []
    for g in codes[k:]:
        child_idx += [pos[c] for c in fw.children(g)]
        child_ptr.append(len(child_idx))
    max_members = max(np.diff(child_ptr))

    # matrices: one per (treatment, imputation, normalizer); kernel index (t * n_imp + i) * n_nrm + j
    matrices: dict[tuple[str, str, str], pd.DataFrame] = {}
    X = np.empty((len(ch.treatment) * len(ch.imputation) * len(ch.normalizer), k, n))
    for trt, imp in itertools.product(ch.treatment, ch.imputation):
        data, still = treated_dataset(dataset, imp, trt, spec.source or "spec")
        for nrm in ch.normalizer:
            x = X[len(matrices)]
            matrices[(trt.label, imp.label, nrm.label)] = _into_plan(normalise(data, nrm.build(), still), x, fw)
        del data  # a treated copy of the values: freed before the next treatment's
    has_nan = np.isnan(X).any(axis=(1, 2))

    # aggregators and patterns
    aggs = [o.build() for o in ch.aggregator]
    n_draws = L - 1 if ch.aggregator_per_level else 1
    A = len(aggs)  # kernel pattern index = sum over draws l of choice_l * A**l
    patterns_idx = [tuple((pi // A ** lvl) % A for lvl in range(n_draws)) for pi in range(A ** n_draws)]
    pattern_aggs = np.array([[p[lvl] if ch.aggregator_per_level else p[0] for lvl in range(L - 1)]
                             for p in patterns_idx], dtype=np.int64)
    pattern_same = np.array([len(set(row)) == 1 for row in pattern_aggs.tolist()], dtype=np.bool_)
    shift = np.array([a.shift if getattr(a, "shift", None) else 0.0 for a in aggs], dtype=float)
    for a_i, agg in enumerate(aggs):
        if _need(agg) and shift[a_i] == 0.0:
            for m, (_trt, _imp, nrm) in enumerate(matrices):
                lo = np.nanmin(X[m])
                if (agg.needs_positive() and lo <= 0) or lo < 0:
                    raise SpecError(
                        f"{spec.source or 'spec'}: [choices] aggregator '{ch.aggregator[a_i].label}' needs "
                        f"{'strictly positive' if agg.needs_positive() else 'non-negative'} values but normalizer "
                        f"'{nrm}' gives a minimum of {lo:.4g}: write it as {{name = \"{agg.name}\", shift = 0.01}}."
                    )
    T = _transformed(X, aggs, fw.indicator_codes)

    # scheme weights for every (scheme, matrix, pattern)
    scheme_levels = _level_mask(ch.scheme_levels, fw)
    base_w = np.empty((len(ch.scheme), len(matrices), len(patterns_idx), n_nodes))
    built = [opt.build() for opt in ch.scheme]
    for s, (opt, scheme) in enumerate(zip(ch.scheme, built)):
        for m, df in enumerate(matrices.values()):
            for pi, row in enumerate(pattern_aggs.tolist()):
                if not scheme.data_driven and (m > 0 or pi > 0):
                    base_w[s, m, pi] = base_w[s, 0, 0]
                    continue
                agg_map = {lvl + 2: aggs[a] for lvl, a in enumerate(row)}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fitted = scheme.fit(df, fw, level=ch.scheme_levels, aggregator=agg_map).weights_
                base_w[s, m, pi, :-1] = fitted.values.reindex(codes[:-1]).to_numpy()
                base_w[s, m, pi, -1] = 1.0
    xlnx_ok = np.array([np.nanmin(x) >= 0 for x in X], dtype=np.bool_)
    scheme_code, scheme_params, scheme_needs, mom_layout = _scheme_table(spec, built, xlnx_ok)
    reestimate = bool(scheme_code.any())

    pair_ptr, mom_ent, mom_cov = _moment_matrices(X, has_nan, xlnx_ok, child_ptr, child_idx, level_ptr, k,
                                                  bool(reestimate and scheme_levels[0]))

    # score range for quantised sums and histograms: power means stay within their members' range
    lo, hi = float(np.nanmin(X)), float(np.nanmax(X))
    for s_ in shift[shift > 0]:
        lo, hi = min(lo, s_), max(hi, hi - float(np.nanmin(X)) + s_)
    if hi <= lo:
        hi = lo + 1.0

    wn = spec.weights
    cols = Columns(n_draws, n_nodes - 1, len(ch.treatment) > 1)
    drop_opts = ["none"] + (list(fw.indicator_codes) if ch.drop_indicator else [])
    kernel = KernelPlan(
        seed=np.uint64(spec.seed), n_units=n, n_indicators=k, n_nodes=n_nodes, n_levels=L,
        node_parent=node_parent, node_level=node_level, level_ptr=level_ptr,
        child_ptr=np.array(child_ptr, dtype=np.int64), child_idx=np.array(child_idx, dtype=np.int64),
        max_members=int(max_members), X=X, has_nan=has_nan,
        x_order=np.argsort(X, axis=2, kind="stable").astype(np.int32) if reestimate else
        np.zeros((1, 1, 1), dtype=np.int32),
        pair_ptr=pair_ptr, mom_ent=mom_ent, mom_cov=mom_cov, T=T,
        agg_power=np.array([a.power for a in aggs], dtype=float),
        agg_need=np.array([_need(a) for a in aggs], dtype=np.int64), agg_shift=shift,
        pattern_aggs=pattern_aggs, pattern_same=pattern_same, n_agg_draws=n_draws,
        imputation_cdf=_cdf(ch.probs("imputation")), normalizer_cdf=_cdf(ch.probs("normalizer")),
        treatment_cdf=_cdf(ch.probs("treatment")),
        agg_cdf=_cdf(ch.probs("aggregator")), scheme_cdf=_cdf(ch.probs("scheme")),
        drop_cdf=_cdf(np.ones(len(drop_opts))), base_w=base_w, scheme_code=scheme_code, scheme_params=scheme_params,
        scheme_needs=scheme_needs, mom_layout=mom_layout, scheme_level=scheme_levels,
        bootstrap=bool(spec.bootstrap_units),
        perturb={"none": 0, "uniform": 1, "dirichlet": 2}[wn.perturb], spread=float(wn.spread),
        concentration=float(wn.concentration),
        perturb_level=_level_mask(wn.levels, fw) if wn.perturb != "none" else np.zeros(L, dtype=np.bool_),
        score_lo=lo, score_hi=hi, q_max=Q_MAX,
        n_cols=cols.n_cols, col_stream=cols.stream_indices(), col_boot=cols.bootstrap, col_w=cols.weights,
        col_treat=cols.col_treatment,
    )
    factor_options = {
        "imputation": [o.label for o in ch.imputation],
        "normalizer": [o.label for o in ch.normalizer],
        "aggregator": [" / ".join(ch.aggregator[a].label for a in p) for p in patterns_idx],
        "scheme": [o.label for o in ch.scheme],
        "drop_indicator": drop_opts,
        "treatment": [o.label for o in ch.treatment],
    }
    patterns = [tuple(ch.aggregator[a].label for a in p) for p in patterns_idx]
    return Plan(kernel, spec, dataset, codes, factor_options, patterns, matrices, cols)
