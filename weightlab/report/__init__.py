"""Plots, the one-file HTML report and the Excel workbook, on top of the core and its results.

The layering is data -> framework -> normalise/weight/aggregate -> index -> robustness/sensitivity
-> results -> report -> CLI: the core does not import this package, except through the result
objects' lazy ``plot_*`` and ``_repr_html_`` accessors.

Families of plots, one module each:

- :mod:`.ranks`: rank uncertainty (all units, top units, listed units), rank frequencies, rank
  shifts, nominal vs median rank;
- :mod:`.weights`: the framework sunburst, weights of several schemes side by side;
- :mod:`.correlation`: rank correlation between variants, indicator correlations;
- :mod:`.sensitivity`: Sobol first-order and total indices, global and per unit;
- :mod:`.profile`: one unit's profile, strengths and weaknesses.

:func:`write_report` writes ``DIR/report.html`` (:mod:`.html`); :mod:`.excel` the workbook.
"""

from __future__ import annotations

from .correlation import plot_indicator_correlation, plot_rank_correlation
from .html import write_report
from .profile import plot_unit_profile, strengths_weaknesses, unit_summary
from .ranks import plot_nominal_vs_median, plot_rank_frequency, plot_rank_shift_histogram, plot_rank_uncertainty
from .sensitivity import plot_sobol, plot_sobol_unit, plot_sobol_units
from .weights import plot_framework, plot_weights

__all__ = ["plot_framework", "plot_indicator_correlation", "plot_nominal_vs_median", "plot_rank_correlation",
           "plot_rank_frequency", "plot_rank_shift_histogram", "plot_rank_uncertainty", "plot_sobol",
           "plot_sobol_unit", "plot_sobol_units", "plot_unit_profile", "plot_weights", "strengths_weaknesses", "unit_summary",
           "write_report"]
