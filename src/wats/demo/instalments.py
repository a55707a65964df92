"""The demo's instalment act (lipa kidogo kidogo): a customer buys a phone on a plan of two
instalments with no fee, the first pushed at checkout; the stock is held and nothing ships.
Two weeks later (the demo moves the due date, as a test control: it never sleeps) the
scheduled job pushes the second, the sandbox pays it, and only then is the order paid and
its parcel made and sent."""

from __future__ import annotations

import uuid
from typing import Any

from supabase import Client

from wats.demo import after_payment
from wats.demo.api import Stack, one, rows, token, wait_for
from wats.demo.checkout import ADDRESS, Paid, availability, fill_cart
from wats.demo.show import DemoFailed, expect, show, step, tzs

PRODUCT = "itel A70"
PLAN = "pay_in_2"
OPEN = ("pending", "initiated", "ambiguous")


def payment_status(customer: Client, payment_id: str) -> str:
    return str(one(customer.table("payments").select("status").eq("id", payment_id).execute())["status"])


def settled(customer: Client, payment_id: str) -> str:
    """Wait for the provider's answer (the sandbox calls payment-webhook back)."""

    def answered() -> str:
        status = payment_status(customer, payment_id)
        return "" if status in OPEN else status

    return str(wait_for("the provider's answer", answered))


def schedule(customer: Client, plan_id: str) -> list[dict[str, Any]]:
    return rows(
        customer.table("instalments")
        .select("number,amount,due_at,status")
        .eq("plan_id", plan_id)
        .order("number")
        .execute()
    )


def show_plan(customer: Client, plan_id: str) -> dict[str, Any]:
    plan = one(customer.table("bnpl_orders").select("plan,status,total,orders(status)").eq("id", plan_id).execute())
    show("plan", f"{plan['plan']} {plan['status']}, {tzs(plan['total'])}, order {plan['orders']['status']}")
    for item in schedule(customer, plan_id):
        show(f"instalment {item['number']}", f"{tzs(item['amount'])} due {item['due_at'][:10]}: {item['status']}")
    return plan


def buy_on_a_plan(stack: Stack, admin: Client, customer: Client, user_id: str) -> None:
    step(f"Baraka buys an {PRODUCT} paying in two instalments, no fee (lipa kidogo kidogo)")
    found = rows(customer.table("products").select("id,title,price").eq("title", PRODUCT).execute())
    if not found:
        raise DemoFailed("the demo products are missing: run ./scripts/wats db reset (or ./scripts/wats seed)")
    product = str(found[0]["id"])
    fill_cart(customer, user_id, [(product, 1)])
    before = availability(customer, [product]).get(product, 0)
    answer = stack.function(
        "checkout-initiate",
        {"provider": "airtel", "shipping_address": ADDRESS, "plan": PLAN},
        bearer=token(customer),
        **{"Idempotency-Key": f"demo-{uuid.uuid4()}"},
    )
    show("HTTP", answer.status_code)
    if answer.status_code != 202:
        raise DemoFailed(f"checkout-initiate answered {answer.status_code}: {answer.text}")
    started = answer.json()
    order_id, plan_id = str(started["order_id"]), str(started["plan"]["plan_id"])
    show("first push", f"{tzs(started['amount'])} of {tzs(started['plan']['total'])} to Airtel Money")
    expect(settled(customer, str(started["payment_id"])) == "succeeded", "the first instalment was not paid")
    plan = show_plan(customer, plan_id)
    held = availability(customer, [product]).get(product, 0)
    show("stock", f"{PRODUCT}: {before} → {held} available (held for Baraka)")
    parcels = after_payment.parcels(customer, order_id)
    show("parcels", len(parcels))
    expect(
        plan["status"] == "active" and plan["orders"]["status"] == "pending_payment" and not parcels,
        "after the first instalment the plan should be under way, the order unpaid and nothing shipped",
    )
    expect(before - held == 1, "the phone is not held for the plan")

    step("Two weeks pass: the demo moves the second instalment's due date to now (a test control)")
    stack.time_travel(
        "update public.instalments set due_at = now() - interval '1 minute' where plan_id = %s and number = 2",
        [plan_id],
    )
    step("The instalment job runs (instalment-push, scheduled): it pushes the instalment that is due")
    run = stack.job("instalment-push")
    mine = [r for r in run["results"] if r["plan_id"] == plan_id]
    show("run", f"reminded {run['reminded']}, cancelled {run['cancelled']}, pushed {run['pushed']}")
    expect(len(mine) == 1 and mine[0]["result"] == "pushed", f"the due instalment was not pushed: {run}")
    expect(settled(customer, str(mine[0]["payment_id"])) == "succeeded", "the second instalment was not paid")
    plan = show_plan(customer, plan_id)
    expect(
        plan["status"] == "completed" and plan["orders"]["status"] == "paid",
        "after the last instalment the plan should be completed and the order paid",
    )
    notes = rows(
        customer.table("notifications").select("type,title").filter("data->>order_id", "eq", order_id).execute()
    )
    for note in notes:
        show("notification", f"{note['type']} — {note['title']}")

    step("Only now the order ships: its parcel is made, packed, dispatched and delivered")
    paid = Paid("instalments", order_id, str(mine[0]["payment_id"]), int(plan["total"]), 0)
    after_payment.ship_and_deliver(admin, customer, paid)
