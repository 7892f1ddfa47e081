"""The uncertainty specification of a Monte Carlo run (TOML file or Python object).

::

    seed = 7
    reps = 1_000_000

    [weights]                  # perturbation of the weights, renormalised within each group
    perturb = "uniform"        # "uniform": w * U(1 - spread, 1 + spread) | "dirichlet" | "none"
    spread = 0.25              # uniform only, in [0, 1)
    concentration = 50.0       # dirichlet only: w ~ Dirichlet(concentration * w_group)
    levels = "all"             # or a list of member levels (1 = indicators within their groups)

    [choices]                  # one option per replication, uniformly unless probabilities are given
    normalizer = ["minmax", "zscore", "rank"]
    aggregator = ["arithmetic", {name = "geometric", shift = 0.01}]
    aggregator_per_level = false
    scheme = ["equal", "entropy", "critic", "pca"]
    scheme_levels = "all"
    imputation = ["mean", "median"]
    treatment = ["none", "coinr", {name = "coinr", winmax = 3}, "log1p"]   # after imputation
    denomination = ["none", "framework"]   # divide by the framework's denominators (COINr Denominate)
    drop_indicator = true

    [choices.probabilities]
    normalizer = [0.5, 0.25, 0.25]

    [bootstrap]
    units = false

    [sampling]
    method = "stream"          # "stream": counter-based random numbers | "sobol": scrambled Sobol' points

    [sensitivity]              # the factors of `weightlab sensitivity`
    weight_groups = "one"      # "one": all weight multipliers are one factor | "level" | "group"

    [outputs]
    quantiles = [0.05, 0.5, 0.95]
    top_k = [10, 50]

Omitted sections mean "not uncertain". The first option of each choice list is the nominal one.
The factors, their spec keys and defaults are rows of :mod:`weightlab.robustness.factors`.
Every problem is a :class:`~weightlab.errors.SpecError` naming the file and key.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._params import validate_params
from ..errors import SpecError, WeightlabError
from . import factors as F
from .noise import PERTURBATIONS, DirichletNoise, UniformNoise

CHOICE_KINDS = tuple(f.name for f in F.CHOICE_LISTS)  # the [choices] lists of options
MAX_REPS = 1 << 48  # far beyond any run (years at a million rep/s) and safe for the engine's 64-bit counters
SAMPLING_METHODS = ("stream", "sobol")
WEIGHT_GROUPS = ("one", "level", "group")


@dataclass(frozen=True)
class Option:
    """One option of a choice: a registered method name and its parameters."""

    name: str
    params: dict = field(default_factory=dict)
    kind: str = ""

    @property
    def label(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in sorted(self.params.items()))})"

    def build(self) -> Any:
        """The plug-in instance, from the registry of its factor (:attr:`factors.Factor.registry`)."""
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in self.params.items()}
        return F.registry_of(F.BY_NAME[self.kind]).get(self.name, **params)

    def to_toml(self) -> Any:
        return {"name": self.name, **self.params} if self.params else self.name


@dataclass(frozen=True)
class WeightNoise:
    perturb: str = "none"
    spread: float = 0.25
    concentration: float = 50.0
    levels: Any = "all"


def default_options(kind: str) -> tuple:
    """The default option list of a choice list: its factor's default."""
    return (Option(F.BY_NAME[kind].default, {}, kind),)


@dataclass(frozen=True)
class Choices:
    normalizer: tuple = default_options("normalizer")
    aggregator: tuple = default_options("aggregator")
    aggregator_per_level: bool = False
    scheme: tuple = default_options("scheme")
    scheme_levels: Any = "all"
    imputation: tuple = default_options("imputation")
    drop_indicator: bool = F.BY_NAME["drop_indicator"].default
    probabilities: dict = field(default_factory=dict)
    treatment: tuple = default_options("treatment")
    denomination: tuple = default_options("denomination")

    def probs(self, entry: str) -> np.ndarray:
        """Normalised drawing probabilities of the options of ``entry`` (uniform if not given)."""
        n = len(getattr(self, entry))
        p = self.probabilities.get(entry)
        p = np.ones(n) if p is None else np.asarray(p, dtype=float)
        return p / p.sum()


