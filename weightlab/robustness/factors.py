"""The uncertain factors of the Monte Carlo engine: one row each, the one place they are spelled.

Everything else derives from :data:`FACTORS`: the spec's choice lists, their defaults and
``uncertain_factors`` (:mod:`.spec`), the design columns and their stream indices (:mod:`.columns`),
the choice slots the kernels record, the plan's option tables and ``factor_options`` (:mod:`.plan`),
the factors of ``weightlab sensitivity`` (:mod:`.sensitivity`) and the columns the reference rebuild
reads (:mod:`.reference`). Numpy only (the kernels import the slot numbers).

=================  ===========  ===============  =======  ====  =====  ====
factor             kind         default          stream   slot  digit  step
=================  ===========  ===============  =======  ====  =====  ====
weights            continuous   (no noise)       64 + i
normalizer         data stage   minmax           1        1     0      3
aggregator         method       arithmetic       8 + l    2
scheme             method       equal            2        3
imputation         data stage   none             0        0     1      1
treatment          data stage   none             4        5     2      2
denomination       data stage   none             5        -     3      0
drop_indicator     method       false            3        4
bootstrap          resample     false            2**32
=================  ===========  ===============  =======  ====  =====  ====

Kinds:

- **data stage**: a discrete choice that changes the data the kernels read. The plan precomputes
  one matrix per combination of the data-stage options, each by applying the stages' plan builders
  (:attr:`Factor.build`) in the pipeline's order (``step``: denominate, impute, treat, normalise);
  the kernels select the matrix of a replication by one mixed-radix index over the stages,
  ``m = sum_f o_f * prod_{g: digit_g < digit_f} n_g`` (option ``o_f`` of ``n_f``), so they never
  name a data-stage factor. A new stage takes the next ``digit``: with one option its digit is 0,
  so every existing matrix keeps its index.
- **method**: a discrete choice the kernels apply themselves (aggregator per level, scheme,
  dropped indicator); their slots are named constants of the kernels.
- **continuous**: the weight multipliers, one column per non-root node.
- **resample**: the bootstrap of units, one column used as a key.

The first four discrete factors have a design column and a choice slot in every plan. Later ones
(``treatment``, ``denomination``) get a column only when they vary, so the rows of every other spec
are unchanged; ``treatment`` is listed (``factor_options``, the choice table, the spec's TOML) in
every plan, a factor added after it only when its options differ from its default, so a spec that
does not use it keeps every table and manifest. Columns: the always-present scalar columns by stream
index, then those that exist when their factor varies, by stream index, then the bootstrap key and
the weights (:class:`~weightlab.robustness.columns.Columns`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, NamedTuple

DATA_STAGE = "data stage"
METHOD = "method"
CONTINUOUS = "continuous"
RESAMPLE = "resample"


class StageData(NamedTuple):
    """What the data stages pass on: the data, the imputation still to apply (an Option of the
    ``imputation`` factor: ``index.normalise`` imputes unless a treatment did first) and, after the
    last stage, the normalised table (units x indicators)."""

    dataset: Any
    imputation: Any
    normalised: Any = None


class Factor(NamedTuple):
    """One uncertain factor (see the module docstring)."""

    name: str  # spec key, factor_options key, sensitivity factor
    kind: str  # DATA_STAGE, METHOD, CONTINUOUS or RESAMPLE
    key: str  # where the spec sets it
    default: Any  # option name of a choice list; False for a flag
    stream: int  # counter-based stream index of its (first) uniform (rng.py)
    slot: int = -1  # choice slot in every plan (factor_options position); -1: after them when listed, or none
    registry: str = ""  # "module:NAME" of the registry of its options (choice lists)
    params: bool = True  # whether its options take parameters
    digit: int = -1  # data stage: position in the mixed-radix matrix index (0 varies fastest)
    step: int = -1  # data stage: order of application (the pipeline's order)
    pipeline_step: str = ""  # the Pipeline step the factor replaces when it varies
    build: Callable | None = None  # data stage: plan builder (StageData, Option, where) -> StageData
    column_when_fixed: bool = False  # a design column even when it does not vary
    listed_when_fixed: bool = False  # in factor_options and the spec's TOML even at its default


# ----------------------------------------------------------------------------- plan builders of the data stages
def _denominated(data: StageData, option, where: str) -> StageData:
    """Divide the indicators by their framework denominators (:mod:`weightlab.denominate`)."""
    from ..errors import SpecError, WeightlabError

    if option.name != "none" and not any(i.denominator for i in data.dataset.framework.indicators):
        raise SpecError(f"{where}: [choices] denomination '{option.label}': the framework names no denominator "
                        f"for any indicator; give them (COINr iMeta's Denominator column, or denominator = "
                        f"\"COLUMN\" on an indicator) or remove the option.")
    try:
        return data._replace(dataset=option.build().apply(data.dataset))
    except WeightlabError as exc:
        raise SpecError(f"{where}: [choices] denomination '{option.label}': {exc}") from None


def _imputed(data: StageData, option, where: str) -> StageData:
    """The imputation to apply next (by a treatment, else by the normalisation)."""
    return data._replace(imputation=option)


def _treated(data: StageData, option, where: str) -> StageData:
    """Treatment ``none``: the data as given. Otherwise the pipeline's order: impute
    (:func:`weightlab.treatment.impute`), treat (:func:`weightlab.treatment.treat`), and nothing
    is left to impute. A treatment the data cannot take (log1p of values <= -1, boxcox of a
    constant indicator) is a SpecError naming the options."""
    from ..errors import SpecError, WeightlabError
    from ..treatment import impute, treat

    if option.name == "none":
        return data
    try:
        values, _report = treat(impute(data.dataset.values, data.imputation.name), option.build())
    except WeightlabError as exc:
        raise SpecError(f"{where}: [choices] treatment '{option.label}' after imputation "
                        f"'{data.imputation.label}': {exc}") from None
    return StageData(replace(data.dataset, values=values), replace(data.imputation, name="none", params={}))


def _normalised(data: StageData, option, where: str) -> StageData:
    """The normalised table (imputing first, :func:`weightlab.index.normalise`)."""
    from ..index import normalise

    return data._replace(normalised=normalise(data.dataset, option.build(), data.imputation.name))


FACTORS: tuple[Factor, ...] = (
    Factor("weights", CONTINUOUS, "[weights] perturb", "none", 64),
    Factor("normalizer", DATA_STAGE, "[choices] normalizer", "minmax", 1, slot=1,
           registry="weightlab.normalization:NORMALIZERS", digit=0, step=3, pipeline_step="",
           build=_normalised, column_when_fixed=True, listed_when_fixed=True),
    Factor("aggregator", METHOD, "[choices] aggregator", "arithmetic", 8, slot=2,
           registry="weightlab.aggregation:AGGREGATORS", column_when_fixed=True, listed_when_fixed=True),
    Factor("scheme", METHOD, "[choices] scheme", "equal", 2, slot=3, registry="weightlab.weighting:SCHEMES",
           column_when_fixed=True, listed_when_fixed=True),
    Factor("imputation", DATA_STAGE, "[choices] imputation", "none", 0, slot=0,
           registry="weightlab.treatment:IMPUTATIONS", params=False, digit=1, step=1, pipeline_step="impute",
           build=_imputed, column_when_fixed=True, listed_when_fixed=True),
    Factor("treatment", DATA_STAGE, "[choices] treatment", "none", 4, slot=5,
           registry="weightlab.treatment:TREATMENTS", digit=2, step=2, pipeline_step="treat", build=_treated,
           listed_when_fixed=True),
    Factor("denomination", DATA_STAGE, "[choices] denomination", "none", 5,
           registry="weightlab.denominate:DENOMINATIONS", digit=3, step=0, pipeline_step="denominate",
           build=_denominated),
    Factor("drop_indicator", METHOD, "[choices] drop_indicator", False, 3, slot=4, column_when_fixed=True,
           listed_when_fixed=True),
    Factor("bootstrap", RESAMPLE, "[bootstrap] units", False, 1 << 32),
)

BY_NAME: dict[str, Factor] = {f.name: f for f in FACTORS}
DISCRETE: tuple[Factor, ...] = tuple(f for f in FACTORS if f.kind in (DATA_STAGE, METHOD))
CHOICE_LISTS: tuple[Factor, ...] = tuple(f for f in DISCRETE if f.registry)  # the [choices] lists of options
STAGES: tuple[Factor, ...] = tuple(sorted((f for f in FACTORS if f.kind == DATA_STAGE), key=lambda f: -f.digit))
STAGES_APPLIED: tuple[Factor, ...] = tuple(sorted(STAGES, key=lambda f: f.step))
N_SLOTS = len(DISCRETE)  # width of the kernels' choice rows

# numbers the kernels read (module constants: numba compiles them in)
SLOT_AGGREGATOR = BY_NAME["aggregator"].slot
SLOT_SCHEME = BY_NAME["scheme"].slot
SLOT_DROP = BY_NAME["drop_indicator"].slot
F_AGGREGATOR = DISCRETE.index(BY_NAME["aggregator"])  # row of the plan's option tables (plan.KernelPlan.cdf)
F_SCHEME = DISCRETE.index(BY_NAME["scheme"])
F_DROP = DISCRETE.index(BY_NAME["drop_indicator"])


def registry_of(factor: Factor):
    """The registry of a choice list's options (imported when first needed)."""
    import importlib

    module, name = factor.registry.split(":")
    return getattr(importlib.import_module(module), name)


def listed(factor: Factor, options: tuple) -> bool:
    """Whether a factor with these options is listed (factor_options, choice table, TOML)."""
    return factor.listed_when_fixed or [o.to_toml() for o in options] != [factor.default]


def choice_slots(listed_names: set[str]) -> dict[str, int]:
    """Factor name -> choice slot of the listed discrete factors, in slot order: the fixed slots,
    then the other listed factors in table order."""
    out = {f.name: f.slot for f in DISCRETE if f.slot >= 0}
    nxt = len(out)
    for f in DISCRETE:
        if f.slot < 0 and f.name in listed_names:
            out[f.name] = nxt
            nxt += 1
    return dict(sorted(out.items(), key=lambda kv: kv[1]))
