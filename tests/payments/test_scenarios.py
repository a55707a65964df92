"""Every sandbox scenario with every provider: what the customer's phone does decides the
outcome (docs/payments.md, "Sandbox scenarios"), and the order ends up right."""

from __future__ import annotations

import pytest

from tests.payments.market import Market

# (digits, provider) -> (payment status right after the provider settles, failure reason)
# "open" means: nothing final arrives by itself; reconciliation or expiry decides.
EXPECTED = {
    "00": {p: ("succeeded", None) for p in ("mpesa", "airtel", "mixx", "halopesa")},
    "90": {"mpesa": ("succeeded", None), "airtel": ("open", None), "mixx": ("open", None), "halopesa": ("open", None)},
    "91": {p: ("failed", "insufficient_funds") for p in ("mpesa", "airtel", "mixx", "halopesa")},
    "92": {p: ("failed", "wrong_pin") for p in ("mpesa", "airtel", "mixx", "halopesa")},
    "93": {p: ("failed", "cancelled") for p in ("mpesa", "airtel", "mixx", "halopesa")},
    "94": {"mpesa": ("ambiguous", None), "airtel": ("open", None), "mixx": ("open", None), "halopesa": ("open", None)},
    "95": {p: ("succeeded", None) for p in ("mpesa", "airtel", "mixx", "halopesa")},
    "96": {p: ("succeeded", None) for p in ("mpesa", "airtel", "mixx", "halopesa")},
    "97": {
        "mpesa": ("ambiguous", None),
        "airtel": ("succeeded", None),
        "mixx": ("succeeded", None),
        "halopesa": ("succeeded", None),
    },
    "98": {"mpesa": ("succeeded", None), "airtel": ("open", None), "mixx": ("open", None), "halopesa": ("open", None)},
    "99": {p: ("failed", "invalid_msisdn") for p in ("mpesa", "airtel", "mixx", "halopesa")},
}
CASES = [(digits, provider) for digits, per in EXPECTED.items() for provider in per]


@pytest.mark.parametrize(("digits", "provider"), CASES, ids=[f"{d}-{p}" for d, p in CASES])
def test_sandbox_scenario(market: Market, digits: str, provider: str):
    status, reason = EXPECTED[digits][provider]
    customer = market.customer(digits)
    bought = market.buy(customer, provider, quantity=2, stock=5)
    payment_id, product = bought["payment_id"], bought["product_id"]
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    if status == "open":
        state = market.wait_payment(payment_id, until=("succeeded", "failed"), timeout=1.0)
        assert state["status"] in ("initiated", "ambiguous"), state
        assert state["order_status"] == "pending_payment"
        assert market.stock(product) == {"DAR": (5, 2)}  # still reserved, not sold
        return
    state = market.wait_payment(payment_id, until=(status,), timeout=20)
    assert state["status"] == status, state
    assert state["failure_reason"] == reason
    if status == "succeeded":
        assert state["order_status"] == "paid"
        assert market.stock(product) == {"DAR": (3, 0)}
    elif status == "failed":
        assert state["order_status"] == "cancelled"
        assert market.stock(product) == {"DAR": (5, 0)}
        # the items went back into the cart so the customer can try again
        assert [i["product_id"] for i in customer.rest.from_("cart_items").select("product_id").execute().data] == [
            product
        ]
        assert "payment_failed" in market.notifications(customer.id)
    else:  # ambiguous: M-Pesa's prompt timed out; only a status query can tell
        assert state["order_status"] == "pending_payment"


@pytest.mark.parametrize("provider", ["airtel", "mixx", "halopesa"])
def test_a_lost_callback_is_found_by_reconciliation(market: Market, provider: str):
    customer = market.customer("90")
    bought = market.buy(customer, provider)
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    state = market.reconcile_until(bought["payment_id"], ("succeeded", "failed"))
    assert (state["status"], state["order_status"]) == ("succeeded", "paid")
    assert ("status_query", "applied") in market.events(bought["payment_id"])


@pytest.mark.parametrize("provider", ["mpesa", "airtel", "mixx", "halopesa"])
def test_an_unanswered_prompt_is_settled_as_failed_by_reconciliation(market: Market, provider: str):
    customer = market.customer("94")
    bought = market.buy(customer, provider, stock=5)
    # wait until the prompt has timed out at the provider
    state = market.reconcile_until(bought["payment_id"], ("succeeded", "failed"), timeout=15)
    assert (state["status"], state["order_status"]) == ("failed", "cancelled"), state
    assert market.stock(bought["product_id"]) == {"DAR": (5, 0)}


@pytest.mark.parametrize("provider", ["mpesa", "airtel", "halopesa"])
def test_ambiguous_then_success_resolves_to_paid(market: Market, provider: str):
    customer = market.customer("97")
    bought = market.buy(customer, provider)
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    state = market.reconcile_until(bought["payment_id"], ("succeeded", "failed"))
    assert (state["status"], state["order_status"]) == ("succeeded", "paid")


def test_duplicate_callbacks_pay_once(market: Market):
    customer = market.customer("96")
    bought = market.buy(customer, "airtel", quantity=1, stock=4)
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    state = market.wait_payment(bought["payment_id"])
    assert state["status"] == "succeeded"
    events = market.events(bought["payment_id"])
    assert events.count(("callback", "applied")) == 1
    assert events.count(("callback", "duplicate")) == 3
    assert market.notifications(customer.id).count("order_paid") == 1
    assert market.stock(bought["product_id"]) == {"DAR": (3, 0)}


def test_a_forged_callback_changes_nothing_but_the_stored_event(market: Market):
    customer = market.customer("98")
    bought = market.buy(customer, "airtel")
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    state = market.payment(bought["payment_id"])
    assert (state["status"], state["order_status"]) == ("initiated", "pending_payment")
    deliveries = market.sandbox(
        "GET", "/_sandbox/deliveries", params={"provider": "airtel", "ref": state["provider_ref"]}
    )
    assert [d["status_code"] for d in deliveries] == [401]
    stored = market.db.execute(
        "select status, auth_error from private.payment_events where provider = 'airtel' and body like %s",
        [f"%{state['provider_ref']}%"],
    ).fetchall()
    assert stored == [("rejected", "bad_signature")]
