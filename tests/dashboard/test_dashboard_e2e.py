"""The admin dashboard in a real browser (headless Chromium) on the local stack: the admin
signs in by phone OTP and does the jobs of the issue, each checked in the database; a
customer is refused; the Overview's numbers equal SQL. Screenshots of every page and the
measures (bundle size, Overview's time to first data) land in dashboard/e2e-artifacts/."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.dashboard.conftest import ADMIN_PHONE, CUSTOMER_PHONE, sign_in
from tests.payments.market import Market
from tests.payments.test_fulfilment import delivered, request_return
from tests.payments.test_money import earned, payouts_of, wallet

DIST = Path(__file__).resolve().parents[2] / "dashboard" / "dist"
PAGES = ["overview", "vendors", "orders", "payments", "returns", "shipments", "payouts", "audit"]
#: The production bundle (JS + CSS, gzip) may not grow past this without a decision.
BUNDLE_BUDGET_GZIP = 250_000
EAT_TODAY = "(date_trunc('day', now() at time zone 'Africa/Dar_es_Salaam') at time zone 'Africa/Dar_es_Salaam')"


def in_review(market: Market) -> dict[str, Any]:
    """A payment whose callback says another amount: it waits for an admin's review."""
    customer = market.customer("90")  # the sandbox sends no callback by itself for ..90
    bought = market.buy(customer, "halopesa", stock=2)
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    market.send_callback("halopesa", customer.phone, outcome="success", amount=100)
    state = market.payment(bought["payment_id"])
    assert (state["needs_review"], state["review_reason"]) == (True, "amount_mismatch")
    return bought


@pytest.fixture(scope="module")
def world(market: Market) -> dict[str, Any]:
    """What the admin acts on: a pending shop, a payment in review, two paid orders."""
    shop = market.shop(approved=False)
    slug = market.db.execute("select slug from public.vendors where id = %s", [shop]).fetchone()
    assert slug is not None
    return {
        "shop": shop,
        "shop_slug": slug[0],
        "review": in_review(market),
        "to_refund": market.paid("airtel", price=57_000),  # + TZS 3,000 shipping
        "to_ship": market.paid("mpesa"),
    }


