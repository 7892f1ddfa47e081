"""Wheel smoke test: what a user gets from ``pip install weightlab`` (issue 24).

1. Build the sdist and the wheel (``python -m build``: the wheel is built from the sdist) from a
   copy of the source tree's tracked and new files, with ``PYTHONWARNINGS=error`` reaching the
   isolated build environment, so any setuptools deprecation fails the build; the log must not
   mention one either.
2. Check the sdist holds every tracked file under ``tests/``, ``docs/``, ``benchmarks/`` and
   ``.ci/`` and the changelog, and the wheel the datasets, the report template and the licence
   (and no tests).
3. Install the wheel into a fresh virtual environment with this environment's pip (and its cache,
   where the index's answers may be cached), the dependencies pinned to the versions of the
   environment running this script, i.e. those the test suite runs against; make the installed
   ``weightlab`` directory read-only.
4. From a directory outside the repository, as a user for whom that directory is really read-only
   (root ignores file modes: as root the commands run with every capability dropped by
   ``setpriv``, so the modes apply to them), run ``weightlab --version``, ``weightlab demo
   --reps 20000`` and ``weightlab sensitivity`` on the exported ASEM data; check the manifests'
   version, that nothing appeared in the install directory, and that numba cached the kernels in
   its user-wide directory (``~/.cache/numba``, numba's ``UserWideCacheLocator``) instead.

Run by ``make test`` beside pytest (its output goes to a log there) or alone: ``make smoke``.
Prints each stage's wall and CPU time. Exit status 0 when every check passed, else 1 with the
reason on the last line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASEM_SPEC = """seed = 3
[weights]
perturb = "uniform"
spread = 0.25
[choices]
scheme = ["equal", "entropy"]
"""
# variables that would point the fresh install at the repository or at another cache
DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "MPLCONFIGDIR",
               "PYTHONWARNINGS")


class SmokeFailure(Exception):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


class Stages:
    """Wall and CPU time (this process and its children) of each stage."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    @staticmethod
    def _cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def run(self, name: str, fn, *args, **kwargs):
        print(f"== {name}", flush=True)
        wall, cpu = time.perf_counter(), self._cpu()
        out = fn(*args, **kwargs)
        self.rows.append((name, time.perf_counter() - wall, self._cpu() - cpu))
        print(f"   {self.rows[-1][1]:.1f} s wall, {self.rows[-1][2]:.1f} s CPU", flush=True)
        return out

    def table(self) -> str:
        lines = [f"{'stage':<44} {'wall s':>8} {'CPU s':>8}"]
        lines += [f"{n:<44} {w:8.1f} {c:8.1f}" for n, w, c in self.rows]
        lines.append(f"{'total':<44} {sum(r[1] for r in self.rows):8.1f} {sum(r[2] for r in self.rows):8.1f}")
        return "\n".join(lines)


def run(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None, wrapper: list[str] = (),
        both: bool = False, echo: bool = True) -> str:
    """Run ``cmd``, echo its output (if ``echo``), fail with its last line when it fails; returns
    its standard output (and its standard error if ``both``)."""
    shown = " ".join(str(c) for c in cmd).replace("\n", "; ")
    print(f"$ {shown}", flush=True)
    done = subprocess.run([*wrapper, *map(str, cmd)], cwd=cwd, env=env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    if echo or done.returncode:
        print(output, end="" if output.endswith("\n") or not output else "\n", flush=True)
    _check(done.returncode == 0, f"'{shown}' exited with {done.returncode}: {output.strip().splitlines()[-1:]}")
    return output if both else done.stdout


def source_files() -> list[str]:
    """The tracked and new (not ignored) files of the source tree, relative to it (every file but
    the build's and the environment's outside a git checkout, e.g. in an unpacked sdist)."""
    if not (ROOT / ".git").exists():
        skip = re.compile(r"(^|/)(\.venv|build|dist|__pycache__|[^/]*\.egg-info)(/|$)")
        return sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                      if p.is_file() and not skip.search(str(p.relative_to(ROOT))))
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout
    return sorted(f for f in listed.split("\0") if f and (ROOT / f).is_file())


