"""How much each indicator and aggregate really counts in a built index, and weights that deliver
the intended importance (see docs/importance.md).

- :func:`importance`: the importance table (correlations, main effects, Pratt shares, bootstrap
  intervals, flags) of every member of every group against the index and its parent.
- :mod:`weightlab.importances.inverse`: weights from target importance (exact linear solution,
  nearest feasible weights, the nonlinear version, COINr's ``get_opt_weights``).
"""

from .table import COLUMNS, ImportanceResult, importance

__all__ = ["COLUMNS", "ImportanceResult", "importance"]
