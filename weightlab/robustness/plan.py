"""Compile a dataset and an uncertainty spec into a :class:`KernelPlan` of plain arrays.

Everything that does not change between replications is computed here, once, with the nominal
Python code: one normalised matrix per combination of the data-stage options (denomination,
treatment, imputation, normalizer: the data-stage rows of :mod:`weightlab.robustness.factors`, applied
by their plan builders in the pipeline's order, :mod:`weightlab.pipeline`), each scheme's within-group
weights for every (matrix, aggregator pattern) — so data-driven weights are exactly those of
:func:`weightlab.index.build_index` —, the transformed matrices ``x**p`` / ``ln x`` of the fast
path, and the hierarchy as index arrays. The kernels then never touch pandas or Python objects.

Node order: indicators (framework order), then the groups of level 2, 3, ... and the root last, so
parents always come after their members.
"""

from __future__ import annotations

import itertools
import warnings
from collections import namedtuple
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..aggregation import Aggregator
from ..data import Dataset
from ..errors import SpecError
from ..weighting.base import StatisticsScheme, parse_levels
from ..weighting.statistics import NEED_COV, NEED_M2
from . import boot_weights as BW
from . import factors as F
from .columns import Columns
from .config import MAX_REPS_PER_SLOT, Q_MAX
from .noise import PERTURBATIONS
from .spec import Option, UncertaintySpec


class Tree(NamedTuple):
    """The hierarchy as index arrays (node order: see the module docstring)."""

    n_units: int
    n_indicators: int
    n_nodes: int
    n_levels: int
    node_parent: np.ndarray  # (n_nodes,) parent node, -1 for the root
    node_level: np.ndarray  # (n_nodes,) level - 1
    level_ptr: np.ndarray  # (n_levels + 1,) first node of each level
    child_ptr: np.ndarray  # (groups + 1,) members of group g (node k + g) in child_idx[child_ptr[g]:child_ptr[g + 1]]
    child_idx: np.ndarray
    max_members: int


class Data(NamedTuple):
    """The normalised matrices (one per combination of the data-stage options) and what is derived from them."""

    X: np.ndarray  # (matrices, indicators, units)
    has_nan: np.ndarray  # (matrices,) a matrix with missing cells (scored level by level)
    x_order: np.ndarray  # (matrices, indicators, units) sort order of each row (bootstrap "sample" statistics)
    pair_ptr: np.ndarray  # first member pair of each indicator group in mom_cov (_moment_matrices)
    mom_ent: np.ndarray  # (matrices, units, 2k) moment columns, boot_weights.LAYOUT_ENT
    mom_cov: np.ndarray  # (matrices, units, 2k + pairs) moment columns, boot_weights.LAYOUT_COV
    T: np.ndarray  # (matrices, aggregators, indicators, units) g_a(x + shift) of the fast path


class ChoiceTables(NamedTuple):
    """The discrete factors' option tables (rows in factors.DISCRETE order) and the aggregators."""

    cdf: np.ndarray  # (discrete factors, options) option CDFs, padded with 1.0
    n_opts: np.ndarray  # options per discrete factor (per aggregation draw for the aggregator)
    col: np.ndarray  # (first) design column per discrete factor, -1: none (option 0)
    slot: np.ndarray  # choice slot per discrete factor, -1: not recorded (a factor not listed)
    stages: np.ndarray  # discrete-factor rows of the data stages, most significant digit first
    n_agg_draws: int
    agg_power: np.ndarray  # (aggregators,) power p of each aggregator option (0: geometric)
    agg_need: np.ndarray  # 2: needs positive values, 1: non-negative, 0: any
    agg_shift: np.ndarray
    pattern_aggs: np.ndarray  # (patterns, levels - 1) aggregator of each level in each pattern
    pattern_same: np.ndarray  # (patterns,) one aggregator at every level


class Schemes(NamedTuple):
    """Each scheme option's weights and how the bootstrap re-estimates them (_scheme_table)."""

    base_w: np.ndarray  # (schemes, matrices, patterns, nodes) nominal member weights
    scheme_code: np.ndarray
    scheme_params: np.ndarray
    scheme_needs: np.ndarray
    mom_layout: np.ndarray
    scheme_level: np.ndarray  # (levels,) levels whose weights the scheme sets
    bootstrap: bool


