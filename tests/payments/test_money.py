"""Money out, through the Data API as vendors, customers, admins and the service role: a sale
credits each vendor its lines less the commission in force (the vendor's deal, its
category's rate, or the default), completion makes it payable, refunds take each vendor's
share back (below zero after a payout, netted by the next), payouts are created once per
vendor and wait for an admin above the threshold; vendors read only their own statement;
customers earn points, spend them at checkout (held, spent, released), lose earned points in
proportion to refunds and get spent ones back. The money invariants (every transfer sums to
zero, the ledger equals the rows it follows) are checked after every test."""

from __future__ import annotations

import concurrent.futures
import json
import uuid
from typing import Any

from tests.payments.market import ADDRESS, Customer, Market


def wallet(market: Market, shop: str, provider: str = "mpesa") -> str:
    """The shop registers a payout wallet (its owner's phone)."""
    phone = market.db.execute(
        "select p.phone from public.vendors v join public.profiles p on p.id = v.owner_id where v.id = %s", [shop]
    ).fetchone()
    assert phone is not None
    market.db.execute(
        "update public.vendor_accounts set payout_provider = %s, payout_msisdn = %s where vendor_id = %s",
        [provider, phone[0], shop],
    )
    return str(phone[0])


def sold(market: Market, customer: Customer, lines: list[tuple[str, int]], **body: Any) -> dict[str, Any]:
    """The customer buys the lines and pays (Airtel sandbox); the 202 body."""
    market.fill_cart(customer, lines)
    answer = market.checkout(customer, body=({"provider": "airtel", "shipping_address": ADDRESS} | body))
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert market.wait_payment(result["payment_id"])["status"] == "succeeded"
    return dict(result)


def lines_of(market: Market, order_id: str) -> dict[str, tuple[int, int]]:
    rows = market.db.execute(
        "select vendor_id::text, line_total, commission_bps from public.order_items where order_id = %s", [order_id]
    ).fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def commission(total: int, bps: int) -> int:
    return (total * bps + 5000) // 10000


def test_each_vendor_is_credited_its_lines_less_the_commission_in_force(market: Market):
    admin = market.admin()
    deal, categorised, plain = market.shop(), market.shop(), market.shop()
    # a vendor deal of 5 %, a category rate of 15 % (set on the parent), the default 10 %
    r = admin.rest.from_("vendor_accounts").update({"commission_bps": 500}).eq("vendor_id", deal).execute()
    assert r.data and r.data[0]["commission_bps"] == 500
    parent = market.db.execute(
        "insert into public.categories (slug, name) values (%s, 'Money parent') returning id::text",
        [f"money-{uuid.uuid4().hex[:8]}"],
    ).fetchone()[0]  # type: ignore[index]
    child = market.db.execute(
        "insert into public.categories (slug, name, parent_id) values (%s, 'Money child', %s) returning id::text",
        [f"money-{uuid.uuid4().hex[:8]}", parent],
    ).fetchone()[0]  # type: ignore[index]
    assert market.rpc(admin, "set_category_commission", {"p_category_id": parent, "p_commission_bps": 1500}).json()
    a = market.product(price=20_000, shop=deal)
    b = market.product(price=30_001, shop=categorised)
    market.db.execute("update public.products set category_id = %s where id = %s", [child, b])
    c = market.product(price=7_777, shop=plain)

    amina = market.customer()
    order = sold(market, amina, [(a, 2), (b, 1), (c, 3)])
    lines = lines_of(market, order["order_id"])
    assert lines == {deal: (40_000, 500), categorised: (30_001, 1500), plain: (23_331, 1000)}
    # rates changed later do not touch what was sold
    market.rpc(admin, "set_category_commission", {"p_category_id": parent, "p_commission_bps": 100})
    assert lines_of(market, order["order_id"])[categorised] == (30_001, 1500)

    for shop, (total, bps) in lines.items():
        owner = market.owner_of(shop)
        assert market.balances(owner) == {
            "pending": total - commission(total, bps),
            "available": 0,
            "in_flight": 0,
            "paid_out": 0,
        }
        statement = market.rpc(owner, "vendor_statement", {}).json()
        kinds = [(line["kind"], line["amount"]) for line in statement["lines"]]
        assert kinds == [("sale", total), ("commission", -commission(total, bps))]
        text = json.dumps(statement)
        assert amina.phone not in text and ADDRESS["street"] not in text  # no customer's phone or address

    market.deliver(order["order_id"])
    market.complete(order["order_id"])
    for shop, (total, bps) in lines.items():
        balances = market.balances(market.owner_of(shop))
        assert (balances["pending"], balances["available"]) == (0, total - commission(total, bps))


