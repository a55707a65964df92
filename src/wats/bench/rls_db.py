"""What RLS costs PostgreSQL itself: each read of ``rls_reads`` as the statement the Data
API runs, timed with pgbench as the role and as the service role in the same run.

Every transaction is what PostgREST sends: on a connection of ``authenticator``,
``begin read only``, one ``select set_config(…)`` of ``search_path``, ``role``,
``request.jwt.claims`` (the claims of the person's access token as Auth issues it, custom
access token hook included), ``request.method``, ``request.path``, ``request.headers`` and
``request.cookies``, then the statement the Data API's own planner renders for the request,
then ``commit``. Both sides of a read run in one pgbench run (``-M prepared``, a script per
person and side, picked at random per transaction), so they share the machine's load; the
ratio is the role's mean latency over the service role's.

The plans come from ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` of one person's statement on
each side, with the same settings: which relations they read and how (the access path), and
what the policy helpers, evaluated once per statement as init plans, cost in time and
buffers.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from supabase_standin import keys
from supabase_standin.rest import grammar
from supabase_standin.rest.execute import SETUP_SQL
from supabase_standin.rest.plan import Planner
from supabase_standin.rest.query import Params, render_select
from supabase_standin.rest.schema_cache import SchemaCache
from supabase_standin.rest.statements import wrap_response
from wats.access_tokens import issued_claims
from wats.bench.rls_reads import Person, Read
from wats.settings import Settings
from wats.stack.postgres import Cluster

# -- who reads ---------------------------------------------------------------------------------


def key_claims(settings: Settings, key: str) -> dict[str, Any]:
    return keys.verify(settings.jwt_secret, key)


def pick_people(conn: psycopg.Connection[Any], settings: Settings, clients: int) -> dict[str, list[Person]]:
    """Synthetic customers with an order history, synthetic shops' owners, the seeded admin
    and anon; raises when the synthetic dataset is missing."""
    customers = conn.execute(
        "select o.customer_id::text, p.phone from public.orders o join public.profiles p on p.id = o.customer_id "
        "where p.phone like '2556%%' and not exists (select 1 from public.vendors v where v.owner_id = p.id) "
        "group by o.customer_id, p.phone having count(*) >= 10 order by o.customer_id limit %s",
        [clients],
    ).fetchall()
    vendors = conn.execute(
        "select v.owner_id::text, p.phone, v.id::text "
        "from public.vendors v join public.profiles p on p.id = v.owner_id "
        "where v.slug like 'bench-%%' and v.status = 'approved' order by v.slug limit %s",
        [clients],
    ).fetchall()
    admin = conn.execute(
        "select id::text, phone from public.profiles where role = 'admin' order by created_at limit 1"
    ).fetchone()
    if len(customers) < clients or len(vendors) < clients or admin is None:
        raise LookupError("no synthetic dataset: build it with ./scripts/wats seed --scale 100")
    return {
        "anon": [Person("anon", None, None, key_claims(settings, settings.anon_key))],
        "customer": [Person("customer", uid, None, issued_claims(conn, uid, phone)) for uid, phone in customers],
        "vendor": [Person("vendor", uid, shop, issued_claims(conn, uid, phone)) for uid, phone, shop in vendors],
        "admin": [Person("admin", admin[0], None, issued_claims(conn, admin[0], admin[1]))],
    }


# -- statements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """A request as PostgREST sends it to PostgreSQL: the settings and the one statement,
    both with their values written in (ready for pgbench or psql)."""

    path: str
    db_role: str
    setup: str
    sql: str

    def script(self) -> str:
        text = f"begin read only;\n{self.setup};\n{self.sql};\ncommit;\n"
        stray = re.search(r"(?<!:):[A-Za-z0-9_]", text)
        if stray:  # pgbench would take it for one of its variables
            raise ValueError(f"pgbench would read a variable at {text[stray.start() : stray.start() + 20]!r}")
        return text


def role_settings(conn: psycopg.Connection[Any], role: str) -> list[tuple[str, str]]:
    """The impersonated role's settings PostgREST applies to each request (cluster-wide,
    then this database's)."""
    rows = conn.execute(
        "select unnest(s.setconfig) from pg_db_role_setting s join pg_roles r on r.oid = s.setrole "
        "where r.rolname = %s and s.setdatabase in (0, (select oid from pg_database where datname = "
        "current_database())) order by s.setdatabase",
        [role],
    ).fetchall()
    pairs = [str(item).partition("=") for (item,) in rows]
    return [(name, value) for name, _, value in pairs if "." not in name and name != "search_path"]


