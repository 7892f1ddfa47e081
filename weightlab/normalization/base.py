"""Normalizer contract: an sklearn transformer that is direction-aware and keeps NaN as NaN.

``fit(X)`` learns per-column parameters ignoring NaN, ``transform(X)`` applies them; a DataFrame
in gives a DataFrame out (same index and columns), an array gives an array. After normalisation
higher is always better: columns whose direction is -1 (cost indicators) are reversed.

``directions`` is a constructor parameter (sklearn stores it as given): None (all +1), a sequence of
+1/-1 per column, or a dict column -> +1/-1 when X is a DataFrame.
"""

from __future__ import annotations

from typing import ClassVar

from sklearn.base import BaseEstimator, TransformerMixin

from ..registry import Registry

NORMALIZERS: Registry["Normalizer"] = Registry("normalizer")


class Normalizer(TransformerMixin, BaseEstimator):
    """Base class; see the module docstring for the contract."""

    name: ClassVar[str]
