"""Missing-value imputation and outlier treatment before normalisation.

Imputation methods (the registry ``IMPUTATIONS``, one small class each, usable everywhere, also as
a robustness choice):

- ``none``: keep missing cells; aggregation then averages over the members present, renormalising
  their weights (OECD/JRC Handbook 2008, section 4: "case deletion" at the cell level).
- ``mean`` / ``median``: replace a missing cell by its indicator's mean / median over units.
- ``knn``: scikit-learn's ``KNNImputer`` (k nearest units, uniform weights) on z-scored indicators,
  so that indicators on large scales do not dominate the distance; results are transformed back.
- ``iterative``: scikit-learn's ``IterativeImputer`` (each indicator regressed on the others by
  Bayesian ridge, round robin, ``random_state=0``) on the same z-scores.

Group imputation (:func:`impute_by_group`, COINr ``i_mean_grp`` / ``i_median_grp``) replaces a
missing cell by the mean or median of the indicator over the units of the same group (a grouping
column of the data, e.g. ``EurAsia_group``); it needs that column, so it is a pipeline step.

Outlier treatment (:func:`treat`; the registry ``TREATMENTS``): COINr's default rule (``coinr``,
:class:`TreatmentRule`, whose parameters are declared once, with their constraints), ``log1p``,
``boxcox`` or ``none``, per indicator, with a table of what was done (see :func:`treat`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._params import Interval, validate_params
from .errors import InputError, ParameterError
from .registry import Registry

IMPUTATIONS: Registry = Registry("imputation")
GROUP_IMPUTATIONS = ("mean_group", "median_group")
TREATMENTS: Registry = Registry("treatment")


class Imputation:
    """An imputation method: :meth:`fill` returns the values (float, with missing cells) filled."""

    name = ""

    def fill(self, values: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError


@IMPUTATIONS.register("none")
class NoImputation(Imputation):
    """Keep the missing cells."""

    def fill(self, values: pd.DataFrame) -> pd.DataFrame:
        return values


class _StatisticImputation(Imputation):
    """Each missing cell takes its indicator's statistic (mean or median) over the units."""

    def fill(self, values: pd.DataFrame) -> pd.DataFrame:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused just below
            fill = values.mean() if self.name == "mean" else values.median()
        overflow = values.isna().any() & ~fill.map(lambda v: abs(v) < float("inf"))
        if overflow.any():
            raise InputError(f"{self.name} imputation of indicator '{overflow[overflow].index[0]}' overflows floating "
                             f"point: its values are too large; rescale the column (e.g. divide it by 1e6).")
        return values.fillna(fill)


@IMPUTATIONS.register("mean")
class MeanImputation(_StatisticImputation):
    """The indicator's mean over units."""


@IMPUTATIONS.register("median")
class MedianImputation(_StatisticImputation):
    """The indicator's median over units."""


def _zscored_fill(values: pd.DataFrame, imputer) -> pd.DataFrame:
    """``imputer.fit_transform`` on z-scored indicators (sd 0 taken as 1), transformed back."""
    mu = values.mean()
    sd = values.std(ddof=0).replace(0.0, 1.0)
    z = (values - mu) / sd
    filled = imputer.fit_transform(z.to_numpy(copy=True))
    return pd.DataFrame(filled * sd.to_numpy() + mu.to_numpy(), index=values.index, columns=values.columns)


@IMPUTATIONS.register("knn")
class KnnImputation(Imputation):
    """scikit-learn's ``KNNImputer`` (``n_neighbors`` nearest units, at most n - 1) on z-scores."""

    _parameter_constraints = {"n_neighbors": [Interval(1, None, integer=True)]}

    def __init__(self, n_neighbors: int = 5) -> None:
        self.n_neighbors = n_neighbors

    def fill(self, values: pd.DataFrame) -> pd.DataFrame:
        from sklearn.impute import KNNImputer

        return _zscored_fill(values, KNNImputer(n_neighbors=min(self.n_neighbors, len(values) - 1)))


@IMPUTATIONS.register("iterative")
class IterativeImputation(Imputation):
    """scikit-learn's ``IterativeImputer`` (Bayesian ridge, round robin, ``random_state=0``) on z-scores."""

    def fill(self, values: pd.DataFrame) -> pd.DataFrame:
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401 - enables the import below
        from sklearn.impute import IterativeImputer

        return _zscored_fill(values, IterativeImputer(random_state=0, max_iter=25, keep_empty_features=True))


def impute(values: pd.DataFrame, method: "str | Imputation" = "none", n_neighbors: int = 5) -> pd.DataFrame:
    """Return a copy of ``values`` with missing cells treated by ``method`` (see module docstring):
    a name of ``IMPUTATIONS`` (``n_neighbors`` serves ``knn``) or an :class:`Imputation`."""
    if isinstance(method, str):
        method = IMPUTATIONS.get(method, **({"n_neighbors": n_neighbors} if method == "knn" else {}))
    out = values.astype(float)  # a copy under pandas' copy-on-write, made only where written (fillna: a new frame)
    if not out.isna().to_numpy().any():
        return out
    return method.fill(out)


