"""``wats demo``: the critical path, end to end, against the running local stack.

A seeded customer signs in by phone OTP, fills a cart from two vendors and checks out
with each provider (M-Pesa, Airtel Money, Mixx by Yas, HaloPesa) against the sandbox. For
each payment it waits for the provider's answer and prints the order, the payment, the
stock before and after, the notifications and the audit trail. Any failed step stops it
with a non-zero exit.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import httpx
from supabase import Client

from wats.sandbox import PROVIDERS
from wats.seed.catalog import PEOPLE
from wats.seed.sessions import sign_in
from wats.settings import Settings
from wats.stack import control

ADDRESS = {"recipient_name": "Amina Juma", "region": "Dar es Salaam", "district": "Ilala", "street": "Samora Ave 12"}
#: One product from each of two shops (seeded by `wats seed`).
BASKET = [("Nokia 105 (2023)", 1), ("Pilau masala (200 g)", 2)]


class DemoFailed(Exception):
    pass


def step(text: str) -> None:
    print(f"\n▶ {text}", flush=True)


def show(label: str, value: Any) -> None:
    print(f"    {label:<14} {value}", flush=True)


def phone_of(key: str) -> str:
    return next(p.phone for p in PEOPLE if p.key == key)


def products(customer: Client) -> list[dict[str, Any]]:
    titles = [title for title, _ in BASKET]
    rows = customer.table("products").select("id,title,price,vendors(name)").in_("title", titles).execute().data
    if len(rows) != len(BASKET):
        raise DemoFailed("the demo products are missing: run ./scripts/wats db reset (or ./scripts/wats seed)")
    return sorted(rows, key=lambda r: titles.index(r["title"]))


def availability(customer: Client, ids: list[str]) -> dict[str, int]:
    rows = customer.rpc("product_stock", {"p_product_ids": ids}).execute().data
    out: dict[str, int] = {}
    for row in rows:
        out[row["product_id"]] = out.get(row["product_id"], 0) + row["available"]
    return out


def fill_cart(customer: Client, user_id: str, items: list[tuple[str, int]]) -> None:
    customer.table("carts").upsert(
        {"customer_id": user_id}, on_conflict="customer_id", ignore_duplicates=True
    ).execute()
    cart = customer.table("carts").select("id").execute().data[0]["id"]
    customer.table("cart_items").delete().eq("cart_id", cart).execute()
    for product_id, quantity in items:
        customer.table("cart_items").insert({"cart_id": cart, "product_id": product_id, "quantity": quantity}).execute()


def pay(settings: Settings, customer: Client, admin: Client, user_id: str, provider: str) -> None:
    basket = products(customer)
    ids = [p["id"] for p in basket]
    step(f"{provider}: fill the cart from two vendors")
    fill_cart(customer, user_id, [(p["id"], qty) for p, (_, qty) in zip(basket, BASKET, strict=True)])
    for p, (_, qty) in zip(basket, BASKET, strict=True):
        show("cart", f"{qty} x {p['title']} ({p['vendors']['name']}) at {p['price']:,} TZS")
    before = availability(customer, ids)

    step(f"{provider}: tap Pay (POST /functions/v1/checkout-initiate)")
    session = customer.auth.get_session()
    assert session is not None
    key = f"demo-{uuid.uuid4()}"
    answer = httpx.post(
        f"{settings.api_url}/functions/v1/checkout-initiate",
        json={"provider": provider, "shipping_address": ADDRESS},
        headers={
            "Authorization": f"Bearer {session.access_token}",
            "apikey": settings.anon_key,
            "Idempotency-Key": key,
        },
        timeout=60,
    )
    show("HTTP", answer.status_code)
    if answer.status_code != 202:
        raise DemoFailed(f"checkout-initiate answered {answer.status_code}: {answer.text}")
    body = answer.json()
    show("order", f"{body['order_id']} ({body['order_status']})")
    show("payment", f"{body['payment_id']} ({body['payment_status']}), {body['amount']:,} {body['currency']}")

    step(f"{provider}: the customer enters the PIN; wait for the provider")
    deadline = time.monotonic() + 30
    while True:
        payment = (
            customer.table("payments").select("status,provider_txn_id").eq("id", body["payment_id"]).execute().data[0]
        )
        if payment["status"] not in ("pending", "initiated", "ambiguous"):
            break
        if time.monotonic() > deadline:
            raise DemoFailed(f"no answer from {provider} in 30 s (payment {payment['status']})")
        time.sleep(0.2)
    order = (
        customer.table("orders")
        .select("status,subtotal,shipping_fee,total,order_items(title,quantity,line_total)")
        .eq("id", body["order_id"])
        .execute()
        .data[0]
    )
    show("payment", f"{payment['status']} (receipt {payment['provider_txn_id']})")
    show(
        "order",
        f"{order['status']}: {order['subtotal']:,} + {order['shipping_fee']:,} shipping = {order['total']:,} TZS",
    )
    for line in order["order_items"]:
        show("line", f"{line['quantity']} x {line['title']} = {line['line_total']:,} TZS")
    if payment["status"] != "succeeded" or order["status"] != "paid":
        raise DemoFailed(f"expected a paid order, got payment {payment['status']}, order {order['status']}")

    after = availability(customer, ids)
    for p, (_, qty) in zip(basket, BASKET, strict=True):
        show("stock", f"{p['title']}: {before.get(p['id'], 0)} → {after.get(p['id'], 0)} available")
        if before.get(p["id"], 0) - after.get(p["id"], 0) != qty:
            raise DemoFailed(f"stock of {p['title']} did not go down by {qty}")

    notes = (
        admin.table("notifications")
        .select("type,title,user_id")
        .filter("data->>order_id", "eq", body["order_id"])
        .execute()
        .data
    )
    for n in notes:
        who = "customer" if n["user_id"] == user_id else "vendor"
        show("notification", f"{who}: {n['type']} — {n['title']}")
    if sum(1 for n in notes if n["type"] == "new_order") != 2 or not any(n["type"] == "order_paid" for n in notes):
        raise DemoFailed("expected a payment notification for the customer and one per vendor")
    audit = (
        admin.table("audit_logs")
        .select("entity_type,action,after,actor_role")
        .in_("entity_id", [body["order_id"], body["payment_id"]])
        .order("created_at")
        .execute()
        .data
    )
    for a in audit:
        show("audit", f"{a['entity_type']} {a['action']} by {a['actor_role']}: {a['after']}")
    if not any(a["entity_type"] == "payments" and (a["after"] or {}).get("status") == "succeeded" for a in audit):
        raise DemoFailed("the payment's success is not in the audit log")


def main(args: argparse.Namespace) -> int:
    settings = Settings.load(args.instance)
    if not control.daemon_pid(settings):
        print("The stack is not running: start it with ./scripts/wats start")
        return 1
    try:
        step("Amina signs in with her phone (POST /auth/v1/otp, then /auth/v1/verify with OTP 123456)")
        customer = sign_in(settings.api_url, settings.anon_key, phone_of("amina"))
        user = customer.auth.get_user()
        assert user is not None and user.user is not None
        show("user", f"{user.user.id} phone {user.user.phone}")
        admin = sign_in(settings.api_url, settings.anon_key, phone_of("admin"))
        for provider in PROVIDERS:
            pay(settings, customer, admin, user.user.id, provider)
        points = customer.rpc("loyalty_balance", {}).execute().data
        n = len(PROVIDERS)
        step(f"Done: {n} orders paid with {n} providers; Amina has {points} loyalty points.")
        return 0
    except DemoFailed as exc:
        print(f"\n✗ demo failed: {exc}")
        return 1
