"""Livestream shopping through the Data API: a vendor schedules a session on an external video
service featuring their own active products (with a live price), starts, ends or cancels
it; anyone reads scheduled and live sessions; customers ask to be reminded and are told
when it starts; checkout sells a featured product at its live price only while its session
is live (SQL decides, never the client), and the order line remembers the session, so the
vendor reads their sales per session."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from postgrest import SyncPostgrestClient
from postgrest.exceptions import APIError

from tests.payments.market import Customer, Market


def anon(market: Market) -> SyncPostgrestClient:
    return SyncPostgrestClient(f"{market.target.url}/rest/v1", headers={"apikey": market.target.anon_key})


def schedule(owner: Customer, shop: str, **extra: Any) -> str:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    row = (
        owner.rest.from_("livestream_sessions")
        .insert(
            {
                "vendor_id": shop,
                "title": "Simu mpya kwa bei ya live",
                "scheduled_start": start.isoformat(),
                "stream_url": "https://live.example.org/kariakoo",
                **extra,
            }
        )
        .execute()
        .data[0]
    )
    return str(row["id"])


def feature(owner: Customer, session: str, product: str, live_price: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"session_id": session, "product_id": product}
    if live_price is not None:
        body["live_price"] = live_price
    return dict(owner.rest.from_("livestream_products").insert(body).execute().data[0])


def set_status(owner: Customer, session: str, status: str) -> None:
    rows = owner.rest.from_("livestream_sessions").update({"status": status}).eq("id", session).execute().data
    assert rows and rows[0]["status"] == status


def fill(customer: Customer, product: str, session: str | None, quantity: int = 1) -> None:
    """The cart holds one line, added from the session's page (or not)."""
    customer.rest.from_("carts").upsert(
        {"customer_id": customer.id}, on_conflict="customer_id", ignore_duplicates=True
    ).execute()
    cart = customer.rest.from_("carts").select("id").execute().data[0]["id"]
    customer.rest.from_("cart_items").delete().eq("cart_id", cart).execute()
    item: dict[str, Any] = {"cart_id": cart, "product_id": product, "quantity": quantity}
    if session is not None:
        item["livestream_session_id"] = session
    customer.rest.from_("cart_items").insert(item).execute()


def bought_line(market: Market, customer: Customer) -> dict[str, Any]:
    """Check out (the sandbox pays) and return the order line."""
    answer = market.checkout(customer, "airtel")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    assert market.wait_payment(body["payment_id"])["status"] == "succeeded"
    row = market.db.execute(
        "select unit_price, livestream_session_id::text, quantity from public.order_items where order_id = %s",
        [body["order_id"]],
    ).fetchone()
    assert row is not None
    return {"unit_price": row[0], "session": row[1], "quantity": row[2], "order_id": body["order_id"]}


