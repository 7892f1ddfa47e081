"""scikit-learn's estimator contract for the plug-ins, without importing scikit-learn.

Normalizers, weighting schemes and aggregators follow scikit-learn's estimator API, so users can
put a normalizer in an sklearn ``Pipeline``, ``clone`` any plug-in, search over its parameters and
ask for pandas output. Importing ``sklearn.base`` takes about a second (it loads scipy.stats),
which the Monte Carlo engine never needs, so the plug-in bases take the part of the contract they
use from this module instead. It follows scikit-learn's own ``BaseEstimator``,
``TransformerMixin`` and ``OneToOneFeatureMixin`` (``sklearn/base.py``,
``sklearn/utils/_set_output.py``, scikit-learn 1.6 to 1.9):

- the parameters are the ``__init__`` arguments (sorted names; ``*args`` is refused);
  ``get_params(deep=True)`` also lists a nested estimator's parameters as ``name__param``;
  ``set_params(**params)`` sets them (nested keys too) and refuses unknown names with
  scikit-learn's message; ``repr`` shows the parameters that differ from their defaults;
- ``sklearn.base.clone`` works unchanged (it needs only ``get_params``, and copies the
  ``set_output`` setting); :func:`clone` does the same without scikit-learn;
- transformers add ``fit_transform``, ``get_feature_names_out`` (one output column per input
  column) and ``set_output(transform="default" | "pandas" | "polars")``; an estimator without
  its own setting follows ``sklearn.set_config(transform_output=...)`` when scikit-learn is
  imported (it cannot have been set otherwise);
- ``__sklearn_tags__`` returns scikit-learn's ``Tags``, imported only in that call (only
  scikit-learn asks for tags, so it is loaded already).

``tests/test_normalizers.py`` runs scikit-learn's own estimator checks (including the
``set_output`` ones) on every normalizer; ``tests/test_startup.py`` checks that the robustness
command, with and without ``--pipeline``, imports neither scikit-learn nor scipy.stats.
"""

from __future__ import annotations

import copy
import inspect
import sys
from collections import defaultdict
from typing import Any

OUTPUT_CONTAINERS = ("default", "pandas", "polars")


class _NotFittedError(ValueError, AttributeError):
    """Raised by :func:`check_fitted` while scikit-learn is not imported (see there)."""


class Estimator:
    """Parameters as in scikit-learn: ``__init__`` only stores its arguments under their names."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Sorted names of the ``__init__`` arguments (scikit-learn's rule)."""
        init = cls.__init__
        if init is object.__init__:
            return []
        params = [p for p in inspect.signature(init).parameters.values()
                  if p.name != "self" and p.kind != p.VAR_KEYWORD]
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__}: estimators must list their parameters in the signature of "
                                   f"__init__ (no *args).")
        return sorted(p.name for p in params)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameter names mapped to their values; with ``deep``, also ``name__param`` of nested estimators."""
        out: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params: Any) -> "Estimator":
        """Set parameters (``name__param`` for a nested estimator's); returns ``self``."""
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = defaultdict(dict)
        for key, value in params.items():
            key, delim, sub_key = key.partition("__")
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r} for estimator {self}. "
                                 f"Valid parameters are: {self._get_param_names()!r}.")
            if delim:
                nested[key][sub_key] = value
            else:
                setattr(self, key, value)
                valid[key] = value
        for key, sub_params in nested.items():
            valid[key].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        """``Name(param=value, ...)`` with the parameters that differ from their defaults (sorted)."""
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}

        def changed(key: str, value: Any) -> bool:
            default = defaults.get(key, inspect.Parameter.empty)
            if default is inspect.Parameter.empty:
                return True
            return repr(value) != repr(default) and not (_is_nan(value) and _is_nan(default))

        shown = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items() if changed(k, v)]
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):  # scikit-learn >= 1.6 asks for these
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False), transformer_tags=None,
                    regressor_tags=None, classifier_tags=None)


