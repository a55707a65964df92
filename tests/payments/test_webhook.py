"""Providers misbehave: callbacks arrive ten times, late, out of order, with the wrong
amount, forged, malformed or huge. The order still becomes paid exactly once or not at all."""

from __future__ import annotations

import pytest

from tests.payments.market import Market


def open_payment(market: Market, provider: str, **product):  # type: ignore[no-untyped-def]
    """A payment whose callback never comes by itself ("lost callback" phone)."""
    customer = market.customer("90")
    bought = market.buy(customer, provider, **product)
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    assert market.payment(bought["payment_id"])["status"] == "initiated"
    return customer, bought


@pytest.mark.parametrize("provider", ["airtel", "mixx", "halopesa"])
def test_the_same_callback_ten_times_pays_once(market: Market, provider: str):
    customer, bought = open_payment(market, provider, stock=6)
    market.send_callback(provider, customer.phone, outcome="success", copies=10)
    state = market.wait_payment(bought["payment_id"])
    assert (state["status"], state["order_status"]) == ("succeeded", "paid")
    events = market.events(bought["payment_id"])
    assert events.count(("callback", "applied")) == 1
    assert events.count(("callback", "duplicate")) == 9
    assert market.stock(bought["product_id"]) == {"DAR": (5, 0)}
    assert market.notifications(customer.id).count("order_paid") == 1
    points = market.db.execute(
        "select count(*) from public.loyalty_points where order_id = %s", [bought["order_id"]]
    ).fetchone()
    assert points == (1,)


@pytest.mark.parametrize("provider", ["airtel", "mixx", "halopesa"])
def test_a_failure_after_success_changes_nothing(market: Market, provider: str):
    customer, bought = open_payment(market, provider)
    market.send_callback(provider, customer.phone, outcome="success")
    assert market.wait_payment(bought["payment_id"])["status"] == "succeeded"
    market.send_callback(provider, customer.phone, outcome="failed", reason="insufficient_funds")
    state = market.payment(bought["payment_id"])
    assert (state["status"], state["order_status"]) == ("succeeded", "paid")
    assert ("callback", "ignored") in market.events(bought["payment_id"])


def test_a_success_after_failure_goes_to_review_not_to_paid(market: Market):
    customer, bought = open_payment(market, "airtel")
    market.send_callback("airtel", customer.phone, outcome="failed", reason="wrong_pin")
    assert market.wait_payment(bought["payment_id"])["status"] == "failed"
    market.send_callback("airtel", customer.phone, outcome="success")
    state = market.payment(bought["payment_id"])
    assert (state["status"], state["order_status"]) == ("failed", "cancelled")
    assert (state["needs_review"], state["review_reason"]) == (True, "success_after_failure")


def test_a_success_after_expiry_takes_the_stock_again_when_it_is_there(market: Market):
    customer, bought = open_payment(market, "halopesa", stock=3)
    market.expire_now(bought["order_id"])
    assert market.expire()["expired"] >= 1
    expired = market.payment(bought["payment_id"])
    assert (expired["status"], expired["order_status"]) == ("expired", "expired")
    assert market.stock(bought["product_id"]) == {"DAR": (3, 0)}
    assert "order_expired" in market.notifications(customer.id)

    market.send_callback("halopesa", customer.phone, outcome="success")
    state = market.payment(bought["payment_id"])
    assert (state["status"], state["order_status"], state["needs_review"]) == ("succeeded", "paid", False)
    assert market.stock(bought["product_id"]) == {"DAR": (2, 0)}


def test_a_success_after_expiry_without_stock_is_queued_for_refund(market: Market):
    # the callback is lost and nobody could ask (a Mixx deployment without MIXX_QUERY_*, or
    # a query that had not answered yet): the payment window passes
    customer, bought = open_payment(market, "mixx", stock=1)
    market.expire_now(bought["order_id"])
    market.expire()  # the expiry job expires what stays unpaid
    assert market.payment(bought["payment_id"])["status"] == "expired"
    # someone else buys the last unit meanwhile
    market.db.execute("update public.inventory set on_hand = 0 where product_id = %s", [bought["product_id"]])
    market.send_callback("mixx", customer.phone, outcome="success")
    state = market.payment(bought["payment_id"])
    assert (state["status"], state["order_status"]) == ("succeeded", "expired")
    assert (state["needs_review"], state["review_reason"]) == (True, "success_after_expiry_no_stock")
    assert "payment_review" in market.notifications(customer.id)
    assert market.stock(bought["product_id"]) == {"DAR": (0, 0)}