def test_a_vendor_reads_no_other_vendors_money(market: Market):
    mine, theirs = market.shop(), market.shop()
    owner = market.owner_of(mine)
    for fn in ("vendor_statement", "vendor_balance", "request_payout"):
        r = market.rpc(owner, fn, {"p_vendor_id": theirs})
        assert r.status_code == 403 and r.json()["code"] == "42501", (fn, r.text)
    customer = market.customer()
    r = market.rpc(customer, "vendor_statement", {})
    assert r.status_code == 403 and r.json()["code"] == "42501"
    assert market.rpc(market.admin(), "vendor_statement", {"p_vendor_id": theirs}).status_code == 200


def earned(market: Market, shop: str, price: int = 20_000, quantity: int = 1) -> dict[str, Any]:
    """A customer buys from the shop; the order is delivered and completes."""
    order = sold(market, market.customer(), [(market.product(price=price, shop=shop), quantity)])
    market.deliver(order["order_id"])
    market.complete(order["order_id"])
    return order


def payouts_of(market: Market, shop: str) -> list[tuple[str, int, str, bool]]:
    rows = market.db.execute(
        "select id::text, amount, status, needs_approval from private.vendor_payouts where vendor_id = %s "
        "order by created_at",
        [shop],
    ).fetchall()
    return [(r[0], int(r[1]), r[2], r[3]) for r in rows]


def pay_out(market: Market, payout_id: str, outcome: str = "succeeded") -> None:
    """What payout-execute does with the provider's answer (claim, then the outcome)."""
    assert market.service_rpc("claim_payout", {"p_payout_id": payout_id}).json()["claimed"] is True
    r = market.service_rpc("record_payout_outcome", {"p_payout_id": payout_id, "p_outcome": outcome, "p_method": "b2c"})
    assert r.status_code == 200 and r.json()["result"] == "applied", r.text


def test_a_refund_after_payout_takes_the_vendor_below_zero_and_the_next_payout_nets_it(market: Market):
    shop = market.shop()
    wallet(market, shop)
    owner = market.owner_of(shop)
    first = earned(market, shop, price=20_000)  # 18,000 after 10 %
    run = market.service_rpc("run_payouts", {}).json()
    assert run["created"] >= 1
    [(payout, amount, status, _)] = payouts_of(market, shop)
    assert (amount, status) == (18_000, "pending")
    assert market.balances(owner)["in_flight"] == 18_000
    pay_out(market, payout)
    assert market.balances(owner) == {"pending": 0, "available": 0, "in_flight": 0, "paid_out": 18_000}
    assert "payout_paid" in market.notifications(owner.id)

    # the customer gets 5,000 back from the completed, paid-out order: goods and delivery fee
    # give back in proportion, the vendor its goods' share less the commission on it
    market.granted(first["payment_id"], 5_000)
    fee = market.db.execute("select shipping_fee from public.orders where id = %s", [first["order_id"]]).fetchone()
    assert fee is not None
    goods = 5_000 * 20_000 // (20_000 + fee[0])
    lines = market.rpc(owner, "vendor_statement", {}).json()["lines"]
    back = {line["kind"]: line["amount"] for line in lines if line["kind"].startswith("refund")}
    assert back["refund"] in (-goods, -goods - 1) and back["refund_commission"] == commission(-back["refund"], 1000)
    debt = back["refund"] + back["refund_commission"]
    assert market.balances(owner)["available"] == debt < 0

    earned(market, shop, price=30_000)  # 27,000
    market.service_rpc("run_payouts", {})
    second = payouts_of(market, shop)[-1]
    assert second[1:3] == (27_000 + debt, "pending")


