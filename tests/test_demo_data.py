"""The built-in synthetic demo data: shape, calibration, and reproducibility of the generator."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from weightlab.datasets import load_ai_cities
from weightlab.datasets.generate_ai_cities import generate

HERE = Path(__file__).resolve().parents[1] / "weightlab" / "datasets"
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def _table() -> pd.DataFrame:
    return pd.read_csv(HERE / "ai_cities.csv", dtype={"unit": str})


def test_cities_and_columns():
    t = _table()
    ref = pd.read_csv(HERE / "cities_338.csv", dtype={"adcode": str})
    assert len(t) == 338 and t["unit"].is_unique
    assert t["unit"].tolist() == ref["adcode"].tolist()
    if (REFERENCE / "cities_338.csv").exists():
        shared = pd.read_csv(REFERENCE / "cities_338.csv", dtype={"adcode": str})
        assert shared["adcode"].tolist() == ref["adcode"].tolist()
    codes = [i["code"] for i in tomllib.loads((HERE / "ai_cities_framework.toml").read_text("utf-8"))["indicators"]]
    assert len(codes) == 25 and t.columns[5:].tolist() == codes


def test_report_scale_totals():
    t = _table()
    for code, target in [("ai_firms", 245_000), ("financing_events", 1_545), ("financing_amount", 2_212)]:
        assert abs(t[code].sum() / target - 1) < 0.06, code
    assert (t["unicorns"] == 0).mean() > 0.5
    assert 5 <= int(t.iloc[:, 5:].isna().sum().sum()) <= 30


def test_pyramid_with_beijing_ahead():
    """Equal-weight min-max arithmetic composite computed here with plain pandas."""
    t = _table().set_index("name")
    doc = tomllib.loads((HERE / "ai_cities_framework.toml").read_text("utf-8"))
    x = t[[i["code"] for i in doc["indicators"]]]
    x = (x - x.min()) / (x.max() - x.min())
    parent = {i["code"]: i["parent"] for i in doc["indicators"]} | {g["code"]: g["parent"] for g in doc["groups"]}
    level = x
    for _ in range(3):  # indicators -> sub-pillars -> dimensions -> index
        groups = pd.Series({c: parent[c] for c in level.columns})
        level = pd.DataFrame({g: level[list(m)].mean(axis=1) for g, m in groups.groupby(groups).groups.items()})
    score = level.iloc[:, 0].sort_values(ascending=False)
    assert score.index[0] == "Beijing"
    assert score.iloc[0] > 1.3 * score.iloc[1]
    assert {"Shenzhen", "Shanghai"} <= set(score.index[:4])
    assert score.median() < 0.3 * score.max()


def test_generator_reproduces_committed_csv():
    pd.testing.assert_frame_equal(generate(), _table(), check_dtype=False)


def test_load_labels_synthetic():
    ds = load_ai_cities()
    assert ds.n_units == 338 and ds.n_indicators == 25
    assert ds.label == "synthetic demo data"
    assert ds.names.loc["110000"] == "Beijing"
    assert np.isnan(ds.values.to_numpy()).sum() == 14


def test_every_table_built_on_the_demo_data_says_synthetic():
    from weightlab.compare import compare_schemes
    from weightlab.index import build_index

    ds = load_ai_cities()
    res = build_index(ds)
    cmp = compare_schemes(ds, ["equal", "expert"])
    for table in (res.table(), res.scores_table(), res.weights.to_frame(), cmp.table(), cmp.weights_table()):
        assert table.attrs["label"] == "synthetic demo data" and "note" not in table.columns
    for obj in (res, res.weights, cmp):  # and it is said in the short repr too
        assert "synthetic demo data" in repr(obj) and len(repr(obj)) < 300
