"""Vendors are paid their earnings: a vendor with a completed order asks for a payout (or
the weekly run makes one) through the Data API, payout-execute sends it over HTTP through
the wallet's provider (M-Pesa B2C, Airtel disbursement, Mixx Account to Wallet, a ClickPesa
payout for HaloPesa wallets) against the sandbox, and the money invariants hold after every
test.

The wallet's last two digits decide what the provider does (docs/payments.md, "Payout
scenarios"): 82 refused, 83 the answer is lost, 84 never received, 85 the name lookup
answers another name, 86 the payout webhook comes several times, 87 no such wallet;
anything else pays.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.payments.market import Market
from tests.payments.vendors import METHOD, SANDBOX_METHOD, Payouts, Vendor

LOOKUP = ("mpesa", "airtel", "halopesa")  # providers that tell a wallet's holder
QUERY = ("mpesa", "airtel", "halopesa")  # providers that can be asked about a lost answer
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def payouts(market: Market) -> Payouts:
    return Payouts(market)


def notes(payouts: Payouts, vendor: Vendor) -> list[str]:
    return [n for n in payouts.market.notifications(vendor.owner.id) if n.startswith("payout_")]


def assert_paid_once(payouts: Payouts, vendor: Vendor, payout_id: str, amount: int) -> dict[str, Any]:
    payout = payouts.payout(payout_id)
    assert (payout["status"], payout["method"], payout["amount"]) == ("paid", METHOD[vendor.provider], amount), payout
    assert payout["provider_payout_id"], payout
    paid = [p for p in payouts.sent(payout["reference"]) if p["status"] == "paid"]
    assert [(p["method"], p["amount"], p["msisdn"]) for p in paid] == [
        (SANDBOX_METHOD[payout["method"]], amount, vendor.wallet)
    ]
    balance = payouts.balance(vendor)
    assert (balance["available"], balance["in_flight"], balance["paid_out"]) == (0, 0, amount), balance
    assert notes(payouts, vendor).count("payout_paid") == 1
    return payout


# -- paid ------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", LOOKUP)
def test_a_wallet_is_looked_up_once_then_paid(payouts: Payouts, provider: str) -> None:
    vendor = payouts.vendor(provider)
    amount = payouts.earn(vendor)
    assert payouts.wallet_state(vendor) == (False, None)
    payout_id = payouts.request(vendor)
    assert payouts.payout(payout_id)["status"] == "pending"
    assert payouts.balance(vendor)["in_flight"] == amount

    run = payouts.run()
    result = payouts.result_for(run, payout_id)
    assert result is not None and result["result"] in ("succeeded", "pending"), run
    payouts.idle()  # ClickPesa answers AUTHORIZED; its PAYOUT webhook says paid
    payout = assert_paid_once(payouts, vendor, payout_id, amount)
    assert payout["attempts"] == 1
    # the provider's name matched the owner's (SQL compared): the wallet is confirmed once
    assert payouts.wallet_state(vendor) == (True, vendor.holder)
    if provider == "halopesa":
        assert payouts.events(payout["reference"]) == ["applied"]

    # the next payout to the same wallet is not looked up again
    more = payouts.earn(vendor, price=50_000)
    again = payouts.request(vendor)
    lookups_before = len(payouts.market.sandbox("GET", "/_sandbox/payouts", params={"msisdn": vendor.wallet}))
    payouts.run()
    payouts.idle()
    assert payouts.payout(again)["status"] == "paid"
    assert payouts.balance(vendor)["paid_out"] == amount + more
    assert len(payouts.market.sandbox("GET", "/_sandbox/payouts", params={"msisdn": vendor.wallet})) == (
        lookups_before + 1
    )


def test_a_mixx_wallet_waits_for_an_admin_then_is_paid(payouts: Payouts) -> None:
    """Mixx tells no wallet's name: the first payout fails until an admin confirms it."""
    vendor = payouts.vendor("mixx")
    amount = payouts.earn(vendor)
    first = payouts.request(vendor)
    run = payouts.run()
    assert payouts.result_for(run, first)["result"] == "wallet_unverified"  # type: ignore[index]
    payout = payouts.payout(first)
    assert payout["status"] == "failed" and payout["failure_reason"].startswith("wallet_unverified"), payout
    assert payouts.sent(payout["reference"]) == []  # nothing reached the provider
    assert payouts.balance(vendor)["available"] == amount  # the money is back
    assert notes(payouts, vendor) == ["payout_failed"]

    confirmed = payouts.market.rpc(
        payouts.admin(), "verify_payout_wallet", {"p_vendor_id": vendor.id, "p_holder_name": vendor.holder}
    )
    assert confirmed.status_code == 200, confirmed.text
    second = payouts.request(vendor)
    payouts.run()
    assert_paid_once(payouts, vendor, second, amount)


