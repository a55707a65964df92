"""``wats bench checkout``: the critical path's SQL against PostgreSQL's own yardstick.

Measured in one run on the same cluster, at N concurrent clients (default 8), all three
with the same driver (``pgbench -c N -j 2 -M prepared``), so the ratios compare database
work and not a client's speed:

1. ``checkout`` transactions/s: each transaction runs as PostgREST runs it (connected as
   ``authenticator``, ``set_config`` of role ``authenticated`` and the customer's JWT
   claims), puts one product in the customer's cart and calls ``public.checkout`` (lock
   cart, bound the holds, re-read price, reserve stock, create order, lines and payment);
2. ``apply_payment_event`` transactions/s: each applies a provider's success to one of
   those payments as the service role (locks, dedupe, commit stock, pay the order, points,
   notifications, audit);
3. pgbench's TPC-B-like transactions/s (scale 10, in a scratch database of the cluster);

printed as ratios (aims: checkout ≥ 0.3×, apply ≥ 0.5× TPC-B), per round of the three and
as their median over three rounds. Then the latency of
``checkout-initiate`` through the whole stack (gateway, Deno, Data API, Airtel adapter,
sandbox), p50 and p99. A benchmark, not a test: it asserts no speed. It writes bench
customers (ids ``00000000-0000-4000-8000-…``), their carts and products, and paid orders
into the instance it runs on; the unpaid-hold limits are lifted while it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
from psycopg.types.json import Jsonb

from supabase_standin import keys
from wats.bench.load import Result
from wats.settings import Settings
from wats.stack import control
from wats.stack.postgres import Cluster

#: Customers per client: each transaction picks one of its client's customers, so holds per
#: customer stay what a shop sees (a few), not thousands.
CUSTOMERS_PER_CLIENT = 64
#: Unpaid-hold limits lifted for the run (they are still checked, so their cost counts).
BENCH_LIMITS = {"checkout.max_open_orders": 1_000, "checkout.max_units_per_product": 1_000_000}
ADDRESS = '{"recipient_name": "Bench", "region": "Dar es Salaam", "district": "Ilala", "street": "1"}'


def bench_uuid(kind: str, n: int) -> str:
    """Deterministic ids pgbench can rebuild from a number: customer, cart or product."""
    family = {"customer": "8000", "cart": "9000", "product": "a000"}[kind]
    return f"00000000-0000-4000-{family}-{n:012d}"


def pgbench_uuid(kind: str, expr: str) -> str:
    """The SQL that rebuilds ``bench_uuid(kind, <expr>)`` inside a pgbench script."""
    family = {"customer": "8000", "cart": "9000", "product": "a000"}[kind]
    return f"('00000000-0000-4000-{family}-' || lpad(({expr})::text, 12, '0'))::uuid"


CHECKOUT_SCRIPT = f"""
\\set n :client_id * {CUSTOMERS_PER_CLIENT} + random(0, {CUSTOMERS_PER_CLIENT - 1})
begin;
select set_config('role', 'authenticated', true),
       set_config('request.jwt.claims',
                  '{{"role": "authenticated", "sub": "' || {pgbench_uuid("customer", ":n")} || '"}}', true),
       set_config('search_path', 'public, extensions', true);
insert into public.cart_items (cart_id, customer_id, product_id, quantity)
values ({pgbench_uuid("cart", ":n")}, {pgbench_uuid("customer", ":n")}, {pgbench_uuid("product", ":client_id")}, 1);
select public.checkout('bench-' || gen_random_uuid(), 'airtel', '{ADDRESS}');
end;
"""

APPLY_SCRIPT = """
begin;
select reference as ref from wats_bench.refs where n = (select nextval('wats_bench.next')) \\gset
select set_config('role', 'service_role', true),
       set_config('request.jwt.claims', '{"role": "service_role"}', true),
       set_config('search_path', 'public, extensions', true);