class Renderer:
    """The Data API's own planner and SQL renderer, over one schema cache."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.schemas = list(settings.api_config.get("schemas", ["public"]))
        self.search_path = ", ".join(f'"{s}"' for s in ["public", *settings.api_config.get("extra_search_path", [])])
        self.max_rows = settings.api_config.get("max_rows")
        self.cache = asyncio.run(self._load())

    async def _load(self) -> SchemaCache:
        async with await psycopg.AsyncConnection.connect(self.settings.db_url()) as conn:
            return await SchemaCache.load(conn, self.schemas)

    def query(self, path: str) -> tuple[str, list[Any]]:
        """The statement and its values for ``GET path`` on a table."""
        url = urllib.parse.urlsplit(path)
        pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        table = [s for s in url.path.split("/") if s][2]
        relation = self.cache.relation("public", table)
        query = grammar.parse_query(pairs)
        node = Planner(self.cache).plan(relation, relation.name, query)
        params = Params()
        source = render_select(node, relation.qualified.replace("%", "%%"), params, max_rows=self.max_rows)
        return wrap_response(source, "SELECT * FROM pgrst_source", None), params.values

    def statement(self, conn: psycopg.Connection[Any], path: str, claims: dict[str, Any]) -> Statement:
        sql, values = self.query(path)
        cursor = psycopg.ClientCursor(conn)
        role = str(claims.get("role", "anon"))
        settings = role_settings(conn, role)
        setup = cursor.mogrify(
            SETUP_SQL + "".join(", set_config(%s, %s, true)" for _ in settings),
            [
                self.search_path, role, json.dumps(claims), "GET", urllib.parse.urlsplit(path).path, "{}", "{}",
                *(item for pair in settings for item in pair),
            ],
        )  # fmt: skip
        return Statement(path, role, setup, cursor.mogrify(sql, values))


# -- same rows -----------------------------------------------------------------------------------


def body(conn: psycopg.Connection[Any], statement: Statement) -> list[Any]:
    """The JSON rows the statement answers, run with its settings and rolled back."""
    with conn.transaction(force_rollback=True):
        conn.execute(statement.setup)
        row = conn.execute(statement.sql).fetchone()
    assert row is not None
    rows: list[Any] = json.loads(row[2])
    return rows


def normalized(rows: list[Any], drop: str = "") -> list[Any]:
    """Rows in their order, embedded arrays in a canonical order (an embedding has none),
    without the member ``drop`` (a parent joined only to filter)."""

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((norm(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        return value

    return [norm({k: v for k, v in r.items() if k != drop} if isinstance(r, dict) else r) for r in rows]


# -- plans ---------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What one EXPLAIN (ANALYZE, BUFFERS) said: the access paths outside the init plans
    (``(relation or None, step)``, outermost first), the init plans' time and buffers, the
    whole statement's buffers, and how many times a policy probed a parent row (sub plans:
    a policy's own reads, not the reader's access path)."""

    steps: list[tuple[str | None, str]]
    initplans: int
    initplan_ms: float
    initplan_buffers: int
    buffers: int
    probes: int = 0

    def paths(self, relations: set[str]) -> list[str]:
        """The steps on ``relations`` and those of no relation (sorts, bitmap unions)."""
        return [step for relation, step in self.steps if relation is None or relation in relations]


def _buffers(node: dict[str, Any]) -> int:
    return int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0))


def _walk(node: dict[str, Any], plan: Plan, tables: dict[str, str]) -> None:
    kind = str(node.get("Node Type"))
    if node.get("Parent Relationship") == "InitPlan":
        plan.initplans += 1
        plan.initplan_ms += float(node.get("Actual Total Time", 0.0)) * float(node.get("Actual Loops", 1))
        plan.initplan_buffers += _buffers(node)
        return
    if node.get("Parent Relationship") == "SubPlan":  # a policy's probe of a parent, per row
        plan.probes += int(node.get("Actual Loops", 0))
        return
    ran = node.get("Actual Loops", 1) != 0
    relation = node.get("Relation Name")
    index = str(node.get("Index Name", ""))
    backward = " backward" if node.get("Scan Direction") == "Backward" else ""
    if ran and kind == "Seq Scan":
        plan.steps.append((relation, f"seq {relation}"))
    elif ran and kind in ("Index Scan", "Index Only Scan"):
        only = "-only" if kind == "Index Only Scan" else ""
        plan.steps.append((relation, f"index{only} {index}{backward}"))
    elif ran and kind == "Bitmap Heap Scan":
        plan.steps.append((relation, f"bitmap-heap {relation}"))
    elif ran and kind == "Bitmap Index Scan":
        plan.steps.append((tables.get(index), f"bitmap-index {index}"))
    elif ran and kind in ("BitmapOr", "BitmapAnd", "Sort", "Incremental Sort"):
        plan.steps.append((None, kind.lower()))
    for child in node.get("Plans", []):
        _walk(child, plan, tables)