def impute_by_group(values: pd.DataFrame, groups: pd.Series, stat: str = "mean") -> pd.DataFrame:
    """Fill each missing cell with the ``stat`` (mean or median) of its indicator over the units of
    the same group (COINr ``i_mean_grp``/``i_median_grp``).

    A cell whose group has no value for the indicator, or whose unit has no group, stays missing
    (count them with :func:`imputed_counts`).
    """
    if stat not in ("mean", "median"):
        raise ParameterError(f"Group imputation statistic must be 'mean' or 'median'; got {stat!r}.")
    out = values.astype(float).copy()
    keys = groups.reindex(out.index)
    fill = out.groupby(keys, dropna=True).transform(stat)
    return out.fillna(fill)


def imputed_counts(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per indicator: cells missing before, cells imputed, cells still missing after."""
    was = before.isna()
    now = after.reindex(index=before.index, columns=before.columns).isna()
    return pd.DataFrame({"missing": was.sum(), "imputed": (was & ~now).sum(), "still_missing": now.sum()},
                        index=before.columns).rename_axis("indicator").reset_index()


# ---------------------------------------------------------------------------------------------
# outlier treatment
# ---------------------------------------------------------------------------------------------

def skew_kurt(x: np.ndarray) -> tuple[float, float]:
    """Sample skewness and excess kurtosis with the small-sample correction (e1071 type 2, SAS/SPSS).

    With ``g1 = m3 / m2**1.5`` and ``g2 = m4 / m2**2 - 3`` (``m_r`` central moments, n values)::

        G1 = g1 * sqrt(n (n - 1)) / (n - 2)
        G2 = ((n + 1) g2 + 6) (n - 1) / ((n - 2) (n - 3))

    NaN values are ignored; fewer than 4 values or a constant column give (NaN, NaN).
    """
    from scipy import stats

    v = np.asarray(x, dtype=float)
    v = v[~np.isnan(v)]
    if v.size < 4 or np.ptp(v) == 0:
        return math.nan, math.nan
    return float(stats.skew(v, bias=False)), float(stats.kurtosis(v, fisher=True, bias=False))


@TREATMENTS.register("coinr")
@dataclass(frozen=True)
class TreatmentRule:
    """COINr's default outlier rule (``Treat`` with ``winsorise`` then ``log_CT``).

    An indicator passes when ``|skew| < skew_thresh`` or ``kurt < kurt_thresh`` (:func:`skew_kurt`).
    A failing one is winsorised one step at a time, up to ``winmax`` steps: when the skewness is
    >= 0 the largest value(s) are set to the next largest, otherwise the smallest to the next
    smallest; the check is repeated after each step. If it still fails, the *original* values are
    replaced by ``log(x - min(x) + 0.01 (max(x) - min(x)))`` (COINr ``log_CT``) instead.
    """

    winmax: int = 5
    skew_thresh: float = 2.0
    kurt_thresh: float = 3.5

    _parameter_constraints = {"winmax": [Interval(0, None, integer=True)],
                              "skew_thresh": [Interval(0, None, closed="neither")],
                              "kurt_thresh": [Interval(0, None, closed="neither")]}

    def passes(self, skew: float, kurt: float) -> bool:
        return abs(skew) < self.skew_thresh or kurt < self.kurt_thresh

    def transform(self, x: np.ndarray, code: str, passed: bool, skew: float) -> tuple[np.ndarray, int, int, str]:
        """(values, cells lowered, cells raised, transformation) of one indicator whose check gave
        ``passed`` and ``skew``: winsorised, or ``log_CT`` when winsorising does not make it pass."""
        if passed or math.isnan(skew):
            return x, 0, 0, "none"
        y, high, low, ok = _winsorise(x, self)
        if not ok:
            return log_ct(x), 0, 0, "log_CT"
        return y, high, low, "winsorised"


def _winsorise(x: np.ndarray, rule: TreatmentRule) -> tuple[np.ndarray, int, int, bool]:
    """COINr's winsorisation loop: (values, cells lowered, cells raised, passes)."""
    y = x.copy()
    ok = ~np.isnan(y)
    passed = False
    for _ in range(int(rule.winmax)):
        skew, _kurt = skew_kurt(y)
        if math.isnan(skew):
            break
        sign = 1.0 if skew >= 0 else -1.0  # winsorise the high end (skew >= 0) or the low end
        z = sign * y
        hit = ok & (z == np.nanmax(z))
        rest = z[ok & ~hit]
        if rest.size == 0:
            break
        y[hit] = sign * rest.max()
        if rule.passes(*skew_kurt(y)):
            passed = True
            break
    return y, int((y < x).sum()), int((y > x).sum()), passed


def log_ct(x: np.ndarray) -> np.ndarray:
    """COINr's ``log_CT``: ``log(x - min(x) + 0.01 (max(x) - min(x)))`` (NaN kept)."""
    lo, hi = np.nanmin(x), np.nanmax(x)
    return np.log(x - lo + 0.01 * (hi - lo))


@TREATMENTS.register("log1p")
class Log1pTreatment:
    """``log(1 + x)`` (values must be > -1)."""

    def transform(self, x: np.ndarray, code: str, passed: bool, skew: float) -> tuple[np.ndarray, int, int, str]:
        if np.nanmin(x) <= -1:
            raise InputError(f"Treatment log1p of '{code}' needs values > -1 (minimum {np.nanmin(x):g}): "
                             f"use boxcox or coinr for this indicator.")
        return np.log1p(x), 0, 0, "log1p"


@TREATMENTS.register("boxcox")
class BoxcoxTreatment:
    """Box-Cox with the maximum-likelihood lambda (:func:`_boxcox`)."""

    def transform(self, x: np.ndarray, code: str, passed: bool, skew: float) -> tuple[np.ndarray, int, int, str]:
        if np.ptp(x[~np.isnan(x)]) == 0:
            raise InputError(f"Treatment boxcox of '{code}': the indicator is constant; use none for it.")
        y, lam, shift = _boxcox(x)
        return y, 0, 0, f"boxcox(lambda={lam:.4g}" + (f", shift={shift:.4g})" if shift else ")")


@TREATMENTS.register("none")
class NoTreatment:
    """The values as they are."""

    def transform(self, x: np.ndarray, code: str, passed: bool, skew: float) -> tuple[np.ndarray, int, int, str]:
        return x, 0, 0, "none"


def _boxcox(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Box-Cox by maximum likelihood (scipy); a column with values <= 0 is first shifted by
    ``-min(x) + 0.01 (max(x) - min(x))`` as in ``log_CT``. Returns (values, lambda, shift)."""
    from scipy import stats

    ok = ~np.isnan(x)
    lo, hi = np.nanmin(x), np.nanmax(x)
    shift = 0.0 if lo > 0 else -lo + 0.01 * (hi - lo)
    out = np.full_like(x, np.nan)
    out[ok], lam = stats.boxcox(x[ok] + shift)
    return out, float(lam), float(shift)


def treat(values: pd.DataFrame, method: Any = "coinr", per_indicator: dict[str, str] | None = None,
          rule: TreatmentRule = TreatmentRule()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Treat outliers indicator by indicator; return the treated values and a report.

    Parameters
    ----------
    values : DataFrame (units x indicators)
    method : {"coinr", "log1p", "boxcox", "none"} or a TREATMENTS instance, default="coinr"
        ``coinr``: :class:`TreatmentRule`; ``log1p``: ``log(1 + x)`` (values must be > -1);
        ``boxcox``: :func:`scipy.stats.boxcox` with the maximum-likelihood lambda; ``none``.
    per_indicator : dict code -> method, optional
        Methods that replace ``method`` for some indicators.
    rule : TreatmentRule
        Thresholds of the ``coinr`` rule.

    Returns
    -------
    treated : DataFrame, same shape
    report : DataFrame
        One row per indicator: ``indicator, method, skew_before, kurt_before, passed_before,
        winsorised_high, winsorised_low, transformation, skew_after, kurt_after, passed_after``.
        ``transformation`` is ``none``, ``winsorised``, ``log_CT``, ``log1p`` or ``boxcox(lambda=…)``.
    """
    if not isinstance(method, str):  # a registered instance (the coinr rule is its own TreatmentRule)
        rule = method if isinstance(method, TreatmentRule) else rule
        method = method.name
    per_indicator = dict(per_indicator or {})
    for code, m in [("(all)", method), *per_indicator.items()]:
        if m not in TREATMENTS:
            raise ParameterError(f"Unknown treatment {m!r} for {code}: choose one of "
                                 f"{', '.join(TREATMENTS.available())}.")
    unknown = [c for c in per_indicator if c not in values.columns]
    if unknown:
        raise ParameterError(f"Treatment given for unknown indicator {unknown[0]!r}: use a framework indicator code.")
    validate_params(rule)
    methods = {m: rule if m == "coinr" else TREATMENTS.get(m) for m in {method, *per_indicator.values()}}
    out = values.astype(float).copy()
    rows = []
    for code in out.columns:
        m = per_indicator.get(code, method)
        x = out[code].to_numpy(dtype=float)
        skew0, kurt0 = skew_kurt(x)
        passed0 = rule.passes(skew0, kurt0)
        y, high, low, how = methods[m].transform(x, code, passed0, skew0)
        out[code] = y
        skew1, kurt1 = skew_kurt(y)
        rows.append({"indicator": code, "method": m, "skew_before": skew0, "kurt_before": kurt0,
                     "passed_before": passed0, "winsorised_high": high, "winsorised_low": low,
                     "transformation": how, "skew_after": skew1, "kurt_after": kurt1,
                     "passed_after": rule.passes(skew1, kurt1)})
    return out, pd.DataFrame(rows)
