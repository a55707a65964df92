"""A customer taps Pay: checkout-initiate, the checkout SQL function, one push prompt."""

from __future__ import annotations

import threading
import uuid

import pytest

from tests.payments.market import ADDRESS, Market
from wats.sandbox import PROVIDERS


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_customer_pays_a_two_vendor_cart_with_each_provider(market: Market, provider: str):
    amina = market.customer()
    kahawa = market.product({"DAR": 5}, price=28_000)
    pilipili = market.product({"DAR": 2, "ARU": 4}, price=4_500)
    market.fill_cart(amina, [(kahawa, 2), (pilipili, 3)])

    answer = market.checkout(amina, provider)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["payment_status"] == "initiated"
    assert body["order_status"] == "pending_payment"
    # 2 x 28,000 + 3 x 4,500 goods; pilipili ships from the center with most stock (ARU),
    # kahawa from DAR: two centers, 3,000 TZS each
    assert body["amount"] == 56_000 + 13_500 + 6_000

    paid = market.wait_payment(body["payment_id"])
    assert (paid["status"], paid["order_status"]) == ("succeeded", "paid")
    assert market.stock(kahawa) == {"DAR": (3, 0)}
    assert market.stock(pilipili) == {"DAR": (2, 0), "ARU": (1, 0)}
    assert amina.rest.from_("cart_items").select("id").execute().data == []
    assert "order_paid" in market.notifications(amina.id)
    vendors = market.db.execute(
        "select count(distinct n.user_id) from public.notifications n join public.vendors v on v.owner_id = n.user_id "
        "where n.type = 'new_order' and n.data->>'order_id' = %s",
        [body["order_id"]],
    ).fetchone()
    assert vendors == (2,)
    points = amina.rest.rpc("loyalty_balance", {}).execute().data
    assert points == 69  # one point per 1,000 TZS of goods


def test_the_customer_sees_the_order_and_lines_with_price_snapshots(market: Market):
    baraka = market.customer()
    product = market.product(3, price=12_000)
    market.fill_cart(baraka, [(product, 1)])
    body = market.checkout(baraka, "airtel").json()
    market.db.execute("update public.products set price = 99000 where id = %s", [product])
    order = (
        baraka.rest.from_("orders")
        .select("total,order_items(unit_price,quantity,title)")
        .eq("id", body["order_id"])
        .execute()
        .data[0]
    )
    assert order["total"] == 15_000
    assert order["order_items"][0]["unit_price"] == 12_000


