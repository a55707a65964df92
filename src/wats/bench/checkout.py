"""``wats bench checkout``: the critical path's SQL against PostgreSQL's own yardstick.

Measured in one run on the same cluster, at N concurrent clients (default 8):

1. ``checkout`` transactions/s: each transaction runs as PostgREST runs it (role
   ``authenticated``, the customer's claims), puts one product in the customer's cart and
   calls ``public.checkout`` (lock cart, re-read price, reserve stock, create order, lines
   and payment);
2. ``apply_payment_event`` transactions/s: each applies a provider's success to one of
   those payments as the service role (lock, dedupe, commit stock, pay the order, points,
   notifications, audit);
3. pgbench's TPC-B-like transactions/s (``pgbench -c N -j 2 -M prepared``, scale 10, in a
   scratch database of the same cluster);

printed as ratios (aims: checkout ≥ 0.3×, apply ≥ 0.5× TPC-B). Then the latency of
``checkout-initiate`` through the whole stack (gateway, Deno, Data API, Airtel adapter,
sandbox), p50 and p99. A benchmark, not a test: it asserts no speed. It writes bench
customers, a bench product and paid orders into the instance it runs on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
from psycopg.types.json import Jsonb

from supabase_standin import keys
from wats.bench.load import Result, closed_loop
from wats.settings import Settings
from wats.stack import control
from wats.stack.postgres import Cluster

ADDRESS = {"recipient_name": "Bench", "region": "Dar es Salaam", "district": "Ilala", "street": "1"}
SETUP_GUCS = (
    "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true), "
    "set_config('search_path', 'public, extensions', true)"
)


#: Unpaid-hold limits lifted for the run: every bench customer checks out again and again
#: without paying (the limits are still checked, so their cost is measured).
BENCH_LIMITS = {"checkout.max_open_orders": 1_000_000, "checkout.max_units_per_product": 1_000_000}


@contextlib.contextmanager
def lifted_limits(settings: Settings) -> Iterator[None]:
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        before = dict(
            conn.execute("select key, value from private.settings where key = any(%s)", [list(BENCH_LIMITS)]).fetchall()
        )
        for key, value in BENCH_LIMITS.items():
            conn.execute("update private.settings set value = to_jsonb(%s::bigint) where key = %s", [value, key])
        try:
            yield
        finally:
            for key, value in before.items():
                conn.execute("update private.settings set value = %s where key = %s", [Jsonb(value), key])


def prepare(settings: Settings, customers: int) -> tuple[list[str], dict[str, str], list[str]]:
    """Bench customers (auth users with profiles and carts) and one product with ample stock."""
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        conn.execute(
            """
            insert into auth.users (instance_id, id, aud, role, phone, phone_confirmed_at, raw_app_meta_data,
                                    raw_user_meta_data, created_at, updated_at)
            select '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
                   '25567' || lpad(g::text, 7, '0'), now(), '{"provider": "phone"}', '{}', now(), now()
            from generate_series(1, %s) g
            where not exists (select 1 from auth.users u where u.phone = '25567' || lpad(g::text, 7, '0'))
            """,
            [customers],
        )
        ids = [
            str(r[0])
            for r in conn.execute(
                "select id from public.profiles where phone like '25567%%' order by phone limit %s", [customers]
            ).fetchall()
        ]
        conn.execute("insert into public.carts (customer_id) select unnest(%s::uuid[]) on conflict do nothing", [ids])
        carts = {
            str(c): str(i)
            for c, i in conn.execute(
                "select customer_id, id from public.carts where customer_id = any(%s::uuid[])", [ids]
            ).fetchall()
        }
        conn.execute(
            """
            insert into public.vendors (owner_id, name, slug, status)
            select id, 'Bench checkout shop', 'bench-checkout-shop', 'approved'
            from public.profiles where phone = '255670000001'
            on conflict (slug) do nothing
            """
        )
        # one product per customer: customers buying different things, as in a real shop
        # (everyone buying the one same product measures a single row lock instead)
        conn.execute(
            """
            insert into public.products (vendor_id, title, price, status)
            select v.id, 'Bench checkout product ' || g, 5000, 'active'
            from public.vendors v, generate_series(1, %s) g
            where v.slug = 'bench-checkout-shop'
              and not exists (select 1 from public.products p
                              where p.vendor_id = v.id and p.title = 'Bench checkout product ' || g)
            """,
            [customers],
        )
        products = [
            str(r[0])
            for r in conn.execute(
                """
                select p.id from public.products p join public.vendors v on v.id = p.vendor_id
                where v.slug = 'bench-checkout-shop' order by p.title limit %s
                """,
                [customers],
            ).fetchall()
        ]
        conn.execute(
            """
            insert into public.inventory (product_id, center_id, on_hand)
            select unnest(%s::uuid[]), id, 1000000000 from public.fulfillment_centers where code = 'DAR'
            on conflict (product_id, center_id) do update set on_hand = greatest(public.inventory.on_hand, 1000000000)
            """,
            [products],
        )
    return ids, carts, products


async def bench_sql(  # type: ignore[no-untyped-def]
    settings: Settings, customers: list[str], carts: dict[str, str], products: list[str], clients: int, seconds: float
):
    refs: list[list[str]] = [[] for _ in range(clients)]

    async def checkout_worker(i: int):  # type: ignore[no-untyped-def]
        conn = await psycopg.AsyncConnection.connect(settings.db_url(user="authenticator"), autocommit=True)
        claims = json.dumps({"sub": customers[i], "role": "authenticated"})
        cart = [carts[customers[i]]]

        async def call() -> bool:
            try:
                async with conn.transaction():
                    await conn.execute(SETUP_GUCS, [claims], prepare=True)
                    await conn.execute(
                        "insert into public.cart_items (cart_id, customer_id, product_id, quantity) "
                        "values (%s, %s, %s, 1)",
                        [cart[0], customers[i], products[i]],
                        prepare=True,
                    )
                    cur = await conn.execute(
                        "select public.checkout(%s, 'airtel', %s::jsonb)",
                        [f"bench-{uuid.uuid4()}", json.dumps(ADDRESS)],
                        prepare=True,
                    )
                    row = await cur.fetchone()
                assert row is not None
                refs[i].append(row[0]["payment_id"])
                return True
            except psycopg.Error:
                return False

        return call

    checkout = await closed_loop("checkout (SQL function, as the customer)", clients, seconds, checkout_worker)
    # what the provider knows each payment by (never in the customer's answer)
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        reference = dict(
            conn.execute(
                "select payment_id::text, reference from private.payment_references where payment_id = any(%s::uuid[])",
                [[p for mine in refs for p in mine]],
            ).fetchall()
        )
    refs = [[reference[p] for p in mine] for mine in refs]
    apply = await apply_all(settings, refs, clients)
    return checkout, apply


async def apply_all(settings: Settings, refs: list[list[str]], clients: int) -> Result:
    """Apply a success to every payment checkout created, N at a time (each client the
    payments of its own customer, as callbacks for different shoppers); rate = count / time."""
    latencies: list[float] = []
    errors = 0
    service = json.dumps({"role": "service_role"})

    async def worker(pending: list[str]) -> None:
        nonlocal errors
        conn = await psycopg.AsyncConnection.connect(settings.db_url(user="authenticator"), autocommit=True)
        async with conn:
            while pending:
                ref = pending.pop()
                t0 = time.monotonic()
                async with conn.transaction():
                    await conn.execute(
                        "select set_config('role', 'service_role', true), set_config('request.jwt.claims', %s, true)",
                        [service],
                        prepare=True,
                    )
                    cur = await conn.execute(
                        "select public.apply_payment_event('airtel', %s, 'succeeded', p_source => 'status_query')",
                        [ref],
                        prepare=True,
                    )
                    row = await cur.fetchone()
                if row is not None and row[0]["result"] == "applied":
                    latencies.append(time.monotonic() - t0)
                else:
                    errors += 1

    began = time.monotonic()
    await asyncio.gather(*(worker(list(mine)) for mine in refs))
    return Result(
        "apply_payment_event (SQL, service role)", len(latencies), errors, time.monotonic() - began, latencies
    )


def pgbench(settings: Settings, clients: int, seconds: float) -> float:
    bindir = Cluster(settings).bindir
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = 'wats_pgbench'").fetchone():
            conn.execute("create database wats_pgbench")
    base = ["-h", str(settings.socket_dir), "-p", str(settings.db_port), "-U", "supabase_admin"]
    subprocess.run(
        [str(bindir / "pgbench"), *base, "-i", "-s", "10", "-q", "wats_pgbench"], check=True, capture_output=True
    )
    out = subprocess.run(
        [
            str(bindir / "pgbench"),
            *base,
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(int(seconds)),
            "-M",
            "prepared",
            "wats_pgbench",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    assert match, out
    return float(match.group(1))


async def bench_http(
    settings: Settings, customers: list[str], products: list[str], clients: int, requests: int
) -> Result:
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
        async with httpx.AsyncClient(timeout=60) as client:
            cart = (
                await client.get(
                    f"{settings.api_url}/rest/v1/carts?select=id", headers={**headers, "Accept": "application/json"}
                )
            ).json()[0]["id"]
            for _ in range(requests // clients):
                await client.post(
                    f"{settings.api_url}/rest/v1/cart_items",
                    json={"cart_id": cart, "product_id": products[i], "quantity": 1},
                    headers=headers,
                )
                t0 = time.monotonic()
                r = await client.post(
                    url,
                    json={"provider": "airtel", "shipping_address": ADDRESS},
                    headers={**headers, "Idempotency-Key": f"bench-{uuid.uuid4()}"},
                )
                if r.status_code == 202:
                    latencies.append(time.monotonic() - t0)
                else:
                    errors += 1

    began = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return Result(
        "checkout-initiate through the stack (Airtel, sandbox)",
        len(latencies),
        errors,
        time.monotonic() - began,
        latencies,
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(args.instance)
    if not control.daemon_pid(settings):
        print("The stack is not running: start it with ./scripts/wats start")
        return 1
    clients, seconds = args.clients, args.seconds
    customers, carts, products = prepare(settings, clients * 2)
    print(f"{clients} concurrent clients, {seconds:.0f}s per measurement (after 1s warm-up)\n")
    with lifted_limits(settings):
        checkout, apply = asyncio.run(
            bench_sql(settings, customers[:clients], carts, products[:clients], clients, seconds)
        )
    tpcb = pgbench(settings, clients, seconds)
    print(f"{'pgbench TPC-B (same cluster, scale 10)':<44} {tpcb:10.1f} /s")
    print(checkout.line())
    print(apply.line())
    print(f"\nratio checkout / TPC-B: {checkout.rate / tpcb:.2f}   (aim ≥ 0.3)")
    print(f"ratio apply    / TPC-B: {apply.rate / tpcb:.2f}   (aim ≥ 0.5)")
    with lifted_limits(settings):
        http = asyncio.run(bench_http(settings, customers[clients:], products[clients:], clients, 200))
    p50 = statistics.median(http.latencies) * 1000 if http.latencies else 0.0
    print(
        f"\n{http.name}: {http.requests} requests, p50 {p50:.1f} ms, p99 {http.percentile(99) * 1000:.1f} ms, "
        f"{http.errors} errors"
    )
    return 0 if checkout.errors == 0 and http.errors == 0 else 1
