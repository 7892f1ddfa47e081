"""Normalizers, one module per family, registered by name in :data:`NORMALIZERS`."""

from .base import NORMALIZERS, Normalizer

# Importing the modules registers the normalizers.
from . import minmax, zscore, ranks, goalposts, distance, targets, scaled  # noqa: E402,F401

__all__ = ["NORMALIZERS", "Normalizer"]
