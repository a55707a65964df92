"""The demo's last act: the return windows close and the orders complete, the vendors'
earnings become payable, the weekly payout run pays each vendor to their wallet (seen in
the sandbox), and the customer spends her loyalty points on a new order; every balance
printed."""

from __future__ import annotations

from typing import Any

from supabase import Client

from wats.demo.api import Stack, rows, rpc, wait_for
from wats.demo.checkout import BASKET, Paid, check_out, fill_cart, products
from wats.demo.show import expect, show, step, tzs


def balances(vendor: Client) -> dict[str, int]:
    answer = rpc(vendor, "vendor_balance")
    return {k: int(v) for k, v in answer.items() if k != "vendor_id"}


def show_balances(vendors: dict[str, Client]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, vendor in vendors.items():
        b = out[name] = balances(vendor)
        show(
            name,
            f"pending {tzs(b['pending'])}, available {tzs(b['available'])}, "
            f"in flight {tzs(b['in_flight'])}, paid out {tzs(b['paid_out'])}",
        )
    return out


def complete(stack: Stack, customer: Client, orders: list[Paid]) -> None:
    ids = [o.order_id for o in orders]
    step("A week passes: the return windows close (the demo moves the parcels' times 8 days back)")
    stack.time_travel(  # the whole parcel timeline, so paid → dispatched → delivered keep their durations
        "update public.shipments set paid_at = paid_at - interval '8 days', "
        "packed_at = packed_at - interval '8 days', dispatched_at = dispatched_at - interval '8 days', "
        "delivered_at = delivered_at - interval '8 days' where order_id = any(%s::uuid[])",
        [ids],
    )
    stack.time_travel(
        "update public.orders set delivered_at = delivered_at - interval '8 days' where id = any(%s::uuid[])", [ids]
    )
    step("complete_orders runs (pg_cron, hourly): delivered orders complete, their earnings become payable")
    show("completed", stack.service_rpc("complete_orders")["completed"])
    statuses = {
        r["id"]: r["status"] for r in rows(customer.table("orders").select("id,status").in_("id", ids).execute())
    }
    for order in orders:
        show("order", f"{order.provider}: {statuses[order.order_id]}")
    expect(all(s == "completed" for s in statuses.values()), f"not every order completed: {statuses}")


def pay_out(stack: Stack, vendors: dict[str, Client], wallets: dict[str, str], holders: dict[str, str]) -> None:
    step("The providers know each wallet's holder (the sandbox's KYC records: PUT /_sandbox/wallets)")
    for name, wallet in wallets.items():
        stack.register_wallet(wallet, holders[name])
        show(name, f"wallet {wallet} belongs to {holders[name]}")
    step("Vendors' money before the payout run (rpc vendor_balance, as each vendor)")
    before = show_balances(vendors)
    step(
        "The weekly payout run (rpc run_payouts, pg_cron) and payout-execute (every minute): a wallet's "
        "first payout asks the provider whose it is, SQL compares the name with the shop's owner"
    )
    show("run", stack.service_rpc("run_payouts"))

    def paid() -> bool:
        return all(
            not any(p["status"] in ("pending", "processing") for p in rpc(vendor, "vendor_statement")["payouts"])
            for vendor in vendors.values()
        )

    wait_for("every payout answered", paid, poke=lambda: stack.job("payout-execute"))
    for name, vendor in vendors.items():
        statement = rpc(vendor, "vendor_statement")
        last = statement["payouts"][-1] if statement["payouts"] else None
        expect(
            last is not None and last["status"] == "paid",
            f"{name}: the payout did not arrive ({last['status'] if last else 'none'}: "
            f"{last['failure_reason'] if last else ''})",
        )
        assert last is not None
        sent = [p for p in stack.sandbox_payouts(msisdn=wallets[name], status="paid") if p["amount"] == last["amount"]]
        expect(bool(sent), f"{name}: the sandbox shows no payout of {tzs(last['amount'])} to {wallets[name]}")
        show(name, f"{tzs(last['amount'])} sent to {last['provider']} wallet {last['msisdn']} ({last['reference']})")
        lines = [f"{line['kind']} ({line['account']}) {line['amount']:+,}" for line in statement["lines"][-3:]]
        show("statement", ", ".join(lines))
    step("Vendors' money after the payout run")
    after = show_balances(vendors)
    for name in vendors:
        expect(
            after[name]["available"] == 0
            and after[name]["paid_out"] >= before[name]["paid_out"] + before[name]["available"],
            f"{name}: the available balance was not paid out",
        )


def spend_points(stack: Stack, customer: Client, user_id: str, vendor: Client) -> Paid:
    account: dict[str, Any] = rpc(customer, "loyalty_account")
    basket = products(customer)
    subtotal = sum(int(p["price"]) * qty for p, (_, qty) in zip(basket, BASKET, strict=True))
    cap = subtotal * int(account["max_redeem_bps"]) // 10_000 // int(account["point_value_tzs"])
    spend = min(int(account["points"]), cap)
    step(
        f"Amina spends {spend} of her {account['points']} points on a new order "
        f"(1 point = {account['point_value_tzs']} TZS)"
    )
    expect(spend > 0, "Amina has no points to spend")
    fill_cart(customer, user_id, [(str(p["id"]), qty) for p, (_, qty) in zip(basket, BASKET, strict=True)])
    pending_before = balances(vendor)["pending"]
    paid = check_out(stack, customer, "mpesa", points=spend)
    expect(
        paid.discount == spend * int(account["point_value_tzs"]),
        f"expected {spend} points off, got {paid.discount} TZS",
    )
    show("points", f"{account['points']} → {rpc(customer, 'loyalty_balance')} (spent {spend}, earned on what she paid)")
    credited = balances(vendor)["pending"] - pending_before
    line = rows(
        customer.table("order_items")
        .select("line_total,commission_bps")
        .eq("order_id", paid.order_id)
        .eq("product_id", basket[0]["id"])
        .execute()
    )[0]
    full = int(line["line_total"]) - (int(line["line_total"]) * int(line["commission_bps"]) + 5000) // 10_000
    show(
        "vendor", f"Kariakoo Electronics is credited {tzs(credited)}: the full price less commission (points are on us)"
    )
    expect(credited == full, f"expected {tzs(full)} (the undiscounted price less commission), got {credited}")
    return paid
