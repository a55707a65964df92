"""The access matrix of ``policies/`` as data, and the bookkeeping of which cells ran.

A *cell* is (file, role, operation) for a table file, and (function, role, ``execute``) for
``functions.toml``. Each cell has sides that a test must check before it counts as covered:
``allowed`` (rows in the cell's set are reachable) unless the cell is ``none``, ``denied``
(every other row is not) unless the cell is ``all``, and ``columns`` for an insert or update
cell that restricts columns. Tests mark sides only after their assertions passed, so the
count printed at the end is what actually ran.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
ROLES = ("anon", "customer", "other_customer", "vendor", "other_vendor", "admin", "service_role")
OPS = ("select", "insert", "update", "delete")
DB_ROLE = {"anon": "anon", "service_role": "service_role"}
FUNCTION_VALUES = ("none", "empty", "own", "all")


def db_role(role: str) -> str:
    """The PostgreSQL role a matrix role runs as through the Data API."""
    return DB_ROLE.get(role, "authenticated")


def parse_privileges(items: list[str]) -> dict[str, set[str] | bool]:
    """``["select", "update(a, b)"]`` -> ``{"select": True, "update": {"a", "b"}}``."""
    out: dict[str, set[str] | bool] = {}
    for item in items:
        m = re.fullmatch(r"\s*(\w+)\s*(?:\((.*)\))?\s*", item)
        if not m:
            raise ValueError(f"bad privilege {item!r}")
        priv, cols = m.group(1), m.group(2)
        out[priv] = True if cols is None else {c.strip() for c in cols.split(",")}
    return out


@dataclass(frozen=True)
class Cell:
    """What one role may do with one operation on one table: a union of named row sets."""

    names: tuple[str, ...]

    @classmethod
    def of(cls, value: str | list[str]) -> Cell:
        return cls(tuple(value) if isinstance(value, list) else (value,))

    @property
    def none(self) -> bool:
        return self.names == ("none",)

    @property
    def all(self) -> bool:
        return "all" in self.names

    def predicate(self, sets: dict[str, str], uid: str | None) -> str:
        """SQL over the table's columns selecting the cell's rows for the user ``uid``."""
        parts = []
        for name in self.names:
            if name == "all":
                parts.append("true")
            elif name == "none":
                parts.append("false")
            else:
                parts.append(f"({sets[name]})")
        text = " or ".join(parts)
        return text.replace(":uid", f"'{uid}'::uuid" if uid else "null::uuid")

    def __str__(self) -> str:
        return " | ".join(self.names)


@dataclass
class TableSpec:
    path: Path
    table: str
    migration: str
    key: list[str]
    exposed: bool
    sets: dict[str, str]
    privileges: dict[str, dict[str, set[str] | bool]]
    roles: dict[str, dict[str, Any]]

    @property
    def schema(self) -> str:
        return self.table.split(".")[0]

    @property
    def name(self) -> str:
        return self.table.split(".")[1]

    @property
    def label(self) -> str:
        return self.path.stem

    def cell(self, role: str, op: str) -> Cell:
        return Cell.of(self.roles[role][op])

    def columns(self, role: str, op: str) -> list[str] | None:
        """``insert_columns`` / ``update_columns`` of the role, or None when not restricted."""
        value = self.roles[role].get(f"{op}_columns")
        return list(value) if value is not None else None

    def privilege(self, role: str, op: str) -> set[str] | bool:
        """Columns (set) or the whole table (True) the role's database role holds ``op`` on;
        an empty set when it holds none."""
        granted = self.privileges.get(db_role(role), {}).get(op)
        if granted is None:
            return set()
        return granted

    def has_privilege(self, role: str, op: str, column: str | None = None) -> bool:
        granted = self.privilege(role, op)
        if granted is True:
            return True
        assert isinstance(granted, set)
        return bool(granted) if column is None else column in granted


@dataclass
class FunctionSpec:
    name: str
    signature: str
    execute: dict[str, str]
    sets: dict[str, str] = field(default_factory=dict)
    key: list[str] | None = None
    rows: str | None = None

    def predicate(self, role: str, uid: str | None) -> str:
        value = self.execute[role]
        if value == "all":
            return "true"
        if value in ("none", "empty"):
            return "false"
        return f"({self.sets[value]})".replace(":uid", f"'{uid}'::uuid" if uid else "null::uuid")


@dataclass
class Matrix:
    tables: dict[str, TableSpec]  # by file label (e.g. "products", "private.payment_events")
    functions: dict[str, FunctionSpec]

    @classmethod
    def load(cls, folder: Path = POLICIES) -> Matrix:
        tables: dict[str, TableSpec] = {}
        functions: dict[str, FunctionSpec] = {}
        for path in sorted(folder.glob("*.toml")):
            data = tomllib.loads(path.read_text())
            if path.name == "functions.toml":
                for name, f in data["functions"].items():
                    functions[name] = FunctionSpec(
                        name=name,
                        signature=f["signature"],
                        execute=dict(f["execute"]),
                        sets=dict(f.get("sets", {})),
                        key=f.get("key"),
                        rows=f.get("rows"),
                    )
                continue
            tables[path.stem] = TableSpec(
                path=path,
                table=data["table"],
                migration=str(data.get("migration", "")),
                key=list(data["key"]),
                exposed=bool(data["exposed"]),
                sets=dict(data.get("sets", {})),
                privileges={r: parse_privileges(v) for r, v in data.get("privileges", {}).items()},
                roles={r: dict(data[r]) for r in ROLES if r in data},
            )
        return cls(tables, functions)

    def table(self, qualified: str) -> TableSpec:
        for spec in self.tables.values():
            if spec.table == qualified:
                return spec
        raise KeyError(qualified)


MATRIX = Matrix.load()


# -- coverage -------------------------------------------------------------------------------


def required_sides(cell: Cell, restricted_columns: bool) -> set[str]:
    sides = set()
    if not cell.none:
        sides.add("allowed")
    if not cell.all:
        sides.add("denied")
    if restricted_columns and not cell.none:
        sides.add("columns")
    return sides


def function_sides(value: str) -> set[str]:
    if value == "none":
        return {"denied"}
    if value == "all":
        return {"allowed"}
    return {"allowed", "denied"}  # own, empty, a set: the call works and other rows stay out


class Coverage:
    """Which sides of which cells the tests checked (marked only after they passed)."""

    def __init__(self, matrix: Matrix) -> None:
        self.required: dict[tuple[str, str, str], set[str]] = {}
        for label, spec in matrix.tables.items():
            for role in ROLES:
                for op in OPS:
                    cols = op in ("insert", "update") and spec.columns(role, op) is not None
                    self.required[(label, role, op)] = required_sides(spec.cell(role, op), cols)
        for name, f in matrix.functions.items():
            for role in ROLES:
                self.required[(f"fn:{name}", role, "execute")] = function_sides(f.execute[role])
        self.done: dict[tuple[str, str, str], set[str]] = {k: set() for k in self.required}
        self.escalations = 0

    def mark(self, label: str, role: str, op: str, *sides: str) -> None:
        self.done[(label, role, op)].update(sides)

    @property
    def total(self) -> int:
        return len(self.required)

    def lacking(self, cell: tuple[str, str, str]) -> set[str]:
        """The sides of ``cell`` no test has checked yet."""
        return self.required[cell] - self.done[cell]

    def covered(self) -> list[tuple[str, str, str]]:
        return [k for k, need in self.required.items() if need <= self.done[k]]

    def missing(self) -> list[str]:
        out = []
        for k, need in self.required.items():
            lacking = need - self.done[k]
            if lacking:
                out.append(f"{'/'.join(k)} (missing {', '.join(sorted(lacking))})")
        return out


COVERAGE = Coverage(MATRIX)