def copy_source(dest: Path) -> list[str]:
    """Copy the source tree's files to ``dest`` (no .venv, no stale egg-info whose file list setuptools
    would reuse, no build output)."""
    files = source_files()
    for f in files:
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest / f)
    return files


def build(src: Path, dist: Path) -> tuple[Path, Path]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}  # inherited by build's isolated backend process
    log = run([sys.executable, "-m", "build", "--outdir", dist, src], env=env, both=True)
    _check(not re.search(r"deprecat", log, re.IGNORECASE), "the build log mentions a deprecation (see above)")
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    _check(len(sdists) == 1 and len(wheels) == 1, f"expected one sdist and one wheel in {dist}")
    return sdists[0], wheels[0]


def check_contents(sdist: Path, wheel: Path, files: list[str], version: str) -> None:
    prefix = f"weightlab-{version}/"
    _check(sdist.name == f"weightlab-{version}.tar.gz", f"sdist {sdist.name} is not of version {version}")
    _check(wheel.name.startswith(f"weightlab-{version}-"), f"wheel {wheel.name} is not of version {version}")
    with tarfile.open(sdist) as tar:
        in_sdist = {m.name.removeprefix(prefix) for m in tar.getmembers() if m.isfile()}
    wanted = [f for f in files if f.startswith(("tests/", "docs/", "benchmarks/", ".ci/"))]
    wanted += ["CHANGELOG.md", "LICENSE", "README.md", "Makefile"]
    missing = sorted(set(wanted) - in_sdist)
    _check(not missing, f"the sdist lacks {len(missing)} source files, e.g. {missing[:5]} (MANIFEST.in)")
    _check(any(f.startswith("docs/") for f in wanted) and "tests/conftest.py" in in_sdist,
           "no docs sources or no tests/conftest.py to check in the sdist")
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        metadata = whl.read(f"weightlab-{version}.dist-info/METADATA").decode()
    for need in ("weightlab/datasets/ai_cities.csv", "weightlab/datasets/asem_iData.csv",
                 "weightlab/report/templates/report.html.j2", f"weightlab-{version}.dist-info/licenses/LICENSE"):
        _check(need in names, f"the wheel lacks {need}")
    _check(not any(n.startswith("tests/") for n in names), "the wheel holds the tests")
    _check(f"\nVersion: {version}\n" in metadata and "\nLicense-Expression: BSD-3-Clause\n" in metadata,
           "the wheel's METADATA lacks the version or the SPDX licence expression")
    print(f"sdist: {len(in_sdist)} files, {len(wanted)} checked; wheel: {len(names)} files")


def install(wheel: Path, venv: Path, constraints: Path) -> Path:
    """A fresh venv with the wheel installed; returns the installed package directory."""
    run([sys.executable, "-m", "venv", "--without-pip", venv])  # this pip installs into it (--python)
    pinned = run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], echo=False)
    constraints.write_text("\n".join(line for line in pinned.splitlines() if " @ " not in line) + "\n")
    run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--constraint", constraints,
         wheel])
    site = run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    package = Path(site) / "weightlab"
    _check((package / "__init__.py").is_file(), f"no weightlab package in {site}")
    return package


def listing(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in directory.rglob("*")}


