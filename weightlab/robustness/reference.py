"""A plain-Python rebuild of one Monte Carlo replication: the engine's reference.

It re-derives the random numbers with Python integers (splitmix64, the stream layout of the factor
table, :mod:`weightlab.robustness.factors`), draws the choices, divides by the denominators with
:func:`weightlab.denominate.denominate` when ``framework`` is drawn, imputes and treats the values
with :mod:`weightlab.treatment` when a treatment other than ``none`` is drawn, fits the scheme with the
nominal Python code (on the bootstrap rows when asked), perturbs and renormalises the weights, and
builds the index with :func:`weightlab.index.build_index`. It shares no code with the kernels; tests require the
engine to match it replication by replication, and the benchmark uses it as the pandas baseline.
It is slow (milliseconds per replication) by design.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..data import Dataset
from ..denominate import denominate
from ..index import build_index, normalise, rank_descending
from ..treatment import TreatmentRule, impute, treat
from ..weighting.base import Weights
from .columns import Columns
from .factors import BY_NAME, DISCRETE, listed

M64 = (1 << 64) - 1
GOLD = 0x9E3779B97F4A7C15
GOLD2 = 0xD1B54A32D192ED03


def mix(z: int) -> int:
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def replication_key(seed: int, r: int) -> int:
    return mix(seed ^ mix((r + 1) * GOLD))


def uniform_at(key: int, i: int) -> float:
    return (mix(key + (i + 1) * GOLD2) >> 11) * 2.0 ** -53


def uniform(seed: int, r: int, i: int) -> float:
    return uniform_at(replication_key(seed, r), i)


def key_of(seed: int, u: float) -> int:
    """The stream key a design column gives: splitmix64(seed ^ floor(u * 2**53))."""
    return mix(seed ^ int(u * 2.0 ** 53))


def pick(u: float, probs) -> int:
    cdf = np.cumsum(probs) / np.sum(probs)
    for j, c in enumerate(cdf[:-1]):
        if u < c:
            return j
    return len(cdf) - 1


def gamma(key: int, base: int, alpha: float) -> float:
    """Marsaglia-Tsang with the same stream layout as the kernel."""
    boost, counter = 1.0, 0
    if alpha < 1.0:
        boost = (1.0 - uniform_at(key, base)) ** (1.0 / alpha)
        counter, alpha = 1, alpha + 1.0
    d = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        u1, u2 = uniform_at(key, base + counter), uniform_at(key, base + counter + 1)
        x = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
        counter += 2
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v ** 3
        u = uniform_at(key, base + counter)
        counter += 1
        if math.log(u + 1e-300) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost


def rebuild(dataset: Dataset, spec, r: int, row=None) -> dict:
    """Choices, weights, scores and ranks of replication ``r`` computed the plain way.

    ``row``: the replication's uniforms from a design (the columns of
    :class:`~weightlab.robustness.columns.Columns`: imputation, normalizer, scheme, dropped
    indicator, one per aggregator draw, the treatment and the denomination when two or more are
    listed, bootstrap key, one per non-root node in kernel order); by default they come from the
    counter-based stream of (seed, r) (each factor's stream index in the factor table).
    """
    fw = dataset.framework
    ch = spec.choices
    seed = spec.seed
    n_draws = fw.n_levels - 1 if ch.aggregator_per_level else 1
    n_nodes = len(fw.indicator_codes) + sum(len(fw.groups_at(lvl)) for lvl in range(2, fw.n_levels + 1))
    cols = Columns(n_draws, n_nodes - 1, tuple(f.name for f in DISCRETE if spec.varies(f.name)))
    col_boot = cols.bootstrap

    def u(name: str, draw: int = 0) -> float:
        """The uniform of factor ``name`` (its aggregation draw ``draw``); a factor without a column: 0."""
        if cols.col(name) < 0:
            return 0.0
        return uniform(seed, r, BY_NAME[name].stream + draw) if row is None else float(row[cols.col(name) + draw])

    imp = ch.imputation[pick(u("imputation"), ch.probs("imputation"))]
    nrm = ch.normalizer[pick(u("normalizer"), ch.probs("normalizer"))]
    agg_idx = [pick(u("aggregator", lvl), ch.probs("aggregator")) for lvl in range(n_draws)]
    aggs = {lvl: ch.aggregator[agg_idx[lvl - 2] if ch.aggregator_per_level else agg_idx[0]].build()
            for lvl in range(2, fw.n_levels + 1)}
    scheme_opt = ch.scheme[pick(u("scheme"), ch.probs("scheme"))]
    codes = fw.indicator_codes
    n_drop = 1 + (len(codes) if ch.drop_indicator else 0)
    drop = pick(u("drop_indicator"), np.ones(n_drop)) - 1
    trt = ch.treatment[pick(u("treatment"), ch.probs("treatment"))]
    den = ch.denomination[pick(u("denomination"), ch.probs("denomination"))]

    if den.name == "framework":  # the pipeline's order: denominate, impute, treat, then normalise
        dataset = Dataset(denominate(dataset)[0], fw, dataset.names, dataset.meta)
    imputation = imp.name
    if trt.name != "none":
        treated, _report = treat(impute(dataset.values, imp.name), trt.name, rule=TreatmentRule(**trt.params))
        dataset, imputation = Dataset(treated, fw, dataset.names), "none"
    X = normalise(dataset, nrm.build(), imputation)
    scheme = scheme_opt.build()
    fit_on = X
    if spec.bootstrap_units and scheme.data_driven:
        n = dataset.n_units
        key = replication_key(seed, r) if row is None else key_of(seed, float(row[col_boot]))
        rows = [min(int(uniform_at(key, (1 << 32) + j) * n), n - 1) for j in range(n)]
        fit_on = X.iloc[sorted(rows)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = scheme.fit(fit_on, fw, level=ch.scheme_levels, aggregator=aggs).weights_.values.copy()

    # node order of the kernel: indicators, groups by level, root last
    order = list(codes) + [g for lvl in range(2, fw.n_levels) for g in fw.groups_at(lvl)]
    noise = spec.weights
    perturbed_levels = set()
    if noise.perturb != "none":
        top = fw.n_levels - 1
        perturbed_levels = set(range(1, top + 1)) if noise.levels == "all" else set(noise.levels)
    for i, code in enumerate(order):
        if fw.level_of(code) not in perturbed_levels:
            continue
        if noise.perturb == "uniform":
            w[code] *= 1.0 - noise.spread + 2.0 * noise.spread * (
                uniform(seed, r, 64 + i) if row is None else float(row[col_boot + 1 + i]))
        elif noise.perturb == "dirichlet" and w[code] > 0:
            key = replication_key(seed, r) if row is None else key_of(seed, float(row[col_boot + 1 + i]))
            w[code] = gamma(key, (1 << 20) + (i << 12), noise.concentration * w[code])
    if drop >= 0:
        fw_used = fw.without([codes[drop]])
        ds = Dataset(dataset.values[fw_used.indicator_codes], fw_used, dataset.names)
    else:
        fw_used, ds = fw, dataset
    w = w.reindex(fw_used.nominal_weights().index)
    for group in [fw_used.index.code] + [g.code for g in fw_used.groups]:
        members = fw_used.children(group)
        w[members] = w[members] / w[members].sum()
    res = build_index(ds, normalizer=nrm.build(), aggregator=aggs, imputation=imputation,
                      weights=Weights(fw_used, w, "reference"))
    scores = res.index_scores.to_numpy()
    eff = fw_used.effective_weights(w).reindex(codes).fillna(0.0)
    return {"choices": {"imputation": imp.label, "normalizer": nrm.label, "scheme": scheme_opt.label,
                        "drop_indicator": "none" if drop < 0 else codes[drop],
                        "aggregator": " / ".join(ch.aggregator[a].label for a in agg_idx),
                        "treatment": trt.label,
                        **({"denomination": den.label} if listed(BY_NAME["denomination"], ch.denomination) else {})},
            "scores": scores, "ranks": rank_descending(scores), "effective_weights": eff}
