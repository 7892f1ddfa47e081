"""Registries of plug-ins: normalizers, weighting schemes, aggregators, imputations, treatments, denominations.

Each kind has one :class:`Registry`. A plug-in is a class registered under a short name::

    @NORMALIZERS.register("minmax")
    class MinMax(Normalizer): ...

Every name is resolved through its registry: the CLI's ``--normalizer``, ``--scheme`` and
``--aggregator``, a spec's choices and a pipeline's tables go through :meth:`Registry.get_class`, which
refuses an unknown name with the list of :meth:`Registry.available` names; the common tests
iterate ``available()``. So a new plug-in is one module plus one registration. (The CLI's help
does not list the names: the registries are imported only when a command runs.)
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

from .errors import ParameterError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> class mapping for one kind of plug-in."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator that registers ``cls`` under ``name`` and sets ``cls.name``."""

        def decorator(cls: type[T]) -> type[T]:
            if name in self._classes:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self._classes[name] = cls
            return cls

        return decorator

    def available(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._classes)

    def get_class(self, name: str) -> type[T]:
        try:
            return self._classes[name]
        except KeyError:
            raise ParameterError(
                f"Unknown {self.kind} '{name}'. Choose one of: {', '.join(self._classes)}."
            ) from None

    def get(self, name: str, **params: Any) -> T:
        """Instantiate the plug-in ``name`` with keyword parameters, checking their names."""
        cls = self.get_class(name)
        obj = cls(**_checked_kwargs(cls, name, self.kind, params))
        return obj

    def resolve(self, spec: "str | T", **params: Any) -> T:
        """Return ``spec`` itself if it is an instance, else ``get(spec, **params)``."""
        if isinstance(spec, str):
            return self.get(spec, **params)
        if params:
            raise ParameterError(f"Parameters {sorted(params)} given together with a {self.kind} object; "
                                 f"set them on the object instead.")
        return spec

    def __contains__(self, name: object) -> bool:
        return name in self._classes


def _checked_kwargs(cls: type, name: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    import inspect

    init = cls.__init__
    allowed = [] if init is object.__init__ else [p for p in inspect.signature(init).parameters if p != "self"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        hint = f"Its parameters are: {', '.join(allowed)}." if allowed else "It takes no parameters."
        raise ParameterError(f"The {kind} '{name}' has no parameter {', '.join(map(repr, unknown))}. {hint}")
    return params
