"""Refunds reach the payer: an admin grants one through the Data API, refund-execute sends
it through the payment's provider (M-Pesa reversal, Airtel refund or disbursement, Mixx B2C,
ClickPesa payout) against the sandbox, and the money invariants hold after every test.

The payer's phone decides what the provider does with the refund (docs/payments.md,
"Refund scenarios"): 81 refused once, 82 always refused, 83 the answer is lost, 84 the first
attempt never arrives, 86 the payout webhook comes several times; anything else pays.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from tests.payments.market import Market

PROVIDERS = ("mpesa", "airtel", "mixx", "halopesa")
#: What the sandbox calls each provider's way of sending money back, by refunds.method.
SANDBOX_METHOD = {
    ("mpesa", "reversal"): "reversal",
    ("airtel", "refund"): "refund",
    ("airtel", "payout"): "disbursement",
    ("mixx", "payout"): "b2c",
    ("halopesa", "payout"): "payout",
}


def idle(market: Market) -> None:
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})


def expected_method(market: Market, provider: str, *, whole: bool) -> str:
    if provider == "mpesa":
        return "reversal"
    if provider == "airtel":
        # the refund API gives back whole payments only, and only when SQL says it is one
        return "refund" if whole and market.claim_says_whole_payment() else "payout"
    return "payout"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_whole_payment_goes_back_by_each_providers_method(market: Market, provider: str):
    bought = market.paid(provider)
    payment_id = bought["payment_id"]
    _, _, amount = market.money(payment_id)
    refund_id = market.granted(payment_id, amount)
    assert market.refund(refund_id)["status"] == "requested"

    run = market.refund_execute()
    result = market.result_for(run, refund_id)
    assert result is not None and result["result"] in ("succeeded", "pending"), run
    idle(market)  # ClickPesa answers "AUTHORIZED"; its PAYOUT webhook settles the refund

    refund = market.refund(refund_id)
    method = expected_method(market, provider, whole=True)
    assert (refund["status"], refund["method"], refund["attempts"]) == ("succeeded", method, 1), refund
    assert refund["provider_refund_id"]
    assert market.money(payment_id) == ("refunded", amount, amount)
    # the sandbox paid exactly that, once, to the payer's wallet, by the provider's method
    payouts = [p for p in market.payouts(provider=provider, msisdn=bought["msisdn"]) if p["status"] == "paid"]
    assert [(p["method"], p["amount"]) for p in payouts] == [(SANDBOX_METHOD[(provider, method)], amount)]
    assert payouts[0]["provider_id"] == refund["provider_refund_id"]
    notes = market.notifications(bought["customer"].id)
    assert (notes.count("refund_requested"), notes.count("refund_succeeded")) == (1, 1)
    if provider == "halopesa":
        applied = market.db.execute(
            "select status from private.payment_events where provider = 'halopesa' and provider_ref = %s",
            [refund["reference"]],
        ).fetchall()
        assert applied == [("applied",)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_partial_refunds_add_up_to_the_payment_and_never_beyond(market: Market, provider: str):
    bought = market.paid(provider, quantity=2)
    payment_id = bought["payment_id"]
    _, _, amount = market.money(payment_id)
    first = market.granted(payment_id, 4_000)
    # what is granted counts before it is sent: never more than the payment in all
    over = market.grant_refund(payment_id, amount - 4_000 + 1)
    assert over.status_code == 409, over.text
    assert over.json()["details"] == "refund_exceeds_payment"
    assert json.loads(over.json()["hint"]) == {"requested": amount - 4_000 + 1, "refundable": amount - 4_000}
    market.refund_execute()
    idle(market)
    assert market.refund(first)["status"] == "succeeded"
    assert market.money(payment_id) == ("partially_refunded", 4_000, amount)

    rest = market.granted(payment_id, amount - 4_000)
    market.refund_execute()
    idle(market)
    assert market.refund(rest)["status"] == "succeeded"
    assert market.refund(rest)["method"] == expected_method(market, provider, whole=False)
    assert market.money(payment_id) == ("refunded", amount, amount)
    again = market.grant_refund(payment_id, 1)
    assert again.status_code == 409 and again.json()["details"] == "payment_not_refundable", again.text
    paid = [p for p in market.payouts(provider=provider, msisdn=bought["msisdn"]) if p["status"] == "paid"]
    assert sorted(p["amount"] for p in paid) == sorted([4_000, amount - 4_000])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refund_refused_once_fails_then_an_admin_retries_it_and_it_is_paid(market: Market, provider: str):
    bought = market.paid(provider, suffix="81")
    payment_id = bought["payment_id"]
    _, _, amount = market.money(payment_id)
    refund_id = market.granted(payment_id, 5_000)
    run = market.refund_execute()
    assert market.result_for(run, refund_id)["result"] == "failed"  # type: ignore[index]
    refund = market.refund(refund_id)
    assert refund["status"] == "failed"
    assert refund["failure_reason"].startswith("insufficient_balance"), refund
    assert market.money(payment_id) == ("succeeded", 0, amount)
    assert "refund_failed" in market.notifications(bought["customer"].id)

    # running again sends nothing: a failed refund waits for a person
    market.refund_execute()
    assert market.refund(refund_id)["status"] == "failed"

    retried = market.admin_rpc("retry_refund", {"p_refund_id": refund_id})
    assert retried.status_code == 200 and retried.json()["status"] == "requested", retried.text
    market.refund_execute()
    idle(market)
    refund = market.refund(refund_id)
    assert (refund["status"], refund["attempts"], refund["failure_reason"]) == ("succeeded", 2, None)
    assert market.money(payment_id) == ("partially_refunded", 5_000, amount)
    attempts = [p for p in market.payouts(provider=provider, msisdn=bought["msisdn"])]
    assert [p["status"] for p in attempts] == ["refused", "paid"]


@pytest.mark.parametrize("provider", ["mpesa", "airtel", "halopesa"])
def test_a_refund_whose_answer_was_lost_is_settled_by_a_later_run(market: Market, provider: str):
    bought = market.paid(provider, suffix="83")
    payment_id = bought["payment_id"]
    _, _, amount = market.money(payment_id)
    refund_id = market.granted(payment_id, 5_000)  # part of it: Airtel sends it by disbursement
    run = market.refund_execute()
    assert market.result_for(run, refund_id)["result"] == "pending"  # type: ignore[index]
    idle(market)
    assert market.refund(refund_id)["status"] == "processing"
    # the money did go out, but we do not know it yet: the payment is untouched
    assert [p["status"] for p in market.payouts(provider=provider, msisdn=bought["msisdn"])] == ["paid"]
    assert market.money(payment_id) == ("succeeded", 0, amount)

    # a run before the refund is stale neither resends nor asks
    again = market.refund_execute()
    assert market.result_for(again, refund_id) is None
    market.age_refund(refund_id)
    later = market.refund_execute()
    assert market.result_for(later, refund_id)["result"] == "succeeded", later  # type: ignore[index]
    refund = market.refund(refund_id)
    assert (refund["status"], refund["attempts"]) == ("succeeded", 1)
    assert market.money(payment_id) == ("partially_refunded", 5_000, amount)
    assert len([p for p in market.payouts(provider=provider, msisdn=bought["msisdn"]) if p["status"] == "paid"]) == 1


@pytest.mark.parametrize("provider", ["mpesa", "airtel", "halopesa"])
def test_a_refund_the_provider_never_received_fails_and_a_retry_pays_it(market: Market, provider: str):
    bought = market.paid(provider, suffix="84")
    payment_id = bought["payment_id"]
    refund_id = market.granted(payment_id, 5_000)
    market.refund_execute()
    assert market.refund(refund_id)["status"] == "processing"  # no answer: not known
    market.age_refund(refund_id)
    run = market.refund_execute()
    assert market.result_for(run, refund_id)["result"] == "not_found"  # type: ignore[index]
    refund = market.refund(refund_id)
    assert refund["status"] == "failed" and refund["failure_reason"].startswith("not_found_at_provider")
    assert market.admin_rpc("retry_refund", {"p_refund_id": refund_id}).status_code == 200
    market.refund_execute()
    idle(market)
    assert market.refund(refund_id)["status"] == "succeeded"
    attempts = market.payouts(provider=provider, msisdn=bought["msisdn"])
    assert [p["status"] for p in attempts] == ["lost", "paid"]
    assert {p["reference"] for p in attempts} == {refund["reference"]}  # the same reference both times


def test_a_mixx_payout_whose_answer_was_lost_waits_for_an_operator(market: Market):
    """Mixx B2C has no status query: a lost answer stays processing, never resent."""
    bought = market.paid("mixx", suffix="83")
    refund_id = market.granted(bought["payment_id"], 5_000)
    market.refund_execute()
    market.age_refund(refund_id)
    run = market.refund_execute()
    assert market.result_for(run, refund_id)["result"] == "cannot_ask"  # type: ignore[index]
    assert market.refund(refund_id)["status"] == "processing"
    assert [p["status"] for p in market.payouts(provider="mixx", msisdn=bought["msisdn"])] == ["paid"]
    # while it may be in flight, nobody can pay it by hand either
    manual = market.admin_rpc("record_manual_refund", {"p_refund_id": refund_id, "p_reference": "CASH-1"})
    assert manual.status_code == 409 and manual.json()["details"] == "refund_in_flight", manual.text


def test_a_refund_refused_for_good_is_paid_by_hand(market: Market):
    bought = market.paid("mpesa", suffix="82")
    payment_id = bought["payment_id"]
    _, _, amount = market.money(payment_id)
    refund_id = market.granted(payment_id, amount)
    market.refund_execute()
    assert market.refund(refund_id)["status"] == "failed"
    manual = market.admin_rpc("record_manual_refund", {"p_refund_id": refund_id, "p_reference": "MPESA-SENDMONEY-77"})
    assert manual.status_code == 200, manual.text
    refund = market.refund(refund_id)
    assert (refund["status"], refund["method"], refund["manual_reference"]) == (
        "manual",
        "manual",
        "MPESA-SENDMONEY-77",
    )
    assert market.money(payment_id) == ("refunded", amount, amount)
    assert [p["status"] for p in market.payouts(provider="mpesa", msisdn=bought["msisdn"])] == ["refused"]


def test_the_same_payout_callback_ten_times_settles_the_refund_once(market: Market):
    bought = market.paid("halopesa", suffix="83")  # the create answer and the webhook are lost
    payment_id = bought["payment_id"]
    _, _, amount = market.money(payment_id)
    refund_id = market.granted(payment_id, amount)
    market.refund_execute()
    reference = market.refund(refund_id)["reference"]
    assert market.refund(refund_id)["status"] == "processing"

    # a forged one first: stored, rejected, nothing changes
    market.sandbox("POST", f"/_sandbox/payouts/halopesa/{reference}/callback", json={"signature": "invalid"})
    idle(market)
    assert market.refund(refund_id)["status"] == "processing"
    market.sandbox("POST", f"/_sandbox/payouts/halopesa/{reference}/callback", json={"copies": 10})
    idle(market)
    assert market.refund(refund_id)["status"] == "succeeded"
    assert market.money(payment_id) == ("refunded", amount, amount)
    events = market.db.execute(
        "select status, count(*) from private.payment_events where provider = 'halopesa' and "
        "position(convert_to(%s, 'UTF8') in body) > 0 group by status order by status",
        [reference],
    ).fetchall()
    assert events == [("applied", 1), ("duplicate", 9), ("rejected", 1)]
    assert market.notifications(bought["customer"].id).count("refund_succeeded") == 1
    deliveries = market.sandbox("GET", "/_sandbox/deliveries", params={"ref": reference})
    assert sorted(d["status_code"] for d in deliveries) == [200] * 10 + [401]
    # a run afterwards has nothing to do with it
    assert market.result_for(market.refund_execute(), refund_id) is None


def test_duplicate_payout_webhooks_from_the_provider_settle_once(market: Market):
    bought = market.paid("halopesa", suffix="86")
    refund_id = market.granted(bought["payment_id"], 5_000)
    market.refund_execute()
    idle(market)
    reference = market.refund(refund_id)["reference"]
    assert market.refund(refund_id)["status"] == "succeeded"
    statuses = [
        r[0]
        for r in market.db.execute(
            "select status from private.payment_events where provider = 'halopesa' and provider_ref = %s",
            [reference],
        ).fetchall()
    ]
    assert sorted(statuses) == ["applied"] + ["duplicate"] * (len(statuses) - 1) and len(statuses) >= 3
    assert market.money(bought["payment_id"])[1] == 5_000


def test_concurrent_runs_send_each_refund_once(market: Market):
    orders = [market.paid(p) for p in ("mpesa", "mpesa", "airtel", "mixx", "halopesa")]
    refunds = {market.granted(o["payment_id"], 3_000): o for o in orders}
    runs: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        with httpx.Client(timeout=60) as client:
            start.wait()
            try:
                runs.append(market.refund_execute(client=client))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    idle(market)
    for refund_id, order in refunds.items():
        sent = [
            r for run in runs for r in run["results"] if r["refund_id"] == refund_id and r["result"] != "not_claimed"
        ]
        assert len(sent) == 1, (refund_id, sent)
        refund = market.refund(refund_id)
        assert (refund["status"], refund["attempts"]) == ("succeeded", 1)
        provider = market.payment(order["payment_id"])["provider"]
        paid = [p for p in market.payouts(provider=provider, msisdn=order["msisdn"]) if p["status"] == "paid"]
        assert [p["amount"] for p in paid] == [3_000]
        assert market.money(order["payment_id"])[1] == 3_000


def test_refund_execute_is_for_the_service_role_and_never_shows_database_text(market: Market):
    customer = market.customer()
    url = f"{market.target.url}/functions/v1/refund-execute"
    anon = market.http.post(url, json={}, headers={"Authorization": f"Bearer {market.target.anon_key}"})
    assert anon.status_code == 403
    user = market.http.post(url, json={}, headers={"Authorization": f"Bearer {customer.token}"})
    assert user.status_code == 403
    assert market.http.post(url, json={}).status_code == 401
    service = {"Authorization": f"Bearer {market.target.service_role_key}"}
    for body in ({"limit": 0}, {"stale_seconds": 1}, {"limit": "x"}):
        bad = market.http.post(url, json=body, headers=service)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_option"
    assert market.http.post(url, content=b"nope", headers=service).status_code == 400
    # customers cannot grant refunds nor send them through the Data API
    bought = market.paid("mpesa")
    as_customer = {"apikey": market.target.anon_key, "Authorization": f"Bearer {bought['customer'].token}"}
    claim = market.http.post(
        f"{market.target.url}/rest/v1/rpc/claim_refund",
        json={"p_refund_id": "00000000-0000-4000-8000-000000000000"},
        headers=as_customer,
    )
    assert claim.status_code in (401, 403), claim.text
    denied = market.http.post(
        f"{market.target.url}/rest/v1/rpc/refund_payment",
        json={"p_payment_id": bought["payment_id"], "p_amount": 1, "p_reason": "x", "p_idempotency_key": "k" * 12},
        headers=as_customer,
    )
    assert denied.status_code in (401, 403), denied.text
    assert market.money(bought["payment_id"])[1] == 0


def test_a_payout_webhook_racing_a_status_query_settles_once(market: Market):
    bought = market.paid("halopesa", suffix="83")
    payment_id = bought["payment_id"]
    refund_id = market.granted(payment_id, 5_000)
    market.refund_execute()
    reference = market.refund(refund_id)["reference"]
    market.age_refund(refund_id)
    # five copies of the webhook and a run that asks the provider, at once
    market.sandbox("POST", f"/_sandbox/payouts/halopesa/{reference}/callback", json={"copies": 5})
    run = market.refund_execute()
    idle(market)
    by_run = market.result_for(run, refund_id) or {}  # none: a copy settled it before the run listed it
    assert by_run.get("result") in (None, "succeeded", "settled"), run
    assert market.refund(refund_id)["status"] == "succeeded"
    assert market.money(payment_id)[1] == 5_000
    assert market.notifications(bought["customer"].id).count("refund_succeeded") == 1
    events = [
        r[0]
        for r in market.db.execute(
            "select status from private.payment_events where provider = 'halopesa' and provider_ref = %s",
            [reference],
        ).fetchall()
    ]
    # exactly one of the six settled it: the run (then every copy is a duplicate) or a copy
    settled_by_run = 1 if by_run.get("recorded") == "applied" else 0
    assert len(events) == 5 and events.count("applied") + settled_by_run == 1, (events, by_run)
