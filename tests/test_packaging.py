"""Packaging: one version string everywhere, read from the installed metadata (issue 24).

``version`` in pyproject.toml is its one source; the package reads it from the installed
distribution's metadata (``importlib.metadata``), so ``weightlab.__version__``, ``weightlab
--version`` and every manifest must show that string. The wheel itself (build without warnings,
contents, a read-only install run from outside the repository) is checked by
``.ci/smoke_wheel.py``, which ``make test`` runs beside this suite.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import weightlab
from weightlab.cli import main

ROOT = Path(__file__).resolve().parent.parent


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


@pytest.fixture(scope="module")
def version() -> str:
    v = pyproject_version()
    if weightlab.__version__ != v:  # the metadata of the installed package is older than the source
        pytest.fail(f"weightlab.__version__ is {weightlab.__version__!r} but pyproject.toml says {v!r}: "
                    "reinstall the package (pip install -e .; make test does it when pyproject.toml changes)")
    return v


def test_version_is_the_installed_metadata(version):
    from importlib.metadata import version as metadata_version

    assert weightlab.__version__ == metadata_version("weightlab") == version


def test_version_option_prints_it(version, capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"weightlab {version}\n"


def test_version_option_stays_cheap(version):
    """``weightlab --version`` in a fresh interpreter prints the version without loading numba or
    scikit-learn (the program's start-up is measured by the benchmarks, not asserted here)."""
    probe = ("import sys\nfrom weightlab.cli import main\ncode = main(['--version'])\n"
             "print(code, sorted(m for m in ('numba', 'sklearn', 'matplotlib') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"weightlab {version}", "0 []"]


def test_every_manifest_records_it(version):
    """The run record that every results directory's manifest.json starts from, and the
    ``versions`` table (also written alone by ``analyse``); the smoke test reads the manifests of
    an installed wheel's demo and sensitivity runs."""
    from weightlab._io import package_versions
    from weightlab.results.manifest import run_record

    record = run_record("test")
    assert record["weightlab"]["version"] == version and record["versions"]["weightlab"] == version
    assert package_versions()["weightlab"] == version


def test_uninstalled_source_tree_says_so(monkeypatch):
    """Imported from a source tree that was never installed, the version is "0+unknown" (a PEP 440
    local version that sorts below every release), not a guess."""
    import importlib.metadata

    def not_found(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_found)
    assert weightlab._installed_version() == "0+unknown"
