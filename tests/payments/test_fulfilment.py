"""After payment: the order's parcels are packed, dispatched and delivered by the center's
staff (the customer may confirm delivery), the order follows them, a parcel that cannot be
delivered is tried again or comes back to its center; an order is cancelled before it
ships; delivered lines come back within the return window; every step tells the customer
(and the vendor where it concerns them) in their own language."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from storage3 import SyncStorageClient
from storage3._sync.file_api import SyncBucketProxy
from storage3.exceptions import StorageApiError

from tests.payments.market import Customer, Market

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5d9c6c20000000049454e44ae426082"
)


def paid_order(market: Market, customer: Customer, lines: list[tuple[str, int]]) -> dict[str, Any]:
    market.fill_cart(customer, lines)
    answer = market.checkout(customer, "airtel")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert market.wait_payment(body["payment_id"])["status"] == "succeeded"
    return body


def parcels(market: Market, order_id: str) -> list[dict[str, Any]]:
    rows = market.db.execute(
        "select s.id::text, c.code, s.status, s.seconds_to_dispatch, s.seconds_to_deliver, s.vendor_ids::text[] "
        "from public.shipments s join public.fulfillment_centers c on c.id = s.center_id "
        "where s.order_id = %s order by c.code",
        [order_id],
    ).fetchall()
    names = ["id", "center", "status", "seconds_to_dispatch", "seconds_to_deliver", "vendor_ids"]
    return [dict(zip(names, r, strict=True)) for r in rows]


def order_status(market: Market, order_id: str) -> str:
    row = market.db.execute("select status from public.orders where id = %s", [order_id]).fetchone()
    assert row is not None
    return str(row[0])


def move(market: Market, staff: Customer, shipment: str, fn: str, **args: Any) -> dict[str, Any]:
    answer = market.rpc(staff, fn, {"p_shipment_id": shipment, **args})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_split_order_ships_in_two_parcels_and_the_order_follows_them(market: Market):
    amina = market.customer()
    staff = market.admin()
    shop = market.shop()
    kahawa = market.product({"DAR": 5}, price=28_000, shop=shop)
    pilipili = market.product({"DAR": 1, "ARU": 4}, price=4_500)
    order = paid_order(market, amina, [(kahawa, 2), (pilipili, 3)])["order_id"]

    aru, dar = parcels(market, order)
    assert (aru["center"], dar["center"]) == ("ARU", "DAR")
    assert aru["status"] == dar["status"] == "pending"
    lines = market.db.execute(
        "select sl.quantity, oi.title from public.shipment_lines sl join public.order_items oi "
        "on oi.id = sl.order_item_id where sl.shipment_id = %s",
        [dar["id"]],
    ).fetchall()
    assert [q for q, _t in lines] == [2]  # kahawa only: pilipili ships from ARU (most stock)

    move(market, staff, dar["id"], "pack_shipment")
    assert order_status(market, order) == "processing"
    move(market, staff, dar["id"], "dispatch_shipment", p_carrier="Dar Express", p_tracking_number="DX-1")
    assert order_status(market, order) == "partially_shipped"
    move(market, staff, aru["id"], "pack_shipment")
    move(market, staff, aru["id"], "dispatch_shipment", p_carrier="Arusha Cargo", p_tracking_number="AC-9")
    assert order_status(market, order) == "shipped"
    move(market, staff, aru["id"], "mark_shipment_in_transit")
    # the customer confirms one parcel, the staff the other
    move(market, amina, dar["id"], "confirm_delivery")
    assert order_status(market, order) == "shipped"
    move(market, staff, aru["id"], "confirm_delivery")
    assert order_status(market, order) == "delivered"

    done = parcels(market, order)
    assert all(p["status"] == "delivered" for p in done)
    assert all(
        p["seconds_to_dispatch"] is not None and p["seconds_to_deliver"] >= p["seconds_to_dispatch"] for p in done
    )
    told = market.notifications(amina.id)
    assert told.count("order_shipped") == 2 and told.count("order_delivered") == 2 and "order_packed" in told
    vendor = market.owner_of(shop)
    assert "vendor_shipment_update" in market.notifications(vendor.id)


def test_vendors_see_their_parcels_and_only_region_and_district_of_the_address(market: Market):
    customer = market.customer()
    mine, theirs = market.shop(), market.shop()
    product = market.product(3, shop=mine)
    order = paid_order(market, customer, [(product, 1)])["order_id"]
    vendor, stranger = market.owner_of(mine), market.owner_of(theirs)

    seen = vendor.rest.from_("shipments").select("id,status,vendor_ids").eq("order_id", order).execute().data
    assert len(seen) == 1 and seen[0]["vendor_ids"] == [mine]
    assert stranger.rest.from_("shipments").select("id").eq("order_id", order).execute().data == []
    assert len(vendor.rest.from_("shipment_lines").select("id").execute().data) >= 1

    line = vendor.rest.rpc("vendor_order_lines", {"p_vendor_id": mine}).execute().data[0]
    assert line["shipping_address"] == {"region": "Dar es Salaam", "district": "Ilala"}
    assert "****" in line["customer_phone"]
    own = customer.rest.rpc("vendor_order_lines", {}).execute().data
    assert own == []  # a customer is no vendor
    full = customer.rest.from_("orders").select("shipping_address").eq("id", order).execute().data[0]
    assert full["shipping_address"]["street"] == "Samora Avenue 12"


def test_a_failed_delivery_is_tried_again_or_comes_back_to_its_center(market: Market):
    customer = market.customer()
    staff = market.admin()
    again = market.product({"DAR": 4}, price=10_000)
    order = paid_order(market, customer, [(again, 1)])
    parcel = parcels(market, order["order_id"])[0]["id"]
    move(market, staff, parcel, "pack_shipment")
    move(market, staff, parcel, "dispatch_shipment", p_carrier="Boda", p_tracking_number="B1")
    move(market, staff, parcel, "report_delivery_failed", p_reason="Nobody at home")
    assert "delivery_failed" in market.notifications(customer.id)
    retried = move(market, staff, parcel, "dispatch_shipment", p_carrier="Boda", p_tracking_number="B2")
    assert retried["delivery_attempts"] == 2 and retried["tracking_number"] == "B2"
    move(market, staff, parcel, "confirm_delivery")
    assert order_status(market, order["order_id"]) == "delivered"

    lost = paid_order(market, customer, [(market.product({"DAR": 4}, price=10_000), 2)])
    parcel = parcels(market, lost["order_id"])[0]["id"]
    product = market.db.execute(
        "select product_id::text from public.order_items where order_id = %s", [lost["order_id"]]
    ).fetchone()
    assert product is not None
    assert market.stock(product[0]) == {"DAR": (2, 0)}
    move(market, staff, parcel, "pack_shipment")
    move(market, staff, parcel, "dispatch_shipment", p_carrier="Boda", p_tracking_number="B3")
    move(market, staff, parcel, "report_delivery_failed", p_reason="Wrong address")
    move(market, staff, parcel, "return_shipment_to_center")
    assert market.stock(product[0]) == {"DAR": (4, 0)}  # back on the shelf
    refund = market.db.execute(
        "select amount, source, status from public.refunds where payment_id = %s", [lost["payment_id"]]
    ).fetchone()
    assert refund == (lost["amount"], "cancellation", "requested")  # goods and delivery fee
    assert "shipment_returned" in market.notifications(customer.id)
    assert order_status(market, lost["order_id"]) == "cancelled"  # nothing of it arrived


def test_the_customer_cancels_before_packing_and_gets_the_money_back(market: Market):
    customer = market.customer()
    shop = market.shop()
    product = market.product({"DAR": 5}, price=20_000, shop=shop)
    order = paid_order(market, customer, [(product, 2)])
    assert market.stock(product) == {"DAR": (3, 0)}

    answer = market.rpc(customer, "cancel_order", {"p_order_id": order["order_id"], "p_reason": "changed my mind"})
    assert answer.status_code == 200, answer.text
    assert order_status(market, order["order_id"]) == "cancelled"
    assert market.stock(product) == {"DAR": (5, 0)}
    assert [p["status"] for p in parcels(market, order["order_id"])] == ["cancelled"]
    refund = market.db.execute(
        "select id::text, amount, source, status from public.refunds where payment_id = %s", [order["payment_id"]]
    ).fetchone()
    assert refund is not None and refund[1:] == (order["amount"], "cancellation", "requested")
    assert answer.json()["refund_id"] == refund[0]
    assert {"order_cancelled", "refund_requested"} <= set(market.notifications(customer.id))
    assert "vendor_order_cancelled" in market.notifications(market.owner_of(shop).id)
    # twice is refused: the order is no longer cancellable
    again = market.rpc(customer, "cancel_order", {"p_order_id": order["order_id"]})
    assert again.status_code == 409 and again.json()["details"] == "order_not_cancellable"


def test_once_packed_only_an_admin_cancels_and_once_dispatched_nobody_does(market: Market):
    customer = market.customer()
    staff = market.admin()
    order = paid_order(market, customer, [(market.product(5), 1)])
    parcel = parcels(market, order["order_id"])[0]["id"]
    move(market, staff, parcel, "pack_shipment")
    refused = market.rpc(customer, "cancel_order", {"p_order_id": order["order_id"]})
    assert refused.status_code == 409, refused.text
    assert market.rpc(staff, "cancel_order", {"p_order_id": order["order_id"]}).status_code == 200
    assert [p["status"] for p in parcels(market, order["order_id"])] == ["cancelled"]

    shipped = paid_order(market, customer, [(market.product(5), 1)])
    parcel = parcels(market, shipped["order_id"])[0]["id"]
    move(market, staff, parcel, "pack_shipment")
    move(market, staff, parcel, "dispatch_shipment", p_carrier="Boda", p_tracking_number="B9")
    late = market.rpc(staff, "cancel_order", {"p_order_id": shipped["order_id"]})
    assert late.status_code == 409 and late.json()["details"] == "order_not_cancellable"
    assert order_status(market, shipped["order_id"]) == "shipped"


def test_nobody_cancels_someone_elses_order(market: Market):
    owner, other = market.customer(), market.customer()
    order = paid_order(market, owner, [(market.product(5), 1)])
    answer = market.rpc(other, "cancel_order", {"p_order_id": order["order_id"]})
    assert answer.status_code == 404 and answer.json()["details"] == "order_not_found"
    assert order_status(market, order["order_id"]) == "paid"


def delivered(
    market: Market, customer: Customer, quantity: int = 2, price: int = 15_000, shop: str | None = None
) -> dict[str, Any]:
    staff = market.admin()
    order = paid_order(market, customer, [(market.product({"DAR": 10}, price=price, shop=shop), quantity)])
    parcel = parcels(market, order["order_id"])[0]["id"]
    move(market, staff, parcel, "pack_shipment")
    move(market, staff, parcel, "dispatch_shipment", p_carrier="Boda", p_tracking_number="R1")
    move(market, customer, parcel, "confirm_delivery")
    line = market.db.execute(
        "select id::text, product_id::text from public.order_items where order_id = %s", [order["order_id"]]
    ).fetchone()
    assert line is not None
    return order | {"line": line[0], "product": line[1], "parcel": parcel, "staff": staff}


def request_return(market: Market, customer: Customer, line: str, quantity: int, **extra: Any) -> Any:
    return (
        customer.rest.from_("returns")
        .insert({"order_item_id": line, "quantity": quantity, "reason": "damaged", **extra})
        .execute()
        .data[0]
    )


def test_a_delivered_line_comes_back_restocked_and_its_refund_is_granted_on_receipt(market: Market):
    customer = market.customer()
    order = delivered(market, customer, quantity=2, price=15_000)
    staff = order["staff"]
    ret = request_return(market, customer, order["line"], 2, details="the lid is cracked")
    assert order_status(market, order["order_id"]) == "return_requested"
    assert "return_requested" in market.notifications(customer.id)

    approved = market.rpc(staff, "decide_return", {"p_return_id": ret["id"], "p_approve": True, "p_note": "Sorry!"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert market.db.execute("select count(*) from public.refunds where return_id = %s", [ret["id"]]).fetchone() == (0,)

    received = market.rpc(staff, "receive_return", {"p_return_id": ret["id"], "p_restocked": 1, "p_damaged": 1})
    assert received.status_code == 200, received.text
    assert market.stock(order["product"]) == {"DAR": (9, 0)}  # 10 - 2 sold + 1 restocked; 1 written off
    refund = market.db.execute(
        "select id::text, amount, source from public.refunds where return_id = %s", [ret["id"]]
    ).fetchone()
    assert refund is not None and refund[1:] == (30_000, "return")
    assert "return_received" in market.notifications(customer.id)

    # the money reaches the phone (refund-execute's answer, as the service role records it)
    service = market.target.service_role_key
    assert market.rpc(service, "claim_refund", {"p_refund_id": refund[0]}).json()["claimed"] is True
    done = market.rpc(service, "record_refund_outcome", {"p_refund_id": refund[0], "p_outcome": "succeeded"})
    assert done.json()["result"] == "applied"
    status = market.db.execute("select status from public.returns where id = %s", [ret["id"]]).fetchone()
    assert status == ("refunded",)
    assert order_status(market, order["order_id"]) == "returned"
    assert market.payment(order["payment_id"])["status"] == "partially_refunded"


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("outside_window", "WT001"),
        ("more_than_bought", "23514"),
        ("not_delivered", "WT001"),
        ("foreign_photo", "23514"),
    ],
)
def test_returns_that_cannot_be_are_refused(market: Market, case: str, expect: str):
    customer = market.customer()
    order = delivered(market, customer, quantity=2)
    line, quantity, extra = order["line"], 1, {}
    if case == "outside_window":
        market.db.execute(
            "update public.shipments set delivered_at = now() - interval '8 days' where id = %s", [order["parcel"]]
        )
    elif case == "more_than_bought":
        quantity = 3
    elif case == "not_delivered":
        pending = paid_order(market, customer, [(market.product(5), 1)])
        line = market.db.execute(
            "select id::text from public.order_items where order_id = %s", [pending["order_id"]]
        ).fetchone()[0]  # type: ignore[index]
    else:
        extra = {"photo_paths": ["00000000-0000-0000-0000-000000000000/x.jpg"]}
    answer = market.http.post(
        f"{market.target.url}/rest/v1/returns",
        json={"order_item_id": line, "quantity": quantity, "reason": "damaged", **extra},
        headers={"apikey": market.target.anon_key, "Authorization": f"Bearer {customer.token}"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == expect
    assert market.db.execute("select count(*) from public.returns where order_item_id = %s", [line]).fetchone() == (0,)


def photos_of(market: Market, who: Customer) -> SyncBucketProxy:
    """Bucket return-photos through the Storage API, as ``who``."""
    headers = {"apikey": market.target.anon_key, "Authorization": f"Bearer {who.token}"}
    return SyncStorageClient(f"{market.target.url}/storage/v1/", headers).from_("return-photos")


def test_a_return_photo_is_seen_by_its_customer_the_vendor_and_staff_only(market: Market):
    customer, stranger = market.customer(), market.customer()
    shop, other_shop = market.shop(), market.shop()
    order = delivered(market, customer, shop=shop)
    photo = f"{customer.id}/lid-{uuid.uuid4().hex[:8]}.png"
    photos_of(market, customer).upload(photo, PNG, {"content-type": "image/png"})
    with pytest.raises(StorageApiError):  # nobody writes into someone else's folder
        photos_of(market, stranger).upload(f"{customer.id}/fake.png", PNG, {"content-type": "image/png"})

    request_return(market, customer, order["line"], 1, photo_paths=[photo])
    for reader in (customer, market.owner_of(shop), order["staff"]):
        assert photos_of(market, reader).download(photo) == PNG
    for outsider in (stranger, market.owner_of(other_shop)):
        with pytest.raises(StorageApiError):
            photos_of(market, outsider).download(photo)
    listed = photos_of(market, market.owner_of(other_shop)).list(customer.id)
    assert listed == []


def test_nobody_returns_someone_elses_line(market: Market):
    owner, other = market.customer(), market.customer()
    order = delivered(market, owner)
    answer = market.http.post(
        f"{market.target.url}/rest/v1/returns",
        json={"order_item_id": order["line"], "quantity": 1, "reason": "damaged"},
        headers={"apikey": market.target.anon_key, "Authorization": f"Bearer {other.token}"},
    )
    assert answer.status_code == 403 and answer.json()["code"] == "42501"


def test_a_rejected_return_puts_the_order_back_to_delivered(market: Market):
    customer = market.customer()
    order = delivered(market, customer)
    ret = request_return(market, customer, order["line"], 1)
    answer = market.rpc(
        order["staff"], "decide_return", {"p_return_id": ret["id"], "p_approve": False, "p_note": "Used"}
    )
    assert answer.status_code == 200
    assert order_status(market, order["order_id"]) == "delivered"
    assert "return_rejected" in market.notifications(customer.id)


def test_the_return_window_closes_into_completed_orders(market: Market):
    customer = market.customer()
    quiet, open_return = delivered(market, customer), delivered(market, customer)
    request_return(market, customer, open_return["line"], 1)
    for order in (quiet, open_return):
        market.db.execute(
            "update public.shipments set delivered_at = now() - interval '8 days' where order_id = %s",
            [order["order_id"]],
        )
        market.db.execute(
            "update public.orders set delivered_at = now() - interval '8 days' where id = %s", [order["order_id"]]
        )
    answer = market.rpc(market.target.service_role_key, "complete_orders", {})
    assert answer.status_code == 200 and answer.json()["completed"] >= 1
    assert order_status(market, quiet["order_id"]) == "completed"
    assert order_status(market, open_return["order_id"]) == "return_requested"


def test_notifications_speak_the_customers_language(market: Market):
    mwalimu, teacher = market.customer(), market.customer()
    teacher.rest.from_("profiles").update({"language": "en"}).eq("id", teacher.id).execute()
    for person in (mwalimu, teacher):
        paid_order(market, person, [(market.product(5, price=12_000), 1)])
    rows = market.db.execute(
        "select user_id::text, language, title, body from public.notifications "
        "where type = 'order_paid' and user_id = any(%s::uuid[])",
        [[mwalimu.id, teacher.id]],
    ).fetchall()
    said = {user: (language, title, body) for user, language, title, body in rows}
    assert said[mwalimu.id] == ("sw", "Malipo yamepokelewa", "Tumepokea TZS 15000. Oda yako inaandaliwa.")
    assert said[teacher.id] == ("en", "Payment received", "We received 15000 TZS. Your order is being prepared.")


def test_every_notification_type_exists_in_kiswahili_and_english(market: Market):
    rows = market.db.execute(
        "select type, array_agg(language order by language) from private.notification_texts group by type"
    ).fetchall()
    assert rows and all(languages == ["en", "sw"] for _type, languages in rows), rows
    placeholders = market.db.execute(
        "select type from private.notification_texts t group by type "
        "having count(distinct (select string_agg(m[1], ',' order by m[1]) "
        "from regexp_matches(t.title || t.body, '\\{([a-z_]+)\\}', 'g') as m)) > 1"
    ).fetchall()
    assert placeholders == [], f"the two languages fill different placeholders: {placeholders}"