select public.apply_payment_event('airtel', :ref, 'succeeded', p_source => 'status_query');
end;
"""


@contextlib.contextmanager
def lifted_limits(settings: Settings) -> Iterator[None]:
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        rows = conn.execute("select key, value from private.settings where key = any(%s)", [list(BENCH_LIMITS)])
        before: dict[str, object] = {str(key): value for key, value in rows.fetchall()}
        for key, value in BENCH_LIMITS.items():
            conn.execute("update private.settings set value = to_jsonb(%s::bigint) where key = %s", [value, key])
        try:
            yield
        finally:
            for key, saved in before.items():
                conn.execute("update private.settings set value = %s where key = %s", [Jsonb(saved), key])


def prepare(settings: Settings, clients: int) -> list[str]:
    """Bench customers (auth users, profiles, carts) and one product per client with ample
    stock, all with ids pgbench can rebuild; returns the customer ids."""
    customers = clients * CUSTOMERS_PER_CLIENT
    ids = [bench_uuid("customer", n) for n in range(customers)]
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        conn.execute(
            """
            insert into auth.users (instance_id, id, aud, role, phone, phone_confirmed_at, raw_app_meta_data,
                                    raw_user_meta_data, created_at, updated_at)
            select '00000000-0000-0000-0000-000000000000', id::uuid, 'authenticated', 'authenticated',
                   '25566' || lpad(n::text, 7, '0'), now(), '{"provider": "phone"}', '{}', now(), now()
            from unnest(%s::text[]) with ordinality as c (id, n)
            on conflict do nothing
            """,
            [ids],
        )
        conn.execute(
            "insert into public.carts (id, customer_id) select c.cart::uuid, c.id::uuid "
            "from unnest(%s::text[], %s::text[]) as c (id, cart) on conflict do nothing",
            [ids, [bench_uuid("cart", n) for n in range(customers)]],
        )
        conn.execute(
            """
            insert into public.vendors (owner_id, name, slug, status)
            values (%s, 'Bench checkout shop', 'bench-checkout-shop', 'approved')
            on conflict (slug) do nothing
            """,
            [ids[0]],
        )
        products = [bench_uuid("product", n) for n in range(clients)]
        # one product per client: customers buying different things, as in a real shop
        conn.execute(
            """
            insert into public.products (id, vendor_id, title, price, status)
            select p::uuid, v.id, 'Bench checkout product ' || p, 5000, 'active'
            from unnest(%s::text[]) as p, public.vendors v where v.slug = 'bench-checkout-shop'
            on conflict (id) do nothing
            """,
            [products],
        )
        conn.execute(
            """
            insert into public.inventory (product_id, center_id, on_hand)
            select p::uuid, c.id, 1000000000 from unnest(%s::text[]) as p, public.fulfillment_centers c
            where c.code = 'DAR'
            on conflict (product_id, center_id) do update set on_hand = greatest(public.inventory.on_hand, 1000000000)
            """,
            [products],
        )
        conn.execute("delete from public.cart_items where customer_id = any(%s::uuid[])", [ids])
    return ids


def pgbench(settings: Settings, database: str, user: str, args: list[str], script: str | None = None) -> str:
    bindir = Cluster(settings).bindir
    base = [str(bindir / "pgbench"), "-h", str(settings.socket_dir), "-p", str(settings.db_port), "-U", user]
    with tempfile.TemporaryDirectory() as tmp:
        extra: list[str] = []
        if script is not None:
            path = Path(tmp) / "script.sql"
            path.write_text(script)
            extra = ["-n", "-f", str(path)]
        out = subprocess.run([*base, *args, *extra, database], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr.strip()[-2000:]}")
    return out.stdout


def rate_of(report: str, name: str) -> Result:
    tps = re.search(r"tps = ([0-9.]+)", report)
    done = re.search(r"number of transactions actually processed: (\d+)", report)
    failed = re.search(r"number of failed transactions: (\d+)", report)
    latency = re.search(r"latency average = ([0-9.]+) ms", report)
    assert tps and done, report
    count = int(done.group(1))
    rate = float(tps.group(1))
    mean = float(latency.group(1)) / 1000 if latency else 0.0
    return Result(name, count, int(failed.group(1)) if failed else 0, count / rate if rate else 0.0, [mean])


def tpcb_init(settings: Settings) -> None:
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = 'wats_pgbench'").fetchone():
            conn.execute("create database wats_pgbench")
    pgbench(settings, "wats_pgbench", "supabase_admin", ["-i", "-s", "10", "-q"])


def tpcb(settings: Settings, clients: int, seconds: float) -> Result:
    args = ["-c", str(clients), "-j", "2", "-T", str(int(seconds)), "-M", "prepared"]
    return rate_of(pgbench(settings, "wats_pgbench", "supabase_admin", args), "pgbench TPC-B (same cluster, scale 10)")


def bench_checkout(settings: Settings, clients: int, seconds: float) -> tuple[Result, Result]:
    """Checkouts for ``seconds``, then a success applied to each payment they created."""
    started = time.time()
    checkout = rate_of(
        pgbench(
            settings,
            "postgres",
            "authenticator",
            ["-c", str(clients), "-j", "2", "-T", str(int(seconds)), "-M", "prepared"],
            CHECKOUT_SCRIPT,
        ),
        "checkout (SQL function, as the customer)",
    )
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        conn.execute("drop schema if exists wats_bench cascade")
        conn.execute("create schema wats_bench")
        conn.execute(
            """
            create table wats_bench.refs as
            select row_number() over (order by p.created_at) as n, r.reference
            from public.payments p join private.payment_references r on r.payment_id = p.id
            where p.customer_id::text like '00000000-0000-4000-8000-%%' and p.status = 'pending'
              and p.created_at >= to_timestamp(%s)
            """,
            [started],
        )
        conn.execute("create unique index on wats_bench.refs (n)")
        conn.execute("create sequence wats_bench.next")
        conn.execute("grant usage on schema wats_bench to authenticator")
        conn.execute("grant select on wats_bench.refs to authenticator")
        conn.execute("grant usage on sequence wats_bench.next to authenticator")
        row = conn.execute("select count(*) from wats_bench.refs").fetchone()
        payments = int(row[0]) if row else 0
    try:
        apply = rate_of(
            pgbench(
                settings,
                "postgres",
                "authenticator",
                ["-c", str(clients), "-j", "2", "-t", str(max(1, payments // clients)), "-M", "prepared"],
                APPLY_SCRIPT,
            ),
            "apply_payment_event (SQL, service role)",
        )
    finally:
        with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
            conn.execute("drop schema if exists wats_bench cascade")
    return checkout, apply


async def bench_http(settings: Settings, customers: list[str], products: list[str], requests: int) -> Result:
    latencies: list[float] = []
    errors = 0
    url = f"{settings.api_url}/functions/v1/checkout-initiate"

    async def worker(i: int) -> None:
        nonlocal errors
        now = int(time.time())
        token = keys.sign(
            settings.jwt_secret,
            {"sub": customers[i], "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 3600},
        )
        headers = {"Authorization": f"Bearer {token}", "apikey": settings.anon_key}
        cart = bench_uuid("cart", int(customers[i].rsplit("-", 1)[1]))
        async with httpx.AsyncClient(timeout=60) as client:
            for _ in range(requests // len(customers)):
                await client.post(
                    f"{settings.api_url}/rest/v1/cart_items",
                    json={"cart_id": cart, "product_id": products[i % len(products)], "quantity": 1},
                    headers=headers,
                )
                t0 = time.monotonic()
                r = await client.post(
                    url,
                    json={"provider": "airtel", "shipping_address": json.loads(ADDRESS)},
                    headers={**headers, "Idempotency-Key": f"bench-{uuid.uuid4()}"},
                )
                if r.status_code == 202:
                    latencies.append(time.monotonic() - t0)
                else:
                    errors += 1

    began = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(len(customers))))
    return Result(
        "checkout-initiate through the stack (Airtel, sandbox)",
        len(latencies),
        errors,
        time.monotonic() - began,
        latencies,
    )


def line(result: Result) -> str:
    mean = result.latencies[0] * 1000 if result.latencies else 0.0
    counts = f"({result.requests} ok, {result.errors} failed)"
    return f"{result.name:<44} {result.rate:10.1f} /s   mean {mean:7.2f} ms   {counts}"


ROUNDS = 3


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(args.instance)
    if not control.daemon_pid(settings):
        print("The stack is not running: start it with ./scripts/wats start")
        return 1
    clients, seconds = args.clients, args.seconds
    customers = prepare(settings, clients)
    tpcb_init(settings)
    print(
        f"{clients} concurrent clients (pgbench -j 2 -M prepared), {seconds:.0f}s per measurement, "
        f"{ROUNDS} rounds of TPC-B, checkout, apply (the ratios are taken per round: a machine "
        "whose load changes between rounds still compares like with like)\n"
    )
    ratios: list[tuple[float, float]] = []
    failed = 0
    with lifted_limits(settings):
        for round_no in range(1, ROUNDS + 1):
            tpc = tpcb(settings, clients, seconds)
            checkout, apply = bench_checkout(settings, clients, seconds)
            failed += checkout.errors + apply.errors + (0 if checkout.requests and apply.requests else 1)
            ratios.append((checkout.rate / tpc.rate, apply.rate / tpc.rate))
            print(f"round {round_no}")
            for result in (tpc, checkout, apply):
                print("  " + line(result))
        print(f"\nratio checkout / TPC-B: {statistics.median(r[0] for r in ratios):.2f} (median; aim ≥ 0.3)")
        print(f"ratio apply    / TPC-B: {statistics.median(r[1] for r in ratios):.2f} (median; aim ≥ 0.5)")
        http_customers = customers[-clients:]
        products = [bench_uuid("product", n) for n in range(clients)]
        http = asyncio.run(bench_http(settings, http_customers, products, 200))
    p50 = statistics.median(http.latencies) * 1000 if http.latencies else 0.0
    print(
        f"\n{http.name}: {http.requests} requests, p50 {p50:.1f} ms, p99 {http.percentile(99) * 1000:.1f} ms, "
        f"{http.errors} errors"
    )
    return 0 if failed + http.errors == 0 else 1
