"""Importance of every member of every group of a built index, against the index and its parent.

For each member ``x`` (an indicator in its sub-pillar, a sub-pillar in its pillar, ...) and each
reference score ``y`` (the index, and the member's parent group when that is not the index):

- ``weight``: the member's weight inside its group; ``effective_weight``: its weight in ``y``
  (the product of the within-group weights from the member up to ``y``);
- ``r``: Pearson's correlation of ``x`` with ``y`` (COINr's measure); ``r_share = r / sum r`` over
  the members of the group;
- ``S_spline``: the main effect ``S = Var(E[y | x]) / Var(y)`` by the GCV smoothing spline,
  ``S_local_linear`` by the cross-validated local linear smoother, ``S_linear = r^2`` (the main
  effect of a straight line; ``S >= r^2`` up to estimation error);
- ``pratt = e cov(x, y) / var(y)`` with ``e`` the effective weight (Pratt's covariance share;
  when ``y`` is an arithmetic mean these shares of a whole level sum to 1);
- ``S_lo, S_hi`` and ``r_lo, r_hi``: percentile bootstrap intervals over units (the same resamples
  for every member; the interval of ``S`` is that of the bootstrap spline basis,
  :class:`~weightlab.importances.smoothers.SplineBasis`);
- ``importance_to_weight``: ``(S_spline / sum S_spline over the group) / weight``;
- ``flag``: ``nonlinear`` when ``S_spline - r^2 > 0.05`` (capping, ranks or a non-arithmetic
  aggregator at work), ``counts_more`` / ``counts_less`` when ``importance_to_weight`` is above 2
  or below 0.5; ``remark``: why a value is missing or trivial.

What the main effect means with correlated members: ``S_i`` is the share of ``Var(y)`` explained
by ``x_i`` *including* what it explains through the members correlated with it, so the ``S_i``
of a group do not sum to 1 (they sum to more when members are positively correlated). It measures
how closely the index follows a member, not the member's causal contribution (Paruolo, Saisana &
Saltelli 2013, section 3; Becker et al. 2017, section 2).

References
----------
Paruolo, P., Saisana, M., Saltelli, A. (2013). Ratings and rankings: voodoo or science? JRSS A
176(3), 609-634.
Becker, W., Saisana, M., Paruolo, P., Vandecasteele, I. (2017). Weights and importance in
composite indicators: closing the gap. Ecological Indicators 80, 12-22.
Pratt, J. W. (1987). Dividing the indivisible: using simple symmetry to partition variance
explained. In Proc. 2nd International Tampere Conference in Statistics, 245-260.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError
from .smoothers import MIN_DISTINCT, SplineBasis, local_linear_main_effects, spline_main_effect

COLUMNS = ["level", "group", "member", "against", "weight", "effective_weight", "r", "r_lo", "r_hi", "r_share",
           "S_spline", "S_lo", "S_hi", "S_local_linear", "S_linear", "pratt", "importance_to_weight", "flag",
           "remark"]
NONLINEAR_GAP = 0.05  # flag: S_spline - r^2 above this
RATIO_BAND = (0.5, 2.0)  # flag: normalised importance / weight outside this band
MIN_UNITS = 10  # fewer complete units than this: no smoother is meaningful


@dataclass
class ImportanceResult:
    """The importance table of a built index (:func:`importance`) and what produced it.

    Attributes
    ----------
    table : DataFrame
        One row per (member, reference score), columns :data:`COLUMNS`; ``attrs["label"]`` holds
        the data's caveat (e.g. "synthetic demo data").
    result : IndexResult
        The built index the importance was computed on.
    settings : dict
        ``n_boot``, ``seed``, ``confidence``, the index's settings.
    """

    table: pd.DataFrame
    result: Any
    settings: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(self.table.attrs.get("label", ""))

    def flagged(self) -> pd.DataFrame:
        """The rows with a flag."""
        return self.table[self.table["flag"] != ""]

    def save(self, directory) -> list:
        """Write the nominal build's files (``scores.csv``, ``weights.csv``, ``framework.toml``),
        ``importance.csv`` (with a ``note`` column holding the data's caveat) and ``manifest.json``
        into ``directory``; returns the paths. ``weightlab report DIR`` (or
        ``weightlab.report.html.write_report(DIR)``) adds ``report.html`` with the section "Importance
        against weights" (the report reads this package's smoother, so this method does not call it:
        no import circle)."""
        import json
        from pathlib import Path

        from .._io import write_json_atomic, write_table_atomic
        from ..results import layout
        from ..results.write import save_index_result, with_note

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = save_index_result(self.result, directory)
        path = directory / layout.IMPORTANCE
        write_table_atomic(with_note(self.table, self.label), path, "csv")
        manifest = json.loads((directory / layout.MANIFEST).read_text(encoding="utf-8"))
        manifest["kind"] = "importance"
        manifest["importance"] = {k: v for k, v in self.settings.items() if k != "index"}
        manifest["files"] = manifest.get("files", []) + [path.name]
        write_json_atomic(directory / layout.MANIFEST, manifest)
        paths.append(path)
        return paths

    def __repr__(self) -> str:
        t = self.table
        return (f"<ImportanceResult: {len(t)} rows ({t['member'].nunique()} members), "
                f"{int((t['flag'] != '').sum())} flagged; {self.settings.get('n_boot')} bootstrap resamples"
                f"{'; ' + self.label if self.label else ''}>")


def bootstrap_counts(n_units: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each unit is drawn in each of ``n_boot`` resamples of ``n_units`` with replacement
    (``n_boot x n_units``, float); one matrix serves every member's intervals."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_units, size=(n_boot, n_units))
    counts = np.zeros((n_boot, n_units))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_units), draws.ravel()), 1.0)
    return counts


def weighted_pearson(counts: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of ``x`` and ``y`` with unit weights ``counts`` (one r per row)."""
    N = counts.sum(1)
    mx, my = counts @ x / N, counts @ y / N
    sxy = counts @ (x * y) / N - mx * my
    sxx = counts @ (x * x) / N - mx * mx
    syy = counts @ (y * y) / N - my * my
    with np.errstate(invalid="ignore", divide="ignore"):
        return sxy / np.sqrt(sxx * syy)


