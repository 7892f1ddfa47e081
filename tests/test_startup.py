"""Start-up: the Monte Carlo path imports only what it uses (issue 13, "Wall time").

Each check runs in a fresh interpreter and lists which heavy modules ended up in ``sys.modules``;
re-adding an import of scikit-learn (whose ``sklearn.base`` loads scipy.stats, about a second) to a
module on the engine path makes these tests fail. The times themselves are measured by
``benchmarks/bench_engine.py``, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# imported by none of the robustness command's steps (the HTML report, written without --no-report,
# loads matplotlib and jinja2 on purpose)
NOT_ON_ENGINE_PATH = ("sklearn", "scipy.stats", "scipy.sparse", "matplotlib", "jinja2", "openpyxl", "dask",
                      "distributed")


def _loaded_after(code: str, cwd) -> list[str]:
    """Run ``code`` in a fresh interpreter; the modules of NOT_ON_ENGINE_PATH it left loaded."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted(m for m in {NOT_ON_ENGINE_PATH!r} if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_probe_sees_an_import(tmp_path):
    """The probe itself can fail: importing scikit-learn's base class shows up."""
    assert _loaded_after("import sklearn.base", tmp_path) == ["scipy.sparse", "scipy.stats", "sklearn"]


@pytest.mark.slow
def test_robustness_command_imports_no_scikit_learn_or_scipy_stats(tmp_path):
    """The whole ``weightlab robustness`` command (read, check, compile the plan, run, write)."""
    code = ("from weightlab.cli import main\n"
            "assert main(['datasets', 'export', 'ai-cities', 'in']) == 0\n"
            "assert main(['robustness', 'in/data.csv', '-f', 'in/framework.toml', '--reps', '256', '--threads', '1', "
            "'--out', 'res', '--no-report']) == 0\n")
    assert _loaded_after(code, tmp_path) == []
    assert (tmp_path / "res" / "ranks.csv").exists()


# a pipeline whose steps need neither scikit-learn nor scipy.stats (its [treat] step would compute
# skewness with scipy.stats, its knn imputation use scikit-learn): a mean imputation, a per-indicator
# normalizer (PerIndicatorNormalizer) and an aggregator
PLAIN_PIPELINE = """
[impute]
method = "mean"

[normalise]
method = "minmax"

[normalise.indicators.ai_parks]
method = "zscore"

[aggregate]
method = "arithmetic"
"""


@pytest.mark.slow
def test_robustness_with_a_pipeline_imports_no_scikit_learn_or_scipy_stats(tmp_path):
    """``weightlab robustness --pipeline``: the pipeline's steps and its robustness adapter
    (``weightlab.robustness.pipeline``), whose per-indicator normalizer once came with
    scikit-learn's base classes (and so scipy.stats)."""
    (tmp_path / "pipeline.toml").write_text(PLAIN_PIPELINE, encoding="utf-8")
    code = ("from weightlab.cli import main\n"
            "assert main(['datasets', 'export', 'ai-cities', 'in']) == 0\n"
            "assert main(['robustness', 'in/data.csv', '-f', 'in/framework.toml', '--pipeline', 'pipeline.toml', "
            "'--reps', '256', '--threads', '1', '--out', 'res', '--no-report']) == 0\n")
    assert _loaded_after(code, tmp_path) == []
    manifest = json.loads((tmp_path / "res" / "manifest.json").read_text(encoding="utf-8"))
    # the pipeline's per-indicator normalizer is the run's normalizer (the path this test guards was taken)
    assert manifest["spec"]["choices"]["normalizer"] == ["per_indicator"]


@pytest.mark.slow
def test_python_engine_path_imports_no_scikit_learn_or_scipy_stats(tmp_path):
    """The engine from Python: a spec with weights, normalizers, aggregators and data-driven schemes
    (whose plug-in classes are scikit-learn-compatible estimators) compiled and run."""
    code = ("from weightlab.datasets import load_ai_cities\n"
            "from weightlab.robustness.engine import run\n"
            "from weightlab.robustness.spec import demo_spec\n"
            "res = run(load_ai_cities(), demo_spec(reps=256), threads=1)\n"
            "assert res.manifest['reps'] == 256\n")
    assert _loaded_after(code, tmp_path) == []


def test_plugins_stay_usable_with_scikit_learn_tools():
    """The other side of the bargain: with scikit-learn imported by the user, a normalizer still
    clones, sits in a Pipeline and honours set_output (array in, DataFrame out)."""
    import numpy as np
    import pandas as pd
    from sklearn.base import clone
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    from weightlab.normalization import NORMALIZERS

    X = np.array([[1.0, 10.0], [2.0, np.nan], [4.0, 30.0]])
    pipe = make_pipeline(NORMALIZERS.get("minmax", directions=[1, -1]), SimpleImputer()).set_output(transform="pandas")
    out = pipe.fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["x0", "x1"]
    # min-max by hand: (x - min) / (max - min), the cost column reversed; the NaN imputed by the mean
    np.testing.assert_allclose(out.to_numpy(), [[0.0, 1.0], [1 / 3, 0.5], [1.0, 0.0]])
    twin = clone(pipe)
    assert twin[0].get_params() == pipe[0].get_params() and twin[0]._sklearn_output_config == {"transform": "pandas"}


@pytest.mark.parametrize("bad", [False, True], ids=["run", "bad-input"])
def test_commands_leave_garbage_collection_as_they_found_it(tmp_path, bad):
    """robustness pauses the cyclic collector while it starts: in-process callers (notebooks, tests)
    get it back enabled, whether the command ran or failed on its input, and a caller that had
    disabled it keeps it disabled."""
    import gc

    from weightlab.cli import main

    assert main(["datasets", "export", "ai-cities", str(tmp_path / "in")]) == 0
    framework = tmp_path / "in" / ("missing.toml" if bad else "framework.toml")  # read inside the paused start-up
    args = ["robustness", str(tmp_path / "in" / "data.csv"), "-f", str(framework), "--reps", "128", "--threads", "1",
            "--out", str(tmp_path / "res"), "--no-report"]
    assert gc.isenabled()
    assert main(args) == (2 if bad else 0)
    assert gc.isenabled()
    gc.disable()
    try:
        main(args[:-3] + ["--out", str(tmp_path / "res2"), "--no-report"])
        assert not gc.isenabled()
    finally:
        gc.enable()
