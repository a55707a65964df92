"""RLS through the Data API: three requests an app makes all day, timed over HTTP.

Each is timed at N concurrent clients as the role that makes it (RLS filters) and as the
service role with an equivalent explicit filter (RLS bypassed), in the same run:

- catalog page, as anon: 24 newest active products of approved shops, with their images;
- "my orders", as a customer: their 20 latest orders with their lines;
- "my order lines", as a vendor: a page of ``rpc vendor_order_lines`` (the service role may
  not call it, so its equivalent reads order_items with the order embedded).

These figures include the Data API's own work (on this stand-in about 20 ms a request at 8
clients), which hides most of what PostgreSQL spends: ``rls_db`` measures that part alone.
Each worker is a different customer / vendor; before timing, each role request and its
service equivalent must return the same rows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from supabase_standin import keys
from wats.bench.load import RawHttpClient, Result, closed_loop
from wats.bench.rls_reads import Person
from wats.settings import Settings

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


def token(settings: Settings, person: Person) -> str:
    return keys.sign(settings.jwt_secret, person.claims)


def scenarios(settings: Settings, customers: list[Person], vendors: list[Person], paged_rpc: bool) -> list[Pair]:
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
        Pair("my orders", "customer", [orders] * len(customers), [token(settings, c) for c in customers],
             [f"{orders}&customer_id=eq.{c.uid}" for c in customers]),
        Pair("my order lines", "vendor", [lines] * len(vendors), [token(settings, v) for v in vendors],
             [f"{lines_service}&vendor_id=eq.{v.vendor}" for v in vendors]),
    ]  # fmt: skip


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
                    headers={"apikey": settings.anon_key, "Authorization": f"Bearer {settings.service_role_key}"},
                )
                if mine.status_code != 200 or theirs.status_code != 200:
                    problems.append(f"{pair.name}: HTTP {mine.status_code} / {theirs.status_code}: {mine.text[:200]}")
                    continue
                a, b = mine.json(), theirs.json()
                if not a or fingerprint(pair, a) != fingerprint(pair, b):
                    problems.append(f"{pair.name} (worker {i}): the role and the service role got different rows")
    return problems


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


def run(settings: Settings, customers: list[Person], vendors: list[Person], paged_rpc: bool, args: Any) -> int:
    """Time the three requests; print them; the number of failed requests."""
    pairs = scenarios(settings, customers, vendors, paged_rpc)
    problems = check_same(settings, pairs)
    for p in problems:
        print("NOT EQUIVALENT:", p)
    if problems:
        return len(problems)
    print(
        f"\nThrough the Data API (HTTP, {args.clients} concurrent clients, {args.seconds:.0f}s each after 1s warm-up;"
        " these include the API's own time per request, which PostgreSQL's share hides in):"
    )
    asyncio.run(measure(settings, pairs, args.clients, args.seconds))
    errors = 0
    for pair in pairs:
        print("  " + pair.results["service"].line())
        print("  " + pair.results["role"].line())
        errors += pair.results["service"].errors + pair.results["role"].errors
    print(f"\n  {'request':<16} {'role':<9} {'role req/s':>11} {'service req/s':>14} {'role/service':>13}")
    for pair in pairs:
        print(
            f"  {pair.name:<16} {pair.role:<9} {pair.results['role'].rate:>11.1f} "
            f"{pair.results['service'].rate:>14.1f} {pair.ratio:>12.2f}x"
        )
    return errors
