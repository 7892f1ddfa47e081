"""The ``weightlab`` command line: parse, call the public API, print.

Heavy libraries (pandas, scikit-learn, numba) are imported inside the commands, so ``weightlab
--help`` is fast. Every user error is one line on stderr (``weightlab: error: ...``) and exit code 2.
"""

from __future__ import annotations

import sys
import time
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


class Fmt(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


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


def _fail(message: str) -> None:
    from .errors import InputError

    raise InputError(message)


def _load(data: Path, framework: Path, id_column: str | None):
    from .data import read_dataset

    return read_dataset(data, framework, id_column=id_column)


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
        _fail("--out needs --format csv, json or parquet.")
    if fmt == Fmt.parquet and out is None:
        _fail("--format parquet needs --out FILE.")


def _emit(df, fmt: Fmt, out: Path | None, label: str = "", title: str = "") -> None:
    """Print or write a table; the dataset label goes into a ``note`` column or onto stderr."""
    from ._io import write_table_atomic
    from .robustness.output import with_note

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


# ---------------------------------------------------------------------------------------------
@app.command()
def validate(data: Path = DataArg, framework: Path = FrameworkOpt, id_column: Optional[str] = IdOpt) -> None:
    """Check a data table against a framework and print a summary.

    Example: weightlab validate data.csv -f framework.toml
    """
    s = _load(data, framework, id_column).summary()
    typer.echo(f"{s['source']}: {s['units']} units x {s['indicators']} indicators, {s['levels']} levels "
               f"({', '.join(f'level {k}: {v}' for k, v in s['nodes_per_level'].items())})")
    typer.echo(f"missing cells: {s['missing_cells']}"
               + (f" ({', '.join(f'{k}: {v}' for k, v in s['indicators_with_missing'].items())})"
                  if s["missing_cells"] else ""))
    if s["label"]:
        typer.echo(f"Note: {s['label']}")


def _build(data: Path, framework: Path, id_column: Optional[str], normalizer: str, scheme: str, aggregator: str,
           imputation: str, level: str, param: list[str], fmt: Fmt, out: Optional[Path]) -> IndexResult:
    """Check the output options, load the data and build the nominal index (weights and score)."""
    from .index import build_index

    _check_output(fmt, out)
    ds = _load(data, framework, id_column)
    p = _route_params(param, {"scheme": (scheme, None), "normalizer": (normalizer, None),
                              "aggregator": (aggregator, None)})
    return build_index(ds, normalizer, scheme, aggregator, imputation, level, p["normalizer"], p["scheme"],
                       p["aggregator"])


@app.command()
def weights(data: Path = DataArg, framework: Path = FrameworkOpt, scheme: str = SchemeOpt,
            normalizer: str = NormOpt, aggregator: str = AggOpt, imputation: str = ImpOpt,
            level: str = LevelOpt, param: list[str] = ParamOpt, fmt: Fmt = FormatOpt,
            out: Optional[Path] = OutOpt, id_column: Optional[str] = IdOpt) -> None:
    """Compute weights with a scheme; columns group, member, weight, effective_weight.

    Examples:
      weightlab weights data.csv -f framework.toml --scheme entropy --level 1
      weightlab weights data.csv -f framework.toml --scheme pca --param n_factors=2 --format csv
    """
    from .weighting.base import parse_levels

    res = _build(data, framework, id_column, normalizer, scheme, aggregator, imputation, level, param, fmt, out)
    ds = res.dataset
    levels = None if level == "all" else parse_levels(level, ds.framework)
    table = res.weights.to_frame(levels).drop(columns="level")
    _emit(table, fmt, out, ds.label, title=f"{scheme} weights ({', '.join(res.weights.notes) or 'no notes'})")
    _settings(res)


@app.command()
def score(data: Path = DataArg, framework: Path = FrameworkOpt, normalizer: str = NormOpt,
          scheme: str = SchemeOpt, aggregator: str = AggOpt, imputation: str = ImpOpt, level: str = LevelOpt,
          param: list[str] = ParamOpt, fmt: Fmt = FormatOpt, out: Optional[Path] = OutOpt,
          id_column: Optional[str] = IdOpt) -> None:
    """Build the index; columns unit, score, rank, then each group's score (and name last).

    Example: weightlab score data.csv -f framework.toml --normalizer minmax --param range=0,100 --scheme critic
    """
    res = _build(data, framework, id_column, normalizer, scheme, aggregator, imputation, level, param, fmt, out)
    ds = res.dataset
    table = res.table()
    last = [c for c in ("name", "note") if c in table.columns]
    table = table[[c for c in table.columns if c not in last] + last]
    _emit(table, fmt, out, ds.label)
    _settings(res)


@app.command()
def compare(data: Path = DataArg, framework: Path = FrameworkOpt,
            schemes: str = typer.Option("expert,entropy,critic,pca", "--schemes", help="Comma-separated schemes."),
            baseline: Optional[str] = typer.Option(None, "--baseline", help="Baseline scheme (default: the first)."),
            normalizer: str = NormOpt, aggregator: str = AggOpt, imputation: str = ImpOpt,
            fmt: Fmt = FormatOpt, out: Optional[Path] = OutOpt, id_column: Optional[str] = IdOpt) -> None:
    """Compare weighting schemes: ranks, shifts against a baseline, Spearman and Kendall correlations.

    Example: weightlab compare data.csv -f framework.toml --schemes expert,entropy,critic,pca
    """
    from .compare import compare_schemes
    from .weighting import SCHEMES

    _check_output(fmt, out)
    ds = _load(data, framework, id_column)
    names = [s.strip() for s in schemes.split(",") if s.strip()]
    for name in names:
        SCHEMES.get_class(name)
    cmp = compare_schemes(ds, names, baseline, normalizer=normalizer, aggregator=aggregator, imputation=imputation)
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
def robustness(data: Path = DataArg, framework: Path = FrameworkOpt,
               spec: Optional[Path] = typer.Option(None, "--spec", help="Uncertainty spec (TOML)."),
               reps: Optional[int] = typer.Option(None, "--reps", help="Replications (overrides the spec)."),
               seed: Optional[int] = typer.Option(None, "--seed", help="Seed (overrides the spec)."),
               threads: Optional[int] = typer.Option(None, "--threads", help="Threads (default: all cores)."),
               chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Replications per chunk."),
               out: Path = typer.Option(..., "--out", help="Output directory."),
               id_column: Optional[str] = IdOpt,
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
    """Monte Carlo rank distributions: median rank, p05-p95 band, P(top k) for every unit.

    Example: weightlab robustness data.csv -f framework.toml --spec spec.toml --reps 1000000 --seed 7 --out results/

    Long runs: --checkpoint run.ckpt saves progress; after a crash, the same command with --resume run.ckpt
    continues. --until-converged [--tolerance 0.5] [--max-reps N] stops when the bands are precise enough.
    """
    from .robustness.spec import UncertaintySpec

    ds = _load(data, framework, id_column)
    sp = UncertaintySpec.from_toml(spec) if spec else UncertaintySpec()
    sp = sp.with_overrides(reps=reps, seed=seed)
    until = None
    if until_converged:
        from .robustness.convergence import Convergence

        until = Convergence(sp.outputs.quantiles, tolerance=tolerance, max_reps=max_reps)
    _run_robustness(ds, sp, threads, chunk_size, out, {"data": str(data), "framework": str(framework),
                                                        "spec_file": str(spec) if spec else None},
                    dict(checkpoint=checkpoint, resume=resume, checkpoint_every=checkpoint_every, until=until,
                         scheduler=scheduler))


def _run_robustness(ds, spec, threads, chunk_size, out: Path, extra: dict, options: dict | None = None):
    from ._io import file_sha256
    from .robustness.engine import run
    from .robustness.output import write_results

    options = options or {}
    start = time.perf_counter()
    total = options["until"].max_reps if options.get("until") is not None else spec.reps
    with _progress(total) as progress:
        result = run(ds, spec, threads=threads, chunk_size=chunk_size, progress=progress, **options)
    if extra.get("spec_file"):
        extra["spec_sha256"] = file_sha256(extra["spec_file"])
    extra["wall_time_s"] = time.perf_counter() - start
    paths = write_results(result, out, extra)
    m = result.manifest
    typer.echo(f"{m['reps']:,} replications in {m['run_s']:.2f} s ({m['reps_per_s']:,.0f}/s, {m['threads']} threads); "
               f"uncertain: {', '.join(m['uncertain_factors']) or 'nothing'}")
    if "stopping" in m:
        st = m["stopping"]
        typer.echo(f"{'converged' if st['converged'] else 'NOT converged'} after {st['batches']} batches: largest "
                   f"standard error {st['largest_se']:.3f} ranks (tolerance {st['tolerance']})")
    cols = ["name", "nominal_rank", "median_rank"] + [c for c in result.ranks.columns
                                                     if c.endswith("_rank") and c[1:3].isdigit()]
    typer.echo(result.ranks[cols + [c for c in result.ranks.columns if c.startswith("p_top")]].head(10)
               .to_string(index=False))
    typer.echo(f"results: {', '.join(str(p) for p in paths)}")
    if ds.label:
        typer.echo(f"Note: {ds.label}")
    return result


@app.command()
def sensitivity(data: Path = DataArg, framework: Path = FrameworkOpt,
                spec: Optional[Path] = typer.Option(None, "--spec", help="Uncertainty spec (TOML): its uncertain "
                                                    "factors are the factors."),
                base_samples: int = typer.Option(8192, "--base-samples", help="Base samples N (the design has "
                                                 "N x (factors + 2) evaluations; a power of 2)."),
                bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the intervals."),
                seed: Optional[int] = typer.Option(None, "--seed", help="Seed (overrides the spec)."),
                threads: Optional[int] = typer.Option(None, "--threads", help="Threads (default: all cores)."),
                out: Path = typer.Option(..., "--out", help="Output directory."),
                id_column: Optional[str] = IdOpt,
                scheduler: str = typer.Option("threads", "--scheduler", help="threads, local (a Dask LocalCluster) "
                                              "or tcp://HOST:PORT (a Dask scheduler).")) -> None:
    """Which choice moves the ranks: first-order and total Sobol' indices of every uncertain factor,
    for the whole ranking and for every unit, with bootstrap intervals and a dummy factor.

    Example: weightlab sensitivity data.csv -f framework.toml --spec spec.toml --base-samples 8192 --out sens/
    """
    from .robustness.spec import UncertaintySpec

    ds = _load(data, framework, id_column)
    sp = UncertaintySpec.from_toml(spec) if spec else UncertaintySpec()
    _run_sensitivity(ds, sp, base_samples, bootstrap, seed, threads, out,
                     {"data": str(data), "framework": str(framework), "spec_file": str(spec) if spec else None},
                     scheduler)


def _run_sensitivity(ds, spec, base_samples: int, n_boot: int, seed, threads, out: Path, extra: dict,
                     scheduler: str = "threads"):
    from ._io import file_sha256
    from .robustness.output import write_sensitivity
    from .robustness.sensitivity import run_sensitivity

    start = time.perf_counter()
    with _progress(None, "evaluations") as progress:
        result = run_sensitivity(ds, spec, base_samples=base_samples, n_boot=n_boot, seed=seed, threads=threads,
                                 progress=progress, scheduler=scheduler)
    if extra.get("spec_file"):
        extra["spec_sha256"] = file_sha256(extra["spec_file"])
    extra["wall_time_s"] = time.perf_counter() - start
    paths = write_sensitivity(result, out, extra)
    m = result.manifest
    typer.echo(f"{m['evaluations']:,} evaluations ({base_samples:,} base samples) in {m['evaluate_s']:.2f} s "
               f"({m['evaluations_per_s']:,.0f}/s, {m['threads']} threads); intervals: {m['intervals']}")
    table = result.ranking("mean_abs_rank_shift")
    typer.echo("factors by total effect on the mean absolute rank shift (dummy: the noise floor):")
    typer.echo(table.drop(columns="output").round(3).to_string(index=False))
    typer.echo(f"results: {', '.join(str(p) for p in paths)}")
    if ds.label:
        typer.echo(f"Note: {ds.label}")
    return result


class _progress:
    """A rich progress bar (done, rate, ETA) on stderr, silent when stderr is not a terminal.

    ``total`` may be None when the caller learns it with the first update."""

    def __init__(self, total: int | None, what: str = "replications") -> None:
        self.total = total
        self.what = what
        self.bar = None

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                                   TimeRemainingColumn)

        self.bar = Progress(TextColumn(self.what), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), transient=True)
        self.bar.start()
        self.task = self.bar.add_task("mc", total=self.total, rate="")
        self.t0 = time.perf_counter()
        return self.update

    def update(self, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(self.task, completed=done, total=total, rate=f"{rate:,.0f}/s")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def demo(out: Path = typer.Option(Path("weightlab-demo"), "--out", help="Output directory."),
         reps: int = typer.Option(1_000_000, "--reps", help="Monte Carlo replications."),
         base_samples: int = typer.Option(8192, "--base-samples", help="Base samples of the sensitivity run."),
         threads: Optional[int] = typer.Option(None, "--threads", help="Threads (default: all cores).")) -> None:
    """The main job on the built-in 338-city data (synthetic demo data): nominal index under every
    scheme, the scheme comparison, a Monte Carlo robustness run and a Sobol' sensitivity run.

    Example: weightlab demo --out weightlab-demo --reps 1000000
    """
    import warnings

    from ._io import package_versions, write_json_atomic, write_table_atomic
    from .compare import compare_schemes
    from .datasets import load_ai_cities
    from .index import build_index
    from .robustness.output import with_note
    from .robustness.spec import demo_spec

    start = time.perf_counter()
    ds = load_ai_cities()
    typer.echo(f"weightlab demo: {ds.n_units} cities x {ds.n_indicators} indicators — {ds.label}")
    files = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mean-filled cells for data-driven weights (stated in the README)
        for scheme in ("equal", "expert", "entropy", "critic", "pca", "pca1", "std"):
            path = out / f"nominal_{scheme}.csv"
            write_table_atomic(with_note(build_index(ds, scheme=scheme, imputation="mean").table(), ds.label), path)
            files.append(path.name)
        cmp = compare_schemes(ds, ["expert", "entropy", "critic", "pca"], imputation="mean")
    write_table_atomic(with_note(cmp.table(), ds.label), out / "compare.csv")
    files.append("compare.csv")
    typer.echo(f"nominal index under 7 schemes and the comparison written to {out}/")
    typer.echo("Spearman correlation between schemes:\n" + cmp.spearman.round(3).to_string())
    typer.echo(f"\nMonte Carlo: {reps:,} replications (weights ±25 %, 3 normalizers, 2 aggregators, 4 schemes)")
    _run_robustness(ds, demo_spec(reps=reps), threads, None, out / "robustness", {"dataset": "ai-cities"})
    typer.echo(f"\nSensitivity: Sobol' indices of the same 4 factors, {base_samples:,} base samples")
    _run_sensitivity(ds, demo_spec(), base_samples, 1000, None, threads, out / "sensitivity", {"dataset": "ai-cities"})
    write_json_atomic(out / "manifest.json", {"label": ds.label, "dataset": "ai-cities", "data_sha256": ds.source_sha256,
                                              "files": files + ["robustness/", "sensitivity/"], "versions": package_versions(),
                                              "wall_time_s": time.perf_counter() - start})
    typer.echo(f"\nAll results in {out}/ (manifest.json lists them). Total {time.perf_counter() - start:.1f} s.")


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
                    directory: Path = typer.Argument(..., help="Output directory.")) -> None:
    """Write a built-in dataset as data.csv (id column 'unit' first) and framework.toml.

    Example: weightlab datasets export ai-cities mydata/
    """
    from .datasets import export

    for path in export(name, directory):
        typer.echo(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user errors become one stderr line and exit code 2."""
    import warnings

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(f"weightlab: warning: {message}\n")

    warnings.showwarning = one_line_warning
    try:
        app(args=argv, standalone_mode=False, prog_name="weightlab")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
