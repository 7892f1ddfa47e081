"""A whole index build as one declarative pipeline, in COINr's order.

A pipeline is a TOML file (or a dict) with one optional table per step, applied in this order::

    raw -> denominate -> impute -> screen -> treat -> normalise -> aggregate

Each step is optional: a step without its table is skipped (its stage equals the previous one).
Example, COINr's ``build_example_coin`` for the ASEM index::

    [denominate]                       # divide by the framework's Denominator column per indicator

    [impute]
    method = "mean_group"              # none, mean, median, knn, iterative, mean_group, median_group
    group = "EurAsia_group"            # grouping column of the data (group methods)

    [screen]
    threshold = 0.9                    # drop units with < 90 % of their indicators present
    measure = "current"                # on the imputed data, as COINr (nothing is missing there
                                       # after imputation), or "before_imputation"

    [treat]
    method = "coinr"                   # coinr, log1p, boxcox, none
    winmax = 5
    skew_thresh = 2.0
    kurt_thresh = 3.5
    # [treat.indicators]  Tariff = "none"

    [normalise]
    method = "minmax"                  # any registered normalizer with its parameters
    range = [0, 100]
    # [normalise.indicators.Renew]  method = "zscore"  mean = 10  sd = 2

    [aggregate]
    method = "arithmetic"              # any registered aggregator with its parameters
    skip_missing = true                # renormalise weights over the members present
    # [aggregate.levels]  4 = "geometric"

Weights come from the weighting scheme of the command (``--scheme``, default ``equal``; COINr
uses the framework's weights: ``--scheme expert``).

:meth:`Pipeline.run` returns a :class:`Build`, which keeps every intermediate table
(``build.dataset("treated")``), the per-step reports (imputed cells per indicator, screened units,
the treatment table) and the nominal :class:`~weightlab.index.IndexResult`;
``build.with_step("treat", method="none")`` rebuilds with one step changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .data import Dataset
from ._params import validate_params
from .errors import InputError, ParameterError, WeightlabError
from .normalization import PerIndicatorNormalizer

STEPS = ("denominate", "impute", "screen", "treat", "normalise", "aggregate")
STAGES = ("raw", "denominated", "imputed", "screened", "treated", "normalised", "aggregated")
_STAGE_OF = dict(zip(STEPS, STAGES[1:]))
_KEYS = {
    "denominate": {"indicators"},
    "impute": {"method", "group", "n_neighbors"},
    "screen": {"threshold", "by", "keep", "measure"},
    "treat": {"method", "winmax", "skew_thresh", "kurt_thresh", "indicators"},
    "normalise": None,  # method + the normalizer's parameters + indicators
    "aggregate": None,  # method + the aggregator's parameters + levels + skip_missing
}


class PipelineError(ParameterError):
    """An invalid pipeline file or step."""


def _fail(source: str, msg: str) -> PipelineError:
    return PipelineError(f"Pipeline {source}: {msg}" if source else f"Pipeline: {msg}")


@dataclass(frozen=True)
class Pipeline:
    """The steps of a build (see the module docstring). ``steps`` maps step name -> parameters."""

    steps: dict = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        self._check()

    # ------------------------------------------------------------------ reading and writing
    @classmethod
    def from_toml(cls, path: str | Path) -> "Pipeline":
        from ._io import read_toml

        return cls.from_dict(read_toml(path, "Pipeline file", PipelineError), source=str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], source: str = "") -> "Pipeline":
        unknown = [k for k in doc if k not in STEPS]
        if unknown:
            raise _fail(source, f"unknown step [{unknown[0]}]; the steps are {', '.join(STEPS)} (in this order).")
        steps = {}
        for kind in STEPS:
            if kind in doc:
                if not isinstance(doc[kind], dict):
                    raise _fail(source, f"'{kind}' must be a table: write [{kind}] and its keys below it.")
                steps[kind] = dict(doc[kind])
        return cls(steps, source)

    def to_dict(self) -> dict[str, Any]:
        return {kind: dict(self.steps[kind]) for kind in STEPS if kind in self.steps}

    def to_toml(self, path: str | Path | None = None) -> str:
        import tomli_w

        text = "".join(tomli_w.dumps({kind: params}) + "\n" for kind, params in self.to_dict().items())
        if path is not None:
            from ._io import write_text_atomic

            write_text_atomic(path, text)
        return text

    # ------------------------------------------------------------------ changing steps
    def with_step(self, kind: str, params: dict[str, Any] | None = None, **kw: Any) -> "Pipeline":
        """A copy with step ``kind`` replaced by ``params``/``kw`` (no parameters: the step's defaults)."""
        if kind not in STEPS:
            raise _fail(self.source, f"unknown step '{kind}'; the steps are {', '.join(STEPS)}.")
        return replace(self, steps={**self.steps, kind: {**(params or {}), **kw}})

    def without(self, *kinds: str) -> "Pipeline":
        """A copy without the given steps."""
        for kind in kinds:
            if kind not in STEPS:
                raise _fail(self.source, f"unknown step '{kind}'; the steps are {', '.join(STEPS)}.")
        return replace(self, steps={k: v for k, v in self.steps.items() if k not in kinds})

    # ------------------------------------------------------------------ validation
    def _check(self) -> None:
        from .screening import SCREEN_BY
        from .treatment import GROUP_IMPUTATIONS, IMPUTATIONS, TREATMENTS

        src = self.source
        for kind, params in self.steps.items():
            if not isinstance(params, dict):
                raise _fail(src, f"'{kind}' must be a table: write [{kind}] and its keys below it.")
            allowed = _KEYS[kind]
            if allowed is not None:
                extra = sorted(set(params) - allowed)
                if extra:
                    raise _fail(src, f"[{kind}] has no key '{extra[0]}'; its keys are {', '.join(sorted(allowed))}.")
        imp = self.steps.get("impute")
        if imp is not None:
            method = imp.get("method", "mean")
            methods = tuple(IMPUTATIONS.available()) + GROUP_IMPUTATIONS
            if method not in methods:
                raise _fail(src, f"[impute] method '{method}' is unknown: choose one of {', '.join(methods)}.")
            k = imp.get("n_neighbors", 5)
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise _fail(src, f"[impute] n_neighbors must be a whole number >= 1; got {k!r}.")
            if method in GROUP_IMPUTATIONS and not imp.get("group"):
                raise _fail(src, f"[impute] method '{method}' needs group = \"COLUMN\" (a grouping column of the "
                                 f"data, e.g. EurAsia_group).")
        scr = self.steps.get("screen")
        if scr is not None:
            t = scr.get("threshold")
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1:
                raise _fail(src, f"[screen] needs threshold = a share in [0, 1] (e.g. 0.9); got {t!r}.")
            if scr.get("measure", "current") not in ("current", "before_imputation"):
                raise _fail(src, f"[screen] measure = {scr['measure']!r}: use \"current\" (the imputed data, as "
                                 f"COINr) or \"before_imputation\".")
            keep = scr.get("keep", [])
            if not isinstance(keep, list) or not all(isinstance(u, str) for u in keep):
                raise _fail(src, f"[screen] keep must be a list of unit ids, e.g. keep = [\"LAO\"]; got {keep!r}.")
            if scr.get("by", "missing") not in SCREEN_BY:
                raise _fail(src, f"[screen] by = {scr['by']!r}: choose one of {', '.join(SCREEN_BY)}.")
        tr = self.steps.get("treat")
        if tr is not None:
            for code, m in [("method", tr.get("method", "coinr")), *dict(tr.get("indicators", {})).items()]:
                if m not in TREATMENTS:
                    raise _fail(src, f"[treat] {code} = {m!r}: choose one of {', '.join(TREATMENTS.available())}.")
            try:
                validate_params(_treatment_rule(tr))
            except WeightlabError as exc:
                raise _fail(src, f"[treat] {exc}") from None
            if not isinstance(tr.get("indicators", {}), dict):
                raise _fail(src, "[treat] indicators must be a table: indicators = {CODE = \"none\"}.")
        for kind in ("normalise", "aggregate"):
            if kind in self.steps:
                self._plugin(kind, self.steps[kind], f"[{kind}]")  # raises on unknown names/parameters
                for code, sub in self._indicator_overrides().items() if kind == "normalise" else ():
                    self._plugin(kind, sub, f"[normalise.indicators.{code}]")
                for lvl, sub in self._level_aggregators().items() if kind == "aggregate" else ():
                    self._plugin(kind, sub, f"[aggregate.levels] {lvl}")

    def _plugin(self, kind: str, params: dict[str, Any], where: str):
        """The normalizer or aggregator a table describes (``method`` + parameters)."""
        from .aggregation import AGGREGATORS
        from .normalization import NORMALIZERS

        registry = NORMALIZERS if kind == "normalise" else AGGREGATORS
        default = "minmax" if kind == "normalise" else "arithmetic"
        skip = {"method", "indicators"} if kind == "normalise" else {"method", "levels", "skip_missing"}
        p = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k not in skip}
        try:
            return registry.get(params.get("method", default), **p)
        except ParameterError as exc:
            raise _fail(self.source, f"{where}: {exc}") from None

    def _indicator_overrides(self) -> dict[str, dict[str, Any]]:
        table = self.steps.get("normalise", {}).get("indicators", {})
        if not isinstance(table, dict):
            raise _fail(self.source, "[normalise.indicators] must be a table of indicator = {method = ...}.")
        return {code: ({"method": v} if isinstance(v, str) else dict(v)) for code, v in table.items()}

    def _level_aggregators(self) -> dict[int, dict[str, Any]]:
        table = self.steps.get("aggregate", {}).get("levels", {})
        out = {}
        for lvl, v in (table.items() if isinstance(table, dict) else ()):
            try:
                level = int(lvl)
            except ValueError:
                raise _fail(self.source, f"[aggregate.levels] key {lvl!r} must be a level number (2 = "
                                         f"groups of indicators, ...).") from None
            out[level] = {"method": v} if isinstance(v, str) else dict(v)
        return out

    # ------------------------------------------------------------------ the plug-ins of a build
    def normalizer(self, framework) -> "Any":
        """The normalizer of the build: the registered one, or a :class:`PerIndicatorNormalizer`.

        ``dist_to_target`` without ``targets`` takes each indicator's framework ``target``.
        """
        step = self.steps.get("normalise", {})
        default = self._with_targets(self._plugin("normalise", step, "[normalise]"), framework, None)
        overrides = self._indicator_overrides()
        unknown = [c for c in overrides if c not in framework.indicator_codes]
        if unknown:
            raise _fail(self.source, f"[normalise.indicators] names {unknown[0]!r}, which is not an indicator of "
                                     f"the framework.")
        if not overrides:
            return default
        return PerIndicatorNormalizer(default, {
            code: self._with_targets(self._plugin("normalise", sub, f"[normalise.indicators.{code}]"), framework, code)
            for code, sub in overrides.items()})

    def _with_targets(self, norm, framework, code: str | None):
        if getattr(norm, "name", "") != "dist_to_target" or norm.targets is not None:
            return norm
        nodes = [framework.node(code)] if code else framework.indicators
        missing = [n.code for n in nodes if n.target is None]
        if missing:
            raise _fail(self.source, f"[normalise] dist_to_target needs a target for '{missing[0]}': set Target in "
                                     f"the iMeta file, 'target' in the framework, or targets = ... in the pipeline.")
        return norm.set_params(targets={n.code: n.target for n in nodes} if not code else nodes[0].target)

    def aggregators(self, framework) -> "Any":
        """One aggregator for every level, or a dict level -> aggregator."""
        step = self.steps.get("aggregate", {})
        default = self._plugin("aggregate", step, "[aggregate]")
        per_level = self._level_aggregators()
        unknown = [lvl for lvl in per_level if lvl not in framework.aggregation_levels()]
        if unknown:
            raise _fail(self.source, f"[aggregate.levels] level {unknown[0]} does not exist; the framework "
                                     f"aggregates at levels {framework.aggregation_levels()}.")
        if not per_level:
            return default
        return {lvl: (self._plugin("aggregate", per_level[lvl], f"[aggregate.levels] {lvl}") if lvl in per_level
                      else default) for lvl in framework.aggregation_levels()}

    def index_kwargs(self, framework) -> dict[str, Any]:
        """Keyword arguments of :func:`~weightlab.index.build_index` for the prepared data."""
        return {"normalizer": self.normalizer(framework), "aggregator": self.aggregators(framework),
                "imputation": "none", "skip_missing": bool(self.steps.get("aggregate", {}).get("skip_missing", True))}

    def describe(self) -> dict[str, Any]:
        """The pipeline for manifests: its file and its steps."""
        return {"file": self.source, "steps": self.to_dict()}

    # ------------------------------------------------------------------ running
    def prepare(self, dataset: Dataset, skip: Iterable[str] = (), units: "pd.Index | None" = None) -> "Prepared":
        """Apply the data steps (denominate, impute, screen, treat), skipping those in ``skip``.

        ``units``: the units the screen step keeps (instead of measuring availability), so that a
        run without the impute step screens the same units as the full pipeline.
        """
        from .denominate import denominate
        from .screening import screen
        from .treatment import imputed_counts, treat

        skip = set(skip)
        steps = {k: v for k, v in self.steps.items() if k not in skip}
        tables: dict[str, pd.DataFrame] = {"raw": dataset.values.astype(float)}
        reports: dict[str, pd.DataFrame] = {}
        current = tables["raw"]
        if "denominate" in steps:
            current, reports["denominate"] = denominate(dataset, steps["denominate"].get("indicators"))
        tables["denominated"] = current
        before_imputation = current
        if "impute" in steps:
            current = self._impute(dataset, current, steps["impute"])
            reports["impute"] = imputed_counts(before_imputation, current)
        tables["imputed"] = current
        kept = current.index
        if "screen" in steps:
            s = steps["screen"]
            measured = before_imputation if s.get("measure", "current") == "before_imputation" else current
            kept, reports["screen"] = screen(measured, float(s["threshold"]), s.get("by", "missing"), s.get("keep", ()))
            if units is not None:
                kept = current.index[current.index.isin(units)]
                reports["screen"]["kept"] = reports["screen"]["unit"].isin(kept)
            current = current.loc[kept]
        tables["screened"] = current
        if "treat" in steps:
            t = steps["treat"]
            rule = _treatment_rule(t)
            current, reports["treat"] = treat(current, t.get("method", "coinr"), t.get("indicators"), rule)
        tables["treated"] = current
        prepared = Dataset(current, dataset.framework, dataset.names.loc[kept],
                           dataset.meta.loc[kept] if not dataset.meta.empty else dataset.meta,
                           dataset.source, dataset.source_sha256, dataset.label)
        return Prepared(prepared, tables, reports)

    def _impute(self, dataset: Dataset, values: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
        from .treatment import GROUP_IMPUTATIONS, impute, impute_by_group

        method = params.get("method", "mean")
        if method in GROUP_IMPUTATIONS:
            col = params["group"]
            if col not in dataset.meta.columns:
                known = [c for c in dataset.meta.columns if c in dataset.framework.grouping_columns
                         or str(c).startswith("Group_") or str(c).lower().endswith("_group")]
                raise InputError(f"[impute] group column {col!r} is not in the data"
                                 f"{' (grouping columns: ' + ', '.join(known) + ')' if known else ''}: fix the "
                                 f"name in the pipeline.")
            groups = dataset.meta[col].astype(object).where(dataset.meta[col].astype(str).str.strip() != "")
            return impute_by_group(values, groups, method.removesuffix("_group"))
        return impute(values, method, int(params.get("n_neighbors", 5)))

    def run(self, dataset: Dataset, scheme: Any = "equal", scheme_params: dict | None = None,
            scheme_level: Any = "all", weights: Any = None) -> "Build":
        """Prepare the data, then normalise, weigh (``scheme``) and aggregate; keep every table."""
        from .index import build_index

        prep = self.prepare(dataset)
        res = build_index(prep.dataset, scheme=scheme, scheme_level=scheme_level, scheme_params=scheme_params,
                          weights=weights, **self.index_kwargs(dataset.framework))
        res.settings["imputation"] = self.impute_label()
        res.settings["pipeline"] = self.describe()
        res.settings.update(step_outcomes(prep.reports))
        fw = dataset.framework
        tables = dict(prep.tables)
        tables["normalised"] = res.normalised
        tables["aggregated"] = pd.concat([res.scores[lvl] for lvl in range(fw.n_levels, 1, -1)], axis=1)
        return Build(self, dataset, tables, prep.reports, res,
                     {"scheme": scheme, "scheme_params": scheme_params, "scheme_level": scheme_level,
                      "weights": weights})

    def impute_label(self) -> str:
        """The imputation as the settings line shows it (``mean_group(EurAsia_group)``)."""
        imp = self.steps.get("impute")
        if imp is None:
            return "none"
        method = imp.get("method", "mean")
        return f"{method}({imp['group']})" if imp.get("group") else method


@dataclass
class Prepared:
    """The data after the data steps: the dataset to normalise, the stage tables, the reports."""

    dataset: Dataset
    tables: dict[str, pd.DataFrame]
    reports: dict[str, pd.DataFrame]


@dataclass
class Build:
    """A pipeline run: every intermediate table, the step reports and the nominal index.

    Attributes
    ----------
    pipeline : Pipeline
    raw : Dataset
        The input.
    tables : dict stage -> DataFrame
        ``raw, denominated, imputed, screened, treated, normalised`` (units x indicators) and
        ``aggregated`` (units x every group score, top level first). A skipped step's stage is
        the previous stage's table; from ``screened`` on, screened-out units are gone.
    reports : dict step -> DataFrame
        ``denominate`` (indicator, denominator), ``impute`` (missing, imputed, still_missing per
        indicator), ``screen`` (availability per unit, kept), ``treat`` (the treatment table).
    result : IndexResult
    """

    pipeline: Pipeline
    raw: Dataset
    tables: dict[str, pd.DataFrame]
    reports: dict[str, pd.DataFrame]
    result: Any
    run_kwargs: dict = field(default_factory=dict)

    def dataset(self, stage: str) -> pd.DataFrame:
        """The table after a stage (see :attr:`tables`)."""
        if stage not in self.tables:
            raise ParameterError(f"Unknown stage '{stage}'; the stages are {', '.join(STAGES)}.")
        return self.tables[stage]

    def report(self, step: str) -> pd.DataFrame:
        if step not in self.reports:
            raise ParameterError(f"No report for step '{step}': the pipeline has steps "
                                 f"{', '.join(self.pipeline.steps) or 'none'} (reports for denominate, impute, "
                                 f"screen, treat).")
        return self.reports[step]

    def table(self) -> pd.DataFrame:
        """The index table (unit, name, score, rank, group scores) as :meth:`IndexResult.table`."""
        return self.result.table()

    def importance(self, **kw: Any) -> Any:
        """Importance of every member against the index and its parent (:func:`weightlab.importance`)."""
        from .importances import importance

        return importance(self, **kw)

    def with_step(self, kind: str, params: dict[str, Any] | None = None, **kw: Any) -> "Build":
        """Rebuild from the same raw data with one step replaced."""
        return self.pipeline.with_step(kind, params, **kw).run(self.raw, **self.run_kwargs)

    def without(self, *kinds: str) -> "Build":
        """Rebuild from the same raw data without some steps."""
        return self.pipeline.without(*kinds).run(self.raw, **self.run_kwargs)


def compare_builds(a: Build, b: Build) -> pd.DataFrame:
    """Per unit (of both builds): index score and rank in each build, and the rank shift (a - b)."""
    ta, tb = a.table().set_index("unit"), b.table().set_index("unit")
    units = ta.index.intersection(tb.index)
    return pd.DataFrame({"name": ta.loc[units, "name"], "score_a": ta.loc[units, "score"],
                         "score_b": tb.loc[units, "score"], "rank_a": ta.loc[units, "rank"],
                         "rank_b": tb.loc[units, "rank"],
                         "rank_shift": ta.loc[units, "rank"] - tb.loc[units, "rank"]}).reset_index()


def variant_tables(dataset: Dataset, pipeline: Pipeline, kind: str,
                   options: "list[dict[str, Any] | str | None]") -> dict[str, pd.DataFrame]:
    """The normalised matrix (units x indicators) the pipeline gives with step ``kind`` replaced by
    each option, for a robustness plan that varies treatment or imputation.

    An option is a step table (``{"method": "log1p"}``), a method name (``"coinr"``) or None /
    ``"none"`` (step removed). Keys are the option labels (``coinr``, ``log1p``, ...). Pure: the
    same inputs give the same tables. Every option keeps the units the unchanged pipeline keeps
    (its screen step decides once), so all tables have the same rows.
    """
    if kind not in ("impute", "treat", "denominate"):
        raise ParameterError(f"variant_tables varies 'impute', 'treat' or 'denominate'; got '{kind}'.")
    from .index import normalise

    units = pipeline.prepare(dataset).dataset.units
    out: dict[str, pd.DataFrame] = {}
    for opt in options:
        if opt is None or opt == "none":
            label, pipe = "none", pipeline.without(kind)
        else:
            params = {"method": opt} if isinstance(opt, str) else dict(opt)
            label = _option_label(params)
            pipe = pipeline.with_step(kind, params)
        prep = pipe.prepare(dataset, units=units)
        out[label] = normalise(prep.dataset, pipe.normalizer(dataset.framework))
    return out


def _option_label(params: dict[str, Any]) -> str:
    rest = {k: v for k, v in params.items() if k != "method"}
    name = str(params.get("method", "default"))
    return name + (f"({', '.join(f'{k}={v}' for k, v in sorted(rest.items()))})" if rest else "")


def column_roles(dataset: Dataset) -> dict[str, list[str]]:
    """The data's non-indicator columns by role (COINr iData conventions), for ``validate``.

    ``grouping``: the framework's grouping columns and columns named ``Group_*``/``*_group``;
    ``denominators``: the framework's denominator columns and every column an indicator is divided
    by; ``other``: the remaining metadata columns (e.g. ``Time``), name column excluded.
    """
    fw = dataset.framework
    meta = [str(c) for c in dataset.meta.columns]
    denoms = set(fw.denominator_columns) | {i.denominator for i in fw.indicators if i.denominator}
    grouping = [c for c in meta if c in fw.grouping_columns or c.startswith("Group_") or c.lower().endswith("_group")]
    dens = [c for c in meta if c in denoms and c not in grouping]
    names = dataset.names.astype(str).to_numpy()
    other = [c for c in meta if c not in grouping and c not in dens and c != "note"
             and not np.array_equal(dataset.meta[c].astype(str).to_numpy(), names)]
    missing = sorted((denoms | set(fw.grouping_columns)) - set(meta))
    return {"grouping": grouping, "denominators": dens, "other": other, "declared_but_absent": missing}


def load_for_cli(path: str | Path, normalizer: str = "minmax", aggregator: str = "arithmetic",
                 imputation: str = "none") -> Pipeline:
    """Read a pipeline for a CLI command, refusing --normalizer/--aggregator/--imputation values
    that the pipeline would silently override (the pipeline file is the one place for them)."""
    pipe = Pipeline.from_toml(path)
    given = {"--normalizer": (normalizer, "minmax", "normalise"),
             "--aggregator": (aggregator, "arithmetic", "aggregate"),
             "--imputation": (imputation, "none", "impute")}
    for option, (value, default, step) in given.items():
        if value != default:
            raise PipelineError(f"{option} {value} cannot be combined with --pipeline {path}: set it in the "
                                f"pipeline's [{step}] table instead.")
    return pipe


def step_outcomes(reports: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """What the data steps did, for settings and manifests: cells imputed, units screened out,
    indicators treated."""
    out: dict[str, Any] = {}
    if "impute" in reports:
        r = reports["impute"]
        out["imputed_cells"] = int(r["imputed"].sum())
        out["imputed_per_indicator"] = {k: int(v) for k, v in zip(r["indicator"], r["imputed"]) if v}
        if r["still_missing"].sum():
            out["still_missing_per_indicator"] = {k: int(v) for k, v in zip(r["indicator"], r["still_missing"]) if v}
    if "screen" in reports:
        r = reports["screen"]
        out["screened_out"] = r.loc[~r["kept"], "unit"].astype(str).tolist()
    if "treat" in reports:
        t = reports["treat"]
        out["treated"] = dict(zip(t.loc[t["transformation"] != "none", "indicator"],
                                  t.loc[t["transformation"] != "none", "transformation"]))
    return out


def pipeline_summary(settings: dict[str, Any]) -> str:
    """Lines naming the pipeline file, its steps and what they did, for the CLI's settings line."""
    described = settings.get("pipeline", {})
    steps = described.get("steps", {})
    parts = []
    for kind, params in steps.items():
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if not isinstance(v, dict))
        parts.append(f"{kind}({shown})" if shown else kind)
    lines = [f"pipeline {described.get('file') or '<dict>'}: {' -> '.join(parts) or 'no steps'}"]
    done = []
    if "imputed_cells" in settings:
        per = settings.get("imputed_per_indicator", {})
        done.append(f"{settings['imputed_cells']} cell(s) imputed"
                    + (f" ({', '.join(f'{k} {v}' for k, v in per.items())})" if per else ""))
        still = settings.get("still_missing_per_indicator", {})
        if still:
            done.append("still missing: " + ", ".join(f"{k} {v}" for k, v in still.items()))
    if "screened_out" in settings:
        out = settings["screened_out"]
        done.append(f"{len(out)} unit(s) screened out" + (f" ({', '.join(out)})" if out else ""))
    if "treated" in settings:
        done.append(f"{len(settings['treated'])} indicator(s) treated")
    if done:
        lines.append("pipeline steps: " + "; ".join(done))
    return "\n".join(lines)


def _treatment_rule(params: dict[str, Any]):
    """The coinr rule of a [treat] table (its keys other than ``method`` and ``indicators``)."""
    from .treatment import TreatmentRule

    return TreatmentRule(**{k: v for k, v in params.items() if k not in ("method", "indicators")})

