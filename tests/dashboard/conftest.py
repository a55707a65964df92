"""Fixtures of the dashboard's browser tests: headless Chromium (Debian's package, driven by
Playwright for Python through ``executable_path``) against the dashboard the local stack
serves, and the marketplace helpers of the payment suite for arranging orders."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.payments.conftest import FAST_SANDBOX
from tests.payments.market import Market
from wats.seed.catalog import PEOPLE, TEST_OTP

#: Where each run leaves its screenshots and measures (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "dashboard" / "e2e-artifacts"
ADMIN_PHONE = next(p.phone for p in PEOPLE if p.role == "admin")
CUSTOMER_PHONE = next(p.phone for p in PEOPLE if p.role == "customer")


def chromium_path() -> str:
    """Debian's chromium (./scripts/wats installs it); CHROMIUM_PATH names another."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no chromium found: ./scripts/wats installs Debian's chromium as root (or set CHROMIUM_PATH)")
    return path


@pytest.fixture(scope="session")
def dashboard_url(target: Any) -> str:
    url = os.environ.get("WATS_DASHBOARD_URL") or target.settings.dashboard_url
    answer = httpx.get(f"{url}/index.html", timeout=10)
    assert answer.status_code == 200, f"the dashboard is not served at {url}: {answer.status_code} {answer.text[:200]}"
    return str(url)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def measures(artifacts: Path) -> Iterator[dict[str, Any]]:
    found: dict[str, Any] = {}
    yield found
    (artifacts / "measures.json").write_text(json.dumps(found, indent=2) + "\n")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # package scope: Playwright's sync API keeps an event loop running in this thread until
    # it stops, and later suites call asyncio.run (the Realtime cells)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def fast_sandbox(target: Any) -> Iterator[None]:
    before = httpx.get(f"{target.sandbox_url}/_sandbox/settings").json()
    httpx.patch(f"{target.sandbox_url}/_sandbox/settings", json=FAST_SANDBOX).raise_for_status()
    yield
    httpx.patch(f"{target.sandbox_url}/_sandbox/settings", json={k: before[k] for k in FAST_SANDBOX}).raise_for_status()


@pytest.fixture(scope="module")
def mdb(target: Any) -> Iterator[psycopg.Connection]:
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def market(target: Any, mdb: psycopg.Connection, fast_sandbox: None) -> Iterator[Market]:
    from supabase import create_client

    m = Market(target, mdb, create_client(target.url, target.service_role_key))
    yield m
    m.http.close()


def sign_in(page: Page, url: str, phone: str) -> None:
    """Phone OTP through the page, as a person signs in (the seeded test phones' fixed OTP)."""
    page.goto(f"{url}/")
    page.fill("input[name=phone]", phone)
    for attempt in range(4):
        page.click("[data-testid=send-code]")
        page.wait_for_selector("input[name=code], [role=alert]", timeout=15_000)
        if page.locator("input[name=code]").count():
            break
        # one OTP per phone every few seconds (auth.sms.max_frequency): wait it out
        assert attempt < 3, page.locator("[role=alert]").inner_text()
        page.wait_for_timeout(2_500)
    page.fill("input[name=code]", TEST_OTP)
    page.click("[data-testid=verify]")
