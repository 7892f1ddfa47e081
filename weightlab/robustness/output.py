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
    """Write ``ranks.csv``, ``rank_frequency.parquet``, ``choice_shares.csv``, the nominal index's
    ``scores.csv``, ``weights.csv`` and ``framework.toml`` (when the result has it) and
    ``manifest.json`` (which records the data's label, e.g. "synthetic demo data")."""
    from ..outputs import write_nominal

    out_dir = Path(out_dir)
    paths = [out_dir / "ranks.csv", out_dir / "rank_frequency.parquet", out_dir / "choice_shares.csv"]
    write_table_atomic(result.ranks, paths[0], "csv")
    write_table_atomic(result.rank_frequency, paths[1], "parquet", index=True)
    write_table_atomic(result.choice_shares, paths[2], "csv")
    if result.nominal is not None:
        paths += write_nominal(result.nominal, out_dir)
    paths.append(out_dir / "manifest.json")
    manifest = {**result.manifest, "versions": package_versions(), **(extra or {}),
                "files": [p.name for p in paths]}
    write_json_atomic(paths[-1], manifest)
    return paths


def write_sensitivity(result: SensitivityResult, out_dir: str | Path, extra: dict | None = None) -> list[Path]:
    """Write ``sobol.csv``, ``sobol_units.csv`` (and ``sobol_unit_scores.csv`` when the normalizer is
    fixed) and ``manifest.json``."""
    out_dir = Path(out_dir)
    tables = [("sobol.csv", result.sobol), ("sobol_units.csv", result.sobol_units)]
    if result.sobol_unit_scores is not None:
        tables.append(("sobol_unit_scores.csv", result.sobol_unit_scores))
    paths = []
    for name, df in tables:
        paths.append(out_dir / name)
        write_table_atomic(df, paths[-1], "csv")  # the data's label is in manifest.json
    paths.append(out_dir / "manifest.json")
    manifest = {**result.manifest, "versions": package_versions(), **(extra or {}),
                "files": [p.name for p in paths]}
    write_json_atomic(paths[-1], manifest)
    return paths
