"""weightlab: build, weight and audit composite indices.

Public names are imported lazily (PEP 562), so ``import weightlab`` and ``weightlab --help`` stay
fast and never compile numba kernels. ``__version__`` is the installed distribution's version
(``importlib.metadata``), whose one source is ``version`` in ``pyproject.toml``.

>>> import weightlab as wl                                      # doctest: +SKIP
>>> ds = wl.load_ai_cities()                                    # synthetic demo data
>>> wl.build_index(ds, scheme="entropy").table().head()
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Framework": "weightlab.framework",
    "Dataset": "weightlab.data",
    "read_dataset": "weightlab.data",
    "impute": "weightlab.treatment",
    "build_index": "weightlab.index",
    "IndexResult": "weightlab.index",
    "rank_descending": "weightlab.index",
    "compare": "weightlab.compare",
    "compare_schemes": "weightlab.compare",
    "NORMALIZERS": "weightlab.normalization",
    "SCHEMES": "weightlab.weighting",
    "Weights": "weightlab.weighting",
    "AGGREGATORS": "weightlab.aggregation",
    "load_ai_cities": "weightlab.datasets",
    "load_asem": "weightlab.datasets",
    "asem_pipeline": "weightlab.datasets",
    "Pipeline": "weightlab.pipeline",
    "Build": "weightlab.pipeline",
    "compare_builds": "weightlab.pipeline",
    "treat": "weightlab.treatment",
    "analyse": "weightlab.analysis",
    "importance": "weightlab.importances",
    "ImportanceResult": "weightlab.importances",
    "UncertaintySpec": "weightlab.robustness.spec",
    "demo_spec": "weightlab.robustness.spec",
    "run_robustness": "weightlab.robustness.engine",
    "run_sensitivity": "weightlab.robustness.sensitivity",
    "evaluate_design": "weightlab.robustness.engine",
    "write_results": "weightlab.results",
    "load_results": "weightlab.results",
    "WeightlabError": "weightlab.errors",
    "InputError": "weightlab.errors",
    "FrameworkError": "weightlab.errors",
    "SpecError": "weightlab.errors",
    "ParameterError": "weightlab.errors",
}
__all__ = sorted(_EXPORTS)


def _installed_version() -> str:
    """The version of the installed ``weightlab`` distribution (the wheel's, or the editable
    install's metadata), or ``"0+unknown"`` for a source tree imported without being installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("weightlab")
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = value = _installed_version()
        return value
    if name not in _EXPORTS:
        raise AttributeError(f"module 'weightlab' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = getattr(module, {"run_robustness": "run", "evaluate_design": "evaluate"}.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
