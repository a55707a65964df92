"""THE LOCK ORDER (cart, payment, order, stock rows): a checkout, a failing payment and the
expiry job of one customer wait for each other and never deadlock, and under a storm of
checkouts, failures, expiry and reconciliation nothing answers 5xx.

The deterministic tests below pin the interleaving that used to deadlock: a third
connection holds the product's stock row, so both callers queue behind it in a chosen
order; when it lets go, the old lock order closed a cycle (the failure held stock and wanted
the cart back for the customer, checkout held the cart and wanted stock)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from tests.payments.market import ADDRESS, Customer, Market


def rpc(market: Market, fn: str, args: dict[str, Any], token: str, timeout: float = 60) -> httpx.Response:
    """An RPC through the Data API, as the holder of ``token``."""
    with httpx.Client(timeout=timeout) as client:
        return client.post(
            f"{market.target.url}/rest/v1/rpc/{fn}",
            json=args,
            headers={"apikey": market.target.anon_key, "Authorization": f"Bearer {token}"},
        )


def lock_waiters(market: Market) -> int:
    """Backends queued for a lock (pg_locks: visible whoever the waiting sessions belong to)."""
    row = market.db.execute("select count(distinct pid) from pg_locks where not granted").fetchone()
    assert row is not None
    return int(row[0])


def wait_for_waiters(market: Market, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while lock_waiters(market) < count:
        assert time.monotonic() < deadline, f"expected {count} callers queued on a lock"
        time.sleep(0.02)


def in_thread(fn: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[httpx.Response]]:
    out: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread, out


def held_stock(market: Market, product: str) -> psycopg.Connection:
    """A connection holding the product's stock rows locked until it commits."""
    conn = psycopg.connect(market.target.db_url)
    conn.execute("select 1 from public.inventory where product_id = %s for update", [product])
    return conn


def checkout_args() -> dict[str, Any]:
    return {"p_idempotency_key": f"lock-{uuid.uuid4()}", "p_provider": "airtel", "p_shipping_address": ADDRESS}


def unpaid_with_product_in_cart(market: Market) -> tuple[Customer, dict[str, Any]]:
    """A customer whose earlier order (two products) waits for payment, with one of its
    products back in the cart for a new checkout: a failure of the earlier payment puts the
    other one back into the cart."""
    customer = market.customer("90")  # no callback arrives by itself
    product, other = market.product(10), market.product(10)
    market.fill_cart(customer, [(product, 1), (other, 1)])
    answer = market.checkout(customer, "airtel")
    assert answer.status_code == 202, answer.text
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    market.fill_cart(customer, [(product, 1)])
    return customer, answer.json() | {"product_id": product, "other_id": other}


def test_a_failure_callback_and_a_checkout_of_the_same_customer_do_not_deadlock(market: Market):
    customer, bought = unpaid_with_product_in_cart(market)
    state = market.payment(bought["payment_id"])
    holder = held_stock(market, bought["product_id"])
    try:
        failure, failed = in_thread(
            lambda: rpc(
                market,
                "apply_payment_event",
                {"p_provider": "airtel", "p_provider_ref": state["provider_ref"], "p_outcome": "failed"},
                market.target.service_role_key,
            )
        )
        wait_for_waiters(market, 1)  # the failure queues first ...
        checkout, checked_out = in_thread(lambda: rpc(market, "checkout", checkout_args(), customer.token))
        wait_for_waiters(market, 2)  # ... then the checkout
    finally:
        holder.commit()
        holder.close()
    failure.join(30)
    checkout.join(30)
    assert failed[0].status_code == 200, failed[0].text
    assert failed[0].json()["result"] == "applied"
    assert checked_out[0].status_code == 200, checked_out[0].text
    assert market.payment(bought["payment_id"])["status"] == "failed"
    # The failure went first: it released both products and put the other one back in the
    # cart; the checkout that waited for it sold what the cart then held, once each.
    order = checked_out[0].json()["order_id"]
    lines = market.db.execute(
        "select product_id::text, quantity from public.order_items where order_id = %s order by product_id", [order]
    ).fetchall()
    assert sorted(lines) == sorted([(bought["product_id"], 1), (bought["other_id"], 1)])
    assert market.stock(bought["product_id"]) == {"DAR": (10, 1)}
    assert market.stock(bought["other_id"]) == {"DAR": (10, 1)}
    assert customer.rest.from_("cart_items").select("product_id").execute().data == []


