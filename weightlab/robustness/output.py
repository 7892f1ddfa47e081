"""Write a Monte Carlo result to a directory (every file atomically)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._io import honour_umask, write_json_atomic, write_table_atomic
from ..outdir import ResultDirectory
from .results import RobustnessResult


def with_note(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """``df`` with a trailing ``note`` column holding ``label`` (e.g. "synthetic demo data")."""
    if not label:
        return df
    out = df.copy()
    out["note"] = label
    return out


def write_results(result: RobustnessResult, out_dir: "str | Path | ResultDirectory", extra: dict | None = None,
                  kind: str = "robustness", subdir: str = "") -> list[Path]:
    """Write ``ranks.csv``, ``rank_frequency.parquet``, ``choice_shares.csv`` and ``manifest.json``.

    The directory is written as a whole (:class:`~weightlab.outdir.ResultDirectory`): files are
    staged beside it and moved into place at the end; an existing ``out_dir`` is replaced only
    when it is an earlier weightlab result. Given a ``ResultDirectory``, the files go into its stage
    and the caller commits it (``subdir``: into that subdirectory of the stage). Returns the final
    paths of the files.
    """
    if isinstance(out_dir, ResultDirectory):
        where = out_dir.path / subdir
        if subdir:
            where.mkdir()
            honour_umask(where, directory=True)
        return _write_files(result, where, out_dir.target / subdir, extra, kind)
    with ResultDirectory(out_dir) as stage:
        paths = _write_files(result, stage.path, stage.target, extra, kind)
    return paths


def _write_files(result: RobustnessResult, where: Path, target: Path, extra: dict | None, kind: str) -> list[Path]:
    from ..manifest import run_record

    label = result.manifest.get("label") or ""
    names = ["ranks.csv", "rank_frequency.parquet", "choice_shares.csv", "manifest.json"]
    paths = [where / name for name in names]
    write_table_atomic(with_note(result.ranks, label), paths[0], "csv")
    write_table_atomic(result.rank_frequency, paths[1], "parquet", index=True)
    write_table_atomic(with_note(result.choice_shares, label), paths[2], "csv")
    record = run_record(kind, result.dataset, result.spec, threads=result.manifest.get("threads"))
    manifest = {**record, **result.manifest, **(extra or {}), "files": names}
    write_json_atomic(paths[3], manifest)
    return [target / name for name in names]
