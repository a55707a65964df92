"""``wats bench rls``: what row level security costs on the ``wats seed --scale N`` dataset.

Three requests an app makes all day, each timed through the Data API at N concurrent
clients as the role that makes it (RLS filters) and as the service role with an equivalent
explicit filter (RLS bypassed), in the same run:

- catalog page, as anon: 24 newest active products of approved shops, with their images;
- "my orders", as a customer: their 20 latest orders with their lines;
- "my order lines", as a vendor: a page of ``rpc vendor_order_lines`` (the service role may
  not call it, so its equivalent reads order_items with the order embedded).

Each worker is a different customer / vendor. Before timing, each role request and its
service equivalent must return the same rows. Printed: requests/s of both, the ratio
role/service (how much longer the role's request takes; target ≤ 1.5), and EXPLAIN
(ANALYZE) of the exact statement the Data API runs for the role request, rendered by the
Data API's own planner and run with the same request settings (role, JWT claims, search
path) in a transaction that is rolled back, with the indexes it used. For the RPC, the plan
of the statement inside the function is shown too (auto_explain, nested statements).

A benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from supabase_standin import keys
from supabase_standin.rest import grammar
from supabase_standin.rest.execute import SETUP_SQL
from supabase_standin.rest.jwt import authenticate
from supabase_standin.rest.plan import Planner, choose_function
from supabase_standin.rest.query import Params, render_select
from supabase_standin.rest.rpc import render_call
from supabase_standin.rest.schema_cache import SchemaCache
from supabase_standin.rest.statements import wrap_response
from wats.bench.load import RawHttpClient, Result, closed_loop
from wats.settings import Settings
from wats.stack import control

TARGET = 1.5
#: Orders past payment, as vendor_order_lines filters them. Written as three neq filters, not
#: not.in.(…): the Data API prepares its statements, and PostgreSQL's generic plan for
#: ``status <> ALL ($1)`` guesses that almost no order passes and scans every order.
PAID_OR_LATER = "&orders.status=neq.pending_payment&orders.status=neq.cancelled&orders.status=neq.expired"


@dataclass
class Pair:
    """One scenario: the role's request and the service role's equivalent, per worker."""

    name: str
    role: str
    role_paths: list[str]
    role_tokens: list[str]
    service_paths: list[str]
    results: dict[str, Result] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        role, service = self.results["role"], self.results["service"]
        return service.rate / role.rate if role.rate else float("inf")


def token_for(settings: Settings, uid: str) -> str:
    now = int(time.time())
    return keys.sign(
        settings.jwt_secret,
        {"sub": uid, "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 3600},
    )


def pick_people(conn: psycopg.Connection, clients: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Synthetic customers with a typical order history and synthetic shops with their owners."""
    customers = [
        str(r[0])
        for r in conn.execute(
            "select o.customer_id from public.orders o join public.profiles p on p.id = o.customer_id "
            "where p.phone like '2556%%' group by o.customer_id having count(*) >= 10 "
            "order by o.customer_id limit %s",
            [clients],
        ).fetchall()
    ]
    vendors = [
        (str(r[0]), str(r[1]))
        for r in conn.execute(
            "select v.id, v.owner_id from public.vendors v where v.slug like 'bench-%%' and v.status = 'approved' "
            "order by v.slug limit %s",
            [clients],
        ).fetchall()
    ]
    return customers, vendors


def scenarios(settings: Settings, customers: list[str], vendors: list[tuple[str, str]], paged_rpc: bool) -> list[Pair]:
    catalog = (
        "/rest/v1/products?select=id,title,price,currency,created_at,product_images(storage_path,position)"
        "&order=created_at.desc&limit=24"
    )
    catalog_service = (
        "/rest/v1/products?select=id,title,price,currency,created_at,product_images(storage_path,position),"
        "vendors!inner()&status=eq.active&vendors.status=eq.approved&order=created_at.desc&limit=24"
    )
    orders = (
        "/rest/v1/orders?select=id,status,total,created_at,order_items(id,product_id,title,quantity,line_total)"
        "&order=created_at.desc,id.desc&limit=20"
    )
    # The function pages itself when it can (p_limit); else the Data API's limit applies on top.
    lines = "/rest/v1/rpc/vendor_order_lines?" + ("p_limit=20" if paged_rpc else "limit=20")
    lines_service = (
        "/rest/v1/order_items?select=order_item_id:id,order_id,vendor_id,product_id,center_id,title,unit_price,"
        "quantity,line_total,currency,orders!inner(status,created_at,paid_at,shipping_address,phone)"
        f"{PAID_OR_LATER}&order=created_at.desc,id&limit=20"
    )
    return [
        Pair("catalog page", "anon", [catalog] * len(customers), [settings.anon_key] * len(customers),
             [catalog_service] * len(customers)),
        Pair("my orders", "customer", [orders] * len(customers), [token_for(settings, c) for c in customers],
             [f"{orders}&customer_id=eq.{c}" for c in customers]),
        Pair("my order lines", "vendor", [lines] * len(vendors), [token_for(settings, o) for _, o in vendors],
             [f"{lines_service}&vendor_id=eq.{v}" for v, _ in vendors]),
    ]  # fmt: skip


