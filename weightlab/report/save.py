"""``save(dir)`` of the result objects: the files the CLI writes, plus the report.

- :class:`~weightlab.IndexResult`: ``scores.csv``, ``weights.csv``, ``framework.toml``, ``manifest.json``;
- :class:`~weightlab.compare.Comparison`: ``compare.csv``, ``rank_correlation.csv`` (Spearman),
  ``weights.csv`` (one block per variant), the baseline's ``scores.csv`` and ``framework.toml``,
  ``manifest.json``;
- :class:`~weightlab.robustness.results.RobustnessResult`: the files of ``weightlab robustness``.

``formats`` may add ``"xlsx"``: every table of the directory as one workbook, ``results.xlsx``.
Each call writes ``report.html`` unless ``report=False``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from .._io import write_json_atomic, write_table_atomic
from ..errors import ParameterError

if TYPE_CHECKING:
    from ..compare import Comparison
    from ..data import Dataset
    from ..index import IndexResult
    from ..robustness.results import RobustnessResult

FORMATS = ("csv", "xlsx")


def _check_formats(formats: Iterable[str]) -> set[str]:
    fmts = {str(f).lower() for f in ([formats] if isinstance(formats, str) else formats)}
    bad = fmts - set(FORMATS)
    if bad or not fmts:
        raise ParameterError(f"formats must be among {', '.join(FORMATS)}; got {', '.join(sorted(bad)) or 'none'}.")
    return fmts


def _finish(directory: Path, paths: list[Path], fmts: set[str], report: bool) -> list[Path]:
    if report:
        from .html import write_report

        paths += write_report(directory, xlsx="xlsx" in fmts)
    elif "xlsx" in fmts:
        from .excel import write_results_workbook
        from .results_dir import load_results

        paths.append(write_results_workbook(load_results(directory)))
    return paths


def _dataset_manifest(kind: str, ds: "Dataset") -> dict[str, Any]:
    """The run record (:func:`weightlab.manifest.run_record`: hashes, versions, machine) and the data's label."""
    from ..manifest import run_record

    return {**run_record(kind, ds), "label": ds.label or None,
            "data": {"source": ds.source, "sha256": ds.source_sha256, "units": ds.n_units,
                     "indicators": ds.n_indicators},
            "framework": ds.framework.source}


def save_index_result(res: "IndexResult", directory: str | Path, formats: Iterable[str] = ("csv",),
                      report: bool = True) -> list[Path]:
    """Write a nominal build (see the module docstring)."""
    from ..outputs import write_nominal

    fmts, directory = _check_formats(formats), Path(directory)
    paths = write_nominal(res, directory)
    paths.append(directory / "manifest.json")
    write_json_atomic(paths[-1], {**_dataset_manifest("score", res.dataset), "settings": res.settings,
                                  "files": [p.name for p in paths]})
    return _finish(directory, paths, fmts, report)


def save_comparison(cmp: "Comparison", directory: str | Path, formats: Iterable[str] = ("csv",),
                    report: bool = True) -> list[Path]:
    """Write a comparison of variants (see the module docstring)."""
    from ..outputs import write_nominal

    fmts, directory = _check_formats(formats), Path(directory)
    paths = [directory / "compare.csv", directory / "rank_correlation.csv", directory / "weights.csv"]
    write_table_atomic(cmp.table(), paths[0], "csv")
    write_table_atomic(cmp.spearman, paths[1], "csv", index=True)
    write_table_atomic(cmp.weights_table(), paths[2], "csv")
    paths += write_nominal(cmp.results[cmp.baseline], directory, weights=False)
    paths.append(directory / "manifest.json")
    base = cmp.results[cmp.baseline]
    write_json_atomic(paths[-1], {**_dataset_manifest("compare", base.dataset), "baseline": cmp.baseline,
                                  "variants": {k: r.settings for k, r in cmp.results.items()},
                                  "files": [p.name for p in paths]})
    return _finish(directory, paths, fmts, report)


def save_robustness(result: "RobustnessResult", directory: str | Path, formats: Iterable[str] = ("csv",),
                    report: bool = True, extra: dict | None = None) -> list[Path]:
    """Write a Monte Carlo result as ``weightlab robustness --out DIR`` does."""
    from ..robustness.output import write_results

    fmts, directory = _check_formats(formats), Path(directory)
    return _finish(directory, write_results(result, directory, extra), fmts, report)
