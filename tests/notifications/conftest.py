"""Fixtures of the notification suite."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.notifications.notices import Notices
from tests.payments.market import Market

#: A marketing notification type of the tests' own (the marketing types of the app come
#: with livestreams): its texts and its rule, removed afterwards.
MARKETING = "test_marketing_offer"


@pytest.fixture(scope="session")
def fast_sandbox(target) -> Iterator[None]:  # type: ignore[no-untyped-def]
    before = httpx.get(f"{target.sandbox_url}/_sandbox/settings").json()
    quick = {"answer_delay_s": 0.2, "callback_retry_delay_s": 0.2, "message_hang_s": 15.0}
    httpx.patch(f"{target.sandbox_url}/_sandbox/settings", json=quick).raise_for_status()
    yield
    httpx.patch(f"{target.sandbox_url}/_sandbox/settings", json={k: before[k] for k in quick}).raise_for_status()


@pytest.fixture
def notices(target, db, service, fast_sandbox) -> Iterator[Notices]:  # type: ignore[no-untyped-def]
    market = Market(target, db, service)
    yield Notices(market)
    market.http.close()


@pytest.fixture
def marketing_type(db) -> Iterator[str]:  # type: ignore[no-untyped-def]
    db.execute(
        "insert into private.notification_texts (type, language, audience, title, body) values "
        "(%s, 'en', 'customer', 'Deals live tonight', 'Watch {vendor} at 8 pm.'), "
        "(%s, 'sw', 'customer', 'Ofa mubashara usiku huu', 'Tazama {vendor} saa mbili usiku.') "
        "on conflict do nothing",
        [MARKETING, MARKETING],
    )
    db.execute(
        "insert into private.notification_rules (type, purpose, push, sms) values (%s, 'marketing', true, false) "
        "on conflict do nothing",
        [MARKETING],
    )
    yield MARKETING
    db.execute("delete from public.notifications where type = %s", [MARKETING])
    db.execute("delete from private.notification_rules where type = %s", [MARKETING])
    db.execute("delete from private.notification_texts where type = %s", [MARKETING])