def make_read_only(package: Path) -> list[str]:
    """chmod -R a-w the package; the command prefix under which that is enforced (as root: every
    capability dropped, since CAP_DAC_OVERRIDE ignores file modes)."""
    for p in [package, *package.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    _check(setpriv is not None, "running as root without setpriv (util-linux): a read-only install cannot be "
                                "enforced for root, so the read-only test would prove nothing")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"]


def user_commands(venv: Path, package: Path, work: Path, wrapper: list[str], version: str, stages: Stages) -> None:
    home = work / "home"
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    probe = ("import sys, pathlib\np = pathlib.Path(sys.argv[1]) / 'probe'\n"
             "try:\n    p.write_text('x')\nexcept PermissionError:\n    print('read-only')\n"
             "else:\n    p.unlink(); print('writable')\n")
    seen = run([venv / "bin" / "python", "-c", probe, package], cwd=work, env=env, wrapper=wrapper).strip()
    _check(seen == "read-only", f"the install directory is {seen} for the smoke commands: the test would prove nothing")
    before = listing(package)

    out = stages.run("weightlab --version", run, ["weightlab", "--version"], cwd=work, env=env, wrapper=wrapper)
    _check(out.strip() == f"weightlab {version}", f"weightlab --version printed {out.strip()!r}, not 'weightlab {version}'")
    stages.run("weightlab demo --reps 20000 (cold numba cache)", run,
               ["weightlab", "demo", "--reps", "20000", "--out", "demo"], cwd=work, env=env, wrapper=wrapper)
    _check((work / "demo" / "report.html").is_file(), "the demo wrote no report.html")

    def sensitivity() -> None:
        run(["weightlab", "datasets", "export", "asem", "asem"], cwd=work, env=env, wrapper=wrapper)
        (work / "spec.toml").write_text(ASEM_SPEC)
        run(["weightlab", "sensitivity", "asem/data.csv", "-f", "asem/framework.toml", "--pipeline",
             "asem/pipeline.toml", "--spec", "spec.toml", "--base-samples", "256", "--bootstrap", "100",
             "--out", "sens", "--no-report"], cwd=work, env=env, wrapper=wrapper)
        _check((work / "sens" / "sobol.csv").is_file(), "the sensitivity run wrote no sobol.csv")

    stages.run("weightlab sensitivity on ASEM", sensitivity)

    manifests = sorted((work / "demo").rglob("manifest.json")) + sorted((work / "sens").rglob("manifest.json"))
    _check(len(manifests) >= 4, f"expected the demo's and sensitivity's manifests, found {manifests}")
    for m in manifests:
        doc = json.loads(m.read_text())
        got = (doc.get("weightlab", {}).get("version"), doc.get("versions", {}).get("weightlab"))
        _check(got == (version, version), f"{m.relative_to(work)} records version {got}, not {version}")
    changed = sorted(set(listing(package).items()) ^ set(before.items()))
    _check(not changed, f"the commands wrote into the install directory: {[c[0] for c in changed][:5]}")
    # numba's user-wide locator: ~/.cache/numba/<dir name>_<sha1 of the source file's directory>
    robustness = package / "robustness"
    cache = home / ".cache" / "numba" / f"robustness_{hashlib.sha1(str(robustness).encode()).hexdigest()}"
    cached = sorted(p.name for p in cache.glob("*.nbi"))
    _check(len(cached) > 0, f"no numba index files in {cache}: where did the kernels' cache go?")
    print(f"install directory unchanged ({len(before)} entries); {len(cached)} kernels cached in {cache}")


def remove(work_root: Path) -> None:
    for p in work_root.rglob("*"):  # the read-only package must be writable again to be removed
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(work_root)


def main() -> int:
    stages = Stages()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    work_root = Path(tempfile.mkdtemp(prefix="weightlab-smoke-"))
    ok = False
    try:
        src, dist, venv, work = (work_root / d for d in ("src", "dist", "venv", "work"))
        files = stages.run("copy the source tree", copy_source, src)
        sdist, wheel = stages.run("build sdist and wheel (warnings as errors)", build, src, dist)
        stages.run("check the sdist's and the wheel's files", check_contents, sdist, wheel, files, version)
        package = stages.run("install the wheel into a fresh venv", install, wheel, venv, work_root / "constraints.txt")
        wrapper = make_read_only(package)
        print(f"install directory {package} made read-only; commands run as uid {os.geteuid()}"
              + (" with every capability dropped (setpriv)" if wrapper else ""))
        user_commands(venv, package, work, wrapper, version, stages)
        ok = True
    except SmokeFailure as exc:
        print(stages.table())
        print(f"wheel smoke test FAILED: {exc} (files kept in {work_root})")
        return 1
    finally:
        if ok:
            stages.run("remove the smoke test's files", remove, work_root)
    print(stages.table())
    print(f"wheel smoke test passed: weightlab {version} built, installed read-only and run from {work_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