def _category_bootstrap(counts: np.ndarray, x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bootstrap correlation ratios of a discrete ``x`` (R x m)."""
    _, inv = np.unique(x, return_inverse=True)
    H = np.eye(inv.max() + 1)[inv]
    N, cnt = counts.sum(1), counts @ H
    out = np.empty((len(counts), len(ys)))
    for j, y in enumerate(ys):
        sums = counts @ (H * y[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            between = np.nansum(sums ** 2 / cnt, axis=1) / N - (counts @ y / N) ** 2
            out[:, j] = between / (counts @ (y * y) / N - (counts @ y / N) ** 2)
    return out


def _path_weight(fw, weights: pd.Series, code: str, stop: str) -> float:
    """Product of the within-group weights from ``code`` up to (not including) ``stop``."""
    w, node = 1.0, code
    while node != stop:
        w *= float(weights[node])
        node = fw.node(node).parent
    return w


def importance(build: Any, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95) -> ImportanceResult:
    """Importance of every member of every group against the index and against its parent.

    Parameters
    ----------
    build : Build or IndexResult
        A built index (any normalizer, weights and aggregators: importance is measured on the
        scores the build produced, not derived from its formula).
    n_boot : int, default=1000
        Bootstrap resamples of the units for the intervals (0: no intervals).
    seed : int, default=0
        Seed of the resamples (the same seed gives the same table).
    confidence : float, default=0.95
        Coverage of the percentile intervals.

    Returns
    -------
    ImportanceResult
        See the module docstring for the columns.

    Raises
    ------
    InputError
        Fewer than :data:`MIN_UNITS` units with complete scores.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ParameterError(f"n_boot must be a whole number >= 0 (bootstrap resamples); got {n_boot!r}.")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}.")
    res = getattr(build, "result", build)
    fw, scores, weights = res.dataset.framework, res.scores, res.weights.values
    root = fw.index.code
    index = scores[fw.n_levels][root].to_numpy(dtype=float)
    n = len(index)
    counts = bootstrap_counts(n, n_boot, seed) if n_boot else np.zeros((0, n))
    q = ((1 - confidence) / 2, (1 + confidence) / 2)
    rows = []
    for level in range(1, fw.n_levels):
        for group in fw.groups_at(level + 1):
            members = fw.children(group)
            parent = scores[level + 1][group].to_numpy(dtype=float)
            for code in members:
                x = scores[level][code].to_numpy(dtype=float)
                single = len(members) == 1
                refs = [("index", root, index)] + ([("parent", group, parent)] if group != root and not single else [])
                rows += _member_rows(level, group, code, x, refs, members, fw, weights, counts, q)
                if single and group != root:
                    rows.append(_trivial_row(level, group, code))
    table = pd.DataFrame(rows, columns=COLUMNS)
    _shares_and_flags(table)
    if res.dataset.label:
        table.attrs["label"] = res.dataset.label
    settings = {"n_boot": n_boot, "seed": seed, "confidence": confidence, "index": dict(res.settings)}
    return ImportanceResult(table, res, settings)