def test_a_failed_payout_puts_the_money_back(market: Market):
    shop = market.shop()
    wallet(market, shop)
    owner = market.owner_of(shop)
    earned(market, shop, price=15_000)
    r = market.rpc(owner, "request_payout", {})
    assert r.status_code == 200 and r.json()["created"] is True
    pay_out(market, r.json()["payout_id"], "failed")
    assert market.balances(owner)["available"] == 13_500
    assert "payout_failed" in market.notifications(owner.id)
    # a duplicate answer changes nothing
    again = market.service_rpc("record_payout_outcome", {"p_payout_id": r.json()["payout_id"], "p_outcome": "failed"})
    assert again.json()["result"] == "duplicate"


def test_two_payout_runs_at_once_pay_each_vendor_once(market: Market):
    shops = [market.shop() for _ in range(3)]
    for shop in shops:
        wallet(market, shop)
        earned(market, shop, price=12_000)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: market.service_rpc("run_payouts", {}), range(4)))
    assert all(r.status_code == 200 for r in runs), [r.text for r in runs]
    for shop in shops:
        assert [(a, s) for _i, a, s, _n in payouts_of(market, shop)] == [(10_800, "pending")]


def test_payouts_refused_with_a_reason(market: Market):
    shop = market.shop()
    owner = market.owner_of(shop)
    earned(market, shop, price=12_000)
    r = market.rpc(owner, "request_payout", {})
    assert r.status_code == 422 and r.json()["details"] == "no_wallet", r.text
    wallet(market, shop)
    assert market.rpc(owner, "request_payout", {}).status_code == 200
    r = market.rpc(owner, "request_payout", {})
    assert r.status_code == 409 and r.json()["details"] == "payout_open", r.text
    poor = market.shop()
    wallet(market, poor)
    r = market.rpc(market.owner_of(poor), "request_payout", {})
    assert r.status_code == 422 and r.json()["details"] == "below_minimum", r.text


def test_a_big_payout_waits_for_an_admin(market: Market):
    shop = market.shop()
    wallet(market, shop)
    earned(market, shop, price=1_200_000)
    market.service_rpc("run_payouts", {})
    [(payout, amount, status, needs_approval)] = payouts_of(market, shop)
    assert (amount, status, needs_approval) == (1_080_000, "pending", True)
    listed = market.service_rpc("payouts_to_execute", {"p_limit": 500}).json()
    assert payout not in {p["payout_id"] for p in listed}
    assert market.service_rpc("claim_payout", {"p_payout_id": payout}).json()["claimed"] is False
    owner = market.owner_of(shop)
    assert market.rpc(owner, "approve_payout", {"p_payout_id": payout}).status_code == 403
    assert market.rpc(market.admin(), "approve_payout", {"p_payout_id": payout}).status_code == 200
    listed = market.service_rpc("payouts_to_execute", {"p_limit": 500}).json()
    assert payout in {p["payout_id"] for p in listed}
    pay_out(market, payout)


def test_a_wallet_is_verified_once_by_the_name_the_provider_knows(market: Market):
    shop = market.shop()
    wallet(market, shop)
    name = market.db.execute("select name from public.vendors where id = %s", [shop]).fetchone()[0]  # type: ignore[index]
    earned(market, shop, price=12_000)
    market.service_rpc("run_payouts", {})
    [(payout, *_)] = payouts_of(market, shop)
    claim = market.service_rpc("claim_payout", {"p_payout_id": payout}).json()
    assert claim["wallet_verified"] is False
    wrong = market.service_rpc("record_wallet_check", {"p_payout_id": payout, "p_holder_name": "Someone Else"})
    assert wrong.json() == {"verified": False, "payout_id": payout, "reason": "name_mismatch"}
    assert payouts_of(market, shop)[0][2] == "failed"
    assert market.balances(market.owner_of(shop))["available"] == 10_800

    # the same wallet is not tried again every week
    again = market.service_rpc("run_payouts", {}).json()
    assert again["skipped"].get("wallet_unconfirmed", 0) >= 1 and len(payouts_of(market, shop)) == 1
    # the vendor registers another wallet: it is checked once more, and the right name confirms it
    wallet(market, shop, "airtel")
    market.service_rpc("run_payouts", {})
    payout = payouts_of(market, shop)[-1][0]
    market.service_rpc("claim_payout", {"p_payout_id": payout})
    right = market.service_rpc("record_wallet_check", {"p_payout_id": payout, "p_holder_name": f"  {name.upper()} "})
    assert right.json()["verified"] is True
    verified = market.db.execute(
        "select payout_verified_at is not null from public.vendor_accounts where vendor_id = %s", [shop]
    ).fetchone()
    assert verified == (True,)
    # a new wallet is a new question
    wallet(market, shop, "mixx")
    assert market.db.execute(
        "select payout_verified_at from public.vendor_accounts where vendor_id = %s", [shop]
    ).fetchone() == (None,)


