"""``wats bench api``: one authenticated, RLS-filtered select through ``/rest/v1`` at N
concurrent clients, the same query straight through psycopg, and their ratio.

It builds a throwaway schema ``wats_bench`` (100k rows, 1,000 owners, an owner-only RLS
policy and an index on the policy column), exposes it to the Data API the way PostgREST's
in-database configuration does, measures, and removes it again.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
import psycopg

from supabase_standin import keys
from wats.bench.load import RawHttpClient, Result, closed_loop
from wats.settings import Settings
from wats.stack import control

ROWS = 100_000
OWNERS = 1_000
SETUP = f"""
drop schema if exists wats_bench cascade;
create schema wats_bench;
grant usage on schema wats_bench to anon, authenticated, service_role;
create table wats_bench.items (
    id bigint generated always as identity primary key,
    owner uuid not null,
    title text not null,
    price bigint not null
);
insert into wats_bench.items (owner, title, price)
select ('00000000-0000-4000-8000-' || lpad((g % {OWNERS})::text, 12, '0'))::uuid,
       'item ' || g, (g * 37) % 100000
from generate_series(1, {ROWS}) g;
create index items_owner_id_idx on wats_bench.items (owner, id);
alter table wats_bench.items enable row level security;
create policy "owners read their items" on wats_bench.items
for select to authenticated using (owner = (select auth.uid()));
grant select on wats_bench.items to authenticated;
analyze wats_bench.items;
"""
DIRECT_SQL = "select id, title, price from wats_bench.items where owner = %s order by id limit 20"


def owner(i: int) -> str:
    return f"00000000-0000-4000-8000-{i % OWNERS:012d}"


async def measure(settings: Settings, clients: int, seconds: float) -> tuple[Result, Result]:
    async def api_worker(i: int):  # type: ignore[no-untyped-def]
        token = keys.sign(
            settings.jwt_secret,
            {"sub": owner(i), "role": "authenticated", "aud": "authenticated", "exp": int(time.time()) + 3600},
        )
        client = RawHttpClient("127.0.0.1", settings.api_port)
        raw = client.build(
            "GET",
            "/rest/v1/items?select=id,title,price&order=id&limit=20",
            {"apikey": settings.anon_key, "Authorization": f"Bearer {token}", "Accept-Profile": "wats_bench"},
        )

        async def call() -> bool:
            status, body = await client.request(raw)
            return status == 200 and body.startswith(b"[{")

        return call

    async def direct_worker(i: int):  # type: ignore[no-untyped-def]
        conn = await psycopg.AsyncConnection.connect(settings.db_url(), autocommit=True)
        who = uuid.UUID(owner(i))

        async def call() -> bool:
            cur = await conn.execute(DIRECT_SQL, [who], prepare=True)
            return len(await cur.fetchall()) == 20

        return call

    direct = await closed_loop("psycopg, direct SQL with the owner filter", clients, seconds, direct_worker)
    api = await closed_loop("/rest/v1 as the owner (RLS filters)", clients, seconds, api_worker)
    return api, direct


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(args.instance)
    if not control.daemon_pid(settings):
        print("The stack is not running: start it with ./scripts/wats start")
        return 1
    with psycopg.connect(settings.db_url(), autocommit=True) as conn:
        print(f"Preparing wats_bench.items ({ROWS:,} rows, {OWNERS:,} owners)…")
        conn.execute(SETUP)
        schemas = ", ".join([*settings.api_config.get("schemas", ["public"]), "wats_bench"])
        conn.execute(f"alter role authenticator set pgrst.db_schemas = '{schemas}'")
        conn.execute("notify pgrst, 'reload config'")
    try:
        deadline = time.monotonic() + 15
        while httpx.get(
            f"{settings.api_url}/rest/v1/items?limit=1",
            headers={"apikey": settings.anon_key, "Accept-Profile": "wats_bench"},
        ).status_code in (404, 406):  # not in the schema cache yet
            if time.monotonic() > deadline:
                print("the Data API never saw wats_bench")
                return 1
            time.sleep(0.1)
        api, direct = asyncio.run(measure(settings, args.clients, args.seconds))
    finally:
        with psycopg.connect(settings.db_url(), autocommit=True) as conn:
            conn.execute("alter role authenticator reset pgrst.db_schemas")
            conn.execute("drop schema if exists wats_bench cascade")
            conn.execute("notify pgrst, 'reload config'")
    print(f"\n{args.clients} concurrent clients, {args.seconds:.0f}s each (after 1s warm-up)")
    print(direct.line())
    print(api.line())
    ratio = api.rate / direct.rate if direct.rate else 0.0
    print(f"\nratio Data API / direct SQL: {ratio:.3f}")
    return 0 if api.errors == 0 and direct.errors == 0 else 1
