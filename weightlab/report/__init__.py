"""Plots, the one-file HTML report and the Excel workbook, on top of the core and of
:mod:`weightlab.results` (whose results directories it reads).

No module of the core imports this package at its top: the result objects' notebook and report
accessors (``plot_*``, ``unit_summary``, ``_repr_html_``, and ``save`` when it is asked for the
report) import it inside the call, as pandas' ``DataFrame.plot`` does; the layers contract in
``pyproject.toml`` lists them. Names are imported lazily (PEP 562), so importing the package, or
:mod:`.save`, loads neither matplotlib nor jinja2.

Families of plots, one module each:

- :mod:`.ranks`: rank uncertainty (all units, top units, listed units), rank frequencies, rank
  shifts, nominal vs median rank;
- :mod:`.weights`: the framework sunburst, weights of several schemes side by side;
- :mod:`.correlation`: rank correlation between variants, indicator correlations;
- :mod:`.sensitivity`: Sobol first-order and total indices, global and per unit;
- :mod:`.profile`: one unit's profile, strengths and weaknesses.

:func:`write_report` writes ``DIR/report.html`` (:mod:`.html`); :mod:`.excel` the workbook;
:mod:`.settings` the run settings both show; :mod:`.save` what a result's ``save`` adds.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "plot_indicator_correlation": "correlation", "plot_rank_correlation": "correlation",
    "write_report": "html",
    "plot_unit_profile": "profile", "strengths_weaknesses": "profile", "unit_summary": "profile",
    "plot_nominal_vs_median": "ranks", "plot_rank_frequency": "ranks", "plot_rank_shift_histogram": "ranks",
    "plot_rank_uncertainty": "ranks",
    "plot_sobol": "sensitivity", "plot_sobol_unit": "sensitivity", "plot_sobol_units": "sensitivity",
    "plot_framework": "weights", "plot_weights": "weights",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'weightlab.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
