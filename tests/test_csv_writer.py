"""Large CSV tables go through pyarrow's writer (weightlab._io._to_csv): the file reads back to the
values pandas' own writer gives, and tables that pyarrow would write differently stay with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightlab import _io


def _table(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"unit": [f"u{i:05d}" for i in range(n)], "name": [f'N, "{i}" é' for i in range(n)],
                       "rank": rng.permutation(n) + 1})
    for j in range(8):
        df[f"x{j}"] = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    df.loc[5, "x0"] = np.nan
    df.loc[6, "x1"] = -0.0
    df.loc[7, "x2"] = 1e-05
    return df


@pytest.mark.parametrize("index", [False, True])
def test_large_table_reads_back_as_pandas_writes_it(tmp_path, monkeypatch, index):
    monkeypatch.setattr(_io, "ARROW_CSV_CELLS", 1000)
    df = _table().set_index("unit") if index else _table()
    _io.write_table_atomic(df, tmp_path / "fast.csv", "csv", index=index)
    df.to_csv(tmp_path / "pandas.csv", index=index)
    fast, ref = (pd.read_csv(tmp_path / f) for f in ("fast.csv", "pandas.csv"))
    assert (tmp_path / "fast.csv").read_bytes() != (tmp_path / "pandas.csv").read_bytes()  # pyarrow wrote it
    pd.testing.assert_frame_equal(fast, ref)
    np.testing.assert_array_equal(fast["x3"].to_numpy(), _table()["x3"].to_numpy())  # exact floats
    assert np.signbit(fast.loc[6, "x1"]) and fast.loc[7, "x2"] == 1e-05 and np.isnan(fast.loc[5, "x0"])


def test_booleans_and_small_tables_keep_pandas_text(tmp_path, monkeypatch):
    df = _table(50)
    _io.write_table_atomic(df, tmp_path / "small.csv", "csv")
    assert (tmp_path / "small.csv").read_text() == df.to_csv(index=False)
    monkeypatch.setattr(_io, "ARROW_CSV_CELLS", 10)
    df["flag"] = df["rank"] > 3  # pyarrow would write true / false
    _io.write_table_atomic(df, tmp_path / "flags.csv", "csv")
    assert (tmp_path / "flags.csv").read_text() == df.to_csv(index=False)
