"""Normalizer contract: an sklearn-compatible transformer that is direction-aware and keeps NaN as NaN.

``fit(X)`` learns per-column parameters ignoring NaN, ``transform(X)`` applies them; a DataFrame
in gives a DataFrame out (same index and columns), an array gives an array. After normalisation
higher is always better: columns whose direction is -1 (cost indicators) are reversed.

``directions`` is a constructor parameter (sklearn stores it as given): None (all +1), a sequence of
+1/-1 per column, or a dict column -> +1/-1 when X is a DataFrame (columns it does not name are +1;
with an array, the dict keys are column positions).

How cost columns are reversed:

- affine and rank methods (``minmax``, ``log_minmax``, ``zscore``, ``goalposts``, ``rank``,
  ``percentile``, ``borda``) work on ``s * x`` with ``s = -1`` (``goalposts`` swaps its posts, which
  is the same thing);
- ratio methods (``dist_to_max``, ``dist_to_ref``) need non-negative values, so they reflect a cost
  column inside its observed range, ``x' = min(x) + max(x) - x`` (see :func:`reflect_costs`),
  which reverses the order and keeps the values in ``[min, max]``, then take the ratio.

Subclasses implement ``_fit(table)`` (learn attributes ending in ``_``) and
``_transform(table) -> ndarray``; :meth:`Normalizer.fit` and :meth:`Normalizer.transform` run the
shared input funnel (:func:`check_input`), parameter checks and direction resolution.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd
from .._estimator import Transformer, check_fitted
from .._params import NONE, InstanceOf, validate_params
from ..errors import InputError, ParameterError
from ..registry import Registry

NORMALIZERS: Registry["Normalizer"] = Registry("normalizer")

# ---------------------------------------------------------------------------------------------
# input funnel
# ---------------------------------------------------------------------------------------------

@dataclass
class Table:
    """Float copy of the input with the labels used in messages.

    ``columns`` are the DataFrame's column names, or positions ``0 .. k-1`` for an array;
    ``index`` is the DataFrame's index, or None for an array.
    """

    values: np.ndarray
    columns: list
    index: pd.Index | None

    def col(self, j: int) -> str:
        name = self.columns[j]
        return f"column {name!r}" if self.index is not None else f"column {j}"

    def row(self, i: int) -> str:
        return f"row {self.index[i]!r}" if self.index is not None else f"row {i}"

    def first(self, mask: np.ndarray) -> tuple[int, int]:
        """(row, column) of the first True cell, scanning column by column."""
        j = int(np.flatnonzero(mask.any(axis=0))[0])
        return int(np.flatnonzero(mask[:, j])[0]), j


def check_input(X: Any, who: str) -> Table:
    """Turn a DataFrame or array-like (n_units, n_indicators) into a :class:`Table`.

    Raises :class:`InputError` for non-2-D input, no rows or columns, duplicate column names,
    non-numeric cells and infinite values, naming the column (and row) and the fix.
    """
    if isinstance(X, pd.Series):
        raise InputError(f"{who} expects a table (units x indicators), got a Series: pass "
                         f"series.to_frame().")
    if isinstance(X, pd.DataFrame):
        if X.columns.has_duplicates:
            dup = X.columns[X.columns.duplicated()][0]
            raise InputError(f"{who}: column {dup!r} appears more than once; give columns unique names.")
        if all(pd.api.types.is_numeric_dtype(t) for t in X.dtypes):  # the usual case: one conversion
            values = X.to_numpy(dtype=float, na_value=np.nan, copy=True)
        else:
            cols = []
            for c in X.columns:
                s = X[c]
                num = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_numeric_dtype(s) else s
                bad = num.isna() & s.notna()
                if bad.any():
                    raise InputError(f"{who}: column {c!r} is not numeric ({s[bad].iloc[0]!r} in row "
                                     f"{s.index[bad][0]!r}); convert it to numbers or drop it.")
                cols.append(np.asarray(num.to_numpy(dtype=float, na_value=np.nan), dtype=float))
            values = np.column_stack(cols)
        table = Table(values, list(X.columns), X.index)
    else:
        sparse = sys.modules.get("scipy.sparse")  # a sparse matrix means scipy.sparse is loaded: not imported here
        if sparse is not None and sparse.issparse(X):
            raise InputError(f"{who}: sparse input is not supported; pass a dense array (X.toarray()).")
        try:
            values = np.asarray(X)
            if np.iscomplexobj(values):
                raise InputError(f"{who}: Complex data not supported; pass real numbers.")
            values = np.array(values, dtype=float, copy=True)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{who}: X cannot be read as numbers ({exc}); pass a numeric array or "
                             f"a DataFrame.") from None
        if values.ndim != 2:
            raise InputError(f"{who} expects a 2-D table (units x indicators), got {values.ndim} "
                             f"dimension(s). Reshape your data: x.reshape(-1, 1) for one indicator.")
        table = Table(values, list(range(values.shape[1])), None)
    n, k = table.values.shape
    if n == 0 or k == 0:
        raise InputError(f"{who}: X has {n} sample(s) and {k} feature(s) (shape=({n}, {k})) while a "
                         f"minimum of 1 is required; pass at least one unit and one indicator.")
    inf = np.isinf(table.values)
    if inf.any():
        i, j = table.first(inf)
        raise InputError(f"{who}: {table.col(j)} has an infinite value in {table.row(i)}; replace it "
                         f"with NaN (missing) or a finite number.")
    return table


def resolve_directions(directions: Any, table: Table, who: str) -> np.ndarray:
    """+1/-1 per column from None, a sequence, or a dict/Series column -> +1/-1."""
    k = len(table.columns)
    if directions is None:
        return np.ones(k)
    if isinstance(directions, (dict, pd.Series)):
        mapping = dict(directions.items())
        unknown = [key for key in mapping if key not in table.columns]
        if unknown:
            kind = "a DataFrame column" if table.index is not None else "a column position 0..k-1"
            raise ParameterError(f"{who}: directions names {unknown[0]!r}, which is not {kind} of X; "
                                 f"use the column names of X.")
        values = [mapping.get(c, 1) for c in table.columns]
    else:
        values = directions.ravel().tolist() if isinstance(directions, np.ndarray) else list(directions)
        if len(values) != k:
            raise ParameterError(f"{who}: directions has {len(values)} entries but X has {k} columns; "
                                 f"give one +1/-1 per column (or a dict column -> +1/-1).")
    out = np.empty(k)
    for j, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or v not in (1, -1):
            raise ParameterError(f"{who}: direction of {table.col(j)} is {v!r}; use +1 (higher is "
                                 f"better) or -1 (lower is better).")
        out[j] = float(v)
    return out


# ---------------------------------------------------------------------------------------------
# small numeric helpers shared by the methods
# ---------------------------------------------------------------------------------------------

def per_column(func: Callable[[np.ndarray], float], A: np.ndarray) -> np.ndarray:
    """``func`` of each column's non-NaN values; NaN for an all-NaN column (no warnings)."""
    out = np.full(A.shape[1], np.nan)
    for j in range(A.shape[1]):
        v = A[:, j][~np.isnan(A[:, j])]
        if v.size:
            out[j] = func(v)
    return out