def index_tables(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """Index name -> table name, for ``public``."""
    rows = conn.execute("select indexname, tablename from pg_indexes where schemaname = 'public'").fetchall()
    return {str(i): str(t) for i, t in rows}


def explain(conn: psycopg.Connection[Any], statement: Statement, tables: dict[str, str]) -> Plan:
    with conn.transaction(force_rollback=True):
        conn.execute(statement.setup)
        # warm, as a busy server is (catalogs, helpers compiled); a slow statement once is enough
        try:
            with conn.transaction():
                conn.execute("set local statement_timeout = '1s'")
                conn.execute(statement.sql)
        except psycopg.errors.QueryCanceled:
            pass
        conn.execute("set local statement_timeout = 0")
        row = conn.execute(f"explain (analyze, buffers, format json) {statement.sql}").fetchone()
    assert row is not None
    top = row[0][0]["Plan"]
    plan = Plan([], 0, 0.0, 0, _buffers(top))
    _walk(top, plan, tables)
    return plan


# -- pgbench -------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Mean latency and transactions of one side of a pgbench run (``timed_out``: its
    statements ran past the roles' statement_timeout, as they would on Supabase)."""

    latency_ms: float
    transactions: int
    failed: int
    timed_out: bool = False


class TimedOut(Exception):
    """pgbench stopped: a statement ran past the statement_timeout."""


def pgbench(settings: Settings, scripts: list[tuple[str, str]], clients: int, seconds: float) -> dict[str, Timing]:
    """Run ``scripts`` ((side, text) pairs, equal weights) together as ``authenticator``;
    the mean latency of each side over all its scripts."""
    bindir = Cluster(settings).bindir
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            str(bindir / "pgbench"),
            "-h", str(settings.socket_dir), "-p", str(settings.db_port), "-U", "authenticator",
            "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(2, clients)), "-T", str(max(1, round(seconds))),
        ]  # fmt: skip
        for i, (_, text) in enumerate(scripts):
            path = Path(tmp) / f"script{i}.sql"
            path.write_text(text)
            args += ["-f", f"{path}@1"]
        out = subprocess.run([*args, "postgres"], capture_output=True, text=True)
    if out.returncode != 0 and "statement timeout" in out.stderr:
        raise TimedOut(out.stderr.strip()[-300:])
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr.strip()[-2000:]}")
    totals: dict[str, list[float]] = {}
    report = out.stdout
    sections = re.split(r"^SQL script (\d+): .*$", report, flags=re.MULTILINE)
    if len(scripts) == 1:  # pgbench prints per-script figures only for several scripts
        sections = ["", "1", report]
    for number, text in zip(sections[1::2], sections[2::2], strict=True):
        side = scripts[int(number) - 1][0]
        count = re.search(r"(\d+) transactions|number of transactions actually processed: (\d+)", text)
        failed = re.search(r"number of failed transactions: (\d+)", text)
        mean = re.search(r"latency average = ([0-9.]+) ms", text)
        done = int(count.group(1) or count.group(2)) if count else 0
        if done == 0:  # a script drawn by no client in the time (a slow statement): no figures
            continue
        if not mean:
            raise RuntimeError(f"pgbench reported no figures for script {number}:\n{report[-3000:]}")
        acc = totals.setdefault(side, [0.0, 0.0, 0.0])
        acc[0] += done * float(mean.group(1))
        acc[1] += done
        acc[2] += int(failed.group(1)) if failed else 0
    if {s for s, _ in scripts} - set(totals):
        raise RuntimeError(f"pgbench reported no figures for every script:\n{report[-3000:]}")
    return {side: Timing(acc[0] / acc[1] if acc[1] else 0.0, int(acc[1]), int(acc[2])) for side, acc in totals.items()}


# -- one read ------------------------------------------------------------------------------------


@dataclass
class Measured:
    read: Read
    rows: int
    role: Timing
    service: Timing
    role_plan: Plan
    service_plan: Plan

    @property
    def ratio(self) -> float:
        return self.role.latency_ms / self.service.latency_ms if self.service.latency_ms else float("inf")

    def paths(self) -> tuple[list[str], list[str]]:
        """Both sides' access paths to the tables the role reads (the service role's extra
        joins to parents for its explicit filter left out)."""
        relations = self.read.relations
        return self.role_plan.paths(relations), self.service_plan.paths(relations)

    @property
    def same_path(self) -> bool:
        role, service = self.paths()
        return role == service