def test_an_amount_mismatch_is_not_paid_but_reviewed(market: Market):
    customer, bought = open_payment(market, "halopesa", price=40_000)
    market.send_callback("halopesa", customer.phone, outcome="success", amount=400)
    state = market.payment(bought["payment_id"])
    assert (state["status"], state["order_status"]) == ("initiated", "pending_payment")
    assert (state["needs_review"], state["review_reason"]) == (True, "amount_mismatch")
    assert market.stock(bought["product_id"]) == {"DAR": (10, 1)}


@pytest.mark.parametrize("provider", ["airtel", "mixx", "halopesa"])
def test_forged_callbacks_get_401_and_change_nothing(market: Market, provider: str):
    customer, bought = open_payment(market, provider)
    market.send_callback(provider, customer.phone, outcome="success", signature="invalid")
    state = market.payment(bought["payment_id"])
    assert (state["status"], state["order_status"]) == ("initiated", "pending_payment")
    deliveries = market.sandbox("GET", "/_sandbox/deliveries", params={"provider": provider})
    assert deliveries[-1]["status_code"] == 401
    assert market.events(bought["payment_id"]) == []  # stored, rejected, never linked to the payment


def test_a_mixx_callback_without_the_url_token_is_refused(market: Market):
    customer, bought = open_payment(market, "mixx")
    txn = market.sandbox_txn("mixx", customer.phone)
    body = (
        '{"Status": "true", "Description": "ok", "MFSTransactionID": "X1", '
        f'"ReferenceID": "{txn["ref"]}", "Amount": "{txn["amount"]}"}}'
    )
    r = market.webhook("mixx", body)
    assert r.status_code == 401
    assert r.json()["ResponseStatus"] is False
    assert market.payment(bought["payment_id"])["status"] == "initiated"


@pytest.mark.parametrize("provider", ["airtel", "mixx", "halopesa"])
@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"transaction": 5}', b"\xff\xfe"])
def test_malformed_callbacks_get_a_4xx_and_change_nothing(market: Market, provider: str, body: bytes):
    before = market.db.execute("select count(*) from public.payments where status = 'succeeded'").fetchone()
    r = market.webhook(provider, body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    after = market.db.execute("select count(*) from public.payments where status = 'succeeded'").fetchone()
    assert before == after


def test_an_oversized_callback_is_refused_with_413(market: Market):
    r = market.webhook("airtel", b'{"x": "' + b"a" * (100 * 1024) + b'"}')
    assert r.status_code == 413


def test_an_unknown_provider_is_404(market: Market):
    assert market.webhook("paypal", b"{}").status_code == 404


def test_reconciliation_is_for_the_scheduler_only(market: Market):
    customer = market.customer()
    r = market.http.post(
        f"{market.target.url}/functions/v1/payment-reconcile",
        json={},
        headers={"Authorization": f"Bearer {customer.token}"},
    )
    assert r.status_code == 403


def test_customers_cannot_call_the_payment_functions(market: Market):
    customer = market.customer()
    for fn, args in [
        ("apply_payment_event", {"p_provider": "airtel", "p_provider_ref": "x", "p_outcome": "succeeded"}),
        ("record_payment_initiation", {"p_payment_id": customer.id, "p_outcome": "failed"}),
        ("expire_overdue_payments", {}),
        ("claim_payment_push", {"p_payment_id": customer.id}),
    ]:
        r = market.http.post(
            f"{market.target.url}/rest/v1/rpc/{fn}",
            json=args,
            headers={"apikey": market.target.anon_key, "Authorization": f"Bearer {customer.token}"},
        )
        assert r.status_code == 403, (fn, r.status_code, r.text)
        assert r.json()["code"] == "42501"
