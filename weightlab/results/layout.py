"""The file names of a results directory: the one place that spells them.

A results directory is what ``weightlab demo``, ``robustness``, ``sensitivity`` and a result's
``save(dir)`` write (:mod:`.write`), and what the report and the workbook read (:mod:`.read`):

- the nominal index: ``scores.csv`` (``unit, name, rank`` then the score of every node),
  ``weights.csv`` (``group, member, level, weight, effective_weight``, with a leading ``variant``
  column when several builds are written together) and ``framework.toml`` (the hierarchy with its
  names, so that the directory can be read without the input files);
- a comparison of variants: ``compare.csv``, ``rank_correlation.csv`` (Spearman, variant x variant);
- a Monte Carlo run: ``ranks.csv``, ``rank_frequency.parquet``, ``choice_shares.csv``;
- a sensitivity run: ``sobol.csv``, ``sobol_units.csv``, ``sobol_unit_scores.csv``;
- an importance run: ``importance.csv`` (with the nominal files);
- the demo: ``treatment.csv``, ``nominal_SCHEME.csv``, and the subdirectories ``robustness/`` and
  ``sensitivity/``;
- every directory: ``manifest.json`` (:mod:`.manifest`); on request ``report.html``, ``plots/``
  and ``results.xlsx`` (written by :mod:`weightlab.report`).
"""

from __future__ import annotations

MANIFEST = "manifest.json"

SCORES = "scores.csv"
WEIGHTS = "weights.csv"
FRAMEWORK = "framework.toml"
NOMINAL_FILES = (SCORES, WEIGHTS, FRAMEWORK)

COMPARE = "compare.csv"
RANK_CORRELATION = "rank_correlation.csv"

RANKS = "ranks.csv"
RANK_FREQUENCY = "rank_frequency.parquet"
CHOICE_SHARES = "choice_shares.csv"

SOBOL = "sobol.csv"
SOBOL_UNITS = "sobol_units.csv"
SOBOL_UNIT_SCORES = "sobol_unit_scores.csv"

IMPORTANCE = "importance.csv"  # weightlab importance: every member against the index and its parent

TREATMENT = "treatment.csv"
NOMINAL_PREFIX = "nominal_"  # the demo's nominal_SCHEME.csv, one per scheme

REPORT = "report.html"
PLOTS_DIR = "plots"
WORKBOOK = "results.xlsx"

ROBUSTNESS_DIR = "robustness"  # the demo's subdirectories
SENSITIVITY_DIR = "sensitivity"
SUBDIRS = ("", ROBUSTNESS_DIR, SENSITIVITY_DIR)  # where a reader looks, the directory's own files first

TABLE_FILES = {  # the tables a reader knows, by the name it gives them
    "ranks": RANKS,
    "rank_frequency": RANK_FREQUENCY,
    "choice_shares": CHOICE_SHARES,
    "scores": SCORES,
    "weights": WEIGHTS,
    "compare": COMPARE,
    "rank_correlation": RANK_CORRELATION,
    "sobol": SOBOL,
    "sobol_units": SOBOL_UNITS,
    "sobol_unit_scores": SOBOL_UNIT_SCORES,
    "importance": IMPORTANCE,
}
INDEXED = {"rank_correlation"}  # tables whose first column is the row index


def nominal_file(scheme: str) -> str:
    """The demo's table of the nominal index under ``scheme``: ``nominal_SCHEME.csv``."""
    return f"{NOMINAL_PREFIX}{scheme}.csv"
