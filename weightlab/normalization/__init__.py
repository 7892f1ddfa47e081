"""Normalizers, one module per family, registered by name in :data:`NORMALIZERS`; and
:class:`PerIndicatorNormalizer`, which combines them per indicator (a pipeline's settings)."""

from .base import NORMALIZERS, Normalizer

# Importing the modules registers the normalizers.
from . import minmax, zscore, ranks, goalposts, distance, targets, scaled  # noqa: E402,F401
from .per_indicator import PerIndicatorNormalizer  # noqa: E402

__all__ = ["NORMALIZERS", "Normalizer", "PerIndicatorNormalizer"]
