"""Progress bars for long runs: a rich bar (done, rate, ETA) in a terminal and in a notebook.

``progress_bar(total)`` is a context manager yielding a ``callback(done, total)`` for the engine's
``progress`` argument. In a terminal the bar is drawn on stderr; in Jupyter rich renders it as a
live cell output when ipywidgets is installed, else a one-line text bar is rewritten in place on
stderr; elsewhere (stderr redirected to a file, CI) it stays silent unless ``force=True``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


@contextmanager
def progress_bar(total: int | None, what: str = "replications", force: bool = False
                 ) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a progress callback ``(done, total)``, or None when there is nowhere to show a bar (and
    not ``force``). ``total`` may be None when the caller learns it with the first update."""
    notebook = _in_notebook()
    if not (force or notebook or sys.stderr.isatty()):
        yield None
        return
    if notebook and importlib.util.find_spec("ipywidgets") is None:
        yield _text_bar(what)  # rich draws in a notebook through ipywidgets only
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                               TimeRemainingColumn)

    console = Console(stderr=not notebook)
    bar = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), transient=not notebook,
                   console=console)
    task = bar.add_task(what, total=total, rate="")
    t0 = time.perf_counter()

    def update(done: int, total_now: int) -> None:
        nonlocal t0
        if done == 0:  # the engine has compiled its kernels: replications start now
            t0 = time.perf_counter()
        rate = done / max(time.perf_counter() - t0, 1e-9)
        bar.update(task, completed=done, total=total_now, rate=f"{rate:,.0f}/s")

    bar.start()
    try:
        yield update
    finally:
        bar.stop()


def _text_bar(what: str) -> Callable[[int, int], None]:
    """A one-line text bar rewritten in place with a carriage return (a notebook's stderr shows it)."""
    t0 = time.perf_counter()

    def update(done: int, total: int) -> None:
        elapsed = max(time.perf_counter() - t0, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else float("nan")
        sys.stderr.write(f"\r{what} {done:,}/{total:,} ({100 * done / max(total, 1):.0f} %), {rate:,.0f}/s, "
                         f"{'done' if done >= total else f'{eta:.0f} s left'}   ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return update
