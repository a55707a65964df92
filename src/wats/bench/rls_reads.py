"""The reads ``wats bench rls`` measures at the database, derived from the access matrix.

For every table of ``policies/`` that the Data API serves and every matrix role (anon,
customer, vendor, admin) whose ``select`` cell is not ``none``, an app reads a page: the
newest 20 rows (``select=*`` or the embedding an app asks for, ``order=…&limit=20``).

- **page**: the role reads without a filter and RLS alone narrows the rows; the service
  role reads with the explicit filter that names the same rows (the union of the cell's
  sets, written as a PostgREST filter);
- **by <column>**: for each set of the cell that is about the person (their id or their
  shop's id), the role adds that filter as an app written well does, and the service role
  reads with the same filter.

A set the bench has no PostgREST filter for stops the bench (``MissingFilter``): a new set
in the matrix must get its explicit form here. That the role and the service role read the
same rows is checked on the data before anything is timed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The matrix roles a person of the bench plays (other_customer/other_vendor are the same rules).
ROLES = ("anon", "customer", "vendor", "admin")

#: What an app selects and how it orders a page, per table (default: every column, newest
#: first; a product's images and a stream's products in their own order, as apps show them).
SELECT = {
    "orders": "id,status,total,created_at,order_items(id,product_id,title,quantity,line_total)",
    "products": "id,title,price,currency,status,created_at,product_images(storage_path,position)",
}
ORDER = {
    "categories": "position,id",
    "fulfillment_centers": "code",
    "vendor_accounts": "vendor_id",
    "livestream_products": "session_id,position,product_id",
    "livestream_reminders": "created_at.desc,session_id",
    "product_images": "product_id,position,id",
    "profiles": "created_at.desc,id",
}

#: The explicit form of each set of the matrix, as a PostgREST logic-tree term (usable inside
#: ``or=(…)``) or, for sets that need an embedded resource, as a full query-string tail.
#: ``{uid}`` is the person, ``{vendor}`` their shop (none: a value no row has).
PERSON_TERMS: dict[tuple[str, str], str] = {
    ("bnpl_orders", "own"): "customer_id.eq.{uid}",
    ("cart_items", "own"): "customer_id.eq.{uid}",
    ("carts", "own"): "customer_id.eq.{uid}",
    ("instalments", "own"): "customer_id.eq.{uid}",
    ("inventory", "own_vendor"): "vendor_id.eq.{vendor}",
    ("livestream_products", "own_vendor"): "vendor_id.eq.{vendor}",
    ("livestream_sessions", "own_vendor"): "vendor_id.eq.{vendor}",
    ("livestream_reminders", "own"): "user_id.eq.{uid}",
    ("loyalty_points", "own"): "customer_id.eq.{uid}",
    ("marketing_consents", "own"): "user_id.eq.{uid}",
    ("notifications", "own"): "user_id.eq.{uid}",
    ("order_items", "own"): "customer_id.eq.{uid}",
    ("order_items", "own_vendor"): "vendor_id.eq.{vendor}",
    ("orders", "own"): "customer_id.eq.{uid}",
    ("payments", "own"): "customer_id.eq.{uid}",
    ("product_images", "own_vendor"): "vendor_id.eq.{vendor}",
    ("products", "own_vendor"): "vendor_id.eq.{vendor}",
    ("profiles", "own"): "id.eq.{uid}",
    ("push_devices", "own"): "user_id.eq.{uid}",
    ("refunds", "own"): "customer_id.eq.{uid}",
    ("returns", "own"): "customer_id.eq.{uid}",
    ("returns", "own_vendor"): "vendor_id.eq.{vendor}",
    ("shipment_lines", "own"): "customer_id.eq.{uid}",
    ("shipment_lines", "own_vendor"): "vendor_id.eq.{vendor}",
    ("shipments", "own"): "customer_id.eq.{uid}",
    ("shipments", "own_vendor"): "vendor_ids.ov.{{{vendor}}}",
    ("vendor_accounts", "own"): "vendor_id.eq.{vendor}",
    ("vendors", "own"): "owner_id.eq.{uid}",
}

#: Sets about the public catalog, which the service role reads through the parent that
#: decides them: per set, what joins the parent to the page (``select`` items with no
#: columns, PostgREST's filter-only embedding), the filter for the set alone, and the filter
#: for the set together with the person's own rows (``{mine}``: the PostgREST term of the
#: person set). The union form narrows the row and its parent each by "public or mine":
#: (listed ∪ own) is exactly (status ok ∨ mine) ∧ (vendor approved ∨ mine), since every row
#: of mine is of my own vendor.
PUBLIC_FILTERS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("vendors", "approved"): ("", "status=eq.approved", "or=(status.eq.approved,{mine})"),
    ("fulfillment_centers", "active"): ("", "active=is.true", "active=is.true"),
    ("products", "listed"): (
        "vendors!inner()",
        "status=eq.active&vendors.status=eq.approved",
        "or=(status.eq.active,{mine})&vendors.or=(status.eq.approved,id.eq.{vendor})",
    ),
    ("product_images", "listed"): (
        "products!inner(vendors!inner())",
        "products.status=eq.active&products.vendors.status=eq.approved",
        "products.or=(status.eq.active,vendor_id.eq.{vendor})&products.vendors.or=(status.eq.approved,id.eq.{vendor})",
    ),
    ("livestream_sessions", "public"): (
        "vendors!inner()",
        "status=in.(scheduled,live)&vendors.status=eq.approved",
        "or=(status.in.(scheduled,live),{mine})&vendors.or=(status.eq.approved,id.eq.{vendor})",
    ),
    ("livestream_products", "public"): (
        "livestream_sessions!inner(vendors!inner())",
        "livestream_sessions.status=in.(scheduled,live)&livestream_sessions.vendors.status=eq.approved",
        "livestream_sessions.or=(status.in.(scheduled,live),vendor_id.eq.{vendor})"
        "&livestream_sessions.vendors.or=(status.eq.approved,id.eq.{vendor})",
    ),
}

#: A uuid no row has: the "shop" of a person without one.
NOBODY = "00000000-0000-0000-0000-000000000000"


class MissingFilter(Exception):
    """The matrix names a set the bench cannot write as an explicit filter yet."""


@dataclass(frozen=True)
class Person:
    """Who reads: their user id (None for anon), their shop (None without one), the JWT
    claims their access token carries."""

    role: str
    uid: str | None
    vendor: str | None
    claims: dict[str, Any]

    def fill(self, template: str) -> str:
        return template.format(uid=self.uid or NOBODY, vendor=self.vendor or NOBODY)


@dataclass(frozen=True)
class Read:
    """One app read of ``table`` as ``role``: the role's query string (without the person's
    filter) and the person-dependent filters each side adds."""

    table: str
    role: str
    name: str
    query: str
    role_filter: str
    service_filter: str
    service_embed: str = ""

    @property
    def relations(self) -> set[str]:
        """The table and the tables the role's select embeds."""
        select = self.query.partition("&")[0]
        return {self.table, *re.findall(r"([a-z_]+)\(", select)}

    @property
    def label(self) -> str:
        return f"{self.table} as {self.role}, {self.name}"

    def role_path(self, person: Person) -> str:
        return self._path(self.query, person.fill(self.role_filter))

    def service_path(self, person: Person) -> str:
        query = self.query
        if self.service_embed:  # the parent joined for filtering only: no columns added
            select, _, rest = query.partition("&")
            query = f"{select},{self.service_embed}&{rest}"
        return self._path(query, person.fill(self.service_filter))

    def _path(self, query: str, extra: str) -> str:
        tail = f"&{extra}" if extra else ""
        return f"/rest/v1/{self.table}?{query}{tail}"


