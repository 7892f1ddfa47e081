"""One normalizer for most indicators and others for some: a pipeline's per-indicator settings
(``[normalise.indicators.CODE]``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._estimator import Transformer, check_fitted, clone
from ..errors import InputError


class PerIndicatorNormalizer(Transformer):
    """One normalizer for most indicators and others for some (a pipeline's per-indicator settings).

    Each normalizer is fitted on its own columns with their directions; the output has the input's
    columns in their order. Works on DataFrames (columns = indicator codes). It follows the
    estimator contract of the other plug-ins (:mod:`weightlab._estimator`: ``get_params``,
    ``set_params``, ``clone``) without importing scikit-learn. It is not registered by name: a
    pipeline builds it from its ``[normalise]`` tables.

    Parameters
    ----------
    default : Normalizer
    overrides : dict code -> Normalizer
    directions : dict code -> +1/-1, optional

    Attributes
    ----------
    columns_ : list of str
        The columns seen by ``fit``.
    fitted_ : list of (columns, Normalizer)
        The fitted normalizer of each part: the default's columns first, then each override's.
    n_features_in_, feature_names_in_
        As in scikit-learn (``set_output`` chooses the container of ``transform``'s output).
    """

    name = "per_indicator"

    def __init__(self, default=None, overrides=None, directions=None):
        self.default = default
        self.overrides = overrides
        self.directions = directions

    def _parts(self, columns: list[str]) -> list[tuple[list[str], Any]]:
        over = dict(self.overrides or {})
        rest = [c for c in columns if c not in over]
        return ([(rest, self.default)] if rest else []) + [([c], n) for c, n in over.items() if c in columns]

    def fit(self, X: pd.DataFrame, y: Any = None) -> "PerIndicatorNormalizer":
        if not isinstance(X, pd.DataFrame):
            raise InputError("PerIndicatorNormalizer needs a DataFrame whose columns are indicator codes.")
        dirs = dict(self.directions or {})
        self.columns_ = list(X.columns)
        self.n_features_in_, self.feature_names_in_ = len(self.columns_), np.asarray(self.columns_, dtype=object)
        self.fitted_ = []
        for cols, norm in self._parts(self.columns_):
            est = clone(norm).set_params(directions={c: dirs.get(c, 1) for c in cols})
            self.fitted_.append((cols, est.fit(X[cols])))
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_fitted(self, "fitted_")
        parts = [est.transform(X[cols]) for cols, est in self.fitted_]
        return self._wrap_output(pd.concat(parts, axis=1)[list(X.columns)], X)