def statement_timeout_ms(conn: psycopg.Connection[Any]) -> float:
    """The statement_timeout the Data API's connections run with (``authenticator``'s)."""
    row = conn.execute(
        "select coalesce((select split_part(c, '=', 2) from pg_db_role_setting s, unnest(s.setconfig) c "
        "where s.setrole = 'authenticator'::regrole and c like 'statement_timeout=%%'), '0')"
    ).fetchone()
    value = str(row[0]) if row else "0"
    number = float(re.sub(r"[^0-9.]", "", value) or 0)
    return number * 1000 if value.endswith("s") and not value.endswith("ms") else number


def statements(
    conn: psycopg.Connection[Any], renderer: Renderer, read: Read, people: list[Person], service: dict[str, Any]
) -> tuple[list[Statement], list[Statement]]:
    role = [renderer.statement(conn, read.role_path(p), p.claims) for p in people]
    svc = [renderer.statement(conn, read.service_path(p), service) for p in people]
    return role, svc


def check_same(conn: psycopg.Connection[Any], read: Read, role: list[Statement], svc: list[Statement]) -> int:
    """Both sides answer the same rows for every person; returns the first person's count
    (-1 when a side runs past the statement timeout: nothing to compare, the timing says so)."""
    counts = []
    for mine, theirs in zip(role, svc, strict=True):
        try:
            a, b = body(conn, mine), body(conn, theirs)
        except psycopg.errors.QueryCanceled:
            return -1
        parent = read.service_embed.partition("!")[0]
        if normalized(a) != normalized(b, parent):
            raise AssertionError(
                f"{read.label}: the role and the service role read different rows\n"
                f"  role:    {mine.path} -> {len(a)} rows\n  service: {theirs.path} -> {len(b)} rows"
            )
        counts.append(len(a))
    return counts[0]


def measure(
    settings: Settings,
    conn: psycopg.Connection[Any],
    read: Read,
    role: list[Statement],
    svc: list[Statement],
    rows: int,
    clients: int,
    seconds: float,
) -> Measured:
    scripts = [("role", s.script()) for s in role] + [("service", s.script()) for s in svc]
    try:
        timing = pgbench(settings, scripts, clients, seconds)
    except TimedOut:  # time each side alone; the one that times out is marked
        timing = {}
        for side, own in (("role", scripts[: len(role)]), ("service", scripts[len(role) :])):
            try:
                timing.update(pgbench(settings, own, clients, seconds))
            except TimedOut:
                timing[side] = Timing(statement_timeout_ms(conn), 0, 0, timed_out=True)
    tables = index_tables(conn)
    return Measured(
        read, rows, timing["role"], timing["service"], explain(conn, role[0], tables), explain(conn, svc[0], tables)
    )


# -- the helpers' own cost -----------------------------------------------------------------------

HELPER_CALL = re.compile(r"private\.([a-z_]+)\(\)")


def policy_helpers(conn: psycopg.Connection[Any]) -> list[str]:
    """Argument-less helpers the policies of ``public`` call (once per statement)."""
    rows = conn.execute(
        "select coalesce(qual, '') || ' ' || coalesce(with_check, '') from pg_policies where schemaname = 'public'"
    ).fetchall()
    return sorted({name for (text,) in rows for name in HELPER_CALL.findall(text)})


def helper_costs(
    settings: Settings,
    conn: psycopg.Connection[Any],
    renderer: Renderer,
    helpers: list[str],
    person: Person,
    seconds: float,
) -> dict[str, tuple[float, int]]:
    """Per helper: microseconds a statement spends on it (``select (select helper())``
    against ``select 1`` in the same transaction, one client) and the buffers it touches."""
    base = renderer.statement(conn, "/rest/v1/categories", person.claims)
    scripts = [("select 1", Statement(base.path, base.db_role, base.setup, "select 1").script())]
    for name in helpers:
        call = f"select (select private.{name}())"
        scripts.append((name, Statement(base.path, base.db_role, base.setup, call).script()))
    timing = pgbench(settings, scripts, 1, seconds)
    costs: dict[str, tuple[float, int]] = {}
    for name in helpers:
        statement = Statement(base.path, base.db_role, base.setup, f"select (select private.{name}())")
        plan = explain(conn, statement, {})
        costs[name] = ((timing[name].latency_ms - timing["select 1"].latency_ms) * 1000, plan.buffers)
    return costs