# -- sameness ---------------------------------------------------------------------------------


def fingerprint(pair: Pair, rows: list[dict[str, Any]]) -> list[Any]:
    if pair.name == "catalog page":
        return [(r["id"], sorted(i["storage_path"] for i in r["product_images"])) for r in rows]
    if pair.name == "my orders":
        return [(r["id"], sorted(i["id"] for i in r["order_items"])) for r in rows]
    return [r["order_item_id"] for r in rows]


def check_same(settings: Settings, pairs: list[Pair]) -> list[str]:
    problems = []
    with httpx.Client(base_url=settings.api_url, timeout=60) as http:
        for pair in pairs:
            for i in range(len(pair.role_paths)):
                mine = http.get(
                    pair.role_paths[i],
                    headers={"apikey": settings.anon_key, "Authorization": f"Bearer {pair.role_tokens[i]}"},
                )
                theirs = http.get(
                    pair.service_paths[i],
                    headers={
                        "apikey": settings.anon_key,
                        "Authorization": f"Bearer {settings.service_role_key}",
                    },
                )
                if mine.status_code != 200 or theirs.status_code != 200:
                    problems.append(f"{pair.name}: HTTP {mine.status_code} / {theirs.status_code}: {mine.text[:200]}")
                    continue
                a, b = mine.json(), theirs.json()
                if not a or fingerprint(pair, a) != fingerprint(pair, b):
                    problems.append(f"{pair.name} (worker {i}): the role and the service role got different rows")
    return problems


# -- EXPLAIN ----------------------------------------------------------------------------------


async def render(settings: Settings, path: str) -> tuple[str, list[Any]]:
    """The statement the Data API runs for ``GET path``, from its own planner."""
    schemas = list(settings.api_config.get("schemas", ["public"]))
    async with await psycopg.AsyncConnection.connect(settings.db_url()) as conn:
        cache = await SchemaCache.load(conn, schemas)
    url = urllib.parse.urlsplit(path)
    pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    segments = [s for s in url.path.split("/") if s][2:]  # rest, v1
    params = Params()
    max_rows = settings.api_config.get("max_rows")
    if segments[0] == "rpc":
        candidates = cache.function_candidates("public", segments[1])
        names = frozenset(a.name for fn in candidates for a in fn.args if a.name)
        query = grammar.parse_query(pairs, names)
        args = dict(query.raw_args)
        fn = choose_function(cache, "public", segments[1], set(args), whole_body=False)
        source = render_call(fn, args, None, params)
        assert fn.return_columns is not None
        types = {c.name: c.type for c in fn.return_columns}
        node = Planner(cache).plan(None, fn.name, query, types)
        body = render_select(node, "pgrst_source", params, max_rows=max_rows)
        return wrap_response(source, body, None), params.values
    relation = cache.relation("public", segments[0])
    query = grammar.parse_query(pairs)
    node = Planner(cache).plan(relation, relation.name, query)
    source = render_select(node, relation.qualified.replace("%", "%%"), params, max_rows=max_rows)
    return wrap_response(source, "SELECT * FROM pgrst_source", None), params.values


