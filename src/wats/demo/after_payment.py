"""The demo's second act: what happens after payment. The fulfilment center packs and
dispatches an order, the customer confirms delivery and sends one item back with a photo,
the refund reaches her phone in the sandbox (loyalty points follow); another order is
cancelled before packing and refunded in full."""

from __future__ import annotations

import uuid
from typing import Any

from supabase import Client

from wats.demo.api import Stack, one, rows, rpc, wait_for
from wats.demo.checkout import Paid
from wats.demo.show import expect, show, step, tzs

#: A 1x1 PNG: the photo of the damaged item.
PHOTO = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5d9c6c20000000049454e44ae426082"
)


def order_status(client: Client, order_id: str) -> str:
    return str(one(client.table("orders").select("status").eq("id", order_id).execute())["status"])


def parcels(client: Client, order_id: str) -> list[dict[str, Any]]:
    return rows(
        client.table("shipments")
        .select("id,status,carrier,tracking_number,seconds_to_dispatch,seconds_to_deliver,fulfillment_centers(code)")
        .eq("order_id", order_id)
        .order("created_at")
        .execute()
    )


def ship_and_deliver(admin: Client, customer: Client, paid: Paid) -> list[dict[str, Any]]:
    """Staff pack, dispatch and send each parcel on its way; the customer confirms delivery."""
    step(f"{paid.provider} order: the fulfilment center packs and dispatches its parcels")
    for parcel in parcels(customer, paid.order_id):
        center = parcel["fulfillment_centers"]["code"]
        rpc(admin, "pack_shipment", {"p_shipment_id": parcel["id"]})
        tracking = f"DX-{uuid.uuid4().hex[:6].upper()}"
        rpc(
            admin,
            "dispatch_shipment",
            {"p_shipment_id": parcel["id"], "p_carrier": "Dar Express", "p_tracking_number": tracking},
        )
        rpc(admin, "mark_shipment_in_transit", {"p_shipment_id": parcel["id"]})
        show("parcel", f"from {center}: packed, dispatched with Dar Express ({tracking}), in transit")
        show("order", order_status(customer, paid.order_id))

    step(f"{paid.provider} order: the customer confirms each parcel arrived (rpc confirm_delivery)")
    for parcel in parcels(customer, paid.order_id):
        rpc(customer, "confirm_delivery", {"p_shipment_id": parcel["id"]})
    done = parcels(customer, paid.order_id)
    for parcel in done:
        show(
            "delivered",
            f"from {parcel['fulfillment_centers']['code']}: dispatched {parcel['seconds_to_dispatch']} s and "
            f"delivered {parcel['seconds_to_deliver']} s after payment",
        )
    status = order_status(customer, paid.order_id)
    show("order", status)
    expect(status == "delivered" and all(p["status"] == "delivered" for p in done), f"the order is {status}")
    return done


def refund_of(admin: Client, **match: str) -> dict[str, Any]:
    query = admin.table("refunds").select("id,amount,status,method,reference,source")
    for column, value in match.items():
        query = query.eq(column, value)
    return one(query.execute())


def refund_reaches_the_phone(stack: Stack, admin: Client, refund: dict[str, Any], msisdn: str) -> dict[str, Any]:
    """refund-execute runs (every minute in production; now here) until the money is back."""
    step("refund-execute sends it through the payment's provider (as pg_cron would, every minute)")

    def settled() -> dict[str, Any] | None:
        now = refund_of(admin, id=refund["id"])
        return now if now["status"] == "succeeded" else None

    done: dict[str, Any] = wait_for("the refund reaching the phone", settled, poke=lambda: stack.job("refund-execute"))
    show("refund", f"{tzs(done['amount'])} {done['status']} by {done['method']} (our reference {done['reference']})")
    sent = [p for p in stack.sandbox_payouts(msisdn=msisdn, status="paid") if p["amount"] == done["amount"]]
    expect(bool(sent), f"the sandbox shows no payment of {tzs(done['amount'])} to {msisdn}")
    show("sandbox", f"{sent[-1]['provider']} {sent[-1]['method']} of {tzs(sent[-1]['amount'])} to {msisdn}")
    return done


def points(customer: Client) -> int:
    return int(rpc(customer, "loyalty_balance"))


def return_one_item(stack: Stack, admin: Client, customer: Client, user_id: str, msisdn: str, paid: Paid) -> None:
    """The customer returns one unit of a delivered line, with a photo; the money comes back."""
    line = one(
        customer.table("order_items")
        .select("id,title,quantity,unit_price")
        .eq("order_id", paid.order_id)
        .gt("quantity", 1)
        .limit(1)
        .execute()
    )
    step(f"{paid.provider} order: the customer sends back 1 x {line['title']} (photo, then POST /rest/v1/returns)")
    photo = f"{user_id}/demo-{uuid.uuid4().hex[:8]}.png"
    customer.storage.from_("return-photos").upload(photo, PHOTO, {"content-type": "image/png"})
    ret = one(
        customer.table("returns")
        .insert(
            {
                "order_item_id": line["id"],
                "quantity": 1,
                "reason": "damaged",
                "details": "the tin was dented",
                "photo_paths": [photo],
            }
        )
        .execute()
    )
    show("return", f"{ret['id']} {ret['status']}; order {order_status(customer, paid.order_id)}")
    before = points(customer)

    step("an admin approves it; the center receives the item and puts it back on the shelf")
    rpc(admin, "decide_return", {"p_return_id": ret["id"], "p_approve": True, "p_note": "Sorry about the tin"})
    rpc(admin, "receive_return", {"p_return_id": ret["id"], "p_restocked": 1, "p_damaged": 0})
    refund = refund_of(admin, return_id=str(ret["id"]))
    show("refund", f"{tzs(refund['amount'])} granted ({refund['source']}), {refund['status']}")
    refund_reaches_the_phone(stack, admin, refund, msisdn)
    after = points(customer)
    status = one(customer.table("returns").select("status").eq("id", ret["id"]).execute())["status"]
    show("return", f"{status}; order {order_status(customer, paid.order_id)}")
    show("points", f"{before} → {after} (the points the returned item earned are taken back)")
    expect(status == "refunded" and after < before, "the return was not refunded or the points did not follow")


def cancel_before_packing(stack: Stack, admin: Client, customer: Client, msisdn: str, paid: Paid) -> None:
    step(f"{paid.provider} order: the customer cancels before anything is packed (rpc cancel_order)")
    before = points(customer)
    answer = rpc(customer, "cancel_order", {"p_order_id": paid.order_id, "p_reason": "ordered twice"})
    show(
        "order",
        f"{order_status(customer, paid.order_id)}; parcels {[p['status'] for p in parcels(customer, paid.order_id)]}",
    )
    refund = refund_of(admin, id=str(answer["refund_id"]))
    show("refund", f"{tzs(refund['amount'])} granted ({refund['source']})")
    expect(refund["amount"] == paid.amount, f"expected the whole {tzs(paid.amount)} back")
    refund_reaches_the_phone(stack, admin, refund, msisdn)
    show("points", f"{before} → {points(customer)} (the order's points are taken back)")
