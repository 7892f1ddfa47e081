"""Declared parameter constraints (after scikit-learn's ``_parameter_constraints``).

A plug-in class declares ``_parameter_constraints = {"spread": [Interval(0, 1, closed="left")]}``;
:func:`validate_params` checks the instance's current parameters when ``fit`` starts and raises a
:class:`~weightlab.errors.ParameterError` of one shape everywhere::

    The 'spread' parameter of UniformWeightNoise must be in [0, 1). Got 1.7 instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from .errors import ParameterError


@dataclass(frozen=True)
class Interval:
    """Real numbers between ``low`` and ``high`` (None: unbounded); ``closed`` in both/left/right/neither."""

    low: float | None
    high: float | None
    closed: str = "both"
    integer: bool = False

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not float(value).is_integer():
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        lo_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        hi_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return lo_ok and hi_ok

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low is None and self.high is None:
            return kind
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{kind} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple

    def accepts(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class InstanceOf:
    """An instance of the given types (``None`` allowed by listing ``type(None)``)."""

    types: tuple
    label: str

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (isinstance(value, bool) and bool not in self.types)

    def describe(self) -> str:
        return self.label


NONE = InstanceOf((type(None),), "None")


def validate_params(obj: Any) -> None:
    """Check every parameter of ``obj`` against ``type(obj)._parameter_constraints``."""
    constraints: dict[str, list] = getattr(type(obj), "_parameter_constraints", {})
    for name, allowed in constraints.items():
        value = getattr(obj, name)
        if not any(c.accepts(value) for c in allowed):
            desc = " or ".join(c.describe() for c in allowed)
            raise ParameterError(
                f"The '{name}' parameter of {type(obj).__name__} must be {desc}. Got {value!r} instead."
            )


def parse_param_value(text: str) -> Any:
    """Parse one ``--param`` value: bool, int, float, comma-separated numbers (a tuple) or a string."""
    s = text.strip()
    low = s.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    if "," in s:
        parts = [parse_param_value(p) for p in s.split(",")]
        if all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts):
            return tuple(float(p) for p in parts)
        return tuple(parts)
    return s


def parse_param_strings(items: Iterable[str], option: str = "--param") -> dict[str, Any]:
    """Turn ``["n_factors=4", "range=0,100"]`` into ``{"n_factors": 4, "range": (0.0, 100.0)}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"{option} {item!r} is not of the form key=value (e.g. {option} n_factors=4).")
        if key.strip() in out:
            raise ParameterError(f"{option} {key.strip()} is given twice: give each key once.")
        out[key.strip()] = parse_param_value(value)
    return out