class Noise(NamedTuple):
    """The weight perturbation (:mod:`weightlab.robustness.noise`)."""

    perturb: int  # the perturbation's code
    spread: float
    concentration: float
    perturb_level: np.ndarray  # (levels,) member levels perturbed


class Scale(NamedTuple):
    """The score range of the quantised sums and histograms."""

    score_lo: float
    score_hi: float
    q_max: int


class DesignColumns(NamedTuple):
    """The design's columns (:class:`~weightlab.robustness.columns.Columns`)."""

    n_cols: int
    col_stream: np.ndarray  # stream index of the scalar columns 0 .. col_boot - 1
    col_boot: int
    col_w: int


class KernelPlan(NamedTuple):
    """Arrays and scalars read by the kernels, in a few named groups (see kernels.py for their use)."""

    seed: np.uint64
    tree: Tree
    data: Data
    choices: ChoiceTables
    schemes: Schemes
    noise: Noise
    scale: Scale
    columns: DesignColumns


def kernel_fields(kernel: KernelPlan) -> list[tuple[str, object]]:
    """``(group.field, value)`` of every array and scalar of a kernel plan (``seed`` at the top)."""
    out: list[tuple[str, object]] = []
    for name, value in zip(kernel._fields, kernel):
        if isinstance(value, tuple):
            out += [(f"{name}.{f}", v) for f, v in zip(value._fields, value)]
        else:
            out.append((name, value))
    return out


@dataclass
class Plan:
    """A compiled run: the kernel arrays plus the labels needed to read results back."""

    kernel: KernelPlan
    spec: UncertaintySpec
    dataset: Dataset
    node_codes: list[str]
    factor_options: dict[str, list[str]]  # in choice-slot order
    patterns: list[tuple[str, ...]]
    matrices: dict[tuple, pd.DataFrame]  # MatrixKey (labels of the data-stage options) -> normalised table
    columns: Columns

    @property
    def n_units(self) -> int:
        return self.kernel.tree.n_units

    def matrix(self, **labels: str) -> pd.DataFrame:
        """The normalised table of the data-stage options with these labels (the first option of a
        stage not named), e.g. ``plan.matrix(treatment="log1p", normalizer="zscore")``."""
        ch = self.spec.choices
        return self.matrices[MatrixKey(*(labels.pop(f.name, getattr(ch, f.name)[0].label) for f in F.STAGES))]


MatrixKey = namedtuple("MatrixKey", [f.name for f in F.STAGES])  # most significant digit first


def staged_data(dataset: Dataset, spec: UncertaintySpec, options: dict[str, Option]) -> F.StageData:
    """The data stages (all but the last, the normalisation) of ``options`` applied to ``dataset``
    in the pipeline's order: what ``build_index`` of those options starts from (check_nominal)."""
    data = F.StageData(dataset, Option("none", {}, "imputation"))
    for f in F.STAGES_APPLIED[:-1]:
        data = f.build(data, options[f.name], spec.source or "spec")
    return data


