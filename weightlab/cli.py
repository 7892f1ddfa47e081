"""The ``weightlab`` command line: parse, call the public API, print.

Heavy libraries (pandas, scikit-learn, numba) are imported inside the commands, so ``weightlab
--help`` is fast. Every user error is one line on stderr (``weightlab: error: ...``) and exit code 2.
"""

from __future__ import annotations

import functools
import gc
import sys
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from .index import IndexResult

try:  # recent typer vendors click as typer._click and raises its exceptions
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer depends on click
    from click import ClickException

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Build, weight and audit composite indices. Run any command with --help for examples.")
datasets_app = typer.Typer(no_args_is_help=True, help="Built-in datasets.")
app.add_typer(datasets_app, name="datasets")


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"weightlab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")) -> None:
    """Build, weight and audit composite indices. Run any command with --help for examples."""


class Fmt(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"
    xlsx = "xlsx"


DataArg = typer.Argument(..., help="Data table: CSV, Parquet or Excel, one row per unit.", show_default=False)
FrameworkOpt = typer.Option(..., "-f", "--framework", help="Framework: TOML or COINr iMeta CSV.", show_default=False)
IdOpt = typer.Option(None, "--id-column", help="Column with unit ids (default: the first column).")
ParamOpt = typer.Option([], "--param", help="key=value for the scheme, normalizer or aggregator (repeatable); "
                        "prefix with scheme./normalizer./aggregator. when a key is ambiguous.")
FormatOpt = typer.Option(Fmt.table, "--format", help="Output format.")
OutOpt = typer.Option(None, "--out", help="Write to this file instead of standard output.")
NormOpt = typer.Option("minmax", "--normalizer", help="Normalizer name (see 'weightlab weights --help').")
SchemeOpt = typer.Option("equal", "--scheme", help="Weighting scheme name.")
AggOpt = typer.Option("arithmetic", "--aggregator", help="Aggregator name.")
ImpOpt = typer.Option("none", "--imputation", help="Missing values: none, mean, median or knn.")
LevelOpt = typer.Option("all", "--level", help="Member level the scheme weights (1 = indicators), or 'all'.")
NoReportOpt = typer.Option(False, "--no-report", help="Do not write report.html.")
PipelineOpt = typer.Option(None, "--pipeline", help="Pipeline file (TOML): denominate, impute, screen, treat, "
                           "normalise, aggregate steps, replacing --normalizer, --aggregator and --imputation.")
EncodingOpt = typer.Option(None, "--encoding", help="Encoding of input files that are not UTF-8 (UTF-8, with or "
                           "without BOM, is tried first), e.g. gbk, utf-16, cp1252.")
SheetOpt = typer.Option(None, "--sheet", help="Excel sheet: name or 0-based position (default: the first).")


def _fail(message: str) -> None:
    from .errors import InputError

    raise InputError(message)


def _load(data: Path, framework: Path, id_column: str | None, encoding: str | None = None,
          sheet: str | None = None):
    from .data import read_dataset

    # a --sheet of digits is a sheet name when the workbook has one of that name, else a position
    return read_dataset(data, framework, id_column=id_column, encoding=encoding, sheet=sheet)


def _route_params(items: list[str], components: dict[str, tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    """Send each ``--param key=value`` to the plug-in whose constructor accepts ``key``."""
    import inspect

    from ._params import parse_param_strings
    from .aggregation import AGGREGATORS
    from .normalization import NORMALIZERS
    from .weighting import SCHEMES

    registries = {"scheme": SCHEMES, "normalizer": NORMALIZERS, "aggregator": AGGREGATORS}
    accepted = {}
    for role, (name, _) in components.items():
        cls = registries[role].get_class(name)
        accepted[role] = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "directions")]
    out: dict[str, dict[str, Any]] = {role: {} for role in components}
    for key, value in parse_param_strings(items).items():
        role, _, bare = key.rpartition(".")
        if role:
            if role not in components:
                _fail(f"--param {key}: prefix must be one of {', '.join(f'{r}.' for r in components)}.")
            targets = [role] if bare in accepted[role] else []
        else:
            targets = [r for r in components if bare in accepted[r]]
        if not targets:
            valid = ", ".join(f"{r}.{p}" for r in components for p in accepted[r]) or "none"
            _fail(f"--param {key}: no chosen method takes '{bare}'. Valid keys: {valid}.")
        if len(targets) > 1:
            _fail(f"--param {key} fits {' and '.join(targets)}: write {targets[0]}.{bare}=... to choose.")
        if isinstance(value, tuple) and targets[0] == "scheme":
            value = list(value)
        out[targets[0]][bare] = value
    return out


def _check_output(fmt: Fmt, out: Path | None) -> None:
    """Refuse an impossible --format/--out pair before any work is done (nothing printed yet)."""
    if fmt == Fmt.table and out is not None:
        _fail("--out needs --format csv, json, parquet or xlsx.")
    if fmt in (Fmt.parquet, Fmt.xlsx) and out is None:
        _fail(f"--format {fmt.value} needs --out FILE.")


def _emit(df, fmt: Fmt, out: Path | None, label: str = "", title: str = "") -> None:
    """Print or write a table; the dataset label goes into a ``note`` column or onto stderr."""
    from ._io import write_table_atomic
    from .results.write import with_note

    _check_output(fmt, out)
    if fmt == Fmt.table:
        if title:
            typer.echo(title)
        typer.echo(df.to_string(index=False))
        if label:
            typer.echo(f"Note: {label}", err=True)
        return
    df = with_note(df, label)
    if out is not None:
        write_table_atomic(df, out, fmt.value)
        typer.echo(f"wrote {out}", err=True)
    elif fmt == Fmt.csv:
        sys.stdout.write(df.to_csv(index=False))
    else:
        sys.stdout.write(df.to_json(orient="records", indent=2, force_ascii=False) + "\n")


def _settings(res, scheme: str | None = None) -> None:
    """State the choices behind an output (normalizer, scheme, aggregators, imputation) on stderr.

    Printed after the output, so that a failing command's stderr is its one error line.
    """
    st = res.settings
    aggs = ", ".join(f"level {k}: {v}" for k, v in st["aggregator"].items())
    scheme = scheme or f"{st['scheme']} (levels {st['scheme_level']})"
    typer.echo(f"normalizer {st['normalizer']}; scheme {scheme}; aggregator {aggs}; "
               f"imputation {st['imputation']}", err=True)
    if "pipeline" in st:
        from .pipeline import pipeline_summary

        typer.echo(pipeline_summary(st), err=True)


def _paused_while_starting(command):
    """Run an engine command with cyclic garbage collection paused while it starts (imports,
    reading, compiling, loading the kernels): see :func:`_collection_paused`."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        with _collection_paused():
            return command(*args, **kwargs)

    return run


# ---------------------------------------------------------------------------------------------
@app.command()
def validate(data: Path = DataArg, framework: Path = FrameworkOpt, id_column: Optional[str] = IdOpt,
             pipeline: Optional[Path] = PipelineOpt, encoding: Optional[str] = EncodingOpt,
             sheet: Optional[str] = SheetOpt) -> None:
    """Check a data table against a framework (and a pipeline's data steps) and print a summary.

    Examples:
      weightlab validate data.csv -f framework.toml
      weightlab validate asem/data.csv -f asem/framework.toml --pipeline asem/pipeline.toml
    """
    ds = _load(data, framework, id_column, encoding, sheet)
    s = ds.summary()
    pipeline_lines = ""
    if pipeline is not None:  # checked before anything is printed
        from .pipeline import Pipeline, pipeline_summary, step_outcomes

        pipe = Pipeline.from_toml(pipeline)
        pipe.normalizer(ds.framework), pipe.aggregators(ds.framework)  # raise on targets/levels the data lack
        outcomes = step_outcomes(pipe.prepare(ds).reports)
        pipeline_lines = pipeline_summary({"pipeline": pipe.describe(), **outcomes})
    typer.echo(f"{s['source']}: {s['units']} units x {s['indicators']} indicators, {s['levels']} levels "
               f"({', '.join(f'level {k}: {v}' for k, v in s['nodes_per_level'].items())})")
    typer.echo(f"missing cells: {s['missing_cells']}"
               + (f" ({', '.join(f'{k}: {v}' for k, v in s['indicators_with_missing'].items())})"
                  if s["missing_cells"] else ""))
    from .pipeline import column_roles

    roles = column_roles(ds)
    for role, title in (("grouping", "grouping columns"), ("denominators", "denominator columns"),
                        ("other", "other columns (kept as metadata)")):
        if roles[role]:
            typer.echo(f"{title}: {', '.join(roles[role])}")
    if roles["declared_but_absent"]:
        typer.echo(f"declared by the framework but not in the data: {', '.join(roles['declared_but_absent'])}")
    if pipeline_lines:
        typer.echo(pipeline_lines)
    if s["label"]:
        typer.echo(f"Note: {s['label']}")


def _build(data: Path, framework: Path, id_column: Optional[str], normalizer: str, scheme: str, aggregator: str,
           imputation: str, level: str, param: list[str], fmt: Fmt, out: Optional[Path],
           pipeline: Optional[Path] = None, encoding: Optional[str] = None, sheet: Optional[str] = None
           ) -> IndexResult:
    """Check the output options, load the data and build the nominal index (weights and score)."""
    from .index import build_index

    _check_output(fmt, out)
    ds = _load(data, framework, id_column, encoding, sheet)
    if pipeline is not None:
        from .pipeline import load_for_cli

        pipe = load_for_cli(pipeline, normalizer=normalizer, aggregator=aggregator, imputation=imputation)
        p = _route_params(param, {"scheme": (scheme, None)})
        return pipe.run(ds, scheme, p["scheme"], level).result
    p = _route_params(param, {"scheme": (scheme, None), "normalizer": (normalizer, None),
                              "aggregator": (aggregator, None)})
    return build_index(ds, normalizer, scheme, aggregator, imputation, level, p["normalizer"], p["scheme"],
                       p["aggregator"])


@app.command()
def weights(data: Path = DataArg, framework: Path = FrameworkOpt, scheme: str = SchemeOpt,
            normalizer: str = NormOpt, aggregator: str = AggOpt, imputation: str = ImpOpt,
            level: str = LevelOpt, param: list[str] = ParamOpt, fmt: Fmt = FormatOpt,
            out: Optional[Path] = OutOpt, id_column: Optional[str] = IdOpt,
            pipeline: Optional[Path] = PipelineOpt, encoding: Optional[str] = EncodingOpt,
            sheet: Optional[str] = SheetOpt) -> None:
    """Compute weights with a scheme; columns group, member, weight, effective_weight.

    Examples:
      weightlab weights data.csv -f framework.toml --scheme entropy --level 1
      weightlab weights data.csv -f framework.toml --scheme pca --param n_factors=2 --format csv
      weightlab weights data.csv -f framework.toml --scheme pca --pipeline pipeline.toml
    """
    from .weighting.base import parse_levels

    res = _build(data, framework, id_column, normalizer, scheme, aggregator, imputation, level, param, fmt, out,
                 pipeline, encoding, sheet)
    ds = res.dataset
    levels = None if level == "all" else parse_levels(level, ds.framework)
    table = res.weights.to_frame(levels).drop(columns="level")
    _emit(table, fmt, out, ds.label, title=f"{scheme} weights ({', '.join(res.weights.notes) or 'no notes'})")
    _settings(res)


@app.command()
def score(data: Path = DataArg, framework: Path = FrameworkOpt, normalizer: str = NormOpt,
          scheme: str = SchemeOpt, aggregator: str = AggOpt, imputation: str = ImpOpt, level: str = LevelOpt,
          param: list[str] = ParamOpt, fmt: Fmt = FormatOpt, out: Optional[Path] = OutOpt,
          id_column: Optional[str] = IdOpt, pipeline: Optional[Path] = PipelineOpt,
          encoding: Optional[str] = EncodingOpt, sheet: Optional[str] = SheetOpt) -> None:
    """Build the index; columns unit, name, score, rank, then each group's score.

    Examples:
      weightlab score data.csv -f framework.toml --normalizer minmax --param range=0,100 --scheme critic
      weightlab score asem/data.csv -f asem/framework.toml --pipeline asem/pipeline.toml --scheme expert
    """
    res = _build(data, framework, id_column, normalizer, scheme, aggregator, imputation, level, param, fmt, out,
                 pipeline, encoding, sheet)
    ds = res.dataset
    _emit(res.table(), fmt, out, ds.label)
    _settings(res)


@app.command()
def compare(data: Path = DataArg, framework: Path = FrameworkOpt,
            schemes: str = typer.Option("expert,entropy,critic,pca", "--schemes", help="Comma-separated schemes."),
            baseline: Optional[str] = typer.Option(None, "--baseline", help="Baseline scheme (default: the first)."),
            normalizer: str = NormOpt, aggregator: str = AggOpt, imputation: str = ImpOpt,
            param: list[str] = typer.Option([], "--param", help="key=value for the normalizer or aggregator "
                                            "(repeatable), e.g. shift=0.01 for a geometric aggregator."),
            fmt: Fmt = FormatOpt, out: Optional[Path] = OutOpt, id_column: Optional[str] = IdOpt,
            pipeline: Optional[Path] = PipelineOpt, encoding: Optional[str] = EncodingOpt,
            sheet: Optional[str] = SheetOpt) -> None:
    """Compare weighting schemes: ranks, shifts against a baseline, Spearman and Kendall correlations.

    Example: weightlab compare data.csv -f framework.toml --schemes expert,entropy,critic,pca
    """
    from .compare import compare_schemes
    from .weighting import SCHEMES

    _check_output(fmt, out)
    names = [s.strip() for s in schemes.split(",") if s.strip()]
    for name in names:
        SCHEMES.get_class(name)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        _fail(f"--schemes lists {', '.join(twice)} twice: list each scheme once.")
    if baseline is not None and baseline not in names:
        _fail(f"--baseline {baseline} is not one of --schemes {','.join(names)}.")
    if pipeline is not None and param:  # the pipeline's [normalise] and [aggregate] tables hold their parameters
        _fail(f"--param {param[0]} cannot be combined with --pipeline {pipeline}: set it in the pipeline's "
              f"[normalise] or [aggregate] table instead.")
    p = _route_params(param, {"normalizer": (normalizer, None), "aggregator": (aggregator, None)})
    ds = _load(data, framework, id_column, encoding, sheet)
    if pipeline is not None:
        from .pipeline import load_for_cli, step_outcomes

        pipe = load_for_cli(pipeline, normalizer=normalizer, aggregator=aggregator, imputation=imputation)
        prep = pipe.prepare(ds)
        cmp = compare_schemes(prep.dataset, names, baseline, **pipe.index_kwargs(ds.framework))
        for res in cmp.results.values():
            res.settings.update(imputation=pipe.impute_label(), pipeline=pipe.describe(), **step_outcomes(prep.reports))
    else:
        cmp = compare_schemes(ds, names, baseline, normalizer=normalizer, aggregator=aggregator, imputation=imputation,
                              normalizer_params=p["normalizer"], aggregator_params=p["aggregator"])
    if fmt == Fmt.table and out is None:
        _emit(cmp.table(), fmt, None, "", title=f"ranks under each scheme (baseline {cmp.baseline})")
        typer.echo("\nSpearman rank correlation\n" + cmp.spearman.round(3).to_string())
        typer.echo("\nKendall tau-b\n" + cmp.kendall.round(3).to_string())
        if ds.label:
            typer.echo(f"Note: {ds.label}", err=True)
    else:
        _emit(cmp.table(), fmt, out, ds.label)
    _settings(cmp.results[cmp.baseline], scheme=", ".join(cmp.results))


@app.command()
@_paused_while_starting
def robustness(data: Path = DataArg, framework: Path = FrameworkOpt,
               spec: Optional[Path] = typer.Option(None, "--spec", help="Uncertainty spec (TOML)."),
               reps: Optional[int] = typer.Option(None, "--reps", help="Replications (overrides the spec)."),
               seed: Optional[int] = typer.Option(None, "--seed", help="Seed (overrides the spec)."),
               threads: Optional[int] = typer.Option(None, "--threads", help="Threads (default: all cores)."),
               chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Replications per chunk."),
               out: Path = typer.Option(..., "--out", help="Output directory (new, empty, or an earlier result)."),
               yes: bool = typer.Option(False, "--yes", help="Start a run estimated to take more than a day."),
               no_report: bool = NoReportOpt, id_column: Optional[str] = IdOpt,
               pipeline: Optional[Path] = PipelineOpt, encoding: Optional[str] = EncodingOpt,
               sheet: Optional[str] = SheetOpt,
               checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Save the accumulators to this "
                                                         "file every few seconds (resume with --resume)."),
               resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run saved in this "
                                                     "checkpoint (same inputs; the result is an unbroken run's)."),
               checkpoint_every: float = typer.Option(5.0, "--checkpoint-every", help="Seconds between checkpoints."),
               until_converged: bool = typer.Option(False, "--until-converged", help="Run batches until every unit's "
                                                    "median and band limits have a Monte Carlo standard error below "
                                                    "--tolerance ranks (ignores --reps)."),
               tolerance: float = typer.Option(0.5, "--tolerance", help="Standard error to reach, in ranks."),
               max_reps: int = typer.Option(10_000_000, "--max-reps", help="Replications at most with "
                                            "--until-converged."),
               scheduler: str = typer.Option("threads", "--scheduler", help="threads (this machine's cores), local "
                                             "(a Dask LocalCluster) or tcp://HOST:PORT (a Dask scheduler).")) -> None:
    """Monte Carlo rank distributions: median rank, p05-p95 band, P(top k) for every unit; writes
    the tables, manifest.json and report.html to the output directory.

    With --pipeline the data go through the pipeline's steps first; the spec's choices (normalizer,
    aggregator, imputation, treatment) replace the pipeline step of the same kind.

    Example: weightlab robustness data.csv -f framework.toml --spec spec.toml --reps 1000000 --seed 7 --out results/

    Long runs: --checkpoint run.ckpt saves progress; after a crash, the same command with --resume run.ckpt
    continues. --until-converged [--tolerance 0.5] [--max-reps N] stops when the bands are precise enough.
    """
    from .results import ResultDirectory
    from .robustness.spec import UncertaintySpec

    start = time.perf_counter()
    _check_run_options(reps, seed, threads, chunk_size)
    with ResultDirectory(out) as stage:
        ds = _load(data, framework, id_column, encoding, sheet)
        sp = UncertaintySpec.from_toml(spec, encoding) if spec else UncertaintySpec()
        sp = sp.with_overrides(reps=reps, seed=seed)
        extra: dict = {}
        ds, sp = _with_pipeline(ds, sp, pipeline, extra)
        until = None
        if until_converged:
            from .robustness.convergence import Convergence

            until = Convergence(sp.outputs.quantiles, tolerance=tolerance, max_reps=max_reps)
        options = dict(checkpoint=checkpoint, resume=resume, checkpoint_every=checkpoint_every, until=until,
                       scheduler=scheduler)
        result, paths = _run_robustness(ds, sp, threads, chunk_size, stage, extra, yes, start, options=options)
    _summary(result, paths)  # printed once the results are in place
    if not no_report:
        _write_report(out)


def _with_pipeline(ds, spec, pipeline: Path | None, extra: dict):
    """The dataset and spec a Monte Carlo command runs on: with ``--pipeline``, the data after the
    pipeline's steps and the spec completed by them (its choices replace the step of the same
    kind); the pipeline is recorded in ``extra`` (the manifest)."""
    if pipeline is None:
        return ds, spec
    from ._io import file_sha256
    from .pipeline import Pipeline
    from .robustness.pipeline import robustness_inputs

    pipe = Pipeline.from_toml(pipeline)
    ds, spec, outcomes = robustness_inputs(ds, spec, pipe)
    extra.update(pipeline=pipe.describe(), pipeline_sha256=file_sha256(pipeline), pipeline_steps=outcomes)
    return ds, spec


def _check_run_options(reps: Optional[int], seed: Optional[int], threads: Optional[int],
                       chunk_size: Optional[int]) -> None:
    """Refuse bad --reps, --seed, --threads and --chunk-size before anything is read or written."""
    from .robustness.spec import reps_problem, seed_problem

    if reps is not None and reps_problem(reps):
        _fail(f"--reps {reps_problem(reps)}")
    if seed is not None and seed_problem(seed):
        _fail(f"--seed {seed_problem(seed)}")
    if threads is not None or chunk_size is not None:
        from .robustness.plan import MAX_REPS_PER_SLOT
        from .robustness.pool import thread_count

        n = thread_count(threads)
        if chunk_size is not None and not 1 <= chunk_size <= MAX_REPS_PER_SLOT * n:
            _fail(f"--chunk-size must be in 1..{MAX_REPS_PER_SLOT * n} with {n} thread(s); got {chunk_size}.")


DAY_S = 86_400.0  # a run estimated to take longer than this needs --yes


class _Pace:
    """Progress callback: measures the rate on the first chunk (compilation excluded: the engine
    reports 0 done when the replications start) and stops a run that would take more than a day
    unless ``--yes`` was given; forwards every report to the progress bar, if any."""

    def __init__(self, yes: bool, bar) -> None:
        self.yes, self.bar, self.t0, self.checked = yes, bar, None, False

    def __call__(self, done: int, total: int) -> None:
        _work_starts()
        now = time.perf_counter()
        if done == 0 or self.t0 is None:
            self.t0 = now
        elif not self.checked:
            self.checked = True
            rate = done / max(now - self.t0, 1e-9)
            left = (total - done) / rate
            if left > DAY_S and not self.yes:
                _fail(f"--reps {total:,}: at the measured {rate:,.0f} replications/s this run would take about "
                      f"{left / DAY_S:,.1f} days; pass --yes to start it anyway, or lower --reps.")
        if self.bar is not None:
            self.bar(done, total)


def _run_robustness(ds, spec, threads, chunk_size, stage, extra: dict, yes: bool = False,
                    start: float | None = None, where: str = "", options: dict | None = None):
    """Run the engine and write its files into ``stage`` (a ResultDirectory), under ``where``."""
    from .progress import progress_bar
    from .robustness.engine import run
    from .results import write_results

    options = options or {}
    start = time.perf_counter() if start is None else start
    total = options["until"].max_reps if options.get("until") is not None else spec.reps
    with progress_bar(total) as progress:
        result = run(ds, spec, threads=threads, chunk_size=chunk_size, progress=_Pace(yes, progress), **options)
    extra["wall_time_s"] = time.perf_counter() - start
    return result, write_results(result, stage, extra, kind="robustness", subdir=where)


def _pilot_note(m: dict) -> str:
    """``, rank-band pilot X s`` when a run learned its bands (many units), else nothing."""
    return f", rank-band pilot {m['pilot_s']:.2f} s" if m.get("pilot_s", 0) >= 0.005 else ""


def _summary(result, paths: list[Path]) -> None:
    """Print the rate (compilation apart) and the top of the rank table of a robustness run."""
    m = result.manifest
    typer.echo(f"{m['reps']:,} replications in {m['run_s']:.2f} s ({m['reps_per_s']:,.0f}/s, {m['threads']} threads; "
               f"compilation {m['compile_s']:.2f} s{_pilot_note(m)} apart); uncertain: {', '.join(m['uncertain_factors']) or 'nothing'}")
    if "stopping" in m:
        st = m["stopping"]
        typer.echo(f"{'converged' if st['converged'] else 'NOT converged'} after {st['batches']} batches: largest "
                   f"standard error {st['largest_se']:.3f} ranks (tolerance {st['tolerance']})")
    cols = ["name", "nominal_rank", "median_rank"] + [c for c in result.ranks.columns
                                                     if c.endswith("_rank") and c[1:3].isdigit()]
    typer.echo(result.ranks[cols + [c for c in result.ranks.columns if c.startswith("p_top")]].head(10)
               .to_string(index=False))
    typer.echo(f"results: {', '.join(str(p) for p in paths)}")
    if result.dataset.label:
        typer.echo(f"Note: {result.dataset.label}")


@app.command()
@_paused_while_starting
def sensitivity(data: Path = DataArg, framework: Path = FrameworkOpt,
                spec: Optional[Path] = typer.Option(None, "--spec", help="Uncertainty spec (TOML): its uncertain "
                                                    "factors are the factors."),
                base_samples: int = typer.Option(8192, "--base-samples", help="Base samples N (the design has "
                                                 "N x (factors + 2) evaluations; a power of 2)."),
                bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the intervals."),
                bootstrap_block: Optional[int] = typer.Option(None, "--bootstrap-block", help="Consecutive base "
                                                              "samples resampled together (default: N / 1024 for "
                                                              "N >= 2048 a power of 2, else 1)."),
                seed: Optional[int] = typer.Option(None, "--seed", help="Seed (overrides the spec)."),
                threads: Optional[int] = typer.Option(None, "--threads", help="Threads (default: all cores)."),
                out: Path = typer.Option(..., "--out", help="Output directory (new, empty, or an earlier result)."),
                no_report: bool = NoReportOpt, id_column: Optional[str] = IdOpt,
                pipeline: Optional[Path] = PipelineOpt, encoding: Optional[str] = EncodingOpt,
                sheet: Optional[str] = SheetOpt,
                scheduler: str = typer.Option("threads", "--scheduler", help="threads, local (a Dask LocalCluster) "
                                              "or tcp://HOST:PORT (a Dask scheduler).")) -> None:
    """Which choice moves the ranks: first-order and total Sobol' indices of every uncertain factor,
    for the whole ranking and for every unit, with bootstrap intervals and a dummy factor; writes
    the tables, manifest.json and report.html to the output directory.

    With --pipeline the data go through the pipeline's steps first, as for robustness.

    Example: weightlab sensitivity data.csv -f framework.toml --spec spec.toml --base-samples 8192 --out sens/
    """
    from .results import ResultDirectory
    from .robustness.spec import UncertaintySpec

    start = time.perf_counter()
    _check_run_options(None, seed, threads, None)
    if base_samples < 2:
        _fail(f"--base-samples must be at least 2; got {base_samples}.")
    if bootstrap < 0:
        _fail(f"--bootstrap must be >= 0; got {bootstrap}.")
    if bootstrap_block is not None and (bootstrap_block < 1 or base_samples % bootstrap_block):
        _fail(f"--bootstrap-block must be a divisor of --base-samples {base_samples:,}; got {bootstrap_block}.")
    with ResultDirectory(out) as stage:
        ds = _load(data, framework, id_column, encoding, sheet)
        sp = UncertaintySpec.from_toml(spec, encoding) if spec else UncertaintySpec()
        extra: dict = {}
        ds, sp = _with_pipeline(ds, sp, pipeline, extra)
        result, paths = _run_sensitivity(ds, sp, base_samples, bootstrap, seed, threads, stage, extra, start=start,
                                         scheduler=scheduler, block=bootstrap_block)
    _sensitivity_summary(result, paths)
    if not no_report:
        _write_report(out)


def _run_sensitivity(ds, spec, base_samples: int, n_boot: int, seed, threads, stage, extra: dict,
                     start: float | None = None, where: str = "", scheduler: str = "threads",
                     block: int | None = None):
    """Run a sensitivity analysis and write its files into ``stage`` (a ResultDirectory), under ``where``."""
    from .progress import progress_bar
    from .results import write_sensitivity
    from .robustness.sensitivity import run_sensitivity

    start = time.perf_counter() if start is None else start
    with progress_bar(None, "evaluations") as progress:
        result = run_sensitivity(ds, spec, base_samples=base_samples, n_boot=n_boot, seed=seed, threads=threads,
                                 progress=_Started(progress), scheduler=scheduler, bootstrap_block=block)
    extra["wall_time_s"] = time.perf_counter() - start
    return result, write_sensitivity(result, stage, extra, subdir=where)


def _sensitivity_summary(result, paths: list[Path]) -> None:
    """Print the rate and the factors ranked by total effect of a sensitivity run."""
    m = result.manifest
    typer.echo(f"{m['evaluations']:,} evaluations ({m['base_samples']:,} base samples) in {m['evaluate_s']:.2f} s "
               f"({m['evaluations_per_s']:,.0f}/s, {m['threads']} threads); intervals: {m['intervals']}")
    table = result.ranking("mean_abs_rank_shift")
    typer.echo("factors by total effect on the mean absolute rank shift (dummy: the noise floor):")
    typer.echo(table.drop(columns="output").round(3).to_string(index=False))
    typer.echo(f"results: {', '.join(str(p) for p in paths)}")
    if result.dataset.label:
        typer.echo(f"Note: {result.dataset.label}")


@app.command()
def treat(data: Path = DataArg, framework: Path = FrameworkOpt,
          out: Path = typer.Option(..., "--out", help="Treated table (.csv, .parquet or .json)."),
          report: Optional[Path] = typer.Option(None, "--report", help="Treatment table (default: OUT's name + "
                                                "'_treatment' + its suffix)."),
          method: Optional[str] = typer.Option(None, "--method", help="coinr (default), log1p, boxcox or none; "
                                               "only without a [treat] step in the pipeline."),
          pipeline: Optional[Path] = PipelineOpt, id_column: Optional[str] = IdOpt) -> None:
    """Treat outliers (COINr's default rule unless told otherwise) and write the treated table and
    the treatment table (skew and kurtosis before/after, points winsorised, transformation).

    With --pipeline the data first go through its denominate, impute and screen steps, and its
    [treat] step (if any) is the treatment.

    Examples:
      weightlab treat data.csv -f framework.toml --out treated.csv
      weightlab treat asem/data.csv -f asem/framework.toml --pipeline asem/pipeline.toml --out treated.csv
    """
    from .build_commands import run_treat

    ds = _load(data, framework, id_column)
    for line in run_treat(ds, out, report, method, pipeline):
        typer.echo(line)
    if ds.label:
        typer.echo(f"Note: {ds.label}")


@app.command()
def analyse(data: Path = DataArg, framework: Path = FrameworkOpt,
            out: Optional[Path] = typer.Option(None, "--out", help="Directory for the CSV tables and manifest.json."),
            scheme: str = SchemeOpt, pipeline: Optional[Path] = PipelineOpt,
            weak: float = typer.Option(0.3, "--weak", help="Flag |r| with the own group below this."),
            stage: str = typer.Option("raw", "--stage", help="Table the indicator statistics describe: raw, "
                                      "denominated, imputed, screened, treated or normalised."),
            id_column: Optional[str] = IdOpt) -> None:
    """Indicator analysis: statistics, correlations with groups and index (flags), Cronbach's alpha
    and PCA per group, data availability per unit (COINr get_stats, get_corr, get_cronbach, get_PCA).

    Examples:
      weightlab analyse data.csv -f framework.toml
      weightlab analyse asem/data.csv -f asem/framework.toml --pipeline asem/pipeline.toml --out analysis/
    """
    from .build_commands import run_analyse

    ds = _load(data, framework, id_column)
    for line in run_analyse(ds, out, scheme, pipeline, weak, stage, {"data": str(data), "framework": str(framework)}):
        typer.echo(line)
    if ds.label:
        typer.echo(f"Note: {ds.label}")


@app.command()
def importance(data: Path = DataArg, framework: Path = FrameworkOpt,
               out: Path = typer.Option(..., "--out", help="Output directory (new, empty, or an earlier result)."),
               scheme: str = SchemeOpt, normalizer: str = NormOpt, aggregator: str = AggOpt,
               imputation: str = ImpOpt, level: str = LevelOpt, param: list[str] = ParamOpt,
               n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples of the units (0: none)."),
               seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
               no_report: bool = NoReportOpt, id_column: Optional[str] = IdOpt,
               pipeline: Optional[Path] = PipelineOpt, encoding: Optional[str] = EncodingOpt,
               sheet: Optional[str] = SheetOpt) -> None:
    """Importance against weights: for every member of every group, against the index and its
    parent, the weight, Pearson r, the main effect S (smoothing spline, local linear), r^2, the Pratt
    share, bootstrap intervals and flags; writes importance.csv, the build's files and report.html.

    Examples:
      weightlab importance data.csv -f framework.toml --scheme expert --out imp/
      weightlab importance asem/data.csv -f asem/framework.toml --pipeline asem/pipeline.toml --scheme expert --out imp/
    """
    from .importances import importance as measure
    from .results import ResultDirectory
    from .results.directory import check_target

    if n_boot < 0:
        _fail(f"--n-boot must be a whole number >= 0; got {n_boot}.")
    check_target(out)
    res = _build(data, framework, id_column, normalizer, scheme, aggregator, imputation, level, param, Fmt.csv, None,
                 pipeline, encoding, sheet)
    imp = measure(res, n_boot=n_boot, seed=seed)
    with ResultDirectory(out) as stage:
        imp.save(stage.path)
    t = imp.table
    shown = t[["level", "group", "member", "against", "weight", "r_share", "S_spline", "S_lo", "S_hi", "flag"]]
    typer.echo(shown[t["flag"] != ""].round(3).to_string(index=False) if (t["flag"] != "").any()
               else "no member flagged")
    typer.echo(f"{len(t)} rows ({t['member'].nunique()} members), {int((t['flag'] != '').sum())} flagged; "
               f"{n_boot} bootstrap resamples; {out / 'importance.csv'}")
    if res.dataset.label:
        typer.echo(f"Note: {res.dataset.label}")
    _settings(res)
    if not no_report:
        _write_report(out)


@app.command()
@_paused_while_starting
def demo(out: Path = typer.Option(Path("weightlab-demo"), "--out", help="Output directory."),
         reps: int = typer.Option(1_000_000, "--reps", help="Monte Carlo replications."),
         base_samples: int = typer.Option(8192, "--base-samples", help="Base samples of the sensitivity run."),
         threads: Optional[int] = typer.Option(None, "--threads", help="Threads (default: all cores)."),
         yes: bool = typer.Option(False, "--yes", help="Start a run estimated to take more than a day."),
         no_report: bool = NoReportOpt) -> None:
    """The main job on the built-in 338-city data (synthetic demo data): nominal index under every
    scheme, the comparison of schemes, normalizers and aggregators, a Monte Carlo robustness run, a
    Sobol' sensitivity run, and report.html.

    Example: weightlab demo --out weightlab-demo --reps 1000000
    """
    from .results import ResultDirectory

    start = time.perf_counter()
    _check_run_options(reps, None, threads, None)  # every option is checked before anything is written
    if base_samples < 2:
        _fail(f"--base-samples must be at least 2; got {base_samples}.")
    with ResultDirectory(out) as stage:
        robust, sens = _demo(stage, reps, base_samples, threads, yes, start)
    _summary(*robust)  # printed once the results are in place
    typer.echo(f"\nSensitivity: Sobol' indices of the same 4 factors, {base_samples:,} base samples")
    _sensitivity_summary(*sens)
    if not no_report:
        _write_report(out)
    typer.echo(f"\nAll results in {out}/ (manifest.json lists them). Total {time.perf_counter() - start:.1f} s.")


def _demo(stage, reps: int, base_samples: int, threads: Optional[int], yes: bool, start: float):
    """The demo's work, written into ``stage`` (committed by the caller)."""
    import warnings

    from ._io import write_json_atomic, write_table_atomic
    from .build_commands import demo_treatment
    from .compare import compare, weights_table
    from .datasets import load_ai_cities
    from .index import build_index
    from .results import layout
    from .results.manifest import run_record
    from .results.write import write_comparison_tables
    from .robustness.spec import demo_spec
    from .weighting import SCHEMES

    out, tmp = stage.target, stage.path
    ds = load_ai_cities()
    typer.echo(f"weightlab demo: {ds.n_units} cities x {ds.n_indicators} indicators — {ds.label}")
    ds, treated_note = demo_treatment(ds, tmp / layout.TREATMENT, shown_as=out / layout.TREATMENT)
    typer.echo(treated_note)
    files = [layout.TREATMENT]
    builds = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mean-filled cells for data-driven weights (stated in docs/architecture.md)
        for scheme in SCHEMES.available():  # a scheme that refuses zeros takes the shift rule (requires_positive)
            params = {"shift": 0.01} if SCHEMES.get_class(scheme).requires_positive else {}
            builds[scheme] = build_index(ds, scheme=scheme, imputation="mean", scheme_params=params)
            path = tmp / layout.nominal_file(scheme)
            write_table_atomic(builds[scheme].table(), path)
            files.append(path.name)
        cmp = compare(ds, DEMO_VARIANTS, imputation="mean")
    write_table_atomic(weights_table(builds), tmp / layout.WEIGHTS)
    files += [layout.WEIGHTS] + [p.name for p in write_comparison_tables(cmp, tmp)]
    typer.echo(f"nominal index under {len(builds)} schemes and the comparison computed for {out}/")
    typer.echo("Spearman correlation between variants (4 schemes; z-score and rank normalizers, geometric "
               "aggregation, each with expert weights):\n" + cmp.spearman.round(3).to_string())
    typer.echo(f"\nMonte Carlo: {reps:,} replications (weights ±25 %, 3 normalizers, 2 aggregators, 4 schemes)")
    spec = demo_spec(reps=reps)
    result, paths = _run_robustness(ds, spec, threads, None, stage, {"dataset": "ai-cities"}, yes,
                                    where=layout.ROBUSTNESS_DIR)
    sens, sens_paths = _run_sensitivity(ds, demo_spec(), base_samples, 1000, None, threads, stage,
                                        {"dataset": "ai-cities"}, where=layout.SENSITIVITY_DIR)
    write_json_atomic(tmp / layout.MANIFEST, run_record("demo", ds, spec, threads, label=ds.label, builtin_dataset="ai-cities",
                                                        compare_variants=DEMO_VARIANTS,
                                                        files=files + [f"{layout.ROBUSTNESS_DIR}/", f"{layout.SENSITIVITY_DIR}/"],
                                                        wall_time_s=time.perf_counter() - start))
    return (result, paths), (sens, sens_paths)


# the demo's side-by-side variants: 4 schemes (min-max, arithmetic), then one other choice each
DEMO_VARIANTS = {"expert": {"scheme": "expert"}, "entropy": {"scheme": "entropy"}, "critic": {"scheme": "critic"},
                 "pca": {"scheme": "pca"}, "zscore": {"scheme": "expert", "normalizer": "zscore"},
                 "rank": {"scheme": "expert", "normalizer": "rank"},
                 "geometric": {"scheme": "expert", "aggregator": "geometric", "aggregator_params": {"shift": 0.01}}}


def _write_report(directory: Path, units: list[str] | None = None, xlsx: bool = False, plots: bool = False) -> None:
    from .report.html import write_report

    _work_starts()  # matplotlib's figures are cycles: collected again from here on

    paths = write_report(directory, units=units, xlsx=xlsx, plots=plots)
    typer.echo(f"report: {paths[0]}" + (f" (and {len(paths) - 1} more files)" if len(paths) > 1 else ""))


@app.command()
def report(directory: Path = typer.Argument(..., help="A results directory (--out of demo, robustness, ...)."),
           xlsx: bool = typer.Option(False, "--xlsx", help="Also write results.xlsx: every table as a sheet."),
           unit: list[str] = typer.Option([], "--unit", help="Unit id or name to profile (repeatable; "
                                                              "default: the unit ranked first)."),
           plots: bool = typer.Option(False, "--plots", help="Also write every figure to DIR/plots/ as PNG and SVG.")
           ) -> None:
    """Write DIR/report.html: one self-contained page with the run settings, the plots, a sortable and
    searchable table of all units, and the method with its sources.

    Example: weightlab report weightlab-demo --xlsx --unit Hefei
    """
    _write_report(directory, units=unit or None, xlsx=xlsx, plots=plots)


@datasets_app.command("list")
def datasets_list() -> None:
    """List the built-in datasets.

    Example: weightlab datasets list
    """
    from .datasets import DATASETS

    for name, entry in DATASETS.items():
        typer.echo(f"{name}: {entry['description']}")


@datasets_app.command("export")
def datasets_export(name: str = typer.Argument(..., help="Dataset name (see 'weightlab datasets list')."),
                    directory: Path = typer.Argument(..., help="Output directory."),
                    force: bool = typer.Option(False, "--force", help="Overwrite the dataset's files there.")) -> None:
    """Write a built-in dataset as data.csv and framework.toml (COINr's asem also as
    framework_imeta.csv, with the pipeline.toml of COINr's build_example_coin).

    Examples:
      weightlab datasets export ai-cities mydata/
      weightlab datasets export asem asem/
    """
    from .datasets import export

    for path in export(name, directory, force=force):
        typer.echo(f"wrote {path}")


def _raise_interrupted(signum, frame) -> None:
    from .errors import Interrupted

    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    """Run a command in this process and return its exit code (the program is :func:`console`): user
    errors become one stderr line and exit code 2; SIGINT and SIGTERM stop the command (staged
    output is removed) with one line and exit code 130."""
    import signal
    import warnings

    from .errors import Interrupted
    from .results.manifest import set_command_line

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(f"weightlab: warning: {message}\n")

    warnings.showwarning = one_line_warning
    set_command_line(["weightlab", *(sys.argv[1:] if argv is None else argv)])
    handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            handlers[sig] = signal.signal(sig, _raise_interrupted)
        except ValueError:  # not the main thread (e.g. called from a worker): keep the defaults
            pass
    try:
        app(args=argv, standalone_mode=False, prog_name="weightlab")
    except Interrupted:
        sys.stderr.write("weightlab: interrupted, nothing written\n")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        sys.stderr.write("weightlab: aborted\n")
        return 1
    except ClickException as exc:
        sys.stderr.write(f"weightlab: error: {exc.format_message()}\n")
        return 2
    except Exception as exc:  # noqa: BLE001 - user errors only; others re-raised
        from .errors import WeightlabError

        if isinstance(exc, (WeightlabError, FileNotFoundError, PermissionError)):
            msg = str(exc).replace("\n", " ")
            sys.stderr.write(f"weightlab: error: {msg}\n")
            return 2
        raise
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        set_command_line(None)
    return 0


# ---------------------------------------------------------------------------------------------
# start-up and exit of the program (issue 13, "Wall time")
_PAUSE = {"resume": False, "program": False}


@contextmanager
def _collection_paused():
    """Pause CPython's cyclic garbage collector while an engine command starts.

    Start-up (pandas, numba's typing and lowering registries, the cached kernels) creates millions
    of long-lived objects, and every full collection rescans all of them (a noticeable share of a
    short ``robustness`` run; docs/performance.md). They are not garbage. Collection resumes when
    the work starts (:func:`_work_starts`: the engine's first progress report, or the report's
    drawing) and in any case when the command ends. The engine's replication loop makes
    no cyclic garbage (a 2,000,000-replication run in 1,024-replication chunks left 1,549
    unreachable objects with collection off, as many as a 1,024-replication run).
    """
    _PAUSE["resume"] = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        _work_starts()


def _work_starts() -> None:
    """Resume the garbage collection paused by :func:`_collection_paused` (once). In the program
    (:func:`console`) the start-up's objects are frozen first, so that collections do not rescan
    them; in-process callers keep every object collectable."""
    if _PAUSE["resume"]:
        _PAUSE["resume"] = False
        if _PAUSE["program"]:
            gc.freeze()
        gc.enable()


class _Started:
    """Progress callback that resumes garbage collection at the engine's first report, then
    forwards every report to ``bar`` (if any)."""

    def __init__(self, bar) -> None:
        self.bar = bar

    def __call__(self, done: int, total: int) -> None:
        _work_starts()
        if self.bar is not None:
            self.bar(done, total)


def console() -> None:
    """The ``weightlab`` program (console script and ``python -m weightlab.cli``): :func:`main`, then exit.

    Before the interpreter exits, every object is moved to the collector's permanent generation
    (``gc.freeze``): shutdown would otherwise rescan all the objects of pandas, numba and the loaded
    kernels several times over (after a short robustness run, longer than its replications;
    docs/performance.md). Files are closed by the commands and atexit handlers still
    run; only the final collections are skipped.
    """
    _PAUSE["program"] = True
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
