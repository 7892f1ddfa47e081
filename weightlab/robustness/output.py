"""Write a Monte Carlo result to a directory (every file atomically)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._io import package_versions, write_json_atomic, write_table_atomic
from .results import RobustnessResult
from .sensitivity import SensitivityResult


def with_note(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """``df`` with a trailing ``note`` column holding ``label`` (e.g. "synthetic demo data")."""
    if not label:
        return df
    out = df.copy()
    out["note"] = label
    return out


def write_results(result: RobustnessResult, out_dir: str | Path, extra: dict | None = None) -> list[Path]:
    """Write ``ranks.csv``, ``rank_frequency.parquet``, ``choice_shares.csv`` and ``manifest.json``."""
    out_dir = Path(out_dir)
    label = result.manifest.get("label") or ""
    paths = [out_dir / "ranks.csv", out_dir / "rank_frequency.parquet", out_dir / "choice_shares.csv",
             out_dir / "manifest.json"]
    write_table_atomic(with_note(result.ranks, label), paths[0], "csv")
    long = list(result.rank_frequency.columns) == ["unit", "rank", "count"]  # many units: sparse long format
    write_table_atomic(result.rank_frequency, paths[1], "parquet", index=not long)
    write_table_atomic(with_note(result.choice_shares, label), paths[2], "csv")
    manifest = {**result.manifest, "versions": package_versions(), **(extra or {}),
                "files": [p.name for p in paths]}
    write_json_atomic(paths[3], manifest)
    return paths


def write_sensitivity(result: SensitivityResult, out_dir: str | Path, extra: dict | None = None) -> list[Path]:
    """Write ``sobol.csv``, ``sobol_units.csv`` (and ``sobol_unit_scores.csv`` when the normalizer is
    fixed) and ``manifest.json``."""
    out_dir = Path(out_dir)
    label = result.manifest.get("label") or ""
    tables = [("sobol.csv", result.sobol), ("sobol_units.csv", result.sobol_units)]
    if result.sobol_unit_scores is not None:
        tables.append(("sobol_unit_scores.csv", result.sobol_unit_scores))
    paths = []
    for name, df in tables:
        paths.append(out_dir / name)
        write_table_atomic(with_note(df, label), paths[-1], "csv")
    paths.append(out_dir / "manifest.json")
    manifest = {**result.manifest, "versions": package_versions(), **(extra or {}),
                "files": [p.name for p in paths]}
    write_json_atomic(paths[-1], manifest)
    return paths
