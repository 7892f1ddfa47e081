"""Write results to a directory (every file atomically; the file names are :mod:`.layout`'s).

- :func:`write_results` and :func:`write_sensitivity`: the files of ``weightlab robustness`` and
  ``weightlab sensitivity``, the directory written as a whole (:mod:`.directory`);
- :func:`save_index_result`, :func:`save_comparison`, :func:`save_robustness`: what the result
  objects' ``save(dir)`` writes before the report (which the objects add when asked);
- :func:`write_nominal`, :func:`write_comparison_tables`: the files of a nominal index and of a
  comparison, shared by the above and the demo.

Every manifest is the run record (:func:`.manifest.run_record`), then the data's
(:func:`.manifest.dataset_record`), then the result's own items, and the list of files.
The writers take the result objects as they come (their tables and ``dataset``); they import
none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .._io import write_json_atomic, write_table_atomic, write_text_atomic
from ..errors import ParameterError
from . import layout
from .directory import ResultDirectory, into_directory
from .manifest import dataset_record, run_record

FORMATS = ("csv", "xlsx")  # a result's save(): the csv files, and the workbook of all of them


def with_note(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """``df`` with a trailing ``note`` column holding ``label`` (e.g. "synthetic demo data")."""
    if not label:
        return df
    out = df.copy()
    out["note"] = label
    return out


def check_formats(formats: Iterable[str]) -> set[str]:
    """The formats of a ``save`` (lower case), refusing any other than :data:`FORMATS`."""
    fmts = {str(f).lower() for f in ([formats] if isinstance(formats, str) else formats)}
    bad = fmts - set(FORMATS)
    if bad or not fmts:
        raise ParameterError(f"formats must be among {', '.join(FORMATS)}; got {', '.join(sorted(bad)) or 'none'}.")
    return fmts


def write_nominal(result: Any, out_dir: str | Path, weights: bool = True) -> list[Path]:
    """Write an :class:`~weightlab.index.IndexResult`'s ``scores.csv``, ``weights.csv`` (unless
    ``weights=False``) and ``framework.toml``."""
    out_dir = Path(out_dir)
    paths = [out_dir / layout.SCORES]
    write_table_atomic(result.scores_table(), paths[0], "csv")
    if weights:
        paths.append(out_dir / layout.WEIGHTS)
        write_table_atomic(result.weights.to_frame(), paths[-1], "csv")
    paths.append(out_dir / layout.FRAMEWORK)
    write_text_atomic(paths[-1], result.dataset.framework.to_toml())
    return paths


def write_comparison_tables(comparison: Any, out_dir: str | Path) -> list[Path]:
    """Write a :class:`~weightlab.compare.Comparison`'s ``compare.csv`` (ranks and shifts) and
    ``rank_correlation.csv`` (Spearman)."""
    out_dir = Path(out_dir)
    paths = [out_dir / layout.COMPARE, out_dir / layout.RANK_CORRELATION]
    write_table_atomic(comparison.table(), paths[0], "csv")
    write_table_atomic(comparison.spearman, paths[1], "csv", index=True)
    return paths


def _write_manifest(out_dir: Path, paths: list[Path], record: dict[str, Any]) -> list[Path]:
    """Append ``manifest.json`` (``record`` and the list of files) to the files ``paths``."""
    paths.append(out_dir / layout.MANIFEST)
    write_json_atomic(paths[-1], {**record, "files": [p.name for p in paths]})
    return paths


def save_index_result(result: Any, directory: str | Path, formats: Iterable[str] = ("csv",)) -> list[Path]:
    """Write a nominal build: ``scores.csv``, ``weights.csv``, ``framework.toml``, ``manifest.json``."""
    check_formats(formats)
    directory = Path(directory)
    ds = result.dataset
    return _write_manifest(directory, write_nominal(result, directory),
                           {**run_record("score", ds), **dataset_record(ds), "settings": result.settings})


def save_comparison(comparison: Any, directory: str | Path, formats: Iterable[str] = ("csv",)) -> list[Path]:
    """Write a comparison of variants: ``compare.csv``, ``rank_correlation.csv``, ``weights.csv``
    (one block per variant), the baseline's ``scores.csv`` and ``framework.toml``, ``manifest.json``."""
    check_formats(formats)
    directory = Path(directory)
    paths = write_comparison_tables(comparison, directory)
    paths.append(directory / layout.WEIGHTS)
    write_table_atomic(comparison.weights_table(), paths[-1], "csv")
    base = comparison.results[comparison.baseline]
    paths += write_nominal(base, directory, weights=False)
    return _write_manifest(directory, paths, {
        **run_record("compare", base.dataset), **dataset_record(base.dataset), "baseline": comparison.baseline,
        "variants": {k: r.settings for k, r in comparison.results.items()}})


