"""Weighting schemes, one module each, registered by name in :data:`SCHEMES`."""

from .base import SCHEMES, StatisticsScheme, Weights, WeightingScheme, parse_levels, resolve_aggregators

# Importing the modules registers the schemes.
from . import equal, expert, entropy, critic, pca, std, merec, gini, balanced  # noqa: E402,F401

__all__ = ["SCHEMES", "StatisticsScheme", "Weights", "WeightingScheme", "parse_levels", "resolve_aggregators"]