def test_the_weekly_run_pays_and_a_big_payout_waits_for_an_admin(payouts: Payouts) -> None:
    small = payouts.vendor("airtel", verified=True)
    big = payouts.vendor("mpesa", verified=True)
    small_amount = payouts.earn(small, price=100_000)
    big_amount = payouts.earn(big, price=1_300_000)
    threshold = payouts.db.execute(
        "select value::bigint from private.settings where key = 'payouts.approval_above_tzs'"
    ).fetchone()
    assert threshold is not None and small_amount <= threshold[0] < big_amount

    weekly = payouts.service_rpc("run_payouts", {})  # what pg_cron calls
    assert weekly.status_code == 200, weekly.text
    assert weekly.json()["created"] >= 2 and weekly.json()["awaiting_approval"] >= 1
    ids = {
        v.id: str(
            payouts.db.execute(
                "select id from private.vendor_payouts where vendor_id = %s and status = 'pending'", [v.id]
            ).fetchone()[0]  # type: ignore[index]
        )
        for v in (small, big)
    }
    assert payouts.payout(ids[big.id])["needs_approval"] is True

    run = payouts.run()
    assert payouts.result_for(run, ids[small.id])["result"] == "succeeded"  # type: ignore[index]
    assert payouts.result_for(run, ids[big.id]) is None  # not sent before an admin approves it
    assert payouts.payout(ids[big.id])["status"] == "pending"
    assert payouts.sent(payouts.payout(ids[big.id])["reference"]) == []
    assert_paid_once(payouts, small, ids[small.id], small_amount)

    # the vendor cannot approve their own payout; an admin can
    own = payouts.market.rpc(big.owner, "approve_payout", {"p_payout_id": ids[big.id]})
    assert own.status_code in (401, 403), own.text
    approved = payouts.market.rpc(payouts.admin(), "approve_payout", {"p_payout_id": ids[big.id]})
    assert approved.status_code == 200, approved.text
    run = payouts.run()
    assert payouts.result_for(run, ids[big.id])["result"] == "succeeded"  # type: ignore[index]
    assert_paid_once(payouts, big, ids[big.id], big_amount)


# -- refused, lost, never received -----------------------------------------------------------


@pytest.mark.parametrize("provider", ["mpesa", "airtel", "mixx", "halopesa"])
def test_a_refused_payout_fails_and_its_money_goes_back_to_the_vendor(payouts: Payouts, provider: str) -> None:
    vendor = payouts.vendor(provider, "82", verified=True)
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    run = payouts.run()
    assert payouts.result_for(run, payout_id)["result"] == "failed"  # type: ignore[index]
    payout = payouts.payout(payout_id)
    assert payout["status"] == "failed" and payout["failure_reason"].startswith("payee_refused"), payout
    assert [p["status"] for p in payouts.sent(payout["reference"])] == ["refused"]
    balance = payouts.balance(vendor)
    assert (balance["available"], balance["in_flight"], balance["paid_out"]) == (amount, 0, 0), balance
    assert notes(payouts, vendor) == ["payout_failed"]
    text = payouts.db.execute(
        "select body from public.notifications where user_id = %s and type = 'payout_failed'", [vendor.owner.id]
    ).fetchone()
    assert text is not None and "payee_refused" in text[0]
    # a later run sends nothing: a failed payout is over; the next one is a new payout
    assert payouts.result_for(payouts.run(), payout_id) is None
    assert len(payouts.sent(payout["reference"])) == 1


@pytest.mark.parametrize("provider", QUERY)
def test_a_lost_answer_is_settled_by_a_later_run(payouts: Payouts, provider: str) -> None:
    vendor = payouts.vendor(provider, "83", verified=True)
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    run = payouts.run()
    assert payouts.result_for(run, payout_id)["result"] == "pending"  # type: ignore[index]
    payouts.idle()
    payout = payouts.payout(payout_id)
    assert payout["status"] == "processing"
    # the money did go out, but we do not know it yet: still in flight, never resent
    assert [p["status"] for p in payouts.sent(payout["reference"])] == ["paid"]
    assert payouts.balance(vendor)["in_flight"] == amount
    assert payouts.result_for(payouts.run(), payout_id) is None  # not stale yet: not asked
    payouts.age(payout_id)
    later = payouts.run()
    assert payouts.result_for(later, payout_id)["result"] == "succeeded", later  # type: ignore[index]
    payout = assert_paid_once(payouts, vendor, payout_id, amount)
    assert payout["attempts"] == 1


