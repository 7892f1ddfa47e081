"""Framework and data validation: every failure names the input and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightlab.data import read_dataset
from weightlab.errors import FrameworkError, InputError
from weightlab.framework import Framework

BASE = {
    "index": {"code": "idx"},
    "groups": [{"code": "g1", "parent": "idx"}, {"code": "g2", "parent": "idx", "weight": 3}],
    "indicators": [{"code": "a", "parent": "g1"}, {"code": "b", "parent": "g1", "direction": -1},
                   {"code": "c", "parent": "g2"}],
}


def test_levels_weights_and_round_trip(tmp_path):
    fw = Framework.from_dict(BASE)
    assert fw.n_levels == 3 and fw.groups_at(2) == ["g1", "g2"]
    np.testing.assert_allclose(fw.effective_weights(fw.nominal_weights()).to_numpy(), [0.125, 0.125, 0.75])
    fw.to_toml(tmp_path / "fw.toml")
    again = Framework.from_toml(tmp_path / "fw.toml")
    assert again.to_dict() == fw.to_dict()


def test_round_trip_keeps_names_units_directions_and_weights(tmp_path):
    from weightlab.datasets import DATASETS, _path

    fw = Framework.from_toml(_path(DATASETS["ai-cities"]["framework"]))
    fw.to_toml(tmp_path / "fw.toml")
    again = Framework.from_toml(tmp_path / "fw.toml")
    for a, b in zip([fw.index, *fw.groups, *fw.indicators], [again.index, *again.groups, *again.indicators]):
        assert a == b  # code, parent, weight, direction, name_en, name_zh, unit
    assert fw.node("ai_firms").name_zh and fw.node("ai_firms").unit
    imeta = Framework.from_imeta(IMETA)  # COINr iMeta -> TOML -> the same hierarchy
    imeta.to_toml(tmp_path / "imeta.toml")
    assert Framework.from_toml(tmp_path / "imeta.toml").to_dict() == imeta.to_dict()


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d["indicators"].append({"code": "a", "parent": "g1"}), "appears twice"),
    (lambda d: d["indicators"][0].update(parent="nope"), "not defined"),
    (lambda d: d["indicators"][1].update(direction=2), "direction"),
    (lambda d: d["indicators"][1].update(direction=-1.5), r"'b' has direction -1\.5.*use 1"),
    (lambda d: d["indicators"][1].update(direction=True), r"'b' has direction True"),
    (lambda d: d["indicators"][0].update(weight="heavy"), r"'a' has weight 'heavy'.*number >= 0"),
    (lambda d: d.update(groups={"code": "g1", "parent": "idx"}), r"\[\[groups\]\] \(double brackets\)"),
    (lambda d: d["indicators"][0].update(weight=-1), "weight"),
    (lambda d: d["groups"].append({"code": "empty", "parent": "idx"}), "no members"),
    (lambda d: d["groups"].extend([{"code": "x", "parent": "y"}, {"code": "y", "parent": "x"}])
     or d["indicators"].append({"code": "z", "parent": "x"}), "Cycle"),
    (lambda d: d["indicators"].append({"code": "z", "parent": "idx"}), "mixes members of levels"),
    (lambda d: [i.update(weight=0) for i in d["indicators"] if i["parent"] == "g1"], "summing to 0"),
    (lambda d: d["indicators"][0].update(parent="b"), "parents must be groups"),
])
def test_framework_errors(mutate, match):
    doc = {k: [dict(e) for e in v] if isinstance(v, list) else dict(v) for k, v in BASE.items()}
    mutate(doc)
    with pytest.raises(FrameworkError, match=match):
        Framework.from_dict(doc)


def test_coinr_imeta(tmp_path):
    imeta = pd.DataFrame({
        "iCode": ["a", "b", "c", "g1", "g2", "idx", "pop"],
        "iName": ["A", "B", "C", "G1", "G2", "Index", "Population"],
        "Level": [1, 1, 1, 2, 2, 3, np.nan],
        "Parent": ["g1", "g1", "g2", "idx", "idx", np.nan, np.nan],
        "Direction": [1, -1, 1, np.nan, np.nan, np.nan, np.nan],
        "Weight": [1, 1, 1, 1, 3, np.nan, np.nan],
        "Type": ["Indicator", "Indicator", "Indicator", "Aggregate", "Aggregate", "Aggregate", "Denominator"],
    })
    imeta.to_csv(tmp_path / "iMeta.csv", index=False)
    fw = Framework.read(tmp_path / "iMeta.csv")
    assert fw.indicator_codes == ["a", "b", "c"] and fw.groups_at(2) == ["g1", "g2"]
    assert fw.node("b").direction == -1 and fw.nominal_weights()["g2"] == 0.75
    imeta.loc[0, "Level"] = 2
    imeta.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(FrameworkError, match="Level"):
        Framework.read(tmp_path / "bad.csv")


IMETA = pd.DataFrame({
    "iCode": ["a", "b", "c", "g1", "g2", "idx"], "iName": ["A", "B", "C", "G1", "G2", "Index"],
    "Level": [1, 1, 1, 2, 2, 3], "Parent": ["g1", "g1", "g2", "idx", "idx", np.nan],
    "Direction": [1, -1, 1, np.nan, np.nan, np.nan], "Weight": [1, 1, 1, 1, 3, np.nan],
    "Type": ["Indicator", "Indicator", "Indicator", "Aggregate", "Aggregate", "Aggregate"],
})


@pytest.mark.parametrize("column, value, match", [
    ("Direction", 1.5, r"'a' has direction 1\.5.*use 1 .* or -1"),
    ("Direction", "up", r"'a' has direction 'up'"),
    ("Weight", "x", r"'a' has weight 'x'"),
    ("Level", "one", r"'a' .*Level 'one'.*whole number"),
    ("Level", np.nan, r"'a' .*Level nan"),
    ("Type", "indicator", r"'a' .*Type 'indicator'.*Indicator, Aggregate"),  # not silently dropped
    ("iCode", np.nan, "without iCode"),
])
def test_imeta_bad_cells_are_framework_errors(tmp_path, column, value, match):
    imeta = IMETA.astype({column: object})
    imeta.loc[0, column] = value
    imeta.to_csv(tmp_path / "iMeta.csv", index=False)
    with pytest.raises(FrameworkError, match=match):
        Framework.read(tmp_path / "iMeta.csv")


def test_imeta_unreadable_file(tmp_path):
    (tmp_path / "iMeta.csv").write_text('iCode,Level\n"a,1\n')
    with pytest.raises(FrameworkError, match="Cannot read iMeta file"):
        Framework.read(tmp_path / "iMeta.csv")


def table() -> pd.DataFrame:
    return pd.DataFrame({"id": ["x", "y", "z"], "name": ["X", "Y", "Z"], "a": [1.0, 2.0, 3.0],
                         "b": [3.0, np.nan, 1.0], "c": [0.5, 0.1, 0.2]})


@pytest.mark.parametrize("suffix", ["csv", "parquet", "xlsx"])
def test_reads_all_formats(tmp_path, suffix):
    path = tmp_path / f"data.{suffix}"
    df = table()
    {"csv": lambda: df.to_csv(path, index=False), "parquet": lambda: df.to_parquet(path, index=False),
     "xlsx": lambda: df.to_excel(path, index=False)}[suffix]()
    ds = read_dataset(path, Framework.from_dict(BASE))
    assert ds.units.tolist() == ["x", "y", "z"] and ds.names.tolist() == ["X", "Y", "Z"]
    assert ds.values.columns.tolist() == ["a", "b", "c"]
    assert int(ds.values.isna().sum().sum()) == 1 and ds.source_sha256


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.drop(columns="c"), "lacks indicator column"),
    (lambda d: d.assign(id=["x", "x", "z"]), "appears more than once"),
    (lambda d: d.assign(id=["x", "", "z"]), "empty unit id"),
    (lambda d: d.assign(a=["1", "two", "3"]), r"'two' in column 'a', row 3"),
    (lambda d: d.assign(c=[1.0, np.inf, 2.0]), r"infinite value in column 'c', row 3"),
    (lambda d: d.assign(b=[np.nan] * 3), "has no values"),
    (lambda d: d.iloc[:1], "at least 2"),
])
def test_data_errors(tmp_path, edit, match):
    path = tmp_path / "d.csv"
    edit(table()).to_csv(path, index=False)
    with pytest.raises(InputError, match=match):
        read_dataset(path, Framework.from_dict(BASE))


def test_dataframe_ids_in_the_index_and_duplicate_columns():
    fw = Framework.from_dict(BASE)
    ds = read_dataset(table().set_index("id"), fw)  # ids in a named index are kept, not replaced by 'name'
    assert ds.units.tolist() == ["x", "y", "z"] and ds.names.tolist() == ["X", "Y", "Z"]
    again = read_dataset(ds.values, fw)  # a Dataset's own values (index named 'unit') read back
    pd.testing.assert_frame_equal(again.values, ds.values)
    filtered = table().iloc[[0, 2]]  # unnamed integer index (row numbers) is still dropped
    assert read_dataset(filtered, fw).units.tolist() == ["x", "z"]
    with pytest.raises(InputError, match="column 'a' appears more than once"):
        read_dataset(pd.concat([table(), table()[["a"]]], axis=1), fw)


def test_corrupt_excel_file_is_an_input_error(tmp_path):
    table().to_excel(tmp_path / "ok.xlsx", index=False)
    (tmp_path / "bad.xlsx").write_bytes((tmp_path / "ok.xlsx").read_bytes()[:200])
    with pytest.raises(InputError, match="Cannot read data file .*bad.xlsx"):
        read_dataset(tmp_path / "bad.xlsx", Framework.from_dict(BASE))


def test_constant_indicator_warns():
    with pytest.warns(UserWarning, match="constant"):
        read_dataset(table().assign(c=1.0), Framework.from_dict(BASE))