@dataclass(frozen=True)
class Outputs:
    quantiles: tuple = (0.05, 0.5, 0.95)
    top_k: tuple = (10, 50)


@dataclass(frozen=True)
class UncertaintySpec:
    """Which choices vary in a Monte Carlo run, and how (see the module docstring)."""

    seed: int = 0
    reps: int = 100_000
    weights: WeightNoise = WeightNoise()
    choices: Choices = Choices()
    bootstrap_units: bool = False
    outputs: Outputs = Outputs()
    source: str = ""
    sampling: str = "stream"
    weight_groups: str = "one"

    # ------------------------------------------------------------------ readers
    @classmethod
    def from_toml(cls, path: str | Path, encoding: str | None = None) -> "UncertaintySpec":
        from .._io import read_toml

        return cls.from_dict(read_toml(path, "Spec file", SpecError, encoding), source=str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], source: str = "") -> "UncertaintySpec":
        where = source or "spec"

        def fail(msg: str) -> SpecError:
            return SpecError(f"{where}: {msg}")

        def known(table: dict, allowed: tuple, section: str) -> None:
            for key in table:
                if key not in allowed:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    hint = f" Did you mean '{close[0]}'?" if close else f" Allowed: {', '.join(allowed)}."
                    raise fail(f"unknown key '{key}' in {section}.{hint}")

        def table(name: str) -> dict:
            t = doc.get(name, {})
            if not isinstance(t, dict):
                raise fail(f"[{name}] must be a table.")
            return t

        known(doc, ("seed", "reps", "weights", "choices", "bootstrap", "sampling", "sensitivity", "outputs"),
              "the top level")
        seed = doc.get("seed", 0)
        problem = seed_problem(seed)
        if problem:
            raise fail(f"seed {problem}")
        reps = doc.get("reps", 100_000)
        problem = reps_problem(reps)
        if problem:
            raise fail(f"reps {problem}")

        w = table("weights")
        known(w, ("perturb", "spread", "concentration", "levels"), "[weights]")
        perturb = w.get("perturb", "uniform" if w else "none")
        if perturb not in PERTURBATIONS:
            raise fail(f"[weights] perturb must be one of {', '.join(PERTURBATIONS.available())}; got {perturb!r}.")
        spread, conc = w.get("spread", 0.25), w.get("concentration", 50.0)
        try:  # both are checked whatever the perturbation (a spec may give both), each by its owner
            validate_params(UniformNoise(spread))
            validate_params(DirichletNoise(conc))
        except WeightlabError as exc:
            raise fail(f"[weights] {exc}") from None
        levels = _levels(w.get("levels", "all"), "[weights] levels", fail)
        noise = WeightNoise(perturb, float(spread), float(conc), levels)

        c = table("choices")
        known(c, CHOICE_KINDS + ("aggregator_per_level", "scheme_levels", "drop_indicator", "probabilities"),
              "[choices]")
        options = {kind: _options(c, kind, fail) for kind in CHOICE_KINDS}
        probs = c.get("probabilities", {})
        if not isinstance(probs, dict):
            raise fail("[choices.probabilities] must be a table.")
        known(probs, CHOICE_KINDS, "[choices.probabilities]")
        for kind, p in probs.items():
            if not isinstance(p, list) or len(p) != len(options[kind]):
                raise fail(f"[choices.probabilities] {kind} must list {len(options[kind])} numbers, one per option.")
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in p) or sum(p) <= 0:
                raise fail(f"[choices.probabilities] {kind} must be numbers >= 0 with a positive sum; got {p!r}.")
        for flag in ("aggregator_per_level", "drop_indicator"):
            if not isinstance(c.get(flag, False), bool):
                raise fail(f"[choices] {flag} must be true or false; got {c[flag]!r}.")
        choices = Choices(aggregator_per_level=c.get("aggregator_per_level", False),
                          scheme_levels=_levels(c.get("scheme_levels", "all"), "[choices] scheme_levels", fail),
                          drop_indicator=c.get("drop_indicator", False),
                          probabilities={k: tuple(float(v) for v in p) for k, p in probs.items()}, **options)

        b = table("bootstrap")
        known(b, ("units",), "[bootstrap]")
        if not isinstance(b.get("units", False), bool):
            raise fail(f"[bootstrap] units must be true or false; got {b['units']!r}.")

        o = table("outputs")
        known(o, ("quantiles", "top_k"), "[outputs]")
        qs = o.get("quantiles", [0.05, 0.5, 0.95])
        if not isinstance(qs, list) or not qs:
            raise fail("[outputs] quantiles must be a non-empty list of numbers in (0, 1).")
        for q in qs:
            if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
                raise fail(f"[outputs] quantiles must be in (0, 1); got {q!r}.")
        ks = o.get("top_k", [10, 50])
        if not isinstance(ks, list) or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
            raise fail(f"[outputs] top_k must be a list of positive integers; got {ks!r}.")
        outputs = Outputs(tuple(sorted({float(q) for q in qs})), tuple(sorted(set(ks))))

        smp = table("sampling")
        known(smp, ("method",), "[sampling]")
        method = smp.get("method", "stream")
        if method not in SAMPLING_METHODS:
            raise fail(f"[sampling] method must be one of {', '.join(SAMPLING_METHODS)}; got {method!r}.")
        sens = table("sensitivity")
        known(sens, ("weight_groups",), "[sensitivity]")
        groups = sens.get("weight_groups", "one")
        if groups not in WEIGHT_GROUPS:
            raise fail(f"[sensitivity] weight_groups must be one of {', '.join(WEIGHT_GROUPS)}; got {groups!r}.")
        return cls(seed, reps, noise, choices, b.get("units", False), outputs, source, method, groups)

    # ------------------------------------------------------------------ writers and helpers
    def to_dict(self) -> dict[str, Any]:
        """The TOML layout (``from_dict(to_dict())`` gives the same spec)."""
        ch = self.choices
        out: dict[str, Any] = {
            "seed": self.seed, "reps": self.reps,
            "weights": {"perturb": self.weights.perturb, "spread": self.weights.spread,
                        "concentration": self.weights.concentration, "levels": _toml_levels(self.weights.levels)},
            "choices": {f.name: [o.to_toml() for o in getattr(ch, f.name)] for f in F.CHOICE_LISTS
                        if F.listed(f, getattr(ch, f.name))},
            "bootstrap": {"units": self.bootstrap_units},
            "outputs": {"quantiles": list(self.outputs.quantiles), "top_k": list(self.outputs.top_k)},
            "sampling": {"method": self.sampling},
            "sensitivity": {"weight_groups": self.weight_groups},
        }
        out["choices"].update({"aggregator_per_level": ch.aggregator_per_level,
                               "scheme_levels": _toml_levels(ch.scheme_levels),
                               "drop_indicator": ch.drop_indicator})
        if ch.probabilities:
            out["choices"]["probabilities"] = {k: list(v) for k, v in ch.probabilities.items()}
        return out

    def with_overrides(self, reps: int | None = None, seed: int | None = None) -> "UncertaintySpec":
        """A copy with ``reps`` and/or ``seed`` replaced (command-line options override the file)."""
        doc = self.to_dict()
        if reps is not None:
            doc["reps"] = reps
        if seed is not None:
            doc["seed"] = seed
        return UncertaintySpec.from_dict(doc, self.source)

    def uncertain_factors(self) -> list[str]:
        """Names of the factors that actually vary, in the order of the factor table."""
        return [f.name for f in F.FACTORS if self.varies(f.name)]

    def varies(self, name: str) -> bool:
        """Whether factor ``name`` (a row of :data:`factors.FACTORS`) varies in this spec."""
        if name == "weights":
            return self.weights.perturb != "none"
        if name == "bootstrap":
            return self.bootstrap_units
        if name == "drop_indicator":
            return self.choices.drop_indicator
        return len(getattr(self.choices, name)) > 1

    def check_against(self, framework) -> None:
        """Raise SpecError when a level is deeper than ``framework`` allows."""
        top = framework.n_levels - 1
        for name, levels in (("[weights] levels", self.weights.levels),
                             ("[choices] scheme_levels", self.choices.scheme_levels)):
            if levels != "all" and any(lvl > top for lvl in levels):
                raise SpecError(f"{self.source or 'spec'}: {name} {list(levels)} goes beyond this framework's "
                                f"member levels 1..{top}.")