def _stage_matrices(dataset: Dataset, spec: UncertaintySpec, k: int) -> tuple[np.ndarray, dict]:
    """``X[m]`` (indicators x units) and the table of every combination of the data-stage options,
    ``m`` the mixed-radix index of :mod:`weightlab.robustness.factors` (the first stage's digit
    most significant, as ``itertools.product`` counts).

    Each stage's plan builder runs once per prefix of options in the order they apply; a prefix's
    data are dropped before the next prefix is computed (a treated copy of the values is one copy of
    the data), and a normalised table is copied into ``X`` and freed.
    """
    ch = spec.choices
    where = spec.source or "spec"
    opts = [getattr(ch, f.name) for f in F.STAGES]
    X = np.empty((int(np.prod([len(o) for o in opts])), k, dataset.n_units))
    matrices: dict = {}
    cache: list = [None] * len(F.STAGES_APPLIED)  # (prefix, StageData) per applied stage
    for combo in itertools.product(*(range(len(o)) for o in opts)):
        picked = {f.name: opts[i][c] for i, (f, c) in enumerate(zip(F.STAGES, combo))}
        data = F.StageData(dataset, Option("none", {}, "imputation"))
        for depth, f in enumerate(F.STAGES_APPLIED):
            prefix = tuple(picked[g.name] for g in F.STAGES_APPLIED[:depth + 1])
            if cache[depth] is not None and cache[depth][0] == prefix:
                data = cache[depth][1]
                continue
            cache[depth:] = [None] * (len(cache) - depth)  # freed before the next prefix is computed
            data = f.build(data, picked[f.name], where)
            cache[depth] = (prefix, data)
        key = MatrixKey(*(picked[f.name].label for f in F.STAGES))
        matrices[key] = _into_plan(data.normalised, X[len(matrices)], dataset.framework)
        cache[-1] = data = None
    return X, matrices


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

    X, matrices = _stage_matrices(dataset, spec, k)  # one matrix per combination of the data-stage options
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
            for m, nrm in enumerate(key.normalizer for key in matrices):
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
    cols = Columns(n_draws, n_nodes - 1, tuple(f.name for f in F.DISCRETE if spec.varies(f.name)))
    drop_opts = ["none"] + (list(fw.indicator_codes) if ch.drop_indicator else [])
    labels = {f.name: [o.label for o in getattr(ch, f.name)] for f in F.CHOICE_LISTS}
    labels.update(aggregator=[" / ".join(ch.aggregator[a].label for a in p) for p in patterns_idx],
                  drop_indicator=drop_opts)
    probs = {f.name: ch.probs(f.name) for f in F.CHOICE_LISTS}
    probs["drop_indicator"] = np.ones(len(drop_opts))
    slots = F.choice_slots({f.name for f in F.CHOICE_LISTS if F.listed(f, getattr(ch, f.name))})
    width = max(len(v) for v in probs.values())
    cdf = np.ones((len(F.DISCRETE), width))
    for i, f in enumerate(F.DISCRETE):
        cdf[i, :len(probs[f.name])] = _cdf(probs[f.name])
    kernel = KernelPlan(
        seed=np.uint64(spec.seed),
        tree=Tree(n_units=n, n_indicators=k, n_nodes=n_nodes, n_levels=L, node_parent=node_parent,
                  node_level=node_level, level_ptr=level_ptr, child_ptr=np.array(child_ptr, dtype=np.int64),
                  child_idx=np.array(child_idx, dtype=np.int64), max_members=int(max_members)),
        data=Data(X=X, has_nan=has_nan,
                  x_order=np.argsort(X, axis=2, kind="stable").astype(np.int32) if reestimate else
                  np.zeros((1, 1, 1), dtype=np.int32),
                  pair_ptr=pair_ptr, mom_ent=mom_ent, mom_cov=mom_cov, T=T),
        choices=ChoiceTables(cdf=cdf, n_opts=np.array([len(probs[f.name]) for f in F.DISCRETE], dtype=np.int64),
                        col=np.array([cols.col(f.name) for f in F.DISCRETE], dtype=np.int64),
                        slot=np.array([slots.get(f.name, -1) for f in F.DISCRETE], dtype=np.int64),
                        stages=np.array([F.DISCRETE.index(f) for f in F.STAGES], dtype=np.int64),
                        n_agg_draws=n_draws, agg_power=np.array([a.power for a in aggs], dtype=float),
                        agg_need=np.array([_need(a) for a in aggs], dtype=np.int64), agg_shift=shift,
                        pattern_aggs=pattern_aggs, pattern_same=pattern_same),
        schemes=Schemes(base_w=base_w, scheme_code=scheme_code, scheme_params=scheme_params,
                        scheme_needs=scheme_needs, mom_layout=mom_layout, scheme_level=scheme_levels,
                        bootstrap=bool(spec.bootstrap_units)),
        noise=Noise(perturb=PERTURBATIONS.get_class(wn.perturb).code, spread=float(wn.spread),
                    concentration=float(wn.concentration),
                    perturb_level=_level_mask(wn.levels, fw) if wn.perturb != "none" else np.zeros(L, dtype=np.bool_)),
        scale=Scale(score_lo=lo, score_hi=hi, q_max=Q_MAX),
        columns=DesignColumns(n_cols=cols.n_cols, col_stream=cols.stream_indices(), col_boot=cols.bootstrap,
                              col_w=cols.weights),
    )
    factor_options = {name: labels[name] for name in slots}
    patterns = [tuple(ch.aggregator[a].label for a in p) for p in patterns_idx]
    return Plan(kernel, spec, dataset, codes, factor_options, patterns, matrices, cols)