def load_matrix(root: Path) -> dict[str, dict[str, Any]]:
    """The exposed ``public`` tables of ``policies/``, by table name."""
    tables: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "policies").glob("*.toml")):
        if path.name == "functions.toml":
            continue
        spec = tomllib.loads(path.read_text())
        schema, _, name = str(spec["table"]).partition(".")
        if schema == "public" and spec.get("exposed", True):
            tables[name] = spec
    return tables


def cell_sets(spec: dict[str, Any], role: str) -> list[str]:
    cell = spec.get(role, {}).get("select", "none")
    return [cell] if isinstance(cell, str) else list(cell)


def page_query(table: str) -> str:
    select = SELECT.get(table, "*")
    order = ORDER.get(table, "created_at.desc,id")
    return f"select={select}&order={order}&limit=20"


def service_filter(table: str, sets: list[str]) -> tuple[str, str]:
    """The service role's explicit filter naming the rows of ``sets`` (their union), and the
    parent it joins for that (filter-only embedding; empty when none)."""
    if sets == ["all"]:
        return "", ""
    public = [s for s in sets if (table, s) in PUBLIC_FILTERS]
    person = [s for s in sets if s not in public]
    for s in person:
        if (table, s) not in PERSON_TERMS:
            raise MissingFilter(f"{table}: no explicit filter for set {s!r} (add it to wats.bench.rls_reads)")
    terms = [PERSON_TERMS[(table, s)] for s in person]
    if len(public) > 1:
        raise MissingFilter(f"{table}: more than one public set in one cell: {public}")
    if public:
        embed, alone, with_mine = PUBLIC_FILTERS[(table, public[0])]
        if not terms:
            return alone, embed
        if len(terms) > 1:
            raise MissingFilter(f"{table}: a public set with more than one person set: {sets}")
        return with_mine.replace("{mine}", terms[0]), embed
    if len(terms) == 1:
        return as_param(terms[0]), ""
    return "or=(" + ",".join(terms) + ")", ""


def as_param(term: str) -> str:
    """``col.op.value`` (logic-tree form) as a query parameter ``col=op.value``."""
    column, _, rest = term.partition(".")
    return f"{column}={rest}"


def unmeasured(root: Path) -> list[str]:
    """Tables apps read whose rows the service role cannot read (no baseline to compare)."""
    return sorted(
        table
        for table, spec in load_matrix(root).items()
        if cell_sets(spec, "service_role") == ["none"] and any(cell_sets(spec, r) != ["none"] for r in ROLES)
    )


def reads_of(root: Path) -> list[Read]:
    """Every read the matrix implies (see the module)."""
    reads: list[Read] = []
    for table, spec in load_matrix(root).items():
        if cell_sets(spec, "service_role") == ["none"]:
            continue  # no baseline: the service role reads it only through functions (see unmeasured)
        for role in ROLES:
            sets = cell_sets(spec, role)
            if sets == ["none"]:
                continue
            query = page_query(table)
            explicit, embed = service_filter(table, sets)
            reads.append(Read(table, role, "page", query, "", explicit, embed))
            for s in sets:
                if (table, s) in PERSON_TERMS:
                    term = PERSON_TERMS[(table, s)]
                    column = term.partition(".")[0]
                    reads.append(Read(table, role, f"by {column}", query, as_param(term), as_param(term)))
    return reads
