"""Stock held for a customer is held for a payment that can still happen: one customer
cannot sit on a product's whole stock, an order nobody ever pushed releases its stock in
minutes, and a push that never reached the provider fails instead of waiting 30 minutes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.payments.market import ADDRESS, Customer, Market


def setting(market: Market, key: str) -> int:
    row = market.db.execute("select (value #>> '{}')::bigint from private.settings where key = %s", [key]).fetchone()
    assert row is not None, key
    return int(row[0])


def direct_checkout(customer: Customer, provider: str = "airtel") -> dict[str, Any]:
    """The checkout RPC called straight through the Data API (not checkout-initiate): no push."""
    answer = customer.rest.rpc(
        "checkout",
        {"p_idempotency_key": f"direct-{uuid.uuid4()}", "p_provider": provider, "p_shipping_address": ADDRESS},
    ).execute()
    return dict(answer.data)


def service_rpc(market: Market, fn: str, args: dict[str, Any]) -> httpx.Response:
    return market.http.post(
        f"{market.target.url}/rest/v1/rpc/{fn}",
        json=args,
        headers={"apikey": market.target.anon_key, "Authorization": f"Bearer {market.target.service_role_key}"},
    )


def test_one_customer_cannot_hold_a_products_whole_stock_by_checking_out_again_and_again(market: Market):
    hoarder = market.customer("90")  # answers no prompt
    product = market.product({"DAR": 10})
    limit = setting(market, "checkout.max_open_orders")
    answers = []
    for _ in range(10):
        market.fill_cart(hoarder, [(product, 1)])
        answers.append(market.checkout(hoarder, "airtel"))
    assert [a.status_code for a in answers] == [202] * limit + [429] * (10 - limit)
    refused = answers[-1].json()["error"]
    assert refused["code"] == "too_many_open_orders"
    assert refused["details"] == {"open_orders": limit, "limit": limit}
    assert answers[-1].headers.get("retry-after")
    assert market.stock(product) == {"DAR": (10, limit)}

    # the next buyer is not locked out
    buyer = market.customer()
    market.fill_cart(buyer, [(product, 2)])
    assert market.checkout(buyer, "airtel").status_code == 202


def test_units_of_one_product_are_bounded_across_a_customers_unpaid_orders(market: Market):
    hoarder = market.customer("90")
    product = market.product({"DAR": 50})
    limit = setting(market, "checkout.max_units_per_product")
    market.fill_cart(hoarder, [(product, limit - 2)])
    assert market.checkout(hoarder, "airtel").status_code == 202
    market.fill_cart(hoarder, [(product, 3)])
    refused = market.checkout(hoarder, "airtel")
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "hold_limit_reached"
    assert error["details"] == {"product_id": product, "requested": limit + 1, "limit": limit}
    market.fill_cart(hoarder, [(product, 2)])
    assert market.checkout(hoarder, "airtel").status_code == 202  # exactly at the limit
    assert market.stock(product) == {"DAR": (50, limit)}


def test_one_order_cannot_hold_a_slice_of_every_product(market: Market):
    customer = market.customer("90")
    limit = setting(market, "checkout.max_lines")
    shop = market.shop()
    products = [market.product(5, shop=shop) for _ in range(limit + 1)]
    market.fill_cart(customer, [(p, 1) for p in products])
    refused = market.checkout(customer, "airtel")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "cart_too_large"
    assert all(market.stock(p) == {"DAR": (5, 0)} for p in products)
    customer.rest.from_("cart_items").delete().eq("product_id", products[0]).execute()
    assert market.checkout(customer, "airtel").status_code == 202  # exactly at the limit


def test_paid_orders_do_not_count_as_holds(market: Market):
    regular = market.customer()  # pays every prompt
    product = market.product({"DAR": 50})
    for _ in range(setting(market, "checkout.max_open_orders") + 2):
        market.fill_cart(regular, [(product, 5)])
        answer = market.checkout(regular, "airtel")
        assert answer.status_code == 202, answer.text
        assert market.wait_payment(answer.json()["payment_id"])["status"] == "succeeded"


def seconds_left(market: Market, order_id: str) -> float:
    row = market.db.execute(
        "select extract(epoch from expires_at - now()) from public.orders where id = %s", [order_id]
    ).fetchone()
    assert row is not None
    return float(row[0])


def test_an_order_whose_push_was_never_requested_releases_its_stock_within_minutes(market: Market):
    customer = market.customer()
    product = market.product({"DAR": 4})
    market.fill_cart(customer, [(product, 4)])
    order = direct_checkout(customer)
    assert market.stock(product) == {"DAR": (4, 4)}
    hold = setting(market, "payments.unpushed_hold_seconds")
    assert hold <= 600  # "within minutes", not the 30-minute payment window
    assert hold - 60 < seconds_left(market, order["order_id"]) <= hold
    market.expire()
    assert market.payment(order["payment_id"])["status"] == "pending"  # a fresh order stays

    market.expire_now(order["order_id"])
    market.expire()
    state = market.payment(order["payment_id"])
    assert (state["status"], state["order_status"], state["failure_reason"]) == ("expired", "expired", "never_pushed")
    assert market.stock(product) == {"DAR": (4, 0)}
    assert [r["product_id"] for r in customer.rest.from_("cart_items").select("product_id").execute().data] == [product]


def test_requesting_the_push_opens_the_full_payment_window(market: Market):
    customer = market.customer("90")
    bought = market.buy(customer, "airtel")
    window = setting(market, "payments.window_seconds")
    assert window - 60 < seconds_left(market, bought["order_id"]) <= window
    assert (
        bought["expires_at"]
        == market.db.execute(
            "select to_jsonb(expires_at) #>> '{}' from public.orders where id = %s", [bought["order_id"]]
        ).fetchone()[0]
    )  # type: ignore[index]


@pytest.mark.parametrize("provider", ["mpesa", "airtel", "halopesa", "mixx"])
def test_a_claimed_push_that_never_reached_the_provider_fails_within_minutes(market: Market, provider: str):
    """checkout-initiate died between claim_payment_push and the provider (crash, timeout,
    deploy): the provider never heard of the payment."""
    customer = market.customer()
    product = market.product({"DAR": 3})
    market.fill_cart(customer, [(product, 2)])
    order = direct_checkout(customer, provider)
    claim = service_rpc(market, "claim_payment_push", {"p_payment_id": order["payment_id"]}).json()
    assert claim["claimed"] is True
    # ... and the function dies here. A retry of the same checkout never pushes again:
    assert service_rpc(market, "claim_payment_push", {"p_payment_id": order["payment_id"]}).json()["claimed"] is False

    market.reconcile()  # too early: the claim is fresh
    assert market.payment(order["payment_id"])["status"] == "pending"

    bound = setting(market, "payments.unsent_push_seconds")
    assert bound <= 600
    market.db.execute(
        "update public.payments set push_requested_at = now() - make_interval(secs => %s + 1) where id = %s",
        [bound, order["payment_id"]],
    )
    market.reconcile()
    state = market.payment(order["payment_id"])
    assert (state["status"], state["order_status"], state["failure_reason"]) == (
        "failed",
        "cancelled",
        "push_not_delivered",
    )
    assert market.stock(product) == {"DAR": (3, 0)}
    assert "payment_failed" in market.notifications(customer.id)
    assert [r["quantity"] for r in customer.rest.from_("cart_items").select("quantity").execute().data] == [2]

    # the money still arrives after all: review, never a second payment of the order
    late = service_rpc(
        market,
        "apply_payment_event",
        {
            "p_provider": provider,
            "p_provider_ref": state["provider_ref"],
            "p_outcome": "succeeded",
            "p_amount": order["amount"],
            "p_currency": "TZS",
            "p_msisdn": customer.phone,
            "p_provider_txn_id": f"LATE{uuid.uuid4().hex[:10]}",
        },
    )
    assert late.status_code == 200, late.text
    assert late.json()["result"] == "review"
    state = market.payment(order["payment_id"])
    assert (state["status"], state["needs_review"], state["review_reason"]) == (
        "failed",
        True,
        "success_after_failure",
    )


def test_a_claimed_push_the_provider_knows_is_left_to_the_usual_path(market: Market):
    customer = market.customer("90")
    bought = market.buy(customer, "airtel")  # pushed and recorded: initiated
    market.db.execute(
        "update public.payments set push_requested_at = now() - interval '1 hour' where id = %s",
        [bought["payment_id"]],
    )
    answer = service_rpc(market, "fail_unsent_push", {"p_payment_id": bought["payment_id"], "p_finding": "not_found"})
    assert answer.json()["result"] == "not_applicable"
    assert market.payment(bought["payment_id"])["status"] == "initiated"