def test_the_expiry_job_skips_rows_someone_is_working_on_instead_of_waiting(market: Market):
    customer, bought = unpaid_with_product_in_cart(market)
    market.expire_now(bought["order_id"])
    holder = held_stock(market, bought["product_id"])
    try:
        checkout, checked_out = in_thread(lambda: rpc(market, "checkout", checkout_args(), customer.token))
        wait_for_waiters(market, 1)  # the checkout holds the cart and queues for stock
        expiry = rpc(market, "expire_overdue_payments", {}, market.target.service_role_key, timeout=15)
        assert expiry.status_code == 200, expiry.text
        assert expiry.json()["busy"] >= 1  # never waited: the job cannot close a cycle
        assert market.payment(bought["payment_id"])["status"] == "initiated"
    finally:
        holder.commit()
        holder.close()
    checkout.join(30)
    assert checked_out[0].status_code == 200, checked_out[0].text
    market.expire()  # the next run gets it
    assert market.payment(bought["payment_id"])["status"] == "expired"
    assert market.stock(bought["product_id"]) == {"DAR": (10, 1)}
    assert market.stock(bought["other_id"]) == {"DAR": (10, 0)}


def deadlocks(market: Market) -> int:
    market.db.execute("select pg_stat_clear_snapshot()")
    row = market.db.execute("select deadlocks from pg_stat_database where datname = current_database()").fetchone()
    assert row is not None
    return int(row[0])


def test_a_storm_of_checkouts_failures_expiry_and_reconciliation_answers_no_5xx(market: Market):
    """Six customers whose phones pay, fail, stay silent or answer late buy from three shared
    products for a while, as the expiry and reconcile jobs run and orders are moved past
    their window; every answer is 2xx or a clear 4xx, and the money invariants (checked
    after this test) hold."""
    products = [market.product({"DAR": 40, "ARU": 40}, price=2_000) for _ in range(3)]
    customers = [market.customer(suffix) for suffix in ("00", "91", "93", "90", "94", "97")]
    statuses: list[tuple[str, int]] = []
    stop = time.monotonic() + 12
    before = deadlocks(market)
    deliveries_before = len(market.sandbox("GET", "/_sandbox/deliveries"))

    def shopper(customer: Customer) -> None:
        rng = random.Random(customer.id)
        market.fill_cart(customer, [])  # opens the cart
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < stop:
                picks = rng.sample(products, rng.randint(1, 3))
                # the cart as the app edits it (a failed payment may be refilling it meanwhile)
                cart = customer.rest.from_("carts").select("id").execute().data[0]["id"]
                customer.rest.from_("cart_items").delete().eq("cart_id", cart).execute()
                customer.rest.from_("cart_items").upsert(
                    [{"cart_id": cart, "product_id": p, "quantity": rng.randint(1, 3)} for p in picks],
                    on_conflict="cart_id,product_id",
                    ignore_duplicates=True,
                ).execute()
                answer = market.checkout(customer, rng.choice(["airtel", "mixx", "halopesa", "mpesa"]), client=client)
                statuses.append(("checkout", answer.status_code))

    def jobs() -> None:
        with psycopg.connect(market.target.db_url, autocommit=True) as db:
            while time.monotonic() < stop:
                db.execute(
                    "update public.orders set expires_at = now() - interval '1 minute' where id in ("
                    " select id from public.orders where status = 'pending_payment' and customer_id = any(%s)"
                    " order by random() limit 2)",
                    [[c.id for c in customers]],
                )
                expiry = rpc(market, "expire_overdue_payments", {}, market.target.service_role_key)
                statuses.append(("expire", expiry.status_code))
                reconcile = market.http.post(
                    f"{market.target.url}/functions/v1/payment-reconcile",
                    json={"min_age_seconds": 0},
                    headers={"Authorization": f"Bearer {market.target.service_role_key}"},
                )
                statuses.append(("reconcile", reconcile.status_code))
                time.sleep(0.2)

    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # a failing request fails the test, not just the thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(lambda c=c: shopper(c))) for c in customers]
    threads.append(threading.Thread(target=guarded(jobs)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 30})

    assert len([s for s in statuses if s[0] == "checkout"]) >= 20, "the storm was too small to mean anything"
    assert {code for kind, code in statuses if kind == "checkout"} <= {202, 409, 429}, statuses
    assert {code for kind, code in statuses if kind != "checkout"} == {200}, statuses
    callbacks = market.sandbox("GET", "/_sandbox/deliveries")[deliveries_before:]
    answers = [a.get("status_code") or 0 for d in callbacks for a in d["attempts"]]
    assert answers and [code for code in answers if code >= 500] == []
    time.sleep(1.5)  # let the backends publish their statistics
    assert deadlocks(market) == before

    # let everything still open settle, so the invariants judge a quiet state
    market.db.execute(
        "update public.orders set expires_at = now() - interval '1 minute' "
        "where status = 'pending_payment' and customer_id = any(%s)",
        [[c.id for c in customers]],
    )
    market.expire()