@pytest.mark.parametrize("provider", QUERY)
def test_a_payout_the_provider_never_received_fails_at_a_later_run(payouts: Payouts, provider: str) -> None:
    vendor = payouts.vendor(provider, "84", verified=True)
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    payouts.run()
    assert payouts.payout(payout_id)["status"] == "processing"  # no answer: not known
    payouts.age(payout_id)
    run = payouts.run()
    assert payouts.result_for(run, payout_id)["result"] == "not_found"  # type: ignore[index]
    payout = payouts.payout(payout_id)
    assert payout["status"] == "failed" and payout["failure_reason"].startswith("not_found_at_provider")
    assert [p["status"] for p in payouts.sent(payout["reference"])] == ["lost"]
    assert payouts.balance(vendor)["available"] == amount
    assert notes(payouts, vendor) == ["payout_failed"]


def test_a_mixx_payout_whose_answer_was_lost_waits_for_an_operator(payouts: Payouts) -> None:
    """Mixx B2C has no status query: a lost answer stays processing, never resent, and is
    not asked about at every run."""
    vendor = payouts.vendor("mixx", "83", verified=True)
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    payouts.run()
    payouts.age(payout_id)
    run = payouts.run()
    assert payouts.result_for(run, payout_id)["result"] == "cannot_ask"  # type: ignore[index]
    assert payouts.payout(payout_id)["status"] == "processing"
    assert payouts.result_for(payouts.run(), payout_id) is None  # the answer's time was noted
    assert [p["status"] for p in payouts.sent(payouts.payout(payout_id)["reference"])] == ["paid"]
    assert payouts.balance(vendor)["in_flight"] == amount
    # while it may have been paid, the vendor cannot ask for another payout
    again = payouts.market.rpc(vendor.owner, "request_payout", {})
    assert again.status_code == 409 and again.json()["details"] == "payout_open", again.text


# -- whose wallet ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", LOOKUP)
def test_another_name_at_the_lookup_fails_the_payout_before_anything_is_sent(payouts: Payouts, provider: str) -> None:
    vendor = payouts.vendor(provider, "85")
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    run = payouts.run()
    assert payouts.result_for(run, payout_id) == {
        "payout_id": payout_id,
        "result": "failed",
        "payout_status": "failed",
        "reason": "name_mismatch",
    }
    payout = payouts.payout(payout_id)
    assert (payout["status"], payout["failure_reason"]) == ("failed", "name_mismatch")
    assert [p for p in payouts.sent(payout["reference"]) if p["status"] != "refused"] == []
    assert payouts.wallet_state(vendor) == (False, None)
    assert payouts.balance(vendor)["available"] == amount
    assert notes(payouts, vendor) == ["payout_failed"]


@pytest.mark.parametrize("provider", LOOKUP)
def test_a_wallet_the_provider_does_not_know_fails_the_payout(payouts: Payouts, provider: str) -> None:
    vendor = payouts.vendor(provider, "87")
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    payouts.run()
    payout = payouts.payout(payout_id)
    assert (payout["status"], payout["failure_reason"]) == ("failed", "wallet_not_found")
    assert payouts.sent(payout["reference"]) == []
    assert payouts.balance(vendor)["available"] == amount


# -- callbacks -------------------------------------------------------------------------------


def test_the_same_payout_callback_ten_times_pays_once(payouts: Payouts) -> None:
    vendor = payouts.vendor("halopesa", "83", verified=True)  # the create answer and the webhook are lost
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    payouts.run()
    reference = payouts.payout(payout_id)["reference"]
    assert payouts.payout(payout_id)["status"] == "processing"
    m = payouts.market
    # a forged one first: stored, rejected, nothing changes
    m.sandbox("POST", f"/_sandbox/payouts/halopesa/{reference}/callback", json={"signature": "invalid"})
    payouts.idle()
    assert payouts.payout(payout_id)["status"] == "processing"
    m.sandbox("POST", f"/_sandbox/payouts/halopesa/{reference}/callback", json={"copies": 10})
    payouts.idle()
    assert_paid_once(payouts, vendor, payout_id, amount)
    assert payouts.events(reference) == ["applied"] + ["duplicate"] * 9 + ["rejected"]
    deliveries = m.sandbox("GET", "/_sandbox/deliveries", params={"ref": reference})
    assert sorted(d["status_code"] for d in deliveries) == [200] * 10 + [401]
    # a run afterwards has nothing to do with it
    assert payouts.result_for(payouts.run(), payout_id) is None


