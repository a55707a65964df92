"""Lipa kidogo kidogo: a cart paid in 2-4 instalments by push, no fee and no interest, the
stock held and the goods shipped when the last instalment is paid. Through the real
callers: checkout-initiate with ``plan``, the scheduler's run of instalment-push, the
customer's "pay the next instalment now", the sandbox's answers through payment-webhook,
refund-execute. Time moves by SQL updates of due dates; the money invariants (instalments
and ledger included) are checked after every test."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import httpx
import pytest

from tests.payments.market import ADDRESS, Market
from tests.payments.plans import Plans


@pytest.fixture
def plans(market: Market) -> Plans:
    return Plans(market)


def points(market: Market, customer_id: str) -> int:
    row = market.db.execute("select private.points_balance(%s)", [customer_id]).fetchone()
    assert row is not None
    return int(row[0])


def shipments(market: Market, order_id: str) -> int:
    row = market.db.execute("select count(*) from public.shipments where order_id = %s", [order_id]).fetchone()
    assert row is not None
    return int(row[0])


# -- the whole way through -------------------------------------------------------------------


def test_a_plan_is_paid_instalment_by_instalment_and_ships_after_the_last(market: Market, plans: Plans):
    bought = plans.buy("pay_in_3", price=30_000, quantity=2, stock=10)  # 60,000 + 3,000 delivery
    customer = bought.customer
    body = bought.body
    assert body["amount"] == 21_000 and body["plan"]["total"] == 63_000
    assert [i["amount"] for i in body["plan"]["instalments"]] == [21_000, 21_000, 21_000]
    assert market.payment(bought.payment_id)["status"] == "succeeded"

    # the first instalment paid: the plan is under way, the goods held, nothing shipped or sold
    assert plans.plan(bought.plan_id) == {
        "status": "active", "total": 63_000, "plan": "pay_in_3", "order_status": "pending_payment",
        "order_total": 63_000,
    }  # fmt: skip
    assert plans.statuses(bought.plan_id) == ["paid", "scheduled", "scheduled"]
    assert market.stock(bought.product) == {"DAR": (10, 2)}
    assert shipments(market, bought.order_id) == 0
    assert plans.sales(bought.order_id) == []
    assert points(market, customer.id) == 0
    assert "instalment_paid" in market.notifications(customer.id)

    # nothing is due yet: the job pushes nothing
    assert plans.job()["results"] == []

    # the second falls due: the scheduler pushes it, the customer pays on their phone
    plans.due(bought.plan_id, 2)
    run = plans.job()
    assert [(r["instalment"], r["result"]) for r in run["results"]] == [(2, "pushed")]
    assert plans.settle(run["results"][0]["payment_id"])["status"] == "succeeded"
    assert plans.statuses(bought.plan_id) == ["paid", "paid", "scheduled"]
    assert plans.plan(bought.plan_id)["order_status"] == "pending_payment"
    assert market.stock(bought.product) == {"DAR": (10, 2)}

    # the last: the plan completes, the order is paid, sold once and shipped
    plans.due(bought.plan_id, 3)
    run = plans.job()
    assert plans.settle(run["results"][0]["payment_id"])["status"] == "succeeded"
    assert plans.plan(bought.plan_id)["status"] == "completed"
    assert plans.plan(bought.plan_id)["order_status"] == "paid"
    assert market.stock(bought.product) == {"DAR": (8, 0)}
    assert shipments(market, bought.order_id) == 1
    assert plans.sales(bought.order_id) == [("order", "sale", 63_000)]
    assert points(market, customer.id) == 60  # one per 1,000 TZS of goods, earned at the end
    told = market.notifications(customer.id)
    assert told.count("instalment_paid") == 2 and told[-1] == "order_paid"
    assert "new_order" in market.notifications(market.owner_of(bought.shop).id)
    assert [p["amount"] for p in plans.payments(bought.plan_id)] == [21_000, 21_000, 21_000]


def test_the_schedule_is_fixed_when_the_plan_is_made_and_adds_up_exactly(market: Market, plans: Plans):
    old = plans.setting("instalments.interval_days", 7)
    try:
        bought = plans.buy("pay_in_3", price=30_001, wait=False)  # 33,001 with delivery
    finally:
        plans.setting("instalments.interval_days", old)
    schedule = plans.instalments(bought.plan_id)
    assert [i["amount"] for i in schedule] == [11_001, 11_000, 11_000]
    assert sum(i["amount"] for i in schedule) == 33_001 == bought.body["amount"] + 22_000
    gaps = [schedule[k + 1]["due_at"] - schedule[k]["due_at"] for k in range(2)]
    assert gaps == [dt.timedelta(days=7)] * 2  # the interval of the day it was made
    assert abs(schedule[0]["due_at"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    for plan, n in (("pay_in_2", 2), ("pay_in_4", 4)):
        other = plans.buy(plan, price=25_003, wait=False)
        amounts = [i["amount"] for i in plans.instalments(other.plan_id)]
        assert len(amounts) == n and sum(amounts) == 28_003 and max(amounts) - min(amounts) < n


def test_carts_that_cannot_be_paid_in_instalments_are_refused_and_hold_nothing(market: Market, plans: Plans):
    customer = market.customer()

    def attempt(price: int, plan: str | None = "pay_in_2", **product: Any) -> httpx.Response:
        item = market.product(5, price=price, **product)
        market.fill_cart(customer, [(item, 1)])
        answer = plans.checkout(customer, plan)
        assert market.stock(item) == {"DAR": (5, 0)} or answer.status_code == 202
        return answer

    low = attempt(10_000)  # 13,000 with delivery
    assert low.status_code == 422 and low.json()["error"]["code"] == "plan_total_too_low", low.text
    assert low.json()["error"]["details"] == {"minimum": 20_000, "total": 13_000}
    high = attempt(3_500_000)
    assert high.status_code == 422 and high.json()["error"]["code"] == "plan_total_too_high"

    shop = market.shop()
    market.db.execute("update public.vendors set instalments_allowed = false where id = %s", [shop])
    vendor_out = attempt(30_000, shop=shop)
    assert vendor_out.status_code == 409 and vendor_out.json()["error"]["code"] == "plan_not_offered"
    item = market.product(5, price=30_000)
    market.db.execute("update public.products set instalments_allowed = false where id = %s", [item])
    market.fill_cart(customer, [(item, 1)])
    product_out = plans.checkout(customer, "pay_in_2")
    assert product_out.status_code == 409 and product_out.json()["error"]["details"] == {"product_ids": [item]}

    unknown = attempt(30_000, "pay_in_12")
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_plan"
    bad = market.checkout(customer, body={"provider": "airtel", "shipping_address": ADDRESS, "plan": ["pay_in_2"]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_plan"
    assert market.db.execute("select count(*) from public.orders where customer_id = %s", [customer.id]).fetchone() == (
        0,
    )

    # at most instalments.max_open_plans (2) open plans at once
    for _ in range(2):
        assert attempt(30_000).status_code == 202
    third = attempt(30_000)
    assert third.status_code == 409 and third.json()["error"]["code"] == "too_many_plans"
    assert third.json()["error"]["details"] == {"open_plans": 2, "limit": 2}
    # paying in full is still possible
    assert attempt(30_000, None).status_code == 202


def test_the_plan_is_part_of_the_idempotent_request(market: Market, plans: Plans):
    customer = market.customer()
    market.fill_cart(customer, [(market.product(5, price=30_000), 1)])
    key = plans.key()
    first = plans.checkout(customer, "pay_in_2", key=key)
    assert first.status_code == 202, first.text
    again = plans.checkout(customer, "pay_in_2", key=key)
    assert again.status_code == 202 and again.json()["order_id"] == first.json()["order_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    for other in ("pay_in_3", None):
        reused = plans.checkout(customer, other, key=key)
        assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"


# -- instalments that do not go through ------------------------------------------------------


def test_a_failed_first_instalment_means_the_plan_never_starts(market: Market, plans: Plans):
    bought = plans.buy("pay_in_2", suffix="91")  # insufficient funds
    assert market.payment(bought.payment_id)["status"] == "failed"
    assert plans.plan(bought.plan_id)["status"] == "cancelled"
    assert plans.plan(bought.plan_id)["order_status"] == "cancelled"
    assert plans.statuses(bought.plan_id) == ["cancelled", "cancelled"]
    assert market.stock(bought.product) == {"DAR": (10, 0)}
    assert plans.refunds(bought.order_id) == []
    cart = bought.customer.rest.from_("cart_items").select("product_id").execute().data
    assert [c["product_id"] for c in cart] == [bought.product]  # back in the cart


def test_a_failed_instalment_waits_for_the_retry_or_the_customer(market: Market, plans: Plans):
    bought = plans.buy("pay_in_3", suffix="90", provider="mixx", wait=False)  # the test answers
    customer = bought.customer
    plans.callback("mixx", customer, "success")
    assert plans.settle(bought.payment_id)["status"] == "succeeded"

    plans.due(bought.plan_id, 2)
    pushed = plans.job()["results"][0]["payment_id"]
    plans.callback("mixx", customer, "failed")
    assert plans.settle(pushed)["status"] == "failed"
    # only this attempt ended: the order, its stock and the plan wait
    total = bought.body["plan"]["total"]
    assert plans.plan(bought.plan_id) == {
        "status": "active", "total": total, "plan": "pay_in_3", "order_status": "pending_payment",
        "order_total": total,
    }  # fmt: skip
    assert market.stock(bought.product) == {"DAR": (10, 1)}
    assert "instalment_failed" in market.notifications(customer.id)
    # the job does not prompt again before instalments.retry_hours
    assert plans.job()["results"] == []

    # the customer pays it from the app meanwhile
    answer = plans.pay_next(customer, bought.plan_id)
    assert answer.status_code == 202, answer.text
    assert (answer.json()["instalment"], answer.json()["payment_status"]) == (2, "initiated")
    plans.callback("mixx", customer, "success")
    assert plans.settle(answer.json()["payment_id"])["status"] == "succeeded"
    assert plans.statuses(bought.plan_id) == ["paid", "paid", "scheduled"]
    assert [p["status"] for p in plans.payments(bought.plan_id, 2)] == ["failed", "succeeded"]


def test_the_job_prompts_again_after_the_retry_interval_at_most_max_auto_pushes(market: Market, plans: Plans):
    bought = plans.buy("pay_in_2", suffix="90", provider="mixx", wait=False)
    customer = bought.customer
    plans.callback("mixx", customer, "success")
    plans.settle(bought.payment_id)
    plans.due(bought.plan_id, 2, ago="2 days")  # within the 3-day grace period
    for attempt in range(1, 4):
        run = plans.job()
        assert [r["result"] for r in run["results"]] == ["pushed"], (attempt, run)
        plans.callback("mixx", customer, "failed")
        plans.settle(run["results"][0]["payment_id"])
        plans.age_attempts(bought.plan_id, 25)
    assert plans.job()["results"] == []  # instalments.max_auto_pushes (3) reached
    assert len(plans.payments(bought.plan_id, 2)) == 3
    assert plans.plan(bought.plan_id)["status"] == "active"


def test_an_unpaid_instalment_past_the_grace_period_cancels_the_plan_and_refunds_in_full(market: Market, plans: Plans):
    bought = plans.buy("pay_in_3", price=40_000)  # 43,000: 14,334 + 14,333 + 14,333
    first = bought.body["amount"]
    assert first == 14_334
    plans.due(bought.plan_id, 2, ago="2 days")  # late, still within grace: pushed, not cancelled
    run = plans.job()
    assert run["cancelled"] == 0 and run["results"][0]["instalment"] == 2
    plans.settle(run["results"][0]["payment_id"])  # the sandbox pays (phone 00)
    paid = first + 14_333

    plans.due(bought.plan_id, 3, ago="3 days 1 hour")  # the grace period has passed
    run = plans.job()
    assert run["cancelled"] == 1 and run["results"] == []
    assert plans.plan(bought.plan_id)["status"] == "cancelled"
    assert plans.plan(bought.plan_id)["order_status"] == "cancelled"
    assert plans.statuses(bought.plan_id) == ["paid", "paid", "cancelled"]
    assert market.stock(bought.product) == {"DAR": (10, 0)}  # released, never sold
    refunds = plans.refunds(bought.order_id)
    assert sorted((r["amount"], r["source"]) for r in refunds) == [(14_333, "cancellation"), (first, "cancellation")]
    assert "instalment_plan_cancelled" in market.notifications(bought.customer.id)
    assert plans.job()["cancelled"] == 0  # once

    # refund-execute sends them back to the phone; the ledger takes them from unallocated
    market.refund_execute()
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    assert {market.refund(r["id"])["status"] for r in refunds} == {"succeeded"}
    assert sum(p["amount"] for p in market.payouts(msisdn=bought.customer.phone) if p["status"] == "paid") == paid
    assert [p["status"] for p in plans.payments(bought.plan_id)] == ["refunded", "refunded"]
    assert plans.sales(bought.order_id) == []


def test_a_second_payment_of_a_paid_instalment_goes_to_review_and_back(market: Market, plans: Plans):
    bought = plans.buy("pay_in_2", suffix="90", provider="mixx", wait=False)
    customer = bought.customer
    plans.callback("mixx", customer, "success")
    plans.settle(bought.payment_id)
    plans.due(bought.plan_id, 2)
    late = plans.job()["results"][0]["payment_id"]
    late_ref = market.payment(late)["provider_ref"]
    market.expire_now(bought.order_id)  # nobody answered the prompt in time
    market.expire()
    assert market.payment(late)["status"] == "expired"
    assert plans.plan(bought.plan_id)["status"] == "active"

    answer = plans.pay_next(customer, bought.plan_id)
    plans.callback("mixx", customer, "success")
    assert plans.settle(answer.json()["payment_id"])["status"] == "succeeded"
    assert plans.plan(bought.plan_id)["status"] == "completed"

    # the first prompt's money arrives after all
    pushes = market.sandbox("GET", "/_sandbox/transactions", params={"provider": "mixx", "msisdn": customer.phone})
    wire_ref = next(t["ref"] for t in pushes if t["ref"].endswith(late_ref))
    market.sandbox("POST", f"/_sandbox/transactions/mixx/{wire_ref}/callback", json={"outcome": "success"})
    state = plans.settle(late)
    assert (state["status"], state["needs_review"], state["review_reason"]) == (
        "succeeded", True, "duplicate_payment",
    )  # fmt: skip
    accepted = market.admin_rpc("resolve_payment_review", {"p_payment_id": late, "p_decision": "accept"})
    assert accepted.status_code == 409 and accepted.json()["details"] == "instalment_not_open"
    refunded = market.admin_rpc("resolve_payment_review", {"p_payment_id": late, "p_decision": "refund"})
    assert refunded.status_code == 200 and refunded.json()["result"] == "refund_granted", refunded.text
    refund = [r for r in plans.refunds(bought.order_id) if r["payment_id"] == late]
    assert [(r["amount"], r["source"]) for r in refund] == [(bought.body["amount"], "review")]


# -- paying early ----------------------------------------------------------------------------


def test_the_customer_pays_the_next_instalment_early(market: Market, plans: Plans):
    bought = plans.buy("pay_in_3")
    answer = plans.pay_next(bought.customer, bought.plan_id)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["instalment"], body["amount"], body["replayed"]) == (2, bought.body["amount"], False)
    assert "provider_ref" not in body
    assert plans.settle(body["payment_id"])["status"] == "succeeded"
    assert plans.statuses(bought.plan_id) == ["paid", "paid", "scheduled"]
    # when its day comes there is nothing to push for it
    plans.due(bought.plan_id, 2)
    assert plans.job()["results"] == []


def test_two_taps_make_one_prompt(market: Market, plans: Plans):
    bought = plans.buy("pay_in_2", suffix="90", provider="mixx", wait=False)
    plans.callback("mixx", bought.customer, "success")
    plans.settle(bought.payment_id)
    answers: list[httpx.Response] = []

    def tap() -> None:
        with httpx.Client(timeout=60) as client:
            answers.append(plans.pay_next(bought.customer, bought.plan_id, client))

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    assert len({a.json()["payment_id"] for a in answers}) == 1
    assert len(plans.payments(bought.plan_id, 2)) == 1
    phone = bought.customer.phone
    pushes = market.sandbox("GET", "/_sandbox/transactions", params={"provider": "mixx", "msisdn": phone})
    assert len(pushes) == 2  # the first instalment's and one for the second


def test_nobody_pays_a_plan_that_is_not_theirs_or_not_under_way(market: Market, plans: Plans):
    bought = plans.buy("pay_in_2", suffix="90", provider="mixx", wait=False)
    pending = plans.pay_next(bought.customer, bought.plan_id)  # the first instalment is still open
    assert pending.status_code == 409 and pending.json()["error"]["code"] == "plan_not_active"
    stranger = plans.pay_next(market.customer(), bought.plan_id)
    assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "plan_not_found"
    anon = market.http.post(
        f"{market.target.url}/functions/v1/instalment-push",
        json={"plan_id": bought.plan_id},
        headers={"Authorization": f"Bearer {market.target.anon_key}"},
    )
    assert anon.status_code == 401, anon.text
    direct = market.rpc(market.target.service_role_key, "pay_next_instalment", {"p_plan_id": bought.plan_id})
    assert direct.status_code in (401, 403), direct.text
    job = market.rpc(bought.customer, "run_instalment_schedule", {})
    assert job.status_code in (401, 403), job.text

    plans.callback("mixx", bought.customer, "success")
    plans.settle(bought.payment_id)
    done = plans.pay_next(bought.customer, bought.plan_id)
    plans.callback("mixx", bought.customer, "success")
    plans.settle(done.json()["payment_id"])
    assert plans.plan(bought.plan_id)["status"] == "completed"
    finished = plans.pay_next(bought.customer, bought.plan_id)
    assert finished.status_code == 409 and finished.json()["error"]["details"] == {"status": "completed"}


# -- reminders -------------------------------------------------------------------------------


def test_the_customer_is_reminded_once_a_day_before(market: Market, plans: Plans):
    bought = plans.buy("pay_in_2")
    market.db.execute(
        "update public.instalments set due_at = now() + interval '20 hours' where plan_id = %s and number = 2",
        [bought.plan_id],
    )
    assert plans.job()["reminded"] >= 1
    assert plans.instalments(bought.plan_id)[1]["reminded_at"] is not None
    assert market.notifications(bought.customer.id).count("instalment_due_soon") == 1
    plans.job()
    assert market.notifications(bought.customer.id).count("instalment_due_soon") == 1
    note = bought.customer.rest.from_("notifications").select("body,data").eq("type", "instalment_due_soon").execute()
    assert note.data[0]["data"]["plan_id"] == bought.plan_id


# -- the customer and admins see the plans ---------------------------------------------------


def test_customers_read_their_own_plans_and_schedule(market: Market, plans: Plans):
    bought = plans.buy("pay_in_2")
    mine = bought.customer.rest.from_("bnpl_orders").select("id,plan,status,total,instalments(number,amount,status)")
    rows = mine.execute().data
    assert [(r["id"], r["status"], len(r["instalments"])) for r in rows] == [(bought.plan_id, "active", 2)]
    other = market.customer()
    assert other.rest.from_("bnpl_orders").select("id").eq("id", bought.plan_id).execute().data == []
    assert other.rest.from_("instalments").select("id").eq("plan_id", bought.plan_id).execute().data == []
    admin = market.refund_admin()
    assert admin.rest.from_("instalments").select("id").eq("plan_id", bought.plan_id).execute().data
    audit = market.db.execute(
        "select entity_type, after ->> 'status' from public.audit_logs where entity_id = %s "
        "or entity_id in (select id from public.instalments where plan_id = %s) order by created_at",
        [bought.plan_id, bought.plan_id],
    ).fetchall()
    assert ("bnpl_orders", "active") in audit and ("instalments", "paid") in audit


# -- after the plan completes: refunds come from every instalment ---------------------------


def completed(market: Market, plans: Plans, price: int = 40_000, quantity: int = 1) -> Any:
    bought = plans.buy("pay_in_2", price=price, quantity=quantity)
    answer = plans.pay_next(bought.customer, bought.plan_id)
    assert plans.settle(answer.json()["payment_id"])["status"] == "succeeded"
    assert plans.plan(bought.plan_id)["order_status"] == "paid"
    return bought


def test_cancelling_a_completed_plans_order_refunds_every_instalment(market: Market, plans: Plans):
    bought = completed(market, plans)  # 43,000: 21,500 + 21,500
    answer = market.rpc(bought.customer, "cancel_order", {"p_order_id": bought.order_id})
    assert answer.status_code == 200, answer.text
    refunds = plans.refunds(bought.order_id)
    assert sorted(r["amount"] for r in refunds) == [21_500, 21_500]
    assert len({r["payment_id"] for r in refunds}) == 2
    assert set(answer.json()["refund_ids"]) == {r["id"] for r in refunds}
    assert market.stock(bought.product) == {"DAR": (10, 0)}
    market.refund_execute()
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    assert [p["status"] for p in plans.payments(bought.plan_id)] == ["refunded", "refunded"]
    assert points(market, bought.customer.id) == 0  # the 40 earned went back with the money


def test_a_return_of_a_completed_plans_order_comes_back_from_its_instalments(market: Market, plans: Plans):
    bought = completed(market, plans, price=25_000, quantity=2)  # 53,000: 26,500 + 26,500
    staff = market.refund_admin()
    market.deliver(bought.order_id, staff)
    line = market.db.execute("select id::text from public.order_items where order_id = %s", [bought.order_id])
    line_id = line.fetchone()[0]  # type: ignore[index]
    ret = (
        bought.customer.rest.from_("returns")
        .insert({"order_item_id": line_id, "quantity": 2, "reason": "damaged"})
        .execute()
        .data[0]
    )
    assert market.rpc(staff, "decide_return", {"p_return_id": ret["id"], "p_approve": True}).status_code == 200
    received = market.rpc(staff, "receive_return", {"p_return_id": ret["id"], "p_restocked": 2, "p_damaged": 0})
    assert received.status_code == 200, received.text
    refunds = plans.refunds(bought.order_id)
    assert sorted(r["amount"] for r in refunds) == [23_500, 26_500]  # 50,000 from the newest first
    assert {r["source"] for r in refunds} == {"return"}
    returned = market.db.execute("select refund_amount from public.returns where id = %s", [ret["id"]]).fetchone()
    assert returned == (50_000,)
    # the vendor gives back the goods (less commission) once, whichever payments it came from
    vendor_back = market.db.execute(
        "select sum(e.amount) from private.ledger_entries e join private.ledger_accounts a on a.id = e.account_id "
        "where e.order_id = %s and a.kind = 'vendor_pending' and e.kind = 'refund'",
        [bought.order_id],
    ).fetchone()
    assert vendor_back == (50_000,)
    market.refund_execute()
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    status = market.db.execute("select status from public.returns where id = %s", [ret["id"]]).fetchone()
    assert status == ("refunded",)


# -- concurrency -----------------------------------------------------------------------------


def test_scheduler_runs_and_a_tap_at_the_same_moment_make_one_prompt(market: Market, plans: Plans):
    bought = plans.buy("pay_in_2", suffix="90", provider="mixx", wait=False)
    plans.callback("mixx", bought.customer, "success")
    plans.settle(bought.payment_id)
    plans.due(bought.plan_id, 2)
    url = f"{market.target.url}/functions/v1/instalment-push"
    answers: list[httpx.Response] = []

    def run() -> None:
        with httpx.Client(timeout=60) as client:
            answers.append(
                client.post(url, json={}, headers={"Authorization": f"Bearer {market.target.service_role_key}"})
            )

    def tap() -> None:
        with httpx.Client(timeout=60) as client:
            answers.append(plans.pay_next(bought.customer, bought.plan_id, client))

    threads = [threading.Thread(target=f) for f in (run, run, tap, run, tap)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 202, 202], [a.text for a in answers]
    assert len(plans.payments(bought.plan_id, 2)) == 1
    phone = bought.customer.phone
    pushes = market.sandbox("GET", "/_sandbox/transactions", params={"provider": "mixx", "msisdn": phone})
    assert len(pushes) == 2  # the first instalment's, and one for the second


# -- loyalty points --------------------------------------------------------------------------


def test_points_spent_on_a_plan_are_held_and_come_back_when_it_is_cancelled(market: Market, plans: Plans):
    customer = market.customer()
    # the customer earned 500 points earlier (arranged on the ledger as postgres)
    market.db.execute(
        "select private.post_transfer('order', gen_random_uuid(), 'earn_points', jsonb_build_array("
        "private.ledger_leg(private.ledger_account('points_issued'), 500, 'points_earned'), "
        "private.ledger_leg(private.ledger_account('points_customer', %s), -500, 'points_earned')), 'test')",
        [customer.id],
    )
    market.fill_cart(customer, [(market.product(5, price=40_000), 1)])
    answer = plans.checkout(customer, "pay_in_2", redeem_points=400)  # 4,000 TZS off
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["plan"]["total"] == 39_000 and body["amount"] == 19_500
    plans.settle(body["payment_id"])
    assert points(market, customer.id) == 100  # 400 held while the plan is under way
    plan_id = body["plan"]["plan_id"]
    plans.due(plan_id, 2, ago="4 days")
    assert plans.job()["cancelled"] == 1
    assert points(market, customer.id) == 500  # given back, nothing earned
    refunds = plans.refunds(body["order_id"])
    assert [(r["amount"], r["source"]) for r in refunds] == [(19_500, "cancellation")]
