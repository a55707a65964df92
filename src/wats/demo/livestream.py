"""The demo's livestream act: Kariakoo Electronics schedules a live session on an external
video service featuring its earbuds at a live price; Chausiku asks to be reminded; the shop
goes live and she is told; she buys from the session at the live price (checkout decides
it in SQL), the order line remembers the session, and the shop reads its sales per session
before ending it."""

from __future__ import annotations

import datetime as dt
import uuid

from supabase import Client

from wats.demo.api import Stack, one, rows, rpc, token, wait_for
from wats.demo.checkout import ADDRESS
from wats.demo.show import DemoFailed, expect, show, step, tzs

PRODUCT = "Wireless earbuds"
LIVE_PRICE = 45_000


def go_live(stack: Stack, vendor: Client, vendor_id: str, fan: Client, fan_id: str) -> None:
    step("Kariakoo Electronics schedules a livestream featuring its earbuds at a live price")
    found = rows(vendor.table("products").select("id,price").eq("title", PRODUCT).eq("vendor_id", vendor_id).execute())
    if not found:
        raise DemoFailed("the demo products are missing: run ./scripts/wats db reset (or ./scripts/wats seed)")
    product, price = str(found[0]["id"]), int(found[0]["price"])
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    session = one(
        vendor.table("livestream_sessions")
        .insert(
            {
                "vendor_id": vendor_id,
                "title": "Earbuds live: ask us anything",
                "scheduled_start": start.isoformat(),
                "stream_url": "https://live.example.org/kariakoo-electronics",
            }
        )
        .execute()
    )
    session_id = str(session["id"])
    vendor.table("livestream_products").insert(
        {"session_id": session_id, "product_id": product, "live_price": LIVE_PRICE}
    ).execute()
    show("session", f"{session['title']} ({session['status']}) at {start:%H:%M} UTC, {session['stream_url']}")
    show("featured", f"{PRODUCT}: {tzs(price)}, live {tzs(LIVE_PRICE)}")

    step("Chausiku asks to be reminded when it starts")
    fan.table("livestream_reminders").insert({"session_id": session_id}).execute()
    show("reminder", "set")

    step("The shop goes live (status live, through the Data API): everyone who asked is told")
    vendor.table("livestream_sessions").update({"status": "live"}).eq("id", session_id).execute()
    note = wait_for(
        "Chausiku's notification",
        lambda: rows(
            fan.table("notifications")
            .select("title,body,data")
            .eq("type", "livestream_started")
            .filter("data->>session_id", "eq", session_id)
            .execute()
        ),
        timeout=10,
    )[0]
    show("notification", f"{note['title']} — {note['body']}")

    step("Chausiku buys from the session: the live price, decided by checkout in SQL")
    fan.table("carts").upsert({"customer_id": fan_id}, on_conflict="customer_id", ignore_duplicates=True).execute()
    cart = one(fan.table("carts").select("id").execute())["id"]
    fan.table("cart_items").delete().eq("cart_id", cart).execute()
    fan.table("cart_items").insert(
        {"cart_id": cart, "product_id": product, "quantity": 1, "livestream_session_id": session_id}
    ).execute()
    answer = stack.function(
        "checkout-initiate",
        {"provider": "mixx", "shipping_address": ADDRESS},
        bearer=token(fan),
        **{"Idempotency-Key": f"demo-{uuid.uuid4()}"},
    )
    if answer.status_code != 202:
        raise DemoFailed(f"checkout-initiate answered {answer.status_code}: {answer.text}")
    order_id, payment_id = str(answer.json()["order_id"]), str(answer.json()["payment_id"])
    wait_for(
        "the payment",
        lambda: one(fan.table("payments").select("status").eq("id", payment_id).execute())["status"] == "succeeded",
    )
    line = one(
        fan.table("order_items").select("title,unit_price,livestream_session_id").eq("order_id", order_id).execute()
    )
    show("line", f"1 x {line['title']} at {tzs(line['unit_price'])} (session {line['livestream_session_id']})")
    expect(
        line["unit_price"] == LIVE_PRICE and line["livestream_session_id"] == session_id,
        "the line was not sold at the live price through the session",
    )

    step("The shop reads its sales per session (rpc livestream_sales) and ends the session")
    sales = [s for s in rpc(vendor, "livestream_sales", {"p_session_id": session_id}) if isinstance(s, dict)]
    for s in sales:
        show("sales", f"{s['title']}: {s['orders']} order(s), {s['units']} unit(s), {tzs(int(s['revenue']))}")
    expect(bool(sales) and sales[0]["revenue"] == LIVE_PRICE, f"the session's sales are wrong: {sales}")
    vendor.table("livestream_sessions").update({"status": "ended"}).eq("id", session_id).execute()
    show("session", "ended")