def test_duplicate_payout_webhooks_from_the_provider_pay_once(payouts: Payouts) -> None:
    vendor = payouts.vendor("halopesa", "86", verified=True)
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    payouts.run()
    payouts.idle()
    assert_paid_once(payouts, vendor, payout_id, amount)
    statuses = payouts.events(payouts.payout(payout_id)["reference"])
    assert statuses == ["applied"] + ["duplicate"] * (len(statuses) - 1) and len(statuses) >= 3


def test_a_payout_webhook_racing_a_status_query_pays_once(payouts: Payouts) -> None:
    vendor = payouts.vendor("halopesa", "83", verified=True)
    amount = payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    payouts.run()
    reference = payouts.payout(payout_id)["reference"]
    payouts.age(payout_id)
    # five copies of the webhook and a run that asks the provider, at once
    payouts.market.sandbox("POST", f"/_sandbox/payouts/halopesa/{reference}/callback", json={"copies": 5})
    run = payouts.run()
    payouts.idle()
    by_run = payouts.result_for(run, payout_id) or {}  # none: a copy settled it first
    assert by_run.get("result") in (None, "succeeded"), run
    assert_paid_once(payouts, vendor, payout_id, amount)
    events = payouts.events(reference)
    settled_by_run = 1 if by_run.get("recorded") == "applied" else 0
    assert len(events) == 5 and events.count("applied") + settled_by_run == 1, (events, by_run)


def test_a_payout_callback_is_not_taken_for_a_refund_nor_a_refund_for_a_payout(payouts: Payouts) -> None:
    """ClickPesa sends refunds' and payouts' PAYOUT events to one URL: each reaches its own."""
    m = payouts.market
    vendor = payouts.vendor("halopesa", "83", verified=True)
    payouts.earn(vendor)
    payout_id = payouts.request(vendor)
    bought = m.paid("halopesa", suffix="83")
    refund_id = m.granted(bought["payment_id"], 5_000)
    m.refund_execute()
    payouts.run()
    refund_ref = m.refund(refund_id)["reference"]
    payout_ref = payouts.payout(payout_id)["reference"]
    assert (refund_ref[:2], payout_ref[:2]) == ("WR", "WO")
    m.sandbox("POST", f"/_sandbox/payouts/halopesa/{payout_ref}/callback", json={})
    payouts.idle()
    assert payouts.payout(payout_id)["status"] == "paid"
    assert m.refund(refund_id)["status"] == "processing"
    m.sandbox("POST", f"/_sandbox/payouts/halopesa/{refund_ref}/callback", json={})
    payouts.idle()
    assert m.refund(refund_id)["status"] == "succeeded"
    assert payouts.events(payout_ref) == ["applied"] and payouts.events(refund_ref) == ["applied"]


# -- concurrency and access ------------------------------------------------------------------


def test_two_runs_at_once_pay_each_payout_once(payouts: Payouts) -> None:
    vendors = [
        payouts.vendor("mpesa", verified=True),
        payouts.vendor("mpesa", verified=True),
        payouts.vendor("airtel", verified=True),
        payouts.vendor("mixx", verified=True),
        payouts.vendor("halopesa", verified=True),
    ]
    owed = {v.id: payouts.earn(v, price=60_000) for v in vendors}
    ids = {v.id: payouts.request(v) for v in vendors}
    runs: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        with httpx.Client(timeout=60) as client:
            start.wait()
            try:
                runs.append(payouts.run(client=client))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    payouts.idle()
    for vendor in vendors:
        payout_id = ids[vendor.id]
        sent = [
            r for run in runs for r in run["results"] if r["payout_id"] == payout_id and r["result"] != "not_claimed"
        ]
        assert len(sent) == 1, (payout_id, sent)
        payout = assert_paid_once(payouts, vendor, payout_id, owed[vendor.id])
        assert payout["attempts"] == 1


