"""The record of a run: what went in, what ran it, and how long it took.

:func:`run_record` returns the items every ``manifest.json`` holds, from the CLI and from Python
alike:

- ``tool`` = "weightlab" and ``kind`` (which command or function wrote the directory): an existing
  output directory is replaced only when its manifest says it is an earlier weightlab result;
- ``inputs``: SHA-256 of the data file (or, for a DataFrame, of its content: unit ids, column names
  and values as float64 bytes; ``data_hash_of`` says which), of the framework file (or of its TOML
  text when it was built in Python) and of the spec file (or of its canonical JSON);
- ``command_line``: ``sys.argv`` when run from the ``weightlab`` command, else the Python entry
  point and ``None``;
- ``weightlab``: version and git commit of the source tree when it is a git checkout;
- ``versions`` of Python, numpy, pandas, scipy, scikit-learn, numba, llvmlite, pyarrow and typer;
- ``machine``: CPU model, logical CPUs, threads used and how they run (Python threads, GIL-free kernels);
- the seed, and the compile time apart from the run time (see ``robustness.engine.run``).

:func:`dataset_record` is the data's part of a results directory's manifest (label, data file,
its hash and size, framework file), the same for every kind of result.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .._io import file_sha256, package_versions
from .layout import MANIFEST

TOOL = "weightlab"


def dataframe_sha256(values: "Any", ids: "Any" = None) -> str:
    """SHA-256 of a table's content: ids, column names and the values as float64 (NaN included)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in values.columns]).encode())
    h.update(json.dumps([str(i) for i in (values.index if ids is None else ids)]).encode())
    x = values.to_numpy(dtype=float)
    rows = max(1, (1 << 20) // max(1, 8 * x.shape[1]))  # the C-order bytes, about 1 MiB at a time: no
    for r0 in range(0, x.shape[0], rows):  # copy of a large table (the digest is that of all the bytes)
        h.update(np.ascontiguousarray(x[r0:r0 + rows]))
    return h.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_file(source: str) -> bool:
    return bool(source) and Path(source).is_file()


def input_hashes(dataset: "Any" = None, spec: "Any" = None) -> dict[str, Any]:
    """Hashes of the data, framework and spec (files when they came from files, else their content)."""
    out: dict[str, Any] = {}
    if dataset is not None:
        if dataset.source_sha256:
            out.update(data=dataset.source, data_sha256=dataset.source_sha256, data_hash_of="file")
        else:
            out.update(data=dataset.source or "<DataFrame>", data_sha256=dataframe_sha256(dataset.values),
                       data_hash_of="content (unit ids, column names, float64 values)")
        fw = dataset.framework
        if _is_file(fw.source):
            out.update(framework=fw.source, framework_sha256=file_sha256(fw.source), framework_hash_of="file")
        else:
            out.update(framework=fw.source or "<Framework>", framework_sha256=text_sha256(fw.to_toml()),
                       framework_hash_of="its TOML text")
    if spec is not None:
        if _is_file(spec.source):
            out.update(spec_file=spec.source, spec_sha256=file_sha256(spec.source), spec_hash_of="file")
        else:
            out.update(spec_file=None, spec_sha256=text_sha256(json.dumps(spec.to_dict(), sort_keys=True)),
                       spec_hash_of="its canonical JSON")
    return out


_COMMAND_LINE: list[str] | None = None  # set by the CLI's entry point, for the record only


def set_command_line(argv: list[str] | None) -> None:
    """Record the command line of this process (the CLI calls it once, before running a command)."""
    global _COMMAND_LINE
    _COMMAND_LINE = None if argv is None else list(argv)


def command_line() -> list[str] | None:
    """The exact command line when weightlab runs as a command, None from Python."""
    return None if _COMMAND_LINE is None else list(_COMMAND_LINE)


def git_commit() -> str | None:
    """The commit of the source tree weightlab is imported from, when it is a git checkout."""
    root = Path(__file__).resolve().parents[2]  # weightlab/results/manifest.py -> the checkout
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    if done.returncode != 0 or not commit:
        return None
    return commit + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads: int | None = None) -> dict[str, Any]:
    import numba

    layer = "Python threads running GIL-free numba kernels (weightlab.robustness.parallel; no numba prange)"
    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
            "threads": threads if threads is not None else numba.get_num_threads(),
            "numba_max_threads": numba.config.NUMBA_NUM_THREADS, "threading_layer": layer}


def run_record(kind: str, dataset: "Any" = None, spec: "Any" = None, threads: int | None = None,
               **extra: Any) -> dict[str, Any]:
    """The common items of a manifest (see the module docstring); ``extra`` items are added last."""
    from .. import __version__

    record: dict[str, Any] = {
        "tool": TOOL, "kind": kind, "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command_line": command_line(), "python_entry": None if command_line() is not None else sys.argv[:1],
        "weightlab": {"version": __version__, "git_commit": git_commit()},
        "versions": package_versions(), "machine": machine(threads),
        "inputs": input_hashes(dataset, spec),
    }
    if spec is not None:
        record["seed"] = spec.seed
    record.update(extra)
    return record


def is_weightlab_result(directory: Path) -> bool:
    """True when ``directory/manifest.json`` says weightlab wrote the directory (also for results of
    versions before ``tool`` was recorded, whose manifests list weightlab among ``versions``)."""
    try:
        doc = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and (doc.get("tool") == TOOL
                                      or (isinstance(doc.get("versions"), dict) and TOOL in doc["versions"]))


def dataset_record(dataset: "Any") -> dict[str, Any]:
    """The data's items of a result's manifest: ``label`` (e.g. "synthetic demo data", None when
    there is none), ``data`` (source file, its SHA-256, units, indicators) and ``framework`` (its file)."""
    return {"label": dataset.label or None,
            "data": {"source": dataset.source, "sha256": dataset.source_sha256, "units": dataset.n_units,
                     "indicators": dataset.n_indicators},
            "framework": dataset.framework.source}