@pytest.mark.parametrize(
    ("arrange", "status", "reason"),
    [
        ("empty_cart", 422, "cart_empty"),
        ("inactive_product", 409, "product_unavailable"),
        ("unapproved_vendor", 409, "vendor_unavailable"),
        ("insufficient_stock", 409, "insufficient_stock"),
    ],
)
def test_a_cart_that_cannot_be_sold_is_refused_and_nothing_is_created_or_reserved(
    market: Market, arrange: str, status: int, reason: str
):
    customer = market.customer()
    good = market.product(5)
    if arrange == "empty_cart":
        market.fill_cart(customer, [])
    else:
        bad = {
            "inactive_product": lambda: market.product(5, status="active"),
            "unapproved_vendor": lambda: market.product(5),
            "insufficient_stock": lambda: market.product(1),
        }[arrange]()
        market.fill_cart(customer, [(good, 1), (bad, 2 if arrange == "insufficient_stock" else 1)])
        if arrange == "inactive_product":
            market.db.execute("update public.products set status = 'archived' where id = %s", [bad])
        if arrange == "unapproved_vendor":
            market.db.execute(
                "update public.vendors set status = 'suspended' where id = (select vendor_id from public.products "
                "where id = %s)",
                [bad],
            )
    answer = market.checkout(customer, "airtel")
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == reason
    assert market.db.execute("select count(*) from public.orders where customer_id = %s", [customer.id]).fetchone() == (
        0,
    )
    assert market.stock(good) == {"DAR": (5, 0)}


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        ({"provider": "paypal", "shipping_address": ADDRESS}, {}, 422, "unknown_provider"),
        ({"provider": "airtel", "shipping_address": {"region": "Dar"}}, {}, 422, "invalid_address"),
        ({"provider": "airtel"}, {}, 422, "invalid_address"),
        ({"provider": "airtel", "shipping_address": ADDRESS}, {"Idempotency-Key": ""}, 400, "idempotency_key_missing"),
        # the rules of the address and of the key are the database's (checkout-initiate
        # sends such requests on; public.checkout and private.is_valid_shipping_address
        # refuse them with their own PTnnn)
        ({"provider": "airtel", "shipping_address": {**ADDRESS, "street": " "}}, {}, 422, "invalid_address"),
        ({"provider": "airtel", "shipping_address": {**ADDRESS, "floor": "3"}}, {}, 422, "invalid_address"),
        ({"provider": "airtel", "shipping_address": {**ADDRESS, "notes": "x" * 501}}, {}, 422, "invalid_address"),
        ({"provider": "airtel", "shipping_address": {**ADDRESS, "region": 7}}, {}, 422, "invalid_address"),
        (
            {"provider": "airtel", "shipping_address": ADDRESS},
            {"Idempotency-Key": "short"},
            400,
            "idempotency_key_invalid",
        ),
        (
            {"provider": "airtel", "shipping_address": ADDRESS},
            {"Idempotency-Key": "has space in it"},
            400,
            "idempotency_key_invalid",
        ),
        (
            {"provider": "airtel", "shipping_address": ADDRESS},
            {"Idempotency-Key": "x" * 256},
            400,
            "idempotency_key_invalid",
        ),
    ],
)
def test_bad_requests_get_a_clear_error(market: Market, body, headers, status, reason):  # type: ignore[no-untyped-def]
    customer = market.customer()
    market.fill_cart(customer, [(market.product(5), 1)])
    answer = market.http.post(
        f"{market.target.url}/functions/v1/checkout-initiate",
        json=body,
        headers={
            "Authorization": f"Bearer {customer.token}",
            "apikey": market.target.anon_key,
            "Idempotency-Key": f"key-{uuid.uuid4()}",
            **headers,
        },
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == reason
    assert market.db.execute("select count(*) from public.orders where customer_id = %s", [customer.id]).fetchone() == (
        0,
    )


def test_checkout_needs_a_signed_in_customer(market: Market):
    anon = market.http.post(
        f"{market.target.url}/functions/v1/checkout-initiate",
        json={"provider": "airtel", "shipping_address": ADDRESS},
        headers={"Authorization": f"Bearer {market.target.anon_key}", "Idempotency-Key": f"k-{uuid.uuid4()}"},
    )
    assert anon.status_code == 401
    nobody = market.http.post(f"{market.target.url}/functions/v1/checkout-initiate", json={})
    assert nobody.status_code == 401  # verify_jwt: the gateway refuses before the function runs


def test_a_repeated_request_gets_the_same_order_and_no_second_prompt(market: Market):
    customer = market.customer()
    market.fill_cart(customer, [(market.product(5), 1)])
    first = market.checkout(customer, "airtel", key="repeat-key-0001")
    second = market.checkout(customer, "airtel", key="repeat-key-0001")
    assert second.status_code == 202
    assert second.json()["order_id"] == first.json()["order_id"]
    assert second.headers["idempotent-replayed"] == "true"
    pushes = market.sandbox("GET", "/_sandbox/transactions", params={"provider": "airtel", "msisdn": customer.phone})
    assert len(pushes) == 1


def test_the_same_key_with_a_different_request_is_refused(market: Market):
    customer = market.customer()
    market.fill_cart(customer, [(market.product(5), 1)])
    assert market.checkout(customer, "airtel", key="changed-key-001").status_code == 202
    other = market.checkout(customer, "halopesa", key="changed-key-001")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_ten_concurrent_requests_with_one_key_make_one_order_and_one_prompt(market: Market):
    customer = market.customer()
    product = market.product(5)
    market.fill_cart(customer, [(product, 2)])
    answers: list = []
    barrier = threading.Barrier(10)

    def tap_pay() -> None:
        barrier.wait()
        answers.append(market.checkout(customer, "halopesa", key="ten-taps-0001"))

    threads = [threading.Thread(target=tap_pay) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [202] * 10
    assert len({a.json()["order_id"] for a in answers}) == 1
    assert market.db.execute("select count(*) from public.orders where customer_id = %s", [customer.id]).fetchone() == (
        1,
    )
    pushes = market.sandbox("GET", "/_sandbox/transactions", params={"provider": "halopesa", "msisdn": customer.phone})
    assert len(pushes) == 1
    market.wait_payment(answers[0].json()["payment_id"])
    assert market.stock(product) == {"DAR": (3, 0)}


def test_customers_racing_for_the_last_units_never_oversell(market: Market):
    units, racers = 3, 10
    product = market.product({"DAR": units}, price=50_000)
    customers = [market.customer() for _ in range(racers)]
    for c in customers:
        market.fill_cart(c, [(product, 1)])
    answers: dict[str, object] = {}
    barrier = threading.Barrier(racers)

    def race(c) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        answers[c.id] = market.checkout(c, "airtel")

    threads = [threading.Thread(target=race, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers.values())  # type: ignore[attr-defined]
    assert codes == [202] * units + [409] * (racers - units)
    winners = [a.json()["payment_id"] for a in answers.values() if a.status_code == 202]  # type: ignore[attr-defined]
    assert [market.wait_payment(p)["status"] for p in winners] == ["succeeded"] * units
    assert market.stock(product) == {"DAR": (0, 0)}