# -- loyalty points ----------------------------------------------------------------------------


def rich(market: Market, points: int) -> Customer:
    """A customer who earned ``points`` (one per 1,000 TZS of goods paid for)."""
    customer = market.customer()
    sold(market, customer, [(market.product(price=points * 1000), 1)])
    assert market.points(customer) == points
    return customer


def test_points_pay_part_of_an_order_and_the_vendor_still_gets_the_full_price(market: Market):
    customer = rich(market, 150)
    shop = market.shop()
    product = market.product(price=10_000, shop=shop)
    order = sold(market, customer, [(product, 1)], redeem_points=150)  # 1,500 TZS off
    row = market.db.execute(
        "select subtotal, discount, shipping_fee, total, points_redeemed from public.orders where id = %s",
        [order["order_id"]],
    ).fetchone()
    assert row is not None
    subtotal, discount, fee, total, points = row
    assert (subtotal, discount, points, total) == (10_000, 1_500, 150, 8_500 + fee)
    assert order["amount"] == total
    # spent, and the order earned on what was paid for goods: 8 points
    assert market.points(customer) == 8
    history = market.db.execute(
        "select reason, points from public.loyalty_points where customer_id = %s order by created_at",
        [customer.id],
    ).fetchall()
    assert history == [("purchase", 150), ("redemption", -150), ("purchase", 8)]
    # the platform funds the discount: the vendor is credited 10,000 less 10 %
    assert market.balances(market.owner_of(shop))["pending"] == 9_000


def test_points_over_the_cap_or_the_balance_are_refused_and_nothing_is_held(market: Market):
    customer = rich(market, 300)
    market.fill_cart(customer, [(market.product(price=10_000), 1)])
    body = {"provider": "airtel", "shipping_address": ADDRESS, "redeem_points": 201}
    over_cap = market.checkout(customer, body=body)
    assert over_cap.status_code == 422 and over_cap.json()["error"]["code"] == "points_over_cap", over_cap.text
    assert "200 points" in over_cap.json()["error"]["message"]
    poor = rich(market, 20)
    market.fill_cart(poor, [(market.product(price=10_000), 1)])
    too_many = market.checkout(poor, body={"provider": "airtel", "shipping_address": ADDRESS, "redeem_points": 21})
    assert too_many.status_code == 409 and too_many.json()["error"]["code"] == "not_enough_points", too_many.text
    assert (market.points(customer), market.points(poor)) == (300, 20)


def pays_from(market: Market, customer: Customer, suffix: str) -> None:
    """The customer's profile phone (what checkout charges) now ends in ``suffix``: the
    sandbox scenario of the next payment (91: insufficient funds; 90: Mixx never answers)."""
    phone = "2557" + str(uuid.uuid4().int)[:6] + suffix
    market.db.execute("update public.profiles set phone = %s where id = %s", [phone, customer.id])


