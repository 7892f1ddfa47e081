"""A results directory: its file names, writing it, reading it back, and its manifest.

- :mod:`.layout`: every file name of a results directory (the one place that spells them);
- :mod:`.directory`: a directory written as a whole or not at all (:class:`ResultDirectory`);
- :mod:`.write`: the files of every kind of result, each written atomically;
- :mod:`.read`: :func:`load_results`, the tables, manifests and framework of a directory;
- :mod:`.manifest`: what every ``manifest.json`` holds, and its data record.

It sits above the engine and below the report: the result objects' ``save(dir)`` write through it
(and add the report only when asked); :mod:`weightlab.report` reads what it wrote.
"""

from __future__ import annotations

from .directory import ResultDirectory
from .read import Results, load_results
from .write import save_comparison, save_index_result, save_robustness, write_results, write_sensitivity

__all__ = ["ResultDirectory", "Results", "load_results", "save_comparison", "save_index_result", "save_robustness",
           "write_results", "write_sensitivity"]
