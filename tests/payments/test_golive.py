"""Go-live behaviours through the real stack (issue 14): Mixx callbacks whose secret is the
last path segment, and ClickPesa reports in the forms its documentation allows."""

from __future__ import annotations

import httpx

from tests.payments.market import Market


def test_a_mixx_callback_to_the_path_form_pays_once_and_never_stores_the_token(market: Market):
    market.sandbox("PATCH", "/_sandbox/settings", json={"mixx_callback_path_token": 1})
    try:
        customer = market.customer("00")
        bought = market.buy(customer, "mixx")
        market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
        state = market.wait_payment(bought["payment_id"], until=("succeeded",), timeout=20)
        assert (state["status"], state["order_status"]) == ("succeeded", "paid")
        [delivery] = market.sandbox("GET", "/_sandbox/deliveries", params={"provider": "mixx"})[-1:]
        token = delivery["url"].rsplit("/", 1)[1]
        assert "?" not in delivery["url"] and len(token) >= 24
        assert delivery["status_code"] == 200
        rows = market.db.execute(
            "select request_path, e::text from private.payment_events as e"
            " where provider = 'mixx' and request_path like '%%/mixx/%%' order by received_at desc limit 1"
        ).fetchall()
        [(path, whole)] = rows
        assert path.endswith("/payment-webhook/mixx/[redacted]"), path
        assert token not in whole
        # a wrong secret in the path is refused and changes nothing
        r = market.http.post(
            f"{market.target.url}/functions/v1/payment-webhook/mixx/{'x' * 40}",
            content=b'{"Status": "true", "ReferenceID": "WATSX", "Amount": "1"}',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 401 and r.json()["ResponseStatus"] is False
        # another provider has no path form
        other = market.http.post(f"{market.target.url}/functions/v1/payment-webhook/airtel/{'x' * 40}", content=b"{}")
        assert other.status_code == 404
    finally:
        market.sandbox("PATCH", "/_sandbox/settings", json={"mixx_callback_path_token": 0})


def test_the_function_receives_the_sub_path(market: Market):
    """Hosted Supabase and the local functions host hand payment-webhook the path from its
    name on (`/payment-webhook/mixx/<token>`); the query string travels too."""
    r = httpx.post(
        f"{market.target.url}/functions/v1/payment-webhook/mixx/{'y' * 30}?token={'y' * 30}",
        content=b"not json",
        headers={"Content-Type": "application/json"},
    )
    # both tokens are read (and refused: not ours) before the body is judged
    assert r.status_code == 401, r.text


def open_halopesa(market: Market) -> tuple[str, str]:
    """A HaloPesa payment whose webhook never comes by itself."""
    customer = market.customer("90")
    bought = market.buy(customer, "halopesa")
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    assert market.payment(bought["payment_id"])["status"] == "initiated"
    return customer.phone, bought["payment_id"]


def test_a_legacy_checksummed_webhook_is_refused_with_its_reason_stored(market: Market):
    phone, payment_id = open_halopesa(market)
    market.send_callback("halopesa", phone, outcome="success", checksum_method="legacy")
    [delivery] = market.sandbox("GET", "/_sandbox/deliveries", params={"provider": "halopesa"})[-1:]
    assert delivery["status_code"] == 401
    row = market.db.execute(
        "select authenticated, auth_error, status from private.payment_events"
        " where provider = 'halopesa' and auth_error like 'unverifiable_signature%%'"
        " order by received_at desc limit 1"
    ).fetchone()
    assert row is not None
    authenticated, reason, status = row
    assert (authenticated, status) == (False, "rejected")
    assert "legacy" in reason and "canonical" in reason
    state = market.payment(payment_id)
    assert (state["status"], state["order_status"]) == ("initiated", "pending_payment")


def test_a_failure_named_eventtype_fails_the_payment(market: Market):
    phone, payment_id = open_halopesa(market)
    market.send_callback("halopesa", phone, outcome="failed", reason="insufficient_funds", event_field="eventType")
    state = market.wait_payment(payment_id, until=("failed",), timeout=10)
    assert (state["status"], state["failure_reason"], state["order_status"]) == (
        "failed",
        "insufficient_funds",
        "cancelled",
    )


def test_an_account_that_nets_fees_never_pays_an_order_short(market: Market):
    """ClickPesa deducts its fee from collectedAmount, and this deployment was not told
    (CLICKPESA_COLLECTED_AMOUNT=gross): the success goes to review, the order is not paid."""
    market.sandbox("PATCH", "/_sandbox/settings", json={"clickpesa_fee_percent": 1.5})
    try:
        customer = market.customer("00")
        bought = market.buy(customer, "halopesa")
        market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
        state = market.wait_payment(bought["payment_id"], until=("succeeded",), timeout=3)
        assert (state["needs_review"], state["review_reason"]) == (True, "amount_mismatch")
        assert state["status"] != "succeeded" and state["order_status"] == "pending_payment"
    finally:
        market.sandbox("PATCH", "/_sandbox/settings", json={"clickpesa_fee_percent": 0})
