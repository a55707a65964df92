"""The reference a provider knows a payment by authenticates unsigned (Mixx) callbacks
together with the URL token, so nobody but the service role and admins ever reads it."""

from __future__ import annotations

from postgrest.exceptions import APIError

from tests.payments.market import Market


def test_the_customer_never_sees_the_provider_reference(market: Market):
    customer = market.customer("90")
    bought = market.buy(customer, "mixx")
    reference = market.payment(bought["payment_id"])["provider_ref"]
    assert reference and reference not in str(bought)  # checkout-initiate's answer

    rows = customer.rest.from_("payments").select("*").eq("id", bought["payment_id"]).execute().data
    assert len(rows) == 1 and reference not in str(rows[0])
    try:
        customer.rest.from_("payments").select("provider_ref").execute()
        raise AssertionError("provider_ref is readable")
    except APIError as exc:
        assert exc.code == "42703"  # no such column: it lives in schema private

    replay = market.checkout(customer, "mixx", key="replay-" + bought["order_id"])  # a different request
    assert reference not in replay.text


def test_the_checkout_rpc_answer_has_no_provider_reference(market: Market):
    customer = market.customer()
    market.fill_cart(customer, [(market.product(3), 1)])
    answer = customer.rest.rpc(
        "checkout",
        {
            "p_idempotency_key": f"ref-check-{customer.id}",
            "p_provider": "airtel",
            "p_shipping_address": {"recipient_name": "A", "region": "B", "district": "C", "street": "D"},
        },
    ).execute()
    reference = market.payment(answer.data["payment_id"])["provider_ref"]
    assert "provider_ref" not in answer.data
    assert reference not in str(answer.data)


def test_only_admins_look_a_reference_up(market: Market):
    customer = market.customer("90")
    bought = market.buy(customer, "airtel")
    reference = market.payment(bought["payment_id"])["provider_ref"]
    try:
        customer.rest.rpc("payment_reference", {"p_payment_id": bought["payment_id"]}).execute()
        raise AssertionError("a customer read a payment reference")
    except APIError as exc:
        assert exc.code == "42501"
    admin_id = market.db.execute("select id from public.profiles where role = 'admin' limit 1").fetchone()
    assert admin_id is not None
    admin = market.as_user(str(admin_id[0]))
    assert admin.rest.rpc("payment_reference", {"p_payment_id": bought["payment_id"]}).execute().data == reference
