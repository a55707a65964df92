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