def seed_problem(seed: Any) -> str:
    """What is wrong with a seed ("" if nothing), worded to follow the option's name."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        return f"must be an integer in [0, 2**63); got {seed!r}."
    return ""


def reps_problem(reps: Any) -> str:
    """What is wrong with a replication count ("" if nothing), worded to follow the option's name."""
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        return f"must be a positive integer; got {reps!r}."
    if reps > MAX_REPS:
        return f"must be at most 2**48 = {MAX_REPS:,} (the engine's limit); got {reps:,}."
    return ""


def _toml_levels(levels: Any) -> Any:
    return levels if levels == "all" else list(levels)


def _levels(value: Any, name: str, fail) -> Any:
    if value == "all":
        return "all"
    if (not isinstance(value, (list, tuple)) or not value
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)):
        raise fail(f"{name} must be \"all\" or a list of positive integers; got {value!r}.")
    return tuple(sorted(set(value)))


def _options(c: dict, kind: str, fail) -> tuple:
    factor = F.BY_NAME[kind]
    raw = c.get(kind, [factor.default])
    if isinstance(raw, (str, dict)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise fail(f"[choices] {kind} must be a non-empty list of method names.")
    out = []
    for entry in raw:
        if isinstance(entry, str):
            opt = Option(entry, {}, kind)
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            opt = Option(entry["name"], {k: v for k, v in entry.items() if k != "name"}, kind)
        else:
            raise fail(f"[choices] {kind} entries must be names or tables with a 'name'; got {entry!r}.")
        if opt.params and not factor.params:
            raise fail(f"[choices] {kind} '{opt.label}': the {kind} options take no parameters; write its name.")
        try:
            validate_params(opt.build())
        except WeightlabError as exc:
            raise fail(f"[choices] {kind} '{opt.label}': {exc}") from None
        if opt in out:
            raise fail(f"[choices] {kind} lists '{opt.label}' twice.")
        out.append(opt)
    return tuple(out)


def demo_spec(reps: int = 1_000_000, seed: int = 7) -> UncertaintySpec:
    """The demo's run: weights ±25 % at all levels, 3 normalizers, 2 aggregators, 4 schemes.

    Geometric aggregation gets ``shift = 0.01`` because min-max data contain zeros and z-scores
    negative values: a member column whose minimum is <= 0 is translated to minimum 0.01.
    Missing cells are mean-imputed.
    """
    return UncertaintySpec.from_dict({
        "seed": seed, "reps": reps,
        "weights": {"perturb": "uniform", "spread": 0.25, "levels": "all"},
        "choices": {"normalizer": ["minmax", "zscore", "rank"],
                    "aggregator": ["arithmetic", {"name": "geometric", "shift": 0.01}],
                    "scheme": ["equal", "entropy", "critic", "pca"], "imputation": ["mean"]},
    }, source="demo spec")
