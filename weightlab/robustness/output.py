"""Write a Monte Carlo result to a directory (every file atomically)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._io import honour_umask, write_json_atomic, write_table_atomic
from ..outdir import ResultDirectory
from .results import RobustnessResult
from .sensitivity import SensitivityResult


def with_note(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """``df`` with a trailing ``note`` column holding ``label`` (e.g. "synthetic demo data")."""
    if not label:
        return df
    out = df.copy()
    out["note"] = label
    return out


def write_results(result: RobustnessResult, out_dir: "str | Path | ResultDirectory", extra: dict | None = None,
                  kind: str = "robustness", subdir: str = "") -> list[Path]:
    """Write ``ranks.csv``, ``rank_frequency.parquet``, ``choice_shares.csv``, the nominal index's
    ``scores.csv``, ``weights.csv`` and ``framework.toml`` (when the result has it) and
    ``manifest.json`` (which records the data's label, e.g. "synthetic demo data").

    The directory is written as a whole (:class:`~weightlab.outdir.ResultDirectory`): files are
    staged beside it and moved into place at the end; an existing ``out_dir`` is replaced only
    when it is an earlier weightlab result. Given a ``ResultDirectory``, the files go into its stage
    and the caller commits it (``subdir``: into that subdirectory of the stage). Returns the final
    paths of the files.
    """
    return _as_directory(out_dir, subdir, lambda where, target: _write_files(result, where, target, extra, kind))


def _as_directory(out_dir: "str | Path | ResultDirectory", subdir: str, files) -> list[Path]:
    """Run ``files(where, target)`` (write into ``where``, return the final paths below ``target``) in
    a whole-directory write: a new :class:`~weightlab.outdir.ResultDirectory`, or the stage (and
    ``subdir``) of the caller's."""
    if isinstance(out_dir, ResultDirectory):
        where = out_dir.path / subdir
        if subdir:
            where.mkdir()
            honour_umask(where, directory=True)
        return files(where, out_dir.target / subdir)
    with ResultDirectory(out_dir) as stage:
        paths = files(stage.path, stage.target)
    return paths


def _write_files(result: RobustnessResult, where: Path, target: Path, extra: dict | None, kind: str) -> list[Path]:
    from ..manifest import run_record
    from ..outputs import write_nominal

    names = ["ranks.csv", "rank_frequency.parquet", "choice_shares.csv"]
    write_table_atomic(result.ranks, where / names[0], "csv")
    long = "count" in result.rank_frequency.columns  # many units: long format (unit, rank[_lo, rank_hi], count)
    write_table_atomic(result.rank_frequency, where / names[1], "parquet", index=not long)
    write_table_atomic(result.choice_shares, where / names[2], "csv")
    if result.nominal is not None:
        names += [p.name for p in write_nominal(result.nominal, where)]
    names.append("manifest.json")
    record = run_record(kind, result.dataset, result.spec, threads=result.manifest.get("threads"))
    write_json_atomic(where / "manifest.json", {**record, **result.manifest, **(extra or {}), "files": names})
    return [target / name for name in names]


def write_sensitivity(result: SensitivityResult, out_dir: "str | Path | ResultDirectory", extra: dict | None = None,
                      subdir: str = "") -> list[Path]:
    """Write ``sobol.csv``, ``sobol_units.csv`` (and ``sobol_unit_scores.csv`` when the normalizer is
    fixed) and ``manifest.json``, as a whole directory like :func:`write_results`."""
    from ..manifest import run_record

    def files(where: Path, target: Path) -> list[Path]:
        tables = [("sobol.csv", result.sobol), ("sobol_units.csv", result.sobol_units)]
        if result.sobol_unit_scores is not None:
            tables.append(("sobol_unit_scores.csv", result.sobol_unit_scores))
        for name, df in tables:
            write_table_atomic(df, where / name, "csv")  # the data's label is in manifest.json
        names = [name for name, _ in tables] + ["manifest.json"]
        record = run_record("sensitivity", result.dataset, result.spec, threads=result.manifest.get("threads"))
        write_json_atomic(where / "manifest.json", {**record, **result.manifest, **(extra or {}), "files": names})
        return [target / name for name in names]

    return _as_directory(out_dir, subdir, files)