def test_two_weekly_runs_at_once_make_one_payout_per_vendor(payouts: Payouts) -> None:
    vendor = payouts.vendor("airtel", verified=True)
    payouts.earn(vendor, price=80_000)
    answers: list[int] = []
    start = threading.Barrier(3)

    def weekly() -> None:
        start.wait()
        answers.append(payouts.service_rpc("run_payouts", {}).status_code)

    threads = [threading.Thread(target=weekly) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(answers) == {200}, answers
    rows = payouts.db.execute("select status from private.vendor_payouts where vendor_id = %s", [vendor.id]).fetchall()
    assert rows == [("pending",)]
    payouts.run()
    assert payouts.balance(vendor)["available"] == 0


def test_payout_execute_is_for_the_service_role_and_never_shows_database_text(payouts: Payouts) -> None:
    m = payouts.market
    vendor = payouts.vendor("mpesa")
    url = f"{m.target.url}/functions/v1/payout-execute"
    for token in (m.target.anon_key, vendor.owner.token, payouts.admin().token):
        denied = m.http.post(url, json={}, headers={"Authorization": f"Bearer {token}"})
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["code"] == "service_role_required"
    assert m.http.post(url, json={}).status_code == 401
    service = {"Authorization": f"Bearer {m.target.service_role_key}"}
    for body in ({"limit": 0}, {"stale_seconds": 60}, {"limit": "x"}):
        bad = m.http.post(url, json=body, headers=service)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_option", bad.text
    assert m.http.post(url, content=b"nope", headers=service).status_code == 400
    assert m.http.get(url, headers=service).status_code == 405
    for answer in (
        m.http.post(url, content=b"{", headers=service),
        m.http.post(url, json={"limit": -1}, headers=service),
    ):
        assert not re.search(r"relation|violates|constraint|SQLSTATE|syntax error|Traceback", answer.text), answer.text
    # nobody but the service role sends, settles or reads payouts through the Data API
    payouts.earn(vendor, price=50_000)
    payout_id = payouts.request(vendor)
    for who in (vendor.owner, payouts.admin()):
        for fn, args in (
            ("claim_payout", {"p_payout_id": payout_id}),
            ("record_payout_outcome", {"p_payout_id": payout_id, "p_outcome": "succeeded"}),
            ("record_wallet_check", {"p_payout_id": payout_id, "p_holder_name": vendor.holder}),
            ("apply_payout_event", {"p_provider": "mpesa", "p_reference": "WO1", "p_outcome": "succeeded"}),
            ("payouts_to_execute", {}),
        ):
            answer = m.rpc(who, fn, args)
            assert answer.status_code in (401, 403), (fn, answer.text)
    assert payouts.payout(payout_id)["status"] == "pending"
    assert payouts.sent(payouts.payout(payout_id)["reference"]) == []


# -- the contract --------------------------------------------------------------------------

PRINT = """
const c = await import(Deno.args[0]);
console.log(JSON.stringify({
  states: c.PAYOUT_STATES, methods: c.PAYOUT_METHODS,
  payout: c.PAYOUT_REFERENCE_PREFIX, refund: c.REFUND_REFERENCE_PREFIX,
}));
"""


def test_contract_ts_knows_the_payouts_as_the_database_does(db: psycopg.Connection) -> None:
    deno = ROOT / "tools" / "node_modules" / ".bin" / "deno"
    env = dict(os.environ, NO_COLOR="1", DENO_NO_UPDATE_CHECK="1")
    env.setdefault("DENO_DIR", str(ROOT / ".wats" / "deno"))
    contract = ROOT / "supabase" / "functions" / "_shared" / "payments" / "contract.ts"
    proc = subprocess.run(
        [str(deno), "eval", PRINT, contract.as_uri()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    ts = json.loads(proc.stdout)

    def check(name: str) -> list[str]:
        row = db.execute(
            "select pg_get_constraintdef(oid) from pg_constraint where conname = %s "
            "and conrelid = 'private.vendor_payouts'::regclass",
            [name],
        ).fetchone()
        assert row is not None, name
        return re.findall(r"'([^']*)'::text", str(row[0]))

    def default_prefix(table: str) -> str:
        row = db.execute(
            "select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d join pg_attribute a "
            "on a.attrelid = d.adrelid and a.attnum = d.adnum where d.adrelid = %s::regclass "
            "and a.attname = 'reference'",
            [table],
        ).fetchone()
        assert row is not None, table
        made = db.execute(f"select {row[0]}").fetchone()
        assert made is not None
        return str(made[0])[:2]

    assert ts["states"] == check("vendor_payouts_status_allowed")
    assert ts["methods"] == check("vendor_payouts_method_allowed")
    assert ts["payout"] == default_prefix("private.vendor_payouts")
    assert ts["refund"] == default_prefix("public.refunds")