def save_robustness(result: Any, directory: str | Path, formats: Iterable[str] = ("csv",),
                    extra: dict | None = None) -> list[Path]:
    """Write a Monte Carlo result as ``weightlab robustness --out DIR`` does (:func:`write_results`)."""
    check_formats(formats)
    return write_results(result, directory, extra)


def write_results(result: Any, out_dir: "str | Path | ResultDirectory", extra: dict | None = None,
                  kind: str = "robustness", subdir: str = "") -> list[Path]:
    """Write a :class:`~weightlab.robustness.results.RobustnessResult`: ``ranks.csv``,
    ``rank_frequency.parquet``, ``choice_shares.csv``, the nominal index's ``scores.csv``,
    ``weights.csv`` and ``framework.toml`` (when the result has it) and ``manifest.json`` (which
    records the data's label, e.g. "synthetic demo data").

    The directory is written as a whole (:class:`~weightlab.results.directory.ResultDirectory`):
    files are staged beside it and moved into place at the end; an existing ``out_dir`` is replaced
    only when it is an earlier weightlab result. Given a ``ResultDirectory``, the files go into its
    stage and the caller commits it (``subdir``: into that subdirectory of the stage). Returns the
    final paths of the files.
    """
    def files(where: Path, target: Path) -> list[Path]:
        paths = [where / layout.RANKS, where / layout.RANK_FREQUENCY, where / layout.CHOICE_SHARES]
        write_table_atomic(result.ranks, paths[0], "csv")
        long = "count" in result.rank_frequency.columns  # many units: long format (unit, rank[_lo, rank_hi], count)
        write_table_atomic(result.rank_frequency, paths[1], "parquet", index=not long)
        write_table_atomic(result.choice_shares, paths[2], "csv")
        if result.nominal is not None:
            paths += write_nominal(result.nominal, where)
        return _run_manifest(result, kind, where, target, paths, extra)

    return into_directory(out_dir, subdir, files)


def write_sensitivity(result: Any, out_dir: "str | Path | ResultDirectory", extra: dict | None = None,
                      subdir: str = "") -> list[Path]:
    """Write a :class:`~weightlab.robustness.sensitivity.SensitivityResult`: ``sobol.csv``,
    ``sobol_units.csv`` (and ``sobol_unit_scores.csv`` when the normalizer is fixed) and
    ``manifest.json``, as a whole directory like :func:`write_results`."""
    def files(where: Path, target: Path) -> list[Path]:
        tables = [(layout.SOBOL, result.sobol), (layout.SOBOL_UNITS, result.sobol_units)]
        if result.sobol_unit_scores is not None:
            tables.append((layout.SOBOL_UNIT_SCORES, result.sobol_unit_scores))
        for name, df in tables:
            write_table_atomic(df, where / name, "csv")  # the data's label is in manifest.json
        return _run_manifest(result, "sensitivity", where, target, [where / name for name, _ in tables], extra)

    return into_directory(out_dir, subdir, files)


def _run_manifest(result: Any, kind: str, where: Path, target: Path, paths: list[Path],
                  extra: dict | None) -> list[Path]:
    """Write the manifest of an engine run after its files ``paths`` (in ``where``); their final
    paths below ``target``."""
    record = run_record(kind, result.dataset, result.spec, threads=result.manifest.get("threads"))
    paths = _write_manifest(where, paths, {**record, **dataset_record(result.dataset), **result.manifest,
                                           **(extra or {})})
    return [target / p.name for p in paths]
