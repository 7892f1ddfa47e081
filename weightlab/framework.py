"""The index hierarchy: indicators, groups, levels, directions and nominal weights.

Levels are numbered from the bottom as in COINr: indicators are level 1, the groups that hold
indicators level 2, and so on up to the index itself (the single root). Every member of a group is
one level below it, so all indicators sit at the same depth.

Nominal weights are stored as given and renormalised to sum to 1 inside each group
(:meth:`Framework.nominal_weights`). The *effective* weight of an indicator in the index is the
product of the within-group weights on its path to the root (OECD/JRC Handbook 2008, section 6).

Two input formats are read: the TOML layout of ``reference/ai_city_framework.toml`` (``[index]``,
``[[groups]]``, ``[[indicators]]``) and COINr's ``iMeta`` table (columns ``iCode, iName, Level,
Parent, Direction, Weight, Type``). :meth:`Framework.to_toml` writes the TOML layout back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .errors import FrameworkError


# COINr iMeta row types: Indicator and Aggregate rows build the hierarchy, the others are ignored.
IMETA_TYPES = ("Indicator", "Aggregate", "Group", "Denominator", "Other")


def _direction(value: Any, code: str, where: str) -> int:
    """+1 or -1 from a TOML/iMeta value (1, -1, 1.0, "+1", "-1"); anything else is a FrameworkError."""
    number = None
    if not isinstance(value, bool):
        try:
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            number = None
    if number not in (1.0, -1.0):
        raise FrameworkError(f"Indicator '{code}' has direction {value!r}{where}: use 1 (more is better) or -1 "
                             f"(less is better).")
    return int(number)


def _weight(value: Any, code: str, where: str) -> float:
    """A float weight; a non-numeric value is a FrameworkError (range checks happen in validation)."""
    if not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise FrameworkError(f"'{code}' has weight {value!r}{where}: use a number >= 0.")


@dataclass(frozen=True)
class Node:
    """One element of the hierarchy (indicator, group or the index root)."""

    code: str
    parent: str | None
    weight: float = 1.0
    direction: int = 1  # indicators only: +1 benefit, -1 cost
    name_en: str = ""
    name_zh: str = ""
    unit: str = ""
    denominator: str = ""  # indicators only: data column the indicator is divided by (COINr Denominator)
    target: float | None = None  # indicators only: target value (COINr Target; dist_to_target)


@dataclass
class Framework:
    """A validated hierarchy. Build it with :meth:`from_toml`, :meth:`from_imeta` or the constructor.

    Parameters
    ----------
    index : Node
        The root (``parent`` is None).
    groups : list of Node
        Aggregates between the indicators and the root, each with a ``parent``.
    indicators : list of Node
        Leaves, each with a ``parent`` group and a ``direction`` of +1 or -1.
    source : str, default=""
        Where the framework was read from (used in error messages and manifests).
    grouping_columns : list of str, default=[]
        Data columns that group units (COINr iMeta rows of Type "Group", e.g. ``EurAsia_group``);
        kept apart from the indicators.
    denominator_columns : list of str, default=[]
        Data columns indicators may be divided by (COINr Type "Denominator", e.g. ``GDP``).
    """

    index: Node
    groups: list[Node]
    indicators: list[Node]
    source: str = ""
    grouping_columns: list[str] = field(default_factory=list)
    denominator_columns: list[str] = field(default_factory=list)
    _children: dict[str, list[str]] = field(init=False, repr=False)
    _level: dict[str, int] = field(init=False, repr=False)
    _nodes: dict[str, Node] = field(init=False, repr=False)
    _nominal: "pd.Series | None" = field(init=False, repr=False, default=None, compare=False)

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ construction / validation
    def _where(self) -> str:
        return f" in framework {self.source}" if self.source else ""

    def _validate(self) -> None:
        where = self._where()
        nodes: dict[str, Node] = {}
        for node in [self.index, *self.groups, *self.indicators]:
            if not isinstance(node.code, str) or not node.code.strip():
                raise FrameworkError(f"Empty code{where}: every indicator and group needs a code.")
            if node.code in nodes:
                raise FrameworkError(f"Code '{node.code}' appears twice{where}: codes must be unique.")
            nodes[node.code] = node
        if self.index.parent not in (None, ""):
            raise FrameworkError(f"The index '{self.index.code}' must not have a parent{where}.")
        if not self.indicators:
            raise FrameworkError(f"No indicators{where}: add at least one indicator.")
        children: dict[str, list[str]] = {code: [] for code in nodes}
        for node in [*self.groups, *self.indicators]:
            if node.parent is None or node.parent == "":
                raise FrameworkError(
                    f"'{node.code}' has no parent{where}: give it the code of its group or of the index."
                )
            if node.parent not in nodes:
                raise FrameworkError(
                    f"'{node.code}' has parent '{node.parent}', which is not defined{where}: "
                    f"add group '{node.parent}' or fix the parent code."
                )
            if node.parent in {i.code for i in self.indicators}:
                raise FrameworkError(
                    f"'{node.code}' has indicator '{node.parent}' as parent{where}: parents must be groups."
                )
            children[node.parent].append(node.code)
        # every node reaches the root without a cycle
        for node in [*self.groups, *self.indicators]:
            seen = {node.code}
            cur = node
            while cur.parent not in (None, ""):
                if cur.parent in seen:
                    raise FrameworkError(f"Cycle through '{cur.parent}'{where}: fix the parent links.")
                seen.add(cur.parent)
                cur = nodes[cur.parent]
            if cur.code != self.index.code:
                raise FrameworkError(f"'{node.code}' does not reach the index '{self.index.code}'{where}.")
        for group in [self.index, *self.groups]:
            if not children[group.code]:
                raise FrameworkError(
                    f"Group '{group.code}' has no members{where}: remove it or give it members."
                )
        for ind in self.indicators:
            if ind.direction not in (1, -1):
                raise FrameworkError(
                    f"Indicator '{ind.code}' has direction {ind.direction!r}{where}: use 1 (more is better) "
                    f"or -1 (less is better)."
                )
        for node in [*self.groups, *self.indicators]:
            w = node.weight
            if not isinstance(w, (int, float)) or math.isnan(w) or math.isinf(w) or w < 0:
                raise FrameworkError(f"'{node.code}' has weight {w!r}{where}: weights must be finite and >= 0.")
        for group in [self.index, *self.groups]:
            if not math.isfinite(sum(nodes[c].weight for c in children[group.code])):
                raise FrameworkError(
                    f"The member weights of '{group.code}' overflow when summed{where}: weights are relative "
                    f"within a group, so scale them down (e.g. divide them all by 1e6)."
                )
            if sum(nodes[c].weight for c in children[group.code]) <= 0:
                raise FrameworkError(
                    f"The members of '{group.code}' have weights summing to 0{where}: give at least one a "
                    f"positive weight."
                )
        # levels: indicators 1, a group one above its members; all members of a group on one level
        level: dict[str, int] = {i.code: 1 for i in self.indicators}

        def lvl(code: str) -> int:
            if code not in level:
                member_levels = {lvl(c) for c in children[code]}
                if len(member_levels) > 1:
                    raise FrameworkError(
                        f"Group '{code}' mixes members of levels {sorted(member_levels)}{where}: all members "
                        f"of a group must be on one level (indicators are level 1)."
                    )
                level[code] = member_levels.pop() + 1
            return level[code]

        lvl(self.index.code)
        self._children = children
        self._level = level
        self._nodes = nodes

    # ------------------------------------------------------------------ readers and writers
    @classmethod
    def from_toml(cls, path: str | Path, encoding: str | None = None) -> "Framework":
        """Read the TOML layout (``[index]``, ``[[groups]]``, ``[[indicators]]``)."""
        from ._io import read_toml

        return cls.from_dict(read_toml(path, "Framework file", FrameworkError, encoding), source=str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], source: str = "") -> "Framework":
        """Build from the parsed TOML layout."""
        where = f" in {source}" if source else ""
        if "index" not in doc or "code" not in doc.get("index", {}):
            raise FrameworkError(f"Missing [index] table with a 'code'{where}: add [index] code = \"...\".")
        idx = doc["index"]
        index = Node(code=str(idx["code"]), parent=None, name_en=str(idx.get("name_en", idx.get("name", ""))),
                     name_zh=str(idx.get("name_zh", "")))

        def node(entry: Any, is_indicator: bool) -> Node:
            table = "indicators" if is_indicator else "groups"
            if not isinstance(entry, dict) or "code" not in entry:
                raise FrameworkError(f"An entry of [[{table}]] has no code{where}: give each entry code = \"...\".")
            code = str(entry["code"])
            direction = _direction(entry.get("direction", 1), code, where) if is_indicator else 1
            weight = _weight(entry.get("weight", 1.0), code, where)
            target = entry.get("target")
            if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))):
                raise FrameworkError(f"'{code}' has target {target!r}{where}: use a number.")
            return Node(code=code, parent=entry.get("parent"), weight=weight, direction=direction,
                        name_en=str(entry.get("name_en", entry.get("name", ""))),
                        name_zh=str(entry.get("name_zh", "")), unit=str(entry.get("unit", "")),
                        denominator=str(entry.get("denominator", "")) if is_indicator else "",
                        target=float(target) if target is not None and is_indicator else None)

        def entries(key: str) -> list:
            value = doc.get(key, [])
            if not isinstance(value, list):
                raise FrameworkError(f"'{key}'{where} must be an array of tables: write [[{key}]] (double "
                                     f"brackets) before each entry, not [{key}].")
            return value

        groups = [node(g, False) for g in entries("groups")]
        indicators = [node(i, True) for i in entries("indicators")]
        columns = {}
        for key in ("grouping_columns", "denominator_columns"):
            value = doc.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise FrameworkError(f"'{key}'{where} must be a list of column names, e.g. {key} = [\"GDP\"].")
            columns[key] = list(value)
        return cls(index=index, groups=groups, indicators=indicators, source=source, **columns)

    @classmethod
    def from_imeta(cls, table: str | Path | pd.DataFrame, encoding: str | None = None) -> "Framework":
        """Read a COINr ``iMeta`` table (CSV path or DataFrame).

        Columns ``iCode, Level, Parent, Type`` are required; ``iName, Direction, Weight, Unit,
        Target, Denominator`` optional. ``Type`` "Indicator" rows are indicators, "Aggregate" rows are
        groups (the one without a parent is the index); "Group" and "Denominator" rows name the
        data's grouping and denominator columns (:attr:`grouping_columns`,
        :attr:`denominator_columns`); "Other" rows are ignored.
        """
        source = "" if isinstance(table, pd.DataFrame) else str(table)
        where = f" in {source}" if source else ""
        if isinstance(table, pd.DataFrame):
            df = table.copy()
        else:
            import io

            from ._io import read_text

            text = read_text(table, "iMeta file", FrameworkError, encoding)
            try:
                df = pd.read_csv(io.StringIO(text), dtype={"iCode": str, "Parent": str})
            except (ValueError, OSError) as exc:
                first = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(".")
                raise FrameworkError(f"Cannot read iMeta file {table} ({first}): save it as a UTF-8 CSV with "
                                     f"columns iCode, iName, Level, Parent, Direction, Weight, Type.") from None
        missing = [c for c in ("iCode", "Level", "Parent", "Type") if c not in df.columns]
        if missing:
            raise FrameworkError(f"iMeta table{where} lacks column(s) {', '.join(missing)}: COINr iMeta needs "
                                 f"iCode, iName, Level, Parent, Direction, Weight, Type.")
        unknown = df[~df["Type"].isin(IMETA_TYPES)]
        if len(unknown):
            row = unknown.iloc[0]
            raise FrameworkError(f"iMeta row '{row['iCode']}'{where} has Type {row['Type']!r}: use one of "
                                 f"{', '.join(IMETA_TYPES)} (case-sensitive, as in COINr).")
        columns = {"grouping_columns": [str(c).strip() for c in df.loc[df["Type"] == "Group", "iCode"]],
                   "denominator_columns": [str(c).strip() for c in df.loc[df["Type"] == "Denominator", "iCode"]]}
        df = df[df["Type"].isin(["Indicator", "Aggregate"])]
        roots = df[(df["Type"] == "Aggregate") & df["Parent"].isna()]
        if len(roots) != 1:
            raise FrameworkError(f"iMeta table{where} must have exactly one Aggregate row without Parent (the "
                                 f"index); found {len(roots)}.")
        def text(row: pd.Series, col: str) -> str:
            v = row.get(col, "")
            return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

        def value(row: pd.Series, col: str, default: Any) -> Any:
            v = row.get(col, default)
            return default if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else v

        root = roots.iloc[0]
        root_code = text(root, "iCode").strip()
        index = Node(code=root_code, parent=None, name_en=text(root, "iName"))
        groups, indicators, levels = [], [], {}
        for _, row in df.iterrows():
            code = text(row, "iCode").strip()
            if not code:
                raise FrameworkError(f"iMeta table{where} has an {row['Type']} row without iCode: give every row "
                                     f"a code.")
            try:
                level = float(value(row, "Level", float("nan")))
            except (TypeError, ValueError):
                level = float("nan")
            if not level.is_integer():
                raise FrameworkError(f"iMeta row '{code}'{where} has Level {row['Level']!r}: use a whole number "
                                     f"(1 = indicators, one more for each level above).")
            levels[code] = int(level)
            if code == root_code:
                continue
            is_indicator = row["Type"] == "Indicator"
            target = value(row, "Target", None) if is_indicator else None
            try:
                target = None if target is None else float(target)
            except (TypeError, ValueError):
                raise FrameworkError(f"iMeta row '{code}'{where} has Target {target!r}: use a number or leave it "
                                     f"empty.") from None
            n = Node(code=code, parent=text(row, "Parent") or None, weight=_weight(value(row, "Weight", 1.0), code, where),
                     direction=_direction(value(row, "Direction", 1), code, where), name_en=text(row, "iName"),
                     unit=text(row, "Unit"), denominator=text(row, "Denominator").strip() if is_indicator else "",
                     target=target)
            (indicators if is_indicator else groups).append(n)
        fw = cls(index=index, groups=groups, indicators=indicators, source=source, **columns)
        for code, level in levels.items():
            if level != fw.level_of(code):
                raise FrameworkError(
                    f"iMeta row '{code}'{where} says Level {level} but its place in the "
                    f"hierarchy makes it level {fw.level_of(code)}: fix Level or Parent."
                )
        return fw

    @classmethod
    def read(cls, path: str | Path, encoding: str | None = None) -> "Framework":
        """Read TOML (``.toml``) or a COINr iMeta CSV (``.csv``); ``encoding`` defaults to UTF-8."""
        suffix = Path(path).suffix.lower()
        if suffix == ".toml":
            return cls.from_toml(path, encoding)
        if suffix == ".csv":
            return cls.from_imeta(path, encoding)
        raise FrameworkError(f"Framework file {path}: use a .toml file or a COINr iMeta .csv file.")

    def to_dict(self) -> dict[str, Any]:
        def entry(n: Node, is_indicator: bool) -> dict[str, Any]:
            d: dict[str, Any] = {"code": n.code, "parent": n.parent}
            for key in ("name_zh", "name_en", "unit"):
                if getattr(n, key):
                    d[key] = getattr(n, key)
            if is_indicator:
                d["direction"] = n.direction
                if n.denominator:
                    d["denominator"] = n.denominator
                if n.target is not None:
                    d["target"] = n.target
            d["weight"] = n.weight
            return d

        index = {"code": self.index.code}
        for key in ("name_zh", "name_en"):
            if getattr(self.index, key):
                index[key] = getattr(self.index, key)
        doc = {"index": index, "groups": [entry(g, False) for g in self.groups],
               "indicators": [entry(i, True) for i in self.indicators]}
        for key in ("grouping_columns", "denominator_columns"):
            if getattr(self, key):
                doc = {key: list(getattr(self, key)), **doc}
        return doc

    def to_toml(self, path: str | Path | None = None) -> str:
        """Return the TOML text; also write it atomically to ``path`` when given."""
        import tomli_w

        text = tomli_w.dumps(self.to_dict())
        if path is not None:
            from ._io import write_text_atomic

            write_text_atomic(path, text)
        return text

    # ------------------------------------------------------------------ queries
    @property
    def indicator_codes(self) -> list[str]:
        return [i.code for i in self.indicators]

    @property
    def n_levels(self) -> int:
        """Number of levels including indicators (1) and the index (top)."""
        return self._level[self.index.code]

    @property
    def directions(self) -> np.ndarray:
        return np.array([i.direction for i in self.indicators], dtype=np.int64)

    def node(self, code: str) -> Node:
        return self._nodes[code]

    def level_of(self, code: str) -> int:
        return self._level[code]

    def children(self, code: str) -> list[str]:
        """Members of a group, in definition order (empty for an indicator)."""
        return list(self._children[code])

    def groups_at(self, level: int) -> list[str]:
        """Codes of the aggregates at ``level`` (2 .. n_levels), in definition order."""
        return [c for c in [self.index.code] + [g.code for g in self.groups] if self._level[c] == level]

    def codes_at(self, level: int) -> list[str]:
        """Codes of every node at ``level`` (1 = indicators)."""
        if level == 1:
            return self.indicator_codes
        return self.groups_at(level)

    def aggregation_levels(self) -> list[int]:
        """Levels at which members are aggregated into groups: 2 .. n_levels."""
        return list(range(2, self.n_levels + 1))

    def ancestors(self, code: str) -> list[str]:
        """Parents of ``code`` from its own parent up to the index."""
        out = []
        cur = self._nodes[code].parent
        while cur:
            out.append(cur)
            cur = self._nodes[cur].parent
        return out

    def nominal_weights(self) -> pd.Series:
        """Weight of every non-root node inside its parent group, renormalised to sum to 1 per group."""
        if self._nominal is None:  # computed once, like the node tables (weights are fixed by validation)
            self._nominal = self._nominal_weights()
        return self._nominal.copy()

    def _nominal_weights(self) -> pd.Series:
        out = {}
        for group in [self.index.code] + [g.code for g in self.groups]:
            members = self._children[group]
            total = sum(self._nodes[c].weight for c in members)
            for c in members:
                out[c] = self._nodes[c].weight / total
        order = [n.code for n in [*self.groups, *self.indicators]]
        return pd.Series(out, dtype=float).reindex(order)

    def effective_weights(self, member_weights: pd.Series) -> pd.Series:
        """Effective weight of each indicator: product of its within-group weights up to the root."""
        out = {}
        for code in self.indicator_codes:
            w = float(member_weights[code])
            for anc in self.ancestors(code)[:-1]:
                w *= float(member_weights[anc])
            out[code] = w
        return pd.Series(out, dtype=float)

    def summary(self) -> dict[str, Any]:
        return {
            "index": self.index.code,
            "levels": self.n_levels,
            "nodes_per_level": {lvl: len(self.codes_at(lvl)) for lvl in range(1, self.n_levels + 1)},
            "indicators": len(self.indicators),
        }

    def without(self, indicators: Iterable[str]) -> "Framework":
        """A copy without the given indicators; groups left empty are removed up the tree."""
        drop = set(indicators)
        unknown = drop - set(self.indicator_codes)
        if unknown:
            raise FrameworkError(f"Cannot drop unknown indicator(s) {sorted(unknown)}.")
        inds = [i for i in self.indicators if i.code not in drop]
        groups = list(self.groups)
        while True:
            used = {n.parent for n in [*inds, *groups]}
            kept = [g for g in groups if g.code in used]
            if len(kept) == len(groups):
                break
            groups = kept
        return replace(self, indicators=inds, groups=groups)
