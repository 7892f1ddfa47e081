"""Result directories written as a whole, or not at all.

:class:`ResultDirectory` checks the target first (before any work), then stages every file in a
temporary directory beside it (same file system) and renames the stage onto the target at the end:

- a target that does not exist, or is an empty directory, is simply created;
- an existing directory is replaced only when its ``manifest.json`` says it is an earlier weightlab
  result; any other directory, or a file, is refused (``InputError``, exit 2 from the CLI);
- on any failure or interrupt the stage is removed and the target is left as it was;
- the swap (old result aside, stage in, old result removed) runs with SIGINT and SIGTERM blocked, so
  an interrupt cannot fall between the two renames;
- the directories get the permissions ``mkdir`` would give them (0777 minus the umask).

:func:`into_directory` runs a writer either in a new ``ResultDirectory`` or in the stage (and a
subdirectory) of the caller's, so that the demo writes several results as one directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Callable

from .._io import honour_umask
from ..errors import InputError
from .manifest import is_weightlab_result


def check_target(target: str | Path) -> Path:
    """Refuse an output location that must not be replaced; return it as a Path."""
    target = Path(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise InputError(f"--out {target} exists and is not a directory: choose a directory path.")
    if target.is_dir() and any(target.iterdir()) and not is_weightlab_result(target):
        raise InputError(f"--out {target} is a non-empty directory that is not a weightlab result (no weightlab "
                         f"manifest.json): choose a new or empty directory; weightlab replaces only its own "
                         f"earlier results.")
    return target


class ResultDirectory:
    """Stage files for ``target`` and move them into place on :meth:`commit` (see module docstring).

    Use as a context manager: the stage is committed when the block ends normally and discarded
    when it raises (including KeyboardInterrupt)::

        with ResultDirectory("results") as stage:
            write_table_atomic(df, stage.path / "ranks.csv")
    """

    def __init__(self, target: str | Path) -> None:
        self.target = check_target(target)
        parent = self.target.absolute().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".partial", dir=parent))
        except OSError as exc:
            raise InputError(f"Cannot write results to {self.target}: {exc.strerror or exc}; choose another --out "
                             f"location.") from None
        try:
            honour_umask(self.path, directory=True)
        except BaseException:  # an interrupt right after the stage was made must not leave it behind
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        self.committed = False

    def __enter__(self) -> "ResultDirectory":
        return self

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def discard(self) -> None:
        """Remove the stage (idempotent)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def commit(self) -> Path:
        """Move the stage onto the target (replacing an earlier weightlab result) and return it."""
        if self.committed:
            return self.target
        old = None
        blocked = {signal.SIGINT, signal.SIGTERM}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            check_target(self.target)  # the target may have changed while the run was going on
            if self.target.exists():
                old = self.path.with_suffix(".old")
                os.replace(self.target, old)
            os.replace(self.path, self.target)
            self.committed = True
        except OSError as exc:
            if old is not None and not self.target.exists():
                os.replace(old, self.target)
                old = None
            self.discard()
            raise InputError(f"Cannot move results into {self.target}: {exc.strerror or exc}.") from None
        except BaseException:
            self.discard()
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.target


def into_directory(out_dir: "str | Path | ResultDirectory", subdir: str,
                   files: Callable[[Path, Path], list[Path]]) -> list[Path]:
    """Run ``files(where, target)`` (write into ``where``, return the final paths below ``target``) in
    a whole-directory write: a new :class:`ResultDirectory`, or the stage (and ``subdir``) of the
    caller's, which the caller commits."""
    if isinstance(out_dir, ResultDirectory):
        where = out_dir.path / subdir
        if subdir:
            where.mkdir()
            honour_umask(where, directory=True)
        return files(where, out_dir.target / subdir)
    with ResultDirectory(out_dir) as stage:
        paths = files(stage.path, stage.target)
    return paths