def refused(call: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def test_a_live_session_sells_at_its_live_price_and_counts_its_sales(market: Market):
    shop = market.shop()
    owner = market.owner_of(shop)
    phone = market.product({"DAR": 20}, price=50_000, shop=shop)
    cover = market.product({"DAR": 20}, price=8_000, shop=shop)
    session = schedule(owner, shop)
    feature(owner, session, phone, live_price=40_000)

    # anyone reads the scheduled session with its featured products and live price
    seen = anon(market).from_("livestream_sessions").select("id,status,livestream_products(product_id,live_price)")
    rows = seen.eq("id", session).execute().data
    assert rows == [
        {"id": session, "status": "scheduled", "livestream_products": [{"product_id": phone, "live_price": 40_000}]}
    ]

    # two customers ask to be reminded; nobody reads another's reminder
    fan, other_fan, passer_by = market.customer(), market.customer(), market.customer()
    for who in (fan, other_fan):
        who.rest.from_("livestream_reminders").insert({"session_id": session}).execute()
    assert passer_by.rest.from_("livestream_reminders").select("user_id").execute().data == []
    assert fan.rest.from_("livestream_reminders").select("user_id").execute().data == [{"user_id": fan.id}]

    # before the start, the live price does not apply
    fill(fan, phone, session)
    early = bought_line(market, fan)
    assert (early["unit_price"], early["session"]) == (50_000, None)

    # the vendor goes live: everyone who asked is told, once
    set_status(owner, session, "live")
    for who in (fan, other_fan):
        notes = who.rest.from_("notifications").select("type,data").eq("type", "livestream_started").execute().data
        assert [n["data"]["session_id"] for n in notes] == [session], who.id
    assert "livestream_started" not in market.notifications(passer_by.id)
    stamped = market.db.execute(
        "select count(*) from public.livestream_reminders where session_id = %s and notified_at is not null",
        [session],
    ).fetchone()
    assert stamped == (2,)

    # while live: the featured product at its live price, the line remembers the session
    fill(fan, phone, session, quantity=2)
    live = bought_line(market, fan)
    assert (live["unit_price"], live["session"], live["quantity"]) == (40_000, session, 2)
    fill(other_fan, phone, session)
    assert bought_line(market, other_fan)["unit_price"] == 40_000
    # the same product added without the session: its normal price
    fill(passer_by, phone, None)
    assert bought_line(market, passer_by) | {"order_id": ""} == {
        "unit_price": 50_000, "session": None, "quantity": 1, "order_id": "",
    }  # fmt: skip
    # a product the session does not feature cannot name it
    error = refused(lambda: fill(fan, cover, session))
    assert error.code == "23514", error

    # the vendor's sales per session: paid orders bought through it
    sales = owner.rest.rpc("livestream_sales", {}).execute().data
    assert [(s["session_id"], s["orders"], s["units"], s["revenue"]) for s in sales] == [(session, 2, 3, 120_000)]
    assert market.customer().rest.rpc("livestream_sales", {}).execute().data == []
    stranger = market.owner_of(market.shop())
    assert stranger.rest.rpc("livestream_sales", {"p_session_id": session}).execute().data == []

    # the session ends while the product waits in a cart: the normal price again; nobody adds
    # from it or asks to be reminded of it any more
    fill(fan, phone, session)
    set_status(owner, session, "ended")
    after = bought_line(market, fan)
    assert (after["unit_price"], after["session"]) == (50_000, None)
    assert refused(lambda: fill(fan, phone, session)).code == "23514"
    remind = market.customer().rest.from_("livestream_reminders").insert({"session_id": session})
    assert refused(remind.execute).code == "42501"


def test_the_live_price_is_the_sessions_own_while_it_is_live(market: Market):
    shop = market.shop()
    owner = market.owner_of(shop)
    product = market.product({"DAR": 20}, price=30_000, shop=shop)
    cancelled = schedule(owner, shop)
    feature(owner, cancelled, product, live_price=10_000)
    live = schedule(owner, shop)
    feature(owner, live, product, live_price=45_000)  # above the price: never charged
    set_status(owner, live, "live")
    customer = market.customer()

    fill(customer, product, live)
    line = bought_line(market, customer)
    assert (line["unit_price"], line["session"]) == (30_000, live)

    set_status(owner, cancelled, "cancelled")
    error = refused(lambda: fill(customer, product, cancelled))  # not on any more
    assert error.code == "23514", error

    # a live session of another shop cannot lend its price to this product
    other = market.shop()
    other_owner = market.owner_of(other)
    theirs = schedule(other_owner, other)
    feature(other_owner, theirs, market.product({"DAR": 5}, price=1_000, shop=other), live_price=500)
    set_status(other_owner, theirs, "live")
    error = refused(lambda: fill(customer, product, theirs))
    assert error.code == "23514", error

    # the cart cannot be edited into the price either: the session is checked on update too
    fill(customer, product, None)
    error = refused(
        lambda: (
            customer.rest.from_("cart_items")
            .update({"livestream_session_id": theirs})
            .eq("customer_id", customer.id)
            .execute()
        )
    )
    assert error.code == "23514", error


def test_vendors_feature_only_their_own_active_products(market: Market):
    shop, other = market.shop(), market.shop()
    owner = market.owner_of(shop)
    session = schedule(owner, shop)
    draft = market.product(5, price=5_000, shop=shop, status="draft")
    theirs = market.product(5, price=5_000, shop=other)
    mine = market.product(5, price=5_000, shop=shop)

    assert refused(lambda: feature(owner, session, draft)).code == "23514"
    # another vendor's product: the row would be theirs (42501), or the keys disagree (23503)
    assert refused(lambda: feature(owner, session, theirs)).code == "42501"
    wrong = owner.rest.from_("livestream_products").insert(
        {"session_id": session, "product_id": theirs, "vendor_id": shop}
    )
    assert refused(wrong.execute).code == "23503"
    assert refused(lambda: feature(owner, session, mine, live_price=0)).code == "23514"
    # nor into another vendor's session (the keys disagree), nor as a customer
    their_session = schedule(market.owner_of(other), other)
    assert refused(lambda: feature(owner, their_session, mine)).code == "23503"
    assert refused(lambda: feature(market.customer(), session, mine)).code == "42501"
    featured = feature(owner, session, mine, live_price=4_000)
    assert featured["vendor_id"] == shop
    # the vendor changes the live price; nobody else does
    owner.rest.from_("livestream_products").update({"live_price": 3_500}).eq("session_id", session).execute()
    assert (
        market.customer()
        .rest.from_("livestream_products")
        .update({"live_price": 1})
        .eq("session_id", session)
        .execute()
        .data
        == []
    )
    price = market.db.execute(
        "select live_price from public.livestream_products where session_id = %s", [session]
    ).fetchone()
    assert price == (3_500,)


def test_sessions_move_only_forward_and_stay_the_vendors(market: Market):
    shop = market.shop()
    owner = market.owner_of(shop)
    session = schedule(owner, shop)
    stranger = market.owner_of(market.shop())
    assert stranger.rest.from_("livestream_sessions").update({"status": "live"}).eq("id", session).execute().data == []
    set_status(owner, session, "live")
    set_status(owner, session, "ended")
    error = refused(lambda: set_status(owner, session, "live"))
    assert error.code == "WT001", error
    # an ended session is no longer public; the vendor still sees it
    assert anon(market).from_("livestream_sessions").select("id").eq("id", session).execute().data == []
    assert owner.rest.from_("livestream_sessions").select("id").eq("id", session).execute().data == [{"id": session}]
    assert uuid.UUID(session)