def _trivial_row(level: int, group: str, code: str) -> dict:
    """The only member of a group against the group (they are the same score)."""
    one = dict.fromkeys(["weight", "effective_weight", "r", "r_lo", "r_hi", "S_spline", "S_lo", "S_hi",
                         "S_local_linear", "S_linear", "pratt"], 1.0)
    return {"level": level, "group": group, "member": code, "against": "parent", **one, "flag": "",
            "remark": "only member of its group: the group is this member, importance in it is trivially 1"}


def _member_rows(level, group, code, x, refs, members, fw, weights, counts, q) -> list[dict]:
    ys = np.stack([y for _, _, y in refs])
    ok = np.isfinite(x) & np.isfinite(ys).all(axis=0)
    if ok.sum() < MIN_UNITS:
        raise InputError(f"Importance of '{code}': only {int(ok.sum())} unit(s) have a score for it and for the "
                         f"index; the smoothers need at least {MIN_UNITS}: impute or drop it.")
    x, ys, c = x[ok], ys[:, ok], counts[:, ok]
    base = {"level": level, "group": group, "member": code, "weight": float(weights[code])}
    note = "only member of its group: it counts in the index through its group alone" if len(members) == 1 else ""
    if np.ptp(x) == 0:
        return [{**base, "against": against, "effective_weight": _path_weight(fw, weights, code, ref),
                 "remark": "constant across units: no importance (r and S undefined); check or drop it",
                 "flag": ""} for against, ref, _ in refs]
    distinct = len(np.unique(x))
    if distinct < MIN_DISTINCT:
        note = "; ".join(filter(None, [note, f"only {distinct} distinct values: S is the exact correlation "
                                             f"ratio of the category means"]))
    S_ll = local_linear_main_effects(x, ys)
    if len(c):
        r_boot = np.stack([weighted_pearson(c, x, y) for y in ys], axis=1)
        S_boot = (SplineBasis(x).main_effects(c, ys) if distinct >= MIN_DISTINCT
                  else _category_bootstrap(c, x, ys))
    out = []
    for j, (against, ref, _) in enumerate(refs):
        y = ys[j]
        r = float(np.corrcoef(x, y)[0, 1]) if np.ptp(y) > 0 else float("nan")
        e = _path_weight(fw, weights, code, ref)
        row = {**base, "against": against, "effective_weight": e, "r": r, "S_spline": spline_main_effect(x, y),
               "S_local_linear": float(S_ll[j]), "S_linear": r * r,
               "pratt": e * float(np.cov(x, y, bias=True)[0, 1] / np.var(y)), "remark": note}
        if len(c):
            row["r_lo"], row["r_hi"] = np.nanquantile(r_boot[:, j], q)
            row["S_lo"], row["S_hi"] = np.nanquantile(S_boot[:, j], q)
        out.append(row)
    return out


def _shares_and_flags(table: pd.DataFrame) -> None:
    """``r_share``, ``importance_to_weight`` and ``flag`` within each (group, against)."""
    keys = [table["group"], table["against"]]
    table["r_share"] = table["r"] / table.groupby(keys)["r"].transform("sum")
    share = table["S_spline"] / table.groupby(keys)["S_spline"].transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["importance_to_weight"] = np.where(table["weight"] > 0, share / table["weight"],
                                                 np.where(share > 0, np.inf, np.nan))
    single = table.groupby(keys)["member"].transform("size") == 1
    table.loc[single, ["r_share", "importance_to_weight"]] = np.nan
    gap = table["S_spline"] - table["S_linear"]
    flags = []
    for g, ratio in zip(gap, table["importance_to_weight"]):
        f = ["nonlinear"] if g > NONLINEAR_GAP else []
        if ratio > RATIO_BAND[1]:
            f.append("counts_more")
        elif ratio < RATIO_BAND[0]:
            f.append("counts_less")
        flags.append(";".join(f))
    table["flag"] = flags
    table["remark"] = table["remark"].fillna("")