@pytest.fixture(scope="module")
def admin(browser: Browser, dashboard_url: str, world: dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    page = context.new_page()
    sign_in(page, dashboard_url, ADMIN_PHONE)
    expect(page.locator("[data-testid=overview-ready]")).to_be_visible(timeout=30_000)
    yield page
    context.close()


def admin_id(db: psycopg.Connection) -> str:
    row = db.execute("select id::text from public.profiles where phone = %s", [ADMIN_PHONE]).fetchone()
    assert row is not None
    return str(row[0])


def open_page(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/#/{name}")
    expect(page.locator(f"main[data-page={name}]")).to_be_visible()
    expect(page.locator("[data-state=loading]")).to_have_count(0, timeout=30_000)


def succeeded(page: Page, scope: Any = None) -> None:
    flash = (scope or page).locator("[data-testid=flash]")
    expect(flash).to_contain_text("✓", timeout=20_000)


def overview_sql(db: psycopg.Connection) -> dict[str, Any]:
    orders, gmv = db.execute(
        f"select (select count(*) from public.orders where created_at >= {EAT_TODAY}), "
        f"(select coalesce(sum(total), 0) from public.orders where paid_at >= {EAT_TODAY})"
    ).fetchone() or (0, 0)
    queue = db.execute("select count(*) from public.payments where needs_review").fetchone()
    rates = db.execute(
        "select provider, count(*) filter (where status in ('succeeded', 'refunded', 'partially_refunded')), "
        "count(*) filter (where status in ('succeeded', 'refunded', 'partially_refunded', 'failed', 'expired')) "
        f"from public.payments where created_at >= {EAT_TODAY} - interval '29 days' group by provider"
    ).fetchall()
    times = db.execute(
        "select round(avg(seconds_to_dispatch) filter (where seconds_to_dispatch >= 0)), "
        "round(avg(seconds_to_deliver) filter (where seconds_to_deliver >= 0)) from public.shipments "
        f"where delivered_at >= {EAT_TODAY} - interval '29 days'"
    ).fetchone() or (None, None)
    firing = db.execute("select rule from private.ops_alerts where status = 'firing'").fetchall()
    return {
        "alerts": sorted(rule for (rule,) in firing),
        "fulfilment_s": tuple("" if t is None else str(int(t)) for t in times),
        "todays_orders": str(orders),
        "gmv": "TZS " + f"{gmv:,}",
        "review_queue": str(queue[0] if queue else 0),
        "rates": {p: f"{ok}/{n}" for p, ok, n in rates if n},
    }


def overview_page(page: Page) -> dict[str, Any]:
    rows = page.locator("[data-testid=success-rates] tbody tr")
    rates = {
        rows.nth(i).get_attribute("data-provider"): rows.nth(i).locator("[data-field=counts]").inner_text()
        for i in range(rows.count())
    }
    fulfilment = page.get_by_test_id("fulfilment")
    alerts = page.locator("[data-testid=alerts] tr[data-rule]")
    return {
        "alerts": sorted(str(alerts.nth(i).get_attribute("data-rule")) for i in range(alerts.count())),
        "fulfilment_s": (fulfilment.get_attribute("data-dispatch-s"), fulfilment.get_attribute("data-deliver-s")),
        "todays_orders": page.get_by_test_id("todays-orders").inner_text(),
        "gmv": page.get_by_test_id("gmv").inner_text(),
        "review_queue": page.get_by_test_id("review-queue").inner_text(),
        "rates": rates,
    }


def test_the_overview_shows_what_sql_says(admin: Page, dashboard_url: str, mdb: psycopg.Connection, measures: dict):
    before = overview_sql(mdb)
    admin.goto(f"{dashboard_url}/#/overview")
    admin.reload()  # a fresh load with the admin's stored session, timed in the browser
    expect(admin.locator("[data-testid=overview-ready]")).to_be_visible(timeout=30_000)
    first_data_ms = admin.evaluate("performance.getEntriesByName('wats:overview-data')[0].startTime")
    shown = overview_page(admin)
    after = overview_sql(mdb)
    assert before == after, "the data moved while the page loaded"
    assert shown == after
    assert int(shown["todays_orders"]) >= 3 and shown["review_queue"] != "0"  # the arranged world is in it
    measures["overview_time_to_first_data_ms"] = round(first_data_ms)
    print(f"\n[dashboard] Overview time to first data: {first_data_ms:.0f} ms (navigation start to data rendered)")


def test_the_overview_lists_the_firing_alerts(admin: Page, dashboard_url: str, mdb: psycopg.Connection):
    """A firing alert (as evaluate_alerts writes it) is on the Overview; a resolved one is not."""
    rows = mdb.execute(
        "insert into private.ops_alerts (rule, subject, status, summary, resolved_at) values "
        "('dashboard_probe', 'mixx', 'firing', 'mixx: no callbacks for 20 minutes', null), "
        "('dashboard_probe_old', 'mpesa', 'resolved', 'mpesa: recovered', now()) returning id"
    ).fetchall()
    try:
        admin.goto(f"{dashboard_url}/#/overview")
        admin.reload()
        expect(admin.locator("[data-testid=overview-ready]")).to_be_visible(timeout=30_000)
        firing = admin.locator("[data-testid=alerts] tr[data-rule=dashboard_probe]")
        expect(firing).to_contain_text("mixx: no callbacks for 20 minutes")
        expect(admin.locator("[data-testid=alerts] tr[data-rule=dashboard_probe_old]")).to_have_count(0)
    finally:
        mdb.execute("delete from private.ops_alerts where id = any(%s)", [[r[0] for r in rows]])


def test_the_admin_approves_the_pending_vendor(
    admin: Page, dashboard_url: str, world: dict[str, Any], mdb: psycopg.Connection
):
    open_page(admin, dashboard_url, "vendors")
    first = admin.locator("[data-testid=vendors] tbody tr").first
    expect(first.locator(".badge")).to_have_text("pending")  # pending approval first
    row = admin.locator(f"tr[data-vendor='{world['shop_slug']}']")
    row.get_by_role("button", name="Approve").click()
    succeeded(admin)
    expect(row.locator(".badge")).to_have_text("approved")
    status = mdb.execute(
        "select v.status, v.approved_at is not null, a.actor_id::text from public.vendors v "
        "join public.audit_logs a on a.entity_id = v.id and a.action = 'update' where v.id = %s "
        "order by a.created_at desc limit 1",
        [world["shop"]],
    ).fetchone()
    assert status == ("approved", True, admin_id(mdb))


def test_the_admin_suspends_the_vendor_with_a_reason(
    admin: Page, dashboard_url: str, world: dict[str, Any], mdb: psycopg.Connection
):
    """After its approval (the test above), the same shop is suspended with the reason."""
    open_page(admin, dashboard_url, "vendors")
    row = admin.locator(f"tr[data-vendor='{world['shop_slug']}']")
    expect(row.locator(".badge")).to_have_text("approved")
    row.get_by_label("Reason").fill("Sold counterfeit phones")
    admin.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Suspend").click()
    succeeded(admin)
    expect(row.locator(".badge")).to_have_text("suspended")
    state = mdb.execute(
        "select status, status_reason, suspended_at is not null from public.vendors where id = %s", [world["shop"]]
    ).fetchone()
    assert state == ("suspended", "Sold counterfeit phones", True)


def test_the_admin_resolves_a_payment_review(
    admin: Page, dashboard_url: str, world: dict[str, Any], mdb: psycopg.Connection
):
    payment = world["review"]["payment_id"]
    open_page(admin, dashboard_url, "payments")
    row = admin.locator(f"tr[data-payment='{payment}']")
    expect(row.locator("[data-field=reason]")).to_have_text("amount_mismatch")
    row.get_by_label("Note").fill("customer paid in two parts")
    row.get_by_role("button", name="Accept").click()
    succeeded(admin)
    expect(row).to_have_count(0)
    state = mdb.execute(
        "select p.needs_review, p.reviewed_by::text, p.review_note, o.status from public.payments p "
        "join public.orders o on o.id = p.order_id where p.id = %s",
        [payment],
    ).fetchone()
    assert state == (False, admin_id(mdb), "customer paid in two parts", "paid")


def test_the_admin_refunds_a_payment(
    admin: Page, dashboard_url: str, world: dict[str, Any], market: Market, mdb: psycopg.Connection
):
    order = world["to_refund"]["order_id"]
    open_page(admin, dashboard_url, "orders")
    admin.get_by_test_id("order-search").fill(order)
    admin.get_by_role("button", name="Search").click()
    rows = admin.locator("[data-testid=orders] tbody tr[data-order]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("TZS 60,000")
    expect(rows.first).to_contain_text("****")  # the phone, masked
    rows.first.click()
    detail = admin.get_by_test_id("order-detail")
    expect(detail).to_contain_text(market.payment(world["to_refund"]["payment_id"])["provider_ref"])
    detail.get_by_label("Reason").fill("one item arrived broken")
    detail.get_by_label("Amount").fill("15000")
    detail.locator("[data-action=refund]").click()
    succeeded(admin, detail)
    expect(detail.get_by_test_id("order-refunds")).to_contain_text("TZS 15,000")
    refund = mdb.execute(
        "select amount, source, reason, granted_by::text from public.refunds where payment_id = %s",
        [world["to_refund"]["payment_id"]],
    ).fetchall()
    assert refund == [(15_000, "review", "one item arrived broken", admin_id(mdb))]


def test_the_admin_finds_an_order_by_its_payment_reference(
    admin: Page, dashboard_url: str, world: dict[str, Any], market: Market
):
    """The reference the customer's SMS and the provider show (admin-only RPC)."""
    reference = market.payment(world["to_ship"]["payment_id"])["provider_ref"]
    open_page(admin, dashboard_url, "orders")
    admin.get_by_test_id("order-search").fill(reference)
    admin.get_by_role("button", name="Search").click()
    rows = admin.locator("[data-testid=orders] tbody tr[data-order]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-order", world["to_ship"]["order_id"])


def test_the_admin_packs_and_dispatches_a_shipment(
    admin: Page, dashboard_url: str, world: dict[str, Any], mdb: psycopg.Connection
):
    shipment = mdb.execute(
        "select id::text from public.shipments where order_id = %s", [world["to_ship"]["order_id"]]
    ).fetchone()
    assert shipment is not None
    open_page(admin, dashboard_url, "shipments")
    row = admin.locator(f"tr[data-shipment='{shipment[0]}']")
    row.locator("[data-action=pack]").click()
    succeeded(admin)
    expect(row.locator(".badge")).to_have_text("packed")
    row.get_by_label("Carrier").fill("Dar Boda Express")
    row.get_by_label("Tracking number").fill("DBE-2026-0042")
    row.locator("[data-action=dispatch]").click()
    expect(row.locator(".badge")).to_have_text("dispatched", timeout=20_000)
    state = mdb.execute(
        "select s.status, s.carrier, s.tracking_number, o.status from public.shipments s "
        "join public.orders o on o.id = s.order_id where s.id = %s",
        [shipment[0]],
    ).fetchone()
    assert state == ("dispatched", "Dar Boda Express", "DBE-2026-0042", "shipped")


def test_the_admin_approves_a_return_and_receives_it_restocked(
    admin: Page, dashboard_url: str, market: Market, mdb: psycopg.Connection
):
    customer = market.customer()
    order = delivered(market, customer, quantity=2, price=15_000)
    ret = request_return(market, customer, order["line"], 2, details="the lid is cracked")
    open_page(admin, dashboard_url, "returns")
    row = admin.locator(f"tr[data-return='{ret['id']}']")
    expect(row.locator(".badge")).to_have_text("requested")
    row.get_by_role("button", name="Approve").click()
    succeeded(admin)
    expect(row.locator(".badge")).to_have_text("approved")
    row.get_by_label("Restocked").fill("1")
    row.get_by_label("Written off").fill("1")
    row.get_by_role("button", name="Receive").click()
    expect(row.locator(".badge")).not_to_have_text("approved", timeout=20_000)
    state = mdb.execute(
        "select r.status, r.restocked_quantity, r.damaged_quantity, r.decided_by::text, "
        "(select count(*) from public.refunds f where f.return_id = r.id) from public.returns r where r.id = %s",
        [ret["id"]],
    ).fetchone()
    assert state is not None
    assert (state[0] in ("received", "refunded"), state[1:]) == (True, (1, 1, admin_id(mdb), 1))


def test_the_admin_approves_a_big_payout(admin: Page, dashboard_url: str, market: Market, mdb: psycopg.Connection):
    shop = market.shop()
    wallet(market, shop)
    earned(market, shop, price=1_200_000)
    assert market.service_rpc("run_payouts", {}).status_code == 200
    [(payout, amount, status, needs_approval)] = payouts_of(market, shop)
    assert (status, needs_approval) == ("pending", True)
    open_page(admin, dashboard_url, "payouts")
    row = admin.locator(f"tr[data-payout='{payout}']")
    expect(row).to_contain_text("awaiting approval")
    expect(row).to_contain_text(f"TZS {amount:,}")
    row.get_by_role("button", name="Approve").click()
    succeeded(admin)
    approved = mdb.execute(
        "select approved_by::text, approved_at is not null from private.vendor_payouts where id = %s", [payout]
    ).fetchone()
    assert approved == (admin_id(mdb), True)


def test_every_page_loads_in_both_languages(admin: Page, dashboard_url: str, artifacts: Path):
    for name in PAGES:
        open_page(admin, dashboard_url, name)
        expect(admin.locator("[data-state=error]")).to_have_count(0)
        admin.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    admin.get_by_test_id("lang").click()
    open_page(admin, dashboard_url, "overview")
    expect(admin.locator("main h1")).to_have_text("Muhtasari")
    expect(admin.locator("nav")).to_contain_text("Wauzaji")
    admin.screenshot(path=str(artifacts / "overview-sw.png"), full_page=True)
    admin.get_by_test_id("lang").click()
    expect(admin.locator("main h1")).to_have_text("Overview")


def test_a_customer_is_refused(browser: Browser, dashboard_url: str, artifacts: Path):
    context = browser.new_context()
    page = context.new_page()
    data_calls: list[str] = []
    page.on("request", lambda r: data_calls.append(r.url) if "/rest/v1/" in r.url and "profiles" not in r.url else None)
    try:
        sign_in(page, dashboard_url, CUSTOMER_PHONE)
        expect(page.get_by_test_id("admins-only")).to_be_visible(timeout=20_000)
        expect(page.get_by_test_id("admins-only")).to_contain_text("Admins only")
        expect(page.locator("nav")).to_have_count(0)
        expect(page.locator("main")).to_have_count(0)
        page.screenshot(path=str(artifacts / "admins-only.png"))
        assert data_calls == []  # nothing but the caller's own role was asked for
    finally:
        context.close()


def test_the_production_bundle_is_small(measures: dict, target: Any):
    files = [p for p in (DIST / "assets").iterdir() if p.suffix in (".js", ".css")]
    assert files, "dashboard/dist is not built"
    sizes = {p.name: len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in files}
    total = sum(sizes.values())
    measures["bundle_gzip_bytes"] = total
    measures["bundle_files"] = sizes
    print(f"\n[dashboard] production bundle: {total / 1024:.1f} KiB gzip ({len(files)} files)")
    assert total < BUNDLE_BUDGET_GZIP
    assert not any(target.service_role_key in p.read_text(errors="ignore") for p in DIST.rglob("*") if p.is_file())