class Transformer(Estimator):
    """A transformer with one output column per input column (scikit-learn's ``TransformerMixin``
    with ``OneToOneFeatureMixin``). Subclasses call :meth:`_wrap_output` on what ``transform``
    returns, and set ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame) in ``fit``."""

    _sklearn_auto_wrap_output_keys = {"transform"}  # what scikit-learn reads to see that set_output works

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """``fit(X, **fit_params).transform(X)`` (``fit(X, y, ...)`` when ``y`` is given)."""
        fitted = self.fit(X, **fit_params) if y is None else self.fit(X, y, **fit_params)
        return fitted.transform(X)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        """Output column names: ``feature_names_in_`` (or ``x0 .. x{k-1}`` after an array), or
        ``input_features`` when they agree with what ``fit`` saw."""
        import numpy as np

        check_fitted(self, "n_features_in_")
        names = getattr(self, "feature_names_in_", None)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if names is not None and not np.array_equal(names, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
            if len(input_features) != self.n_features_in_:
                raise ValueError(f"input_features should have length equal to number of features "
                                 f"({self.n_features_in_}), got {len(input_features)}")
            return input_features
        if names is not None:
            return names
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)

    def set_output(self, *, transform: str | None = None) -> "Transformer":
        """Container of ``transform`` and ``fit_transform`` output: "default" (a DataFrame for a
        DataFrame, else an array), "pandas" or "polars"; None leaves the setting unchanged."""
        if transform is None:
            return self
        if transform not in OUTPUT_CONTAINERS:
            raise ValueError(f"output config must be in {sorted(OUTPUT_CONTAINERS)}, got {transform}")
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config: dict[str, str] = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _output_container(self) -> str:
        own = getattr(self, "_sklearn_output_config", {}).get("transform")
        if own is not None:
            return own
        sklearn = sys.modules.get("sklearn")
        container = sklearn.get_config()["transform_output"] if hasattr(sklearn, "get_config") else "default"
        if container not in OUTPUT_CONTAINERS:
            raise ValueError(f"output config must be in {sorted(OUTPUT_CONTAINERS)}, got {container}")
        return container

    def _wrap_output(self, out: Any, X: Any) -> Any:
        """``out`` (an array, or a DataFrame labelled like ``X``) in the container chosen by
        :meth:`set_output` or scikit-learn's global setting. An array becomes a table with the
        columns of :meth:`get_feature_names_out` and the index of ``X`` (if it has one); a table
        keeps its column names when ``fit`` saw names (they may come in another order than in
        ``fit``), else gets ``x0 .. x{k-1}`` as in scikit-learn."""
        container = self._output_container()
        if container == "default":
            return out
        import pandas as pd

        if not isinstance(out, pd.DataFrame):
            index = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else None
            out = pd.DataFrame(out, index=index, columns=list(self.get_feature_names_out()))
        elif getattr(self, "feature_names_in_", None) is None:  # fitted on an array: columns are positions
            out.columns = list(self.get_feature_names_out())
        if container == "polars":
            import polars as pl

            return pl.DataFrame(out.to_numpy(), schema=[str(c) for c in out.columns], orient="row")
        return out

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags


def check_fitted(estimator: Any, attribute: str) -> None:
    """Raise scikit-learn's message unless ``fit`` set ``attribute``.

    The error is scikit-learn's ``NotFittedError`` when scikit-learn is imported (code that
    catches it has imported it), else a ValueError and AttributeError of the same name, as
    scikit-learn's is: ``except ValueError`` catches both.
    """
    if hasattr(estimator, attribute):
        return
    exceptions = sys.modules.get("sklearn.exceptions")
    error = getattr(exceptions, "NotFittedError", _NotFittedError)
    raise error(f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with appropriate "
                f"arguments before using this estimator.")


def clone(estimator: Any) -> Any:
    """A new, unfitted estimator with the same parameters (``sklearn.base.clone``'s rule: nested
    estimators are cloned, other parameters deep-copied, the ``set_output`` setting kept)."""
    if isinstance(estimator, (list, tuple, set, frozenset)):
        return type(estimator)(clone(e) for e in estimator)
    if isinstance(estimator, dict):
        return {k: clone(v) for k, v in estimator.items()}
    if not hasattr(estimator, "get_params") or isinstance(estimator, type):
        return copy.deepcopy(estimator)
    params = {k: clone(v) for k, v in estimator.get_params(deep=False).items()}
    new = type(estimator)(**params)
    if hasattr(estimator, "_sklearn_output_config"):
        new._sklearn_output_config = copy.deepcopy(estimator._sklearn_output_config)
    return new


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value
