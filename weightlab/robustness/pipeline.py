"""The pipeline's inputs of a Monte Carlo run (``weightlab robustness --pipeline``, ``sensitivity
--pipeline``): the data after the pipeline's steps, and the spec completed by them.

:func:`robustness_inputs` prepares the data and makes the pipeline's normalizer and aggregator the
spec's single choice, unless the spec varies them. The pipeline itself (:mod:`weightlab.pipeline`)
knows nothing of the engine.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._estimator import clone
from ..data import Dataset
from ..errors import SpecError
from ..normalization import PerIndicatorNormalizer
from ..pipeline import Pipeline, step_outcomes
from .factors import STAGES
from .spec import Choices, Option


def robustness_inputs(dataset: Dataset, spec: Any, pipeline: Pipeline) -> tuple[Dataset, Any, dict[str, Any]]:
    """The prepared dataset, the spec to give the Monte Carlo engine for a pipeline, and what the
    data steps did (:func:`~weightlab.pipeline.step_outcomes`, for the manifest).

    The spec's choices replace the pipeline step of the same kind: a spec that varies the
    imputation gets data prepared without the pipeline's impute step (the engine imputes, after
    the pipeline's treatment unless the spec varies the treatment too); one that varies the
    treatment gets them without the pipeline's treat step (the engine treats after imputing); one
    that varies the normalizer or the aggregator keeps its own lists;
    otherwise the pipeline's normalizer and aggregator become the spec's single choice.

    Raises
    ------
    SpecError
        The pipeline aggregates with different aggregators per level, or with
        ``skip_missing = false``, which the engine cannot reproduce.
    """
    default = Choices()
    ch = spec.choices
    # the engine applies the data stages the spec varies (in the pipeline's order); screen the units the
    # whole pipeline keeps
    skip = tuple(f.pipeline_step for f in STAGES if f.pipeline_step and getattr(ch, f.name) != getattr(default, f.name))
    later = [step for step in ("impute", "treat") if step in pipeline.steps and step not in skip]
    if "denominate" in skip and later:
        raise SpecError(f"Pipeline {pipeline.source}: the spec varies the denomination, which comes before the "
                        f"pipeline's [{later[0]}] step, so the engine cannot apply it in the pipeline's order: "
                        f"list the {'imputation' if later[0] == 'impute' else 'treatment'} in the spec's [choices] "
                        f"instead of the pipeline, or remove the denomination from the spec.")
    if skip:
        prep = pipeline.prepare(dataset, skip=skip, units=pipeline.prepare(dataset).dataset.units)
    else:
        prep = pipeline.prepare(dataset)
    fw = dataset.framework
    kw = pipeline.index_kwargs(fw)
    if not kw["skip_missing"]:
        raise SpecError(f"Pipeline {pipeline.source}: [aggregate] skip_missing = false is not supported by the "
                        f"robustness engine (it renormalises over the members present): remove it.")
    changes = {}
    if ch.normalizer == default.normalizer:
        changes["normalizer"] = (_option_of(kw["normalizer"], "normalizer"),)
    if ch.aggregator == default.aggregator:
        agg = kw["aggregator"]
        if isinstance(agg, dict):
            labels = {repr(a) for a in agg.values()}
            if len(labels) > 1:
                raise SpecError(f"Pipeline {pipeline.source}: [aggregate.levels] uses different aggregators per "
                                f"level, which the robustness engine cannot hold fixed: list them in the spec's "
                                f"[choices] aggregator instead, or use one aggregator.")
            agg = next(iter(agg.values()))
        changes["aggregator"] = (_option_of(agg, "aggregator"),)
    spec = replace(spec, choices=replace(ch, **changes)) if changes else spec
    return prep.dataset, spec, step_outcomes(prep.reports)


def _option_of(obj: Any, kind: str) -> Any:
    """A robustness-spec option that builds ``obj`` (registered plug-in: its name and parameters)."""
    if isinstance(obj, PerIndicatorNormalizer):
        return _ObjectOption("per_indicator", {}, kind, obj)
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in obj.get_params().items()
              if k != "directions" and v is not None}
    cls = type(obj)
    defaults = {p: v.default for p, v in inspect.signature(cls.__init__).parameters.items() if p != "self"}
    params = {k: v for k, v in params.items() if not _same(defaults.get(k, object()), v)}
    return Option(obj.name, params, kind)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(np.asarray(a, dtype=object) == np.asarray(b, dtype=object))) and np.shape(a) == np.shape(b)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class _ObjectOption(Option):
    """A robustness-spec option holding a ready normalizer (a pipeline's per-indicator normalizer)."""

    obj: Any = None

    def build(self) -> Any:
        return clone(self.obj)
