"""Refunds in SQL: granted at most up to what was paid, once per idempotency key, whatever
the concurrency; settled once whatever the duplicates; the payment, the points and the
return follow; and the review queue decides money a person must look at. (Sending the
money through the providers: test_refund_execution.py.)"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx

from tests.payments.market import Customer, Market


def paid(market: Market, customer: Customer | None = None, price: int = 20_000) -> dict[str, Any]:
    buyer = customer or market.customer()
    bought = market.buy(buyer, "airtel", price=price)
    assert market.wait_payment(bought["payment_id"])["status"] == "succeeded"
    return bought | {"customer": buyer}


def grant(market: Market, admin: Customer, payment: str, amount: int, key: str | None = None) -> httpx.Response:
    return market.rpc(
        admin,
        "refund_payment",
        {
            "p_payment_id": payment,
            "p_amount": amount,
            "p_reason": "test",
            "p_idempotency_key": key or f"k-{uuid.uuid4()}",
        },
    )


def settle(market: Market, refund: str, outcome: str = "succeeded") -> dict[str, Any]:
    service = market.target.service_role_key
    claimed = market.rpc(service, "claim_refund", {"p_refund_id": refund}).json()
    answer = market.rpc(service, "record_refund_outcome", {"p_refund_id": refund, "p_outcome": outcome})
    assert answer.status_code == 200, answer.text
    return dict(answer.json()) | {"claimed": claimed.get("claimed")}


def payment_money(market: Market, payment: str) -> tuple[str, int]:
    row = market.db.execute("select status, refunded_amount from public.payments where id = %s", [payment]).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def test_partial_refunds_add_up_to_the_payment_and_not_a_shilling_more(market: Market):
    admin = market.admin()
    order = paid(market)  # 23,000 TZS with delivery
    first = grant(market, admin, order["payment_id"], 5_000)
    assert first.status_code == 200, first.text
    settle(market, first.json()["id"])
    assert payment_money(market, order["payment_id"]) == ("partially_refunded", 5_000)

    second = grant(market, admin, order["payment_id"], 18_000)
    settle(market, second.json()["id"])
    assert payment_money(market, order["payment_id"]) == ("refunded", 23_000)

    beyond = grant(market, admin, order["payment_id"], 1)
    assert beyond.status_code == 409 and beyond.json()["details"] == "payment_not_refundable"
    told = market.notifications(order["customer"].id)
    assert told.count("refund_requested") == 2 and told.count("refund_succeeded") == 2


def test_a_refund_beyond_what_is_left_is_refused(market: Market):
    admin = market.admin()
    order = paid(market)
    assert grant(market, admin, order["payment_id"], 20_000).status_code == 200  # granted, not yet sent
    beyond = grant(market, admin, order["payment_id"], 3_001)
    assert beyond.status_code == 409, beyond.text
    assert beyond.json()["details"] == "refund_exceeds_payment"
    assert beyond.json()["hint"] == '{"requested": 3001, "refundable": 3000}'


def test_two_admins_pressing_refund_at_once_make_one_refund(market: Market):
    admins = [market.admin(), market.admin()]
    order = paid(market)
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(10)

    def press(i: int) -> None:
        barrier.wait()
        answers.append(grant(market, admins[i % 2], order["payment_id"], 23_000, key="same-refund-key-0001"))

    threads = [threading.Thread(target=press, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["id"] for a in answers}) == 1
    rows = market.db.execute("select count(*) from public.refunds where payment_id = %s", [order["payment_id"]])
    assert rows.fetchone() == (1,)


def test_concurrent_refunds_with_different_keys_never_exceed_the_payment(market: Market):
    admin = market.admin()
    order = paid(market)
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(6)

    def press() -> None:
        barrier.wait()
        answers.append(grant(market, admin, order["payment_id"], 10_000))

    threads = [threading.Thread(target=press) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 409, 409, 409, 409]
    total = market.db.execute(
        "select sum(amount) from public.refunds where payment_id = %s", [order["payment_id"]]
    ).fetchone()
    assert total == (20_000,)


def test_the_same_outcome_ten_times_settles_once(market: Market):
    admin = market.admin()
    order = paid(market)
    refund = grant(market, admin, order["payment_id"], 7_000).json()["id"]
    first = settle(market, refund)
    assert first["result"] == "applied"
    service = market.target.service_role_key
    again = [
        market.rpc(service, "record_refund_outcome", {"p_refund_id": refund, "p_outcome": "succeeded"}).json()["result"]
        for _ in range(9)
    ]
    assert set(again) == {"duplicate"}
    late_failure = market.rpc(service, "record_refund_outcome", {"p_refund_id": refund, "p_outcome": "failed"})
    assert late_failure.json()["result"] == "ignored"
    assert payment_money(market, order["payment_id"]) == ("partially_refunded", 7_000)


def test_a_refund_is_claimed_by_one_sender_only(market: Market):
    admin = market.admin()
    order = paid(market)
    refund = grant(market, admin, order["payment_id"], 4_000).json()["id"]
    service = market.target.service_role_key
    claims: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        claims.append(market.rpc(service, "claim_refund", {"p_refund_id": refund}).json()["claimed"])

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claims) == [False] * 7 + [True]


def test_a_failed_refund_is_tried_again_or_paid_by_hand(market: Market):
    admin = market.admin()
    order = paid(market)
    refund = grant(market, admin, order["payment_id"], 3_000).json()["id"]
    assert settle(market, refund, "failed")["refund_status"] == "failed"
    assert "refund_failed" in market.notifications(order["customer"].id)
    retried = market.rpc(admin, "retry_refund", {"p_refund_id": refund})
    assert retried.status_code == 200 and retried.json()["status"] == "requested"
    assert settle(market, refund, "failed")["refund_status"] == "failed"
    manual = market.rpc(admin, "record_manual_refund", {"p_refund_id": refund, "p_reference": "MP-HAND-77"})
    assert manual.status_code == 200 and manual.json()["status"] == "manual"
    assert payment_money(market, order["payment_id"]) == ("partially_refunded", 3_000)
    # a refund a provider may still be sending cannot be paid by hand as well
    other = grant(market, admin, order["payment_id"], 1_000).json()["id"]
    market.rpc(market.target.service_role_key, "claim_refund", {"p_refund_id": other})
    busy = market.rpc(admin, "record_manual_refund", {"p_refund_id": other, "p_reference": "X"})
    assert busy.status_code == 409 and busy.json()["details"] == "refund_in_flight"


def test_points_go_back_in_proportion_to_the_refund(market: Market):
    admin = market.admin()
    order = paid(market, price=40_000)  # 40 points, on a 43,000 TZS payment
    assert order["customer"].rest.rpc("loyalty_balance", {}).execute().data == 40
    settle(market, grant(market, admin, order["payment_id"], 21_500).json()["id"])  # half
    assert order["customer"].rest.rpc("loyalty_balance", {}).execute().data == 20
    settle(market, grant(market, admin, order["payment_id"], 21_500).json()["id"])
    assert order["customer"].rest.rpc("loyalty_balance", {}).execute().data == 0


def test_only_admins_grant_refunds(market: Market):
    order = paid(market)
    customer = order["customer"]
    answer = grant(market, customer, order["payment_id"], 1_000)
    assert answer.status_code == 403 and answer.json()["code"] == "42501"
    assert market.db.execute(
        "select count(*) from public.refunds where payment_id = %s", [order["payment_id"]]
    ).fetchone() == (0,)


def in_review(market: Market, reason: str) -> dict[str, Any]:
    customer = market.customer("90")  # no callback by itself
    bought = market.buy(customer, "halopesa", stock=2)
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    if reason == "amount_mismatch":
        market.send_callback("halopesa", customer.phone, outcome="success", amount=100)
    else:  # money after the order expired and its stock went
        market.expire_now(bought["order_id"])
        market.expire()
        market.db.execute("update public.inventory set on_hand = 0 where product_id = %s", [bought["product_id"]])
        market.send_callback("halopesa", customer.phone, outcome="success")
    state = market.payment(bought["payment_id"])
    assert (state["needs_review"], state["review_reason"]) == (True, reason)
    return bought | {"customer": customer}


def test_a_reviewed_payment_is_accepted_and_the_order_ships(market: Market):
    admin = market.admin()
    order = in_review(market, "amount_mismatch")
    answer = market.rpc(admin, "resolve_payment_review", {"p_payment_id": order["payment_id"], "p_decision": "accept"})
    assert answer.status_code == 200, answer.text
    state = market.payment(order["payment_id"])
    assert (state["status"], state["order_status"], state["needs_review"]) == ("succeeded", "paid", False)
    reviewed = market.db.execute(
        "select reviewed_by::text, reviewed_at is not null from public.payments where id = %s", [order["payment_id"]]
    ).fetchone()
    assert reviewed == (admin.id, True)
    assert market.db.execute(
        "select count(*) from public.shipments where order_id = %s", [order["order_id"]]
    ).fetchone() == (1,)
    audited = market.db.execute(
        "select context ->> 'review' from public.audit_logs where entity_id = %s and context ? 'review'",
        [order["payment_id"]],
    ).fetchall()
    assert ("accept",) in audited
    twice = market.rpc(admin, "resolve_payment_review", {"p_payment_id": order["payment_id"], "p_decision": "refund"})
    assert twice.status_code == 409 and twice.json()["details"] == "not_in_review"


def test_a_late_payment_without_stock_is_refunded_after_review(market: Market):
    admin = market.admin()
    order = in_review(market, "success_after_expiry_no_stock")
    refused = market.rpc(admin, "resolve_payment_review", {"p_payment_id": order["payment_id"], "p_decision": "accept"})
    assert refused.status_code == 409 and refused.json()["details"] == "stock_unavailable"
    answer = market.rpc(
        admin,
        "resolve_payment_review",
        {"p_payment_id": order["payment_id"], "p_decision": "refund", "p_note": "sold out"},
    )
    assert answer.status_code == 200, answer.text
    refund = market.db.execute(
        "select amount, source from public.refunds where id = %s", [answer.json()["refund_id"]]
    ).fetchone()
    assert refund == (order["amount"], "late_payment")
    settle(market, answer.json()["refund_id"])
    state = market.payment(order["payment_id"])
    assert (state["status"], state["order_status"], state["needs_review"]) == ("refunded", "expired", False)


def test_only_admins_resolve_reviews(market: Market):
    order = in_review(market, "amount_mismatch")
    answer = market.rpc(
        order["customer"], "resolve_payment_review", {"p_payment_id": order["payment_id"], "p_decision": "accept"}
    )
    assert answer.status_code == 403
    assert market.payment(order["payment_id"])["needs_review"] is True
