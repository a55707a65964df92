"""Resource embedding: which foreign key joins an embedded resource to its parent.

Follows PostgREST's rules: a target is a table name, a foreign-key constraint name or an
FK column of the origin; a ``!hint`` names a constraint, an FK column (either side) or the
junction table; a self-referencing key gives the one-to-many side for the table name (or a
hint naming the FK column) and the many-to-one side for the FK column name.
"""

from __future__ import annotations

from dataclasses import dataclass

from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.schema_cache import ForeignKey, Relation, SchemaCache


@dataclass(frozen=True)
class Relationship:
    kind: str  # "m2o" | "o2m" | "o2o" | "m2m"
    origin: Relation
    target: Relation
    fk: ForeignKey  # m2o/o2o-from-child: origin → target; o2m/o2o-from-parent: target → origin;
    # m2m: junction → origin
    junction: Relation | None = None
    junction_fk: ForeignKey | None = None  # m2m: junction → target
    from_child: bool = True  # o2o: the origin holds the foreign key

    @property
    def to_one(self) -> bool:
        return self.kind in ("m2o", "o2o")

    @property
    def origin_columns(self) -> tuple[str, ...]:
        """Columns of the origin paired with ``target_columns`` (not used for m2m)."""
        if self.kind == "m2o" or (self.kind == "o2o" and self.from_child):
            return self.fk.columns
        return self.fk.ref_columns

    @property
    def target_columns(self) -> tuple[str, ...]:
        if self.kind == "m2o" or (self.kind == "o2o" and self.from_child):
            return self.fk.ref_columns
        return self.fk.columns

    def describe(self) -> dict[str, str]:
        cardinality = {"m2o": "many-to-one", "o2m": "one-to-many", "o2o": "one-to-one", "m2m": "many-to-many"}
        name = self.fk.name if self.kind != "m2m" else (self.junction.name if self.junction else "")
        embedding = f"{self.origin.name} with {self.target.name}"
        return {"cardinality": cardinality[self.kind], "embedding": embedding, "relationship": name}


def _candidates(cache: SchemaCache, origin: Relation) -> list[Relationship]:
    rels: list[Relationship] = []
    for fk in cache.foreign_keys:
        if (fk.schema, fk.table) == (origin.schema, origin.name):
            target = cache.relations.get((fk.ref_schema, fk.ref_table))
            if target is not None:
                kind = "o2o" if origin.is_unique(fk.columns) and not _is_self(fk) else "m2o"
                rels.append(Relationship(kind, origin, target, fk, from_child=True))
        if (fk.ref_schema, fk.ref_table) == (origin.schema, origin.name):
            child = cache.relations.get((fk.schema, fk.table))
            if child is not None:
                unique = child.is_unique(fk.columns) and not _is_self(fk)
                rels.append(Relationship("o2o" if unique else "o2m", origin, child, fk, from_child=False))
    # many-to-many through a junction whose primary key holds both foreign keys
    for junction in cache.relations.values():
        pk = set(junction.primary_key)
        if not pk:
            continue
        fks = [fk for fk in cache.foreign_keys if (fk.schema, fk.table) == (junction.schema, junction.name)]
        for fk1 in fks:
            if (fk1.ref_schema, fk1.ref_table) != (origin.schema, origin.name) or not set(fk1.columns) <= pk:
                continue
            for fk2 in fks:
                if fk2 is fk1 or not set(fk2.columns) <= pk:
                    continue
                target = cache.relations.get((fk2.ref_schema, fk2.ref_table))
                if target is not None:
                    rels.append(Relationship("m2m", origin, target, fk1, junction, fk2))
    return rels


def _is_self(fk: ForeignKey) -> bool:
    return (fk.schema, fk.table) == (fk.ref_schema, fk.ref_table)


def _single(cols: tuple[str, ...], name: str) -> bool:
    return len(cols) == 1 and cols[0] == name


def find_relationship(cache: SchemaCache, origin: Relation, target: str, hint: str | None) -> Relationship:
    matches: list[Relationship] = []
    for rel in _candidates(cache, origin):
        if rel.kind != "m2m" and _is_self(rel.fk):
            if hint is None:
                ok = (target == rel.target.name and rel.kind == "o2m") or (
                    rel.kind == "m2o" and _single(rel.origin_columns, target)
                )
            else:
                ok = target == rel.target.name and rel.kind == "o2m" and _single(rel.target_columns, hint)
        elif hint is None:
            ok = target == rel.target.name or (
                rel.kind != "m2m"
                and (target == rel.fk.name or _single(rel.origin_columns, target))
                and rel.target.kind != "v"
            )
        else:
            ok = target == rel.target.name and (
                (rel.kind != "m2m" and hint == rel.fk.name)
                or (rel.kind != "m2m" and (_single(rel.origin_columns, hint) or _single(rel.target_columns, hint)))
                or (rel.kind == "m2m" and rel.junction is not None and hint == rel.junction.name)
            )
        if ok:
            matches.append(rel)
    if not matches:
        hint_text = f"' using the hint '{hint}" if hint else ""
        raise ApiError(
            400,
            "PGRST200",
            f"Could not find a relationship between '{origin.name}' and '{target}' in the schema cache",
            f"Searched for a foreign key relationship between '{origin.name}' and '{target}{hint_text}' "
            f"in the schema '{origin.schema}', but no matches were found.",
        )
    if len(matches) > 1:
        details = [m.describe() for m in matches]
        options = ", ".join(f"'{target}!{d['relationship']}'" for d in details)
        error = ApiError(
            300,
            "PGRST201",
            f"Could not embed because more than one relationship was found for '{origin.name}' and '{target}'",
            None,
            f"Try changing '{target}' to one of the following: {options}. "
            "Find the desired relationship in the 'details' key.",
        )
        error.details = details  # type: ignore[assignment]
        raise error
    return matches[0]