def nan_extremes(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column minima and maxima ignoring NaN (NaN for all-NaN columns)."""
    return per_column(np.min, A), per_column(np.max, A)


def minmax_scale(Z: np.ndarray, lo: np.ndarray, hi: np.ndarray, a: float = 0.0, b: float = 1.0) -> np.ndarray:
    """``a + (Z - lo) / (hi - lo) * (b - a)``; columns with ``hi == lo`` give ``(a + b) / 2``.

    Computed in place in ``Z`` (returned), the same operations in the same order: the callers pass
    an array of their own, and a table of 100,000 units x 400 indicators needs no 305 MiB temporary.
    NaN stays NaN, so the NaN cells of a constant column are still known after the subtraction.
    """
    width = hi - lo
    constant = width == 0
    safe = np.where(constant, 1.0, width)
    out = np.subtract(Z, lo, out=Z)
    out /= safe
    out *= b - a
    out += a
    out[:, constant] = np.where(np.isnan(out[:, constant]), np.nan, (a + b) / 2)
    return out


def reflect_costs(A: np.ndarray, signs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Ratio methods' cost rule: ``lo + hi - x`` in cost columns (``signs == -1``), ``x`` elsewhere."""
    return np.where(signs < 0, lo + hi - A, A)


def check_nonnegative(table: Table, who: str, why: str) -> None:
    """InputError naming the first negative cell."""
    neg = table.values < 0
    if neg.any():
        i, j = table.first(neg)
        raise InputError(f"{who} needs non-negative values ({why}). Negative values in data: "
                         f"{table.col(j)} has {table.values[i, j]:g} in {table.row(i)}; shift the column "
                         f"or use minmax.")


# ---------------------------------------------------------------------------------------------
# base class
# ---------------------------------------------------------------------------------------------

class Normalizer(Transformer):
    """Base class; see the module docstring for the contract. scikit-learn's estimator API (clone,
    Pipeline, ``set_output``, ``get_params``) comes from :mod:`weightlab._estimator`, which does not
    import scikit-learn.

    Attributes
    ----------
    directions_ : ndarray of shape (n_features,)
        +1 / -1 per column, as resolved from ``directions``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when fitted on a DataFrame
    """

    name: ClassVar[str]
    clips: ClassVar[bool] = False  # True when the method may map distinct values to one bound
    # What the common checks (weightlab.testing.check_normalizer) hold the method to, declared with it:
    # parameters it cannot do without on the checks' table (12 units, values in [0.5, 12]);
    example_params: ClassVar[dict] = {}
    # the value of every observed cell of a constant column of 4 observed cells (None: it depends on
    # the value and the parameters);
    constant_value: ClassVar["float | None"] = None
    # how a cost column relates to a benefit one: "negate" (the benefit result of -x, with
    # negated_params), "reflect" (the benefit result of min + max - x, the ratio methods' rule) or
    # "order" (the order reversed, nothing more);
    cost_rule: ClassVar[str] = "order"
    # closed bounds of every output with example_params (None: unbounded).
    output_range: ClassVar["tuple[float, float] | None"] = None
    _parameter_constraints: ClassVar[dict] = {
        "directions": [NONE, InstanceOf((list, tuple, np.ndarray, dict, pd.Series),
                                        "None, a sequence of +1/-1 or a dict column -> +1/-1")],
    }

    directions: Any = None

    @classmethod
    def negated_params(cls, params: dict) -> dict:
        """The parameters under which ``-x`` as a benefit column gives what ``x`` gives as a cost
        column (``cost_rule = "negate"``): ``params`` unless they are in the units of the data."""
        return params

    # subclasses ------------------------------------------------------------------------------
    def _fit(self, table: Table) -> None:
        raise NotImplementedError

    def _transform(self, table: Table) -> np.ndarray:
        raise NotImplementedError

    # public API ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> "Normalizer":
        """Check the parameters and learn per-column parameters from ``X`` (NaN ignored).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_units, n_indicators)
        y : ignored

        Returns
        -------
        self
        """
        validate_params(self)
        who = type(self).__name__
        table = check_input(X, who)
        self.directions_ = resolve_directions(self.directions, table, who)
        self.n_features_in_ = table.values.shape[1]
        if table.index is not None:
            self.feature_names_in_ = np.asarray(table.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, as one clear error
            self._fit(table)
        for attr, value in vars(self).items():
            if attr.endswith("_") and isinstance(value, np.ndarray) and value.dtype.kind == "f" \
                    and np.isinf(value).any():
                bad = np.isinf(value)
                j = int(np.flatnonzero(bad if bad.ndim == 1 else bad.any(axis=0))[0])
                raise InputError(f"{who}: {table.col(j)} overflows floating point ({attr} is infinite): its values "
                                 f"are too large; rescale the column (e.g. divide it by 1e6).")
        return self

    def transform(self, X: Any) -> "pd.DataFrame | np.ndarray":
        """Normalise ``X`` with the fitted parameters; higher is better in every output column.

        Returns a DataFrame with the index and columns of ``X`` when ``X`` is a DataFrame, else an
        ndarray of floats; NaN cells stay NaN.
        """
        check_fitted(self, "directions_")
        who = type(self).__name__
        table = check_input(X, who)
        order = self._column_order(table, who)
        if order is not None:
            table = Table(table.values[:, order], [table.columns[j] for j in order], table.index)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked just below
            out = self._transform(table)
        self._check_output(table, out, who)
        if order is not None:
            out = out[:, np.argsort(order)]
        if isinstance(X, pd.DataFrame):  # wrapped, not copied: pandas (3) would copy this call's own array
            # into a Fortran-ordered one (a column per row of its block); asfortranarray copies only other orders
            out = pd.DataFrame(np.asfortranarray(out), index=X.index, columns=X.columns, copy=False)
        return self._wrap_output(out, X)

    def _check_output(self, table: Table, out: np.ndarray, who: str) -> None:
        """Refuse what floating point made of the data: a non-finite value from a finite one
        (overflow, e.g. values near 1e308) or a column of distinct values turned constant (a
        parameter so large that every unit ties). ``clips`` methods may legitimately map a whole
        column to one bound."""
        overflow = ~np.isfinite(out) & ~np.isnan(table.values)
        if overflow.any():
            i, j = table.first(overflow)
            raise InputError(f"{who}: {table.col(j)} overflows floating point in {table.row(i)} (value "
                             f"{table.values[i, j]:g}): its values are too large (or their differences too small) "
                             f"to normalise; rescale the column (e.g. divide it by 1e6).")
        if self.clips:
            return
        for j in range(out.shape[1]):
            x, y = table.values[:, j], out[:, j]
            seen = ~np.isnan(x)
            if seen.sum() > 1 and np.ptp(x[seen]) > 0 and np.ptp(y[seen]) == 0:
                raise InputError(f"{who}: {table.col(j)} has distinct values but every unit gets the same "
                                 f"normalised value {y[seen][0]:g}: a parameter (e.g. range) is too large for "
                                 f"floating point; use a smaller one.")

    def _column_order(self, table: Table, who: str) -> "list[int] | None":
        """Positions that put a DataFrame's columns in fit order (None: already in order)."""
        k = self.n_features_in_
        names = getattr(self, "feature_names_in_", None)
        if table.index is not None and names is not None:
            fitted = list(names)
            if table.columns == fitted:
                return None
            missing = [c for c in fitted if c not in table.columns]
            extra = [c for c in table.columns if c not in fitted]
            if missing or extra:
                raise InputError(f"{who}: X has columns {extra[:3]} not seen in fit and lacks "
                                 f"{missing[:3]}; transform a table with the columns used in fit.")
            return [table.columns.index(c) for c in fitted]
        if table.values.shape[1] != k:
            raise InputError(f"{who}: X has {table.values.shape[1]} features, but {who} is expecting {k} "
                             f"features as input; transform a table with the columns used in fit.")
        return None

    def _signed(self, table: Table) -> np.ndarray:
        """``s * x``: cost columns negated (affine and rank methods)."""
        return table.values * self.directions_

    def __sklearn_tags__(self):  # sklearn >= 1.6
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
