"""What a result's ``save(dir)`` adds, when asked, to the files it wrote through
:mod:`weightlab.results`: ``report.html`` (unless ``report=False``) and the workbook of every
table, ``results.xlsx`` (when ``formats`` has "xlsx").

Importing this module loads neither matplotlib nor jinja2: the report's modules are imported only
when a report or a workbook is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..results.write import check_formats


def add_report(directory: str | Path, paths: list[Path], formats: Iterable[str] = ("csv",),
               report: bool = True) -> list[Path]:
    """``paths`` (the files a result's ``save`` wrote in ``directory``) and those of the report and
    the workbook, written here when asked."""
    xlsx = "xlsx" in check_formats(formats)
    if report:
        from .html import write_report

        return paths + write_report(directory, xlsx=xlsx)
    if xlsx:
        from ..results import load_results
        from .excel import write_results_workbook

        return paths + [write_results_workbook(load_results(directory))]
    return paths
