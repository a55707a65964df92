"""The demo's first act: a cart from two vendors, paid with a provider against the sandbox,
with the stock, notifications and audit trail it leaves."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from supabase import Client

from wats.demo.api import Stack, one, rows, token
from wats.demo.show import DemoFailed, expect, show, step, tzs

ADDRESS = {"recipient_name": "Amina Juma", "region": "Dar es Salaam", "district": "Ilala", "street": "Samora Ave 12"}
#: One product from each of two shops (seeded by `wats seed`).
BASKET = [("Nokia 105 (2023)", 1), ("Pilau masala (200 g)", 2)]


@dataclass(frozen=True)
class Paid:
    """An order the demo paid for."""

    provider: str
    order_id: str
    payment_id: str
    amount: int
    discount: int


def products(customer: Client) -> list[dict[str, Any]]:
    titles = [title for title, _ in BASKET]
    found = rows(customer.table("products").select("id,title,price,vendors(name)").in_("title", titles).execute())
    if len(found) != len(BASKET):
        raise DemoFailed("the demo products are missing: run ./scripts/wats db reset (or ./scripts/wats seed)")
    return sorted(found, key=lambda r: titles.index(str(r["title"])))


def availability(customer: Client, ids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    data = customer.rpc("product_stock", {"p_product_ids": ids}).execute().data
    for row in data if isinstance(data, list) else []:
        if isinstance(row, dict):
            out[str(row["product_id"])] = out.get(str(row["product_id"]), 0) + int(row["available"])
    return out


def fill_cart(customer: Client, user_id: str, items: list[tuple[str, int]]) -> None:
    customer.table("carts").upsert(
        {"customer_id": user_id}, on_conflict="customer_id", ignore_duplicates=True
    ).execute()
    cart = one(customer.table("carts").select("id").execute())["id"]
    customer.table("cart_items").delete().eq("cart_id", cart).execute()
    for product_id, quantity in items:
        customer.table("cart_items").insert({"cart_id": cart, "product_id": product_id, "quantity": quantity}).execute()


def check_out(stack: Stack, customer: Client, provider: str, points: int = 0) -> Paid:
    """Tap Pay (checkout-initiate) and wait for the provider's answer; the paid order."""
    body: dict[str, Any] = {"provider": provider, "shipping_address": ADDRESS}
    if points:
        body["redeem_points"] = points
    answer = stack.function(
        "checkout-initiate", body, bearer=token(customer), **{"Idempotency-Key": f"demo-{uuid.uuid4()}"}
    )
    show("HTTP", answer.status_code)
    if answer.status_code != 202:
        raise DemoFailed(f"checkout-initiate answered {answer.status_code}: {answer.text}")
    started = answer.json()
    show("order", f"{started['order_id']} ({started['order_status']})")
    show("payment", f"{started['payment_id']} ({started['payment_status']}), {tzs(started['amount'])}")

    step(f"{provider}: the customer enters the PIN; wait for the provider")
    deadline = time.monotonic() + 30
    while True:
        payment = one(
            customer.table("payments").select("status,provider_txn_id").eq("id", started["payment_id"]).execute()
        )
        if payment["status"] not in ("pending", "initiated", "ambiguous"):
            break
        if time.monotonic() > deadline:
            raise DemoFailed(f"no answer from {provider} in 30 s (payment {payment['status']})")
        time.sleep(0.2)
    order = one(
        customer.table("orders")
        .select("status,subtotal,discount,shipping_fee,total,order_items(title,quantity,line_total)")
        .eq("id", started["order_id"])
        .execute()
    )
    show("payment", f"{payment['status']} (receipt {payment['provider_txn_id']})")
    discount = f" - {order['discount']:,} points discount" if order["discount"] else ""
    show(
        "order",
        f"{order['status']}: {order['subtotal']:,}{discount} + {order['shipping_fee']:,} shipping "
        f"= {tzs(order['total'])}",
    )
    for line in order["order_items"]:
        show("line", f"{line['quantity']} x {line['title']} = {tzs(line['line_total'])}")
    expect(
        payment["status"] == "succeeded" and order["status"] == "paid",
        f"expected a paid order, got payment {payment['status']}, order {order['status']}",
    )
    return Paid(
        provider, str(started["order_id"]), str(started["payment_id"]), int(order["total"]), int(order["discount"])
    )


def pay(stack: Stack, customer: Client, admin: Client, user_id: str, provider: str) -> Paid:
    basket = products(customer)
    ids = [str(p["id"]) for p in basket]
    step(f"{provider}: fill the cart from two vendors")
    fill_cart(customer, user_id, [(str(p["id"]), qty) for p, (_, qty) in zip(basket, BASKET, strict=True)])
    for p, (_, qty) in zip(basket, BASKET, strict=True):
        show("cart", f"{qty} x {p['title']} ({p['vendors']['name']}) at {tzs(p['price'])}")
    before = availability(customer, ids)

    step(f"{provider}: tap Pay (POST /functions/v1/checkout-initiate)")
    paid = check_out(stack, customer, provider)

    after = availability(customer, ids)
    for p, (_, qty) in zip(basket, BASKET, strict=True):
        pid = str(p["id"])
        show("stock", f"{p['title']}: {before.get(pid, 0)} → {after.get(pid, 0)} available")
        expect(before.get(pid, 0) - after.get(pid, 0) == qty, f"stock of {p['title']} did not go down by {qty}")

    notes = rows(
        admin.table("notifications")
        .select("type,title,user_id")
        .filter("data->>order_id", "eq", paid.order_id)
        .execute()
    )
    for n in notes:
        who = "customer" if n["user_id"] == user_id else "vendor"
        show("notification", f"{who}: {n['type']} — {n['title']}")
    expect(
        sum(1 for n in notes if n["type"] == "new_order") == 2 and any(n["type"] == "order_paid" for n in notes),
        "expected a payment notification for the customer and one per vendor",
    )
    audit = rows(
        admin.table("audit_logs")
        .select("entity_type,action,after,actor_role")
        .in_("entity_id", [paid.order_id, paid.payment_id])
        .order("created_at")
        .execute()
    )
    for a in audit:
        show("audit", f"{a['entity_type']} {a['action']} by {a['actor_role']}: {a['after']}")
    expect(
        any(a["entity_type"] == "payments" and (a["after"] or {}).get("status") == "succeeded" for a in audit),
        "the payment's success is not in the audit log",
    )
    return paid
