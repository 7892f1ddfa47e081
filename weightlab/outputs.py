"""Files that describe a nominal index in a results directory (shared by every command that writes one).

- ``scores.csv``: ``unit, name, rank`` then the score of every node (index, groups, normalised
  indicators) — :meth:`weightlab.IndexResult.scores_table`;
- ``weights.csv``: ``group, member, level, weight, effective_weight`` (with a leading ``variant``
  column when several builds are written together);
- ``framework.toml``: the hierarchy with its names, so that a results directory can be read and
  reported without the input files.

The data's label (e.g. "synthetic demo data") is recorded in the directory's ``manifest.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._io import write_table_atomic, write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

    from .index import IndexResult

NOMINAL_FILES = ("scores.csv", "weights.csv", "framework.toml")


def write_nominal(result: "IndexResult", out_dir: str | Path, weights: bool = True) -> list[Path]:
    """Write ``scores.csv``, ``weights.csv`` (unless ``weights=False``) and ``framework.toml``."""
    out_dir = Path(out_dir)
    paths = [out_dir / "scores.csv"]
    write_table_atomic(result.scores_table(), paths[0], "csv")
    if weights:
        paths.append(out_dir / "weights.csv")
        write_table_atomic(result.weights.to_frame(), paths[-1], "csv")
    paths.append(out_dir / "framework.toml")
    write_text_atomic(paths[-1], result.dataset.framework.to_toml())
    return paths


def weights_table(results: "dict[str, IndexResult]") -> "pd.DataFrame":
    """``variant`` then the :meth:`Weights.to_frame` columns, for several builds (label in ``attrs``)."""
    import pandas as pd

    frames = [res.weights.to_frame().assign(variant=name) for name, res in results.items()]
    table = pd.concat(frames, ignore_index=True)
    table = table[["variant"] + [c for c in table.columns if c != "variant"]]
    label = next(iter(results.values())).dataset.label if results else ""
    if label:
        table.attrs["label"] = label
    return table