def explain(settings: Settings, path: str, token: str) -> tuple[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of the request's statement as the Data API runs it, plus
    the plans of statements run inside functions (auto_explain, nested)."""
    sql, values = asyncio.run(render(settings, path))
    identity = authenticate(f"Bearer {token}", settings.jwt_secret, "anon")
    search_path = ", ".join(f'"{s}"' for s in ["public", *settings.api_config.get("extra_search_path", [])])
    nested: list[str] = []
    with psycopg.connect(settings.superuser_dsn) as conn:
        conn.add_notice_handler(lambda d: nested.append(d.message_primary or ""))
        conn.execute("load 'auto_explain'")
        for name, value in (
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_nested_statements", "on"),
            ("auto_explain.log_analyze", "on"),
            ("auto_explain.log_timing", "off"),
            ("auto_explain.log_level", "notice"),
        ):
            conn.execute("select set_config(%s, %s, false)", [name, value])
        conn.execute("begin read only")
        conn.execute(
            SETUP_SQL,
            [search_path, identity.role, json.dumps(identity.claims), "GET", path, "{}", "{}"],
        )
        conn.execute("select 1")  # warm caches, as a busy server has them
        plan = [r[0] for r in conn.execute(f"explain (analyze, buffers, costs off) {sql}", values).fetchall()]
        conn.execute("rollback")
    inner: list[str] = []
    seen: set[str] = set()
    for note in nested:  # one plan per distinct statement (helpers run once per row)
        text = note.split("Query Text:", 1)[-1].split("\n")[0:40]
        if "Query Text" in note and "pgrst_source" not in note and " Scan " in note and str(text) not in seen:
            seen.add(str(text))
            inner.append(note)
    return "\n".join(plan), inner


INDEX_USE = re.compile(r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)")
SEQ_SCAN = re.compile(r"Seq Scan on (\S+)")


def index_summary(plan: str) -> str:
    """Indexes and sequential scans of the plan nodes that ran (not `never executed`)."""
    ran = "\n".join(line for line in plan.splitlines() if "never executed" not in line)
    used = sorted(set(INDEX_USE.findall(ran)))
    seq = sorted(set(SEQ_SCAN.findall(ran)))
    out = "indexes: " + (", ".join(used) if used else "none")
    if seq:
        out += "; sequential scans: " + ", ".join(seq)
    return out


# -- timing -----------------------------------------------------------------------------------


async def measure(settings: Settings, pairs: list[Pair], clients: int, seconds: float) -> None:
    def maker(paths: list[str], tokens: list[str]):  # type: ignore[no-untyped-def]
        async def make(i: int):  # type: ignore[no-untyped-def]
            client = RawHttpClient("127.0.0.1", settings.api_port)
            raw = client.build(
                "GET",
                paths[i % len(paths)],
                {"apikey": settings.anon_key, "Authorization": f"Bearer {tokens[i % len(tokens)]}"},
            )

            async def call() -> bool:
                status, body = await client.request(raw)
                return status == 200 and body.startswith(b"[{")

            return call

        return make

    for pair in pairs:
        pair.results["service"] = await closed_loop(
            f"{pair.name}: service_role, explicit filter",
            clients,
            seconds,
            maker(pair.service_paths, [settings.service_role_key]),
        )
        pair.results["role"] = await closed_loop(
            f"{pair.name}: {pair.role} (RLS)", clients, seconds, maker(pair.role_paths, pair.role_tokens)
        )


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(args.instance)
    if not control.daemon_pid(settings):
        print("The stack is not running: start it with ./scripts/wats start")
        return 1
    with psycopg.connect(settings.db_url(), autocommit=True) as conn:
        products, lines = conn.execute(
            "select (select count(*) from public.products), (select count(*) from public.order_items)"
        ).fetchone() or (0, 0)
        customers, vendors = pick_people(conn, args.clients)
        paged_rpc = bool(
            conn.execute(
                "select 1 from pg_proc where proname = 'vendor_order_lines' and 'p_limit' = any(proargnames)"
            ).fetchone()
        )
    if len(customers) < args.clients or len(vendors) < args.clients:
        print("No synthetic dataset: build it first with ./scripts/wats seed --scale 100")
        return 1
    print(f"Dataset: {products:,} products, {lines:,} order lines; {args.clients} customers and {args.clients} shops")
    pairs = scenarios(settings, customers, vendors, paged_rpc)
    problems = check_same(settings, pairs)
    for p in problems:
        print("NOT EQUIVALENT:", p)
    if problems:
        return 1

    print("\nEXPLAIN (ANALYZE) of the statement the Data API runs, as the role, with its request settings:")
    for pair in pairs:
        plan, inner = explain(settings, pair.role_paths[0], pair.role_tokens[0])
        print(f"\n--- {pair.name} as {pair.role}: GET {pair.role_paths[0]}")
        print(plan)
        for statement in inner:
            print("  inside the function:\n    " + statement.replace("\n", "\n    "))
        print(f"=> {index_summary(plan + ''.join(inner))}")
        service_plan, _ = explain(settings, pair.service_paths[0], settings.service_role_key)
        print(f"--- {pair.name} as service_role: GET {pair.service_paths[0]}")
        print(service_plan)
        print(f"=> {index_summary(service_plan)}")

    print(f"\nTiming: {args.clients} concurrent clients, {args.seconds:.0f}s each (after 1s warm-up)")
    asyncio.run(measure(settings, pairs, args.clients, args.seconds))
    errors = 0
    for pair in pairs:
        print(pair.results["service"].line())
        print(pair.results["role"].line())
        errors += pair.results["service"].errors + pair.results["role"].errors
    print(f"\n{'request':<16} {'role':<9} {'role req/s':>11} {'service req/s':>14} {'role/service':>13}")
    for pair in pairs:
        verdict = "ok" if pair.ratio <= TARGET else f"over the {TARGET}x target"
        print(
            f"{pair.name:<16} {pair.role:<9} {pair.results['role'].rate:>11.1f} "
            f"{pair.results['service'].rate:>14.1f} {pair.ratio:>12.2f}x  {verdict}"
        )
    return 0 if errors == 0 else 1