def test_points_held_for_a_failed_or_expired_payment_come_back(market: Market):
    customer = rich(market, 100)
    pays_from(market, customer, "91")
    market.fill_cart(customer, [(market.product(price=10_000), 1)])
    answer = market.checkout(customer, body={"provider": "airtel", "shipping_address": ADDRESS, "redeem_points": 100})
    assert answer.status_code == 202, answer.text
    held = market.rpc(customer, "loyalty_account", {}).json()
    assert (held["points"], held["held"]) == (0, 100)
    assert market.wait_payment(answer.json()["payment_id"])["status"] == "failed"
    assert market.points(customer) == 100

    pays_from(market, customer, "90")
    market.fill_cart(customer, [(market.product(price=10_000), 1)])
    pending = market.checkout(customer, body={"provider": "mixx", "shipping_address": ADDRESS, "redeem_points": 50})
    assert pending.status_code == 202, pending.text
    assert market.points(customer) == 50
    market.expire_now(pending.json()["order_id"])
    market.expire()
    assert market.payment(pending.json()["payment_id"])["status"] == "expired"
    assert market.points(customer) == 100
    reasons = [
        r[0]
        for r in market.db.execute(
            "select reason from public.loyalty_points where customer_id = %s order by created_at", [customer.id]
        ).fetchall()
    ]
    assert reasons.count("redemption_released") == 2


def test_concurrent_checkouts_spending_the_same_points_hold_them_once(market: Market):
    customer = rich(market, 100)
    market.fill_cart(customer, [(market.product(price=10_000), 1)])
    pays_from(market, customer, "90")  # the payment stays open: the points stay held

    def attempt(_: int) -> int:
        body = {"provider": "mixx", "shipping_address": ADDRESS, "redeem_points": 100}
        return market.checkout(customer, body=body).status_code

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(attempt, range(4)))
    assert codes == [202, 422, 422, 422], codes  # one order; the others find the cart empty
    held = market.rpc(customer, "loyalty_account", {}).json()
    assert (held["points"], held["held"]) == (0, 100), held


def test_a_refund_takes_back_earned_points_and_gives_back_spent_ones_in_proportion(market: Market):
    customer = rich(market, 200)
    order = sold(market, customer, [(market.product(price=20_000), 1)], redeem_points=200)  # 2,000 off
    assert market.points(customer) == 18  # earned on 18,000
    # the customer cancels before packing: everything comes back once the refund is paid
    r = market.rpc(customer, "cancel_order", {"p_order_id": order["order_id"], "p_reason": "changed my mind"})
    assert r.status_code == 200, r.text
    refund = r.json()["refund_id"]
    assert market.refund(refund)["amount"] == order["amount"]
    market.service_rpc("claim_refund", {"p_refund_id": refund})
    market.service_rpc("record_refund_outcome", {"p_refund_id": refund, "p_outcome": "succeeded"})
    assert market.points(customer) == 200  # 18 earned taken back, 200 spent given back
    reasons = [
        r[0]
        for r in market.db.execute(
            "select reason from public.loyalty_points where customer_id = %s order by created_at", [customer.id]
        ).fetchall()
    ]
    assert reasons[-2:] == ["refund_reversal", "redemption_refunded"]


def test_points_expire_after_a_year_without_use_a_month_after_a_reminder(market: Market):
    customer = rich(market, 40)
    account = "select id from private.ledger_accounts where kind = 'points_customer' and customer_id = %s"
    market.db.execute(
        "update private.ledger_accounts set last_entry_at = now() - interval '11 months 5 days' "
        f"where id = ({account})",
        [customer.id],
    )
    first = market.service_rpc("expire_points", {}).json()
    assert first["reminded"] >= 1 and market.points(customer) == 40
    assert "points_expiring" in market.notifications(customer.id)
    with market.db.transaction():  # one now() for both: the reminder was about this activity
        market.db.execute(
            f"update private.ledger_accounts set last_entry_at = now() - interval '13 months' where id = ({account})",
            [customer.id],
        )
        market.db.execute(
            "update private.loyalty_expiry_notices set last_activity_at = now() - interval '13 months', "
            "notified_at = now() - interval '31 days' where customer_id = %s",
            [customer.id],
        )
    market.service_rpc("expire_points", {})
    assert market.points(customer) == 0
    assert "points_expired" in market.notifications(customer.id)
    assert market.rpc(customer, "expire_points", {}).status_code == 403
