"""Every registered plug-in against the common checks of weightlab.testing (as scikit-learn's
``parametrize_with_checks``): a new normalizer, scheme or aggregator is tested by registering it."""

from __future__ import annotations

from weightlab.aggregation import AGGREGATORS
from weightlab.normalization import NORMALIZERS
from weightlab.testing import parametrize_with_checks
from weightlab.weighting import SCHEMES


@parametrize_with_checks(NORMALIZERS)
def test_normalizer(plugin, check):
    check(plugin)


@parametrize_with_checks(SCHEMES)
def test_scheme(plugin, check):
    check(plugin)


@parametrize_with_checks(AGGREGATORS)
def test_aggregator(plugin, check):
    check(plugin)
