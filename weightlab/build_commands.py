"""The work behind the ``treat`` and ``analyse`` commands and the demo's treatment step.

Kept out of ``cli.py`` (which only parses and prints) so the same functions serve Python users;
each returns the lines the command prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from ._io import package_versions, write_json_atomic, write_table_atomic
from .data import Dataset
from .errors import InputError
from .pipeline import Pipeline, PipelineError


def _pipeline(path: Path | None) -> Pipeline:
    return Pipeline.from_toml(path) if path is not None else Pipeline({})


def _report_path(out: Path, report: Path | None) -> Path:
    return report if report is not None else out.with_name(f"{out.stem}_treatment{out.suffix}")


def _unit_table(ds: Dataset, values: pd.DataFrame) -> pd.DataFrame:
    table = values.copy()
    table.insert(0, "name", ds.names.reindex(values.index).to_numpy())
    table.insert(0, "unit", values.index)
    if ds.label:
        table["note"] = ds.label
    return table.reset_index(drop=True)


def run_treat(ds: Dataset, out: Path, report: Path | None, method: str | None,
              pipeline: Path | None) -> Iterator[str]:
    """Prepare ``ds`` (the pipeline's data steps, then its or ``method``'s treatment), write both tables."""
    pipe = _pipeline(pipeline)
    if "treat" in pipe.steps:
        if method is not None:
            raise PipelineError(f"--method {method} cannot be combined with the [treat] step of {pipeline}: change "
                                f"the pipeline file instead.")
    else:
        pipe = pipe.with_step("treat", method=method or "coinr")
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in ("csv", "parquet", "json"):
        raise InputError(f"--out {out}: use a .csv, .parquet or .json file name.")
    rep_path = _report_path(out, report)
    if rep_path.resolve() == out.resolve():
        raise InputError(f"--report {rep_path} is the same file as --out: give another name.")
    prep = pipe.without("normalise", "aggregate").prepare(ds)
    table = prep.reports["treat"]
    write_table_atomic(_unit_table(ds, prep.tables["treated"]), out, fmt)
    write_table_atomic(table, rep_path, rep_path.suffix.lstrip(".").lower() or "csv")
    yield treated_summary(table)
    still = table[~table["passed_after"] & table["skew_after"].notna()]
    if len(still):
        yield f"still failing the skew/kurtosis test after treatment: {', '.join(still['indicator'])}"
    yield f"wrote {out} and {rep_path}"


def run_analyse(ds: Dataset, out: Path | None, scheme: str, pipeline: Path | None, weak: float, stage: str,
                extra: dict[str, Any]) -> Iterator[str]:
    """Build (with the pipeline if given), analyse, print the highlights, write the tables to ``out``."""
    from .analysis import analyse

    pipe = _pipeline(pipeline)
    build = pipe.run(ds, scheme=scheme)
    if stage not in ("raw", "denominated", "imputed", "screened", "treated", "normalised"):
        raise InputError(f"--stage {stage}: use raw, denominated, imputed, screened, treated or normalised.")
    tables = analyse(build, stats_stage=stage, weak=weak)
    stats = tables["indicator_stats"]
    flagged = stats[stats["skew_kurt_flag"]]["indicator"].tolist()
    yield (f"{len(stats)} indicators; {int((stats['missing_share'] > 0).sum())} with missing values ({stage}); "
           f"{len(flagged)} fail the skewness/kurtosis test on the {stage} data"
           + (f" ({', '.join(flagged)})" if flagged else ""))
    flags = tables["correlation_flags"]
    for row in flags[flags["flag"] != ""].itertuples():
        yield f"  {row.indicator} (in {row.group}, r = {row.pearson_group:.2f}): {row.flag}"
    cron = tables["cronbach"]
    yield "Cronbach's alpha: " + ", ".join(f"{r.group} {r.alpha:.2f}" for r in cron.itertuples())
    pca = tables["pca_groups"]
    if len(pca):
        yield "first principal component's share of variance: " + ", ".join(
            f"{r.group} {r.pc1_share:.0%}" for r in pca.itertuples())
    avail = tables["availability"]
    low = avail[avail["availability"] < 1]
    yield (f"units with missing values: {len(low)} of {len(avail)} "
           f"(lowest availability {avail['availability'].min():.0%})")
    if out is not None:
        for name, df in tables.items():
            write_table_atomic(df, Path(out) / f"{name}.csv", "csv")
        write_json_atomic(Path(out) / "manifest.json", {**extra, "data_sha256": ds.source_sha256,
                                                         "pipeline": pipe.describe(), "scheme": scheme,
                                                         "stats_stage": stage,
                                                         "label": ds.label, "tables": sorted(tables),
                                                         "versions": package_versions()})
        yield f"wrote {len(tables)} tables and manifest.json to {out}/"


def demo_treatment(ds: Dataset, report_path: Path, shown_as: Path | None = None) -> tuple[Dataset, str]:
    """COINr's default outlier treatment of the demo data; the treated dataset and a sentence
    naming the indicators treated (the treatment table is written to ``report_path``; the sentence
    names ``shown_as``, where it will be once the demo's staging directory is committed)."""
    prep = Pipeline({"treat": {"method": "coinr"}}).prepare(ds)
    table = prep.reports["treat"]
    write_table_atomic(table.assign(note=ds.label) if ds.label else table, report_path, "csv")
    return prep.dataset, (f"outlier treatment, COINr's default rule (|skew| < 2 or kurtosis < 3.5, else winsorise "
                          f"up to 5 points, else log): {treated_summary(table)}; table in {shown_as or report_path}")


def treated_summary(table: pd.DataFrame) -> str:
    """``"k of m indicators treated: winsorised a (2), b (1); log_CT c, d"`` from a treatment table."""
    changed = table[table["transformation"] != "none"]
    parts = []
    wins = changed[changed["transformation"] == "winsorised"]
    if len(wins):
        parts.append("winsorised " + ", ".join(f"{r.indicator} ({r.winsorised_high + r.winsorised_low})"
                                               for r in wins.itertuples()))
    for how, rows in changed[changed["transformation"] != "winsorised"].groupby("transformation", sort=False):
        parts.append(f"{how} " + ", ".join(rows["indicator"]))
    return f"{len(changed)} of {len(table)} indicators treated" + (": " + "; ".join(parts) if parts else "")
