"""Hostile and careless requests to every Edge Function get a clear 4xx in JSON: never a
500, never a stack trace, never PostgreSQL's own text."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.payments.market import ADDRESS, Market

#: What must never reach a client: PostgreSQL's messages and details, SQLSTATEs of its
#: own, stack frames of Deno or Python.
INTERNALS = re.compile(
    r"Process \d+|ShareLock|deadlock|SQLSTATE|violates|relation \"|column \"|constraint \"|"
    r"syntax error|PL/pgSQL|CONTEXT:|unsupported Unicode|invalid input syntax|\bat .+\.ts:\d+|"
    r"Traceback|File \".+\.py\"|TypeError|ReferenceError|psycopg|postgres",
    re.IGNORECASE,
)


def assert_clean(answer: Any, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text}"
    assert answer.status_code >= 400, f"{what}: accepted: {answer.text}"
    body = answer.json()  # JSON, whatever happened
    assert not INTERNALS.search(json.dumps(body)), f"{what}: internal text in {body}"


NUL = "\u0000"
CHECKOUT_BODIES: list[tuple[str, Any]] = [
    ("not json", "{nope"),
    ("array", [1, 2]),
    ("null", None),
    ("number provider", {"provider": 7, "shipping_address": ADDRESS}),
    ("nul in street", {"provider": "airtel", "shipping_address": {**ADDRESS, "street": f"Samora{NUL}Avenue"}}),
    ("nul in provider", {"provider": f"airtel{NUL}", "shipping_address": ADDRESS}),
    ("control characters", {"provider": "airtel", "shipping_address": {**ADDRESS, "region": "Dar\u0007"}}),
    ("huge street", {"provider": "airtel", "shipping_address": {**ADDRESS, "street": "x" * 5000}}),
    ("nested address", {"provider": "airtel", "shipping_address": {**ADDRESS, "street": {"$gt": ""}}}),
    ("unknown field", {"provider": "airtel", "shipping_address": ADDRESS, "total": 1}),
    (
        "lone surrogate",
        '{"provider": "airtel", "shipping_address": {"recipient_name": "\\ud800", "region": "a", '
        '"district": "b", "street": "c"}}',
    ),
]


@pytest.mark.parametrize(("what", "body"), CHECKOUT_BODIES, ids=[w for w, _b in CHECKOUT_BODIES])
def test_checkout_refuses_hostile_bodies_cleanly(market: Market, what: str, body: Any):
    customer = market.customer()
    market.fill_cart(customer, [(market.product(3), 1)])
    answer = market.http.post(
        f"{market.target.url}/functions/v1/checkout-initiate",
        content=body if isinstance(body, str) else json.dumps(body),
        headers={
            "Authorization": f"Bearer {customer.token}",
            "apikey": market.target.anon_key,
            "Idempotency-Key": f"hostile-{uuid.uuid4()}",
            "Content-Type": "application/json",
        },
    )
    assert_clean(answer, what)
    assert market.db.execute("select count(*) from public.orders where customer_id = %s", [customer.id]).fetchone() == (
        0,
    )


@pytest.mark.parametrize(
    ("what", "headers"),
    [
        ("no key", {}),
        ("key with spaces", {"Idempotency-Key": "has spaces in it"}),
        ("non-ascii key", {"Idempotency-Key": "ключ-ключ-ключ"}),
        ("bearer garbage", {"Authorization": "Bearer x.y.z"}),
    ],
)
def test_checkout_refuses_hostile_headers_cleanly(market: Market, what: str, headers: dict[str, str]):
    customer = market.customer()
    base = {"Authorization": f"Bearer {customer.token}", "apikey": market.target.anon_key}
    answer = market.http.post(
        f"{market.target.url}/functions/v1/checkout-initiate",
        json={"provider": "airtel", "shipping_address": ADDRESS},
        headers={**base, **{k: v.encode() for k, v in headers.items()}},
    )
    assert_clean(answer, what)


WEBHOOK_BODIES: list[tuple[str, str, bytes]] = [
    ("airtel", "empty", b""),
    ("airtel", "not json", b"{nope"),
    ("airtel", "nul byte", b'{"transaction": {"id": "WP\x00", "status_code": "TS"}, "hash": "x"}'),
    ("airtel", "invalid utf-8", b'{"transaction": {"id": "\xff\xfe", "status_code": "TS"}}'),
    ("airtel", "deep nesting", b'{"transaction":' * 2000 + b"1" + b"}" * 2000),
    ("mixx", "nul escape", b'{"Status": "true", "ReferenceID": "WP\\u0000x", "Amount": "1"}'),
    ("mixx", "array", b"[1, 2, 3]"),
    ("halopesa", "huge number", b'{"event": "PAYMENT RECEIVED", "data": {"collectedAmount": 1e400}}'),
    ("halopesa", "checksum object", b'{"event": "PAYMENT RECEIVED", "data": {}, "checksum": {"a": 1}}'),
    ("mpesa", "any", b'{"output_ResponseCode": "INS-0"}'),
    ("paypal", "unknown provider", b"{}"),
]


@pytest.mark.parametrize(
    ("provider", "what", "body"), WEBHOOK_BODIES, ids=[f"{p}-{w.replace(' ', '_')}" for p, w, _b in WEBHOOK_BODIES]
)
def test_the_webhook_refuses_hostile_callbacks_cleanly(market: Market, provider: str, what: str, body: bytes):
    answer = market.webhook(provider, body)
    assert_clean(answer, f"{provider} {what}")


def test_the_webhook_refuses_a_nul_in_a_signed_reference_cleanly(market: Market):
    customer = market.customer("90")
    market.buy(customer, "halopesa")
    market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
    market.send_callback("halopesa", customer.phone, outcome="success", fields={"data": {"orderReference": "WP\u0000"}})
    delivered = market.sandbox("GET", "/_sandbox/deliveries", params={"provider": "halopesa"})[-1]
    assert delivered["status_code"] == 400, delivered


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("not json", "{nope"),
        ("null", "null"),
        ("array", "[1]"),
        ("negative limit", '{"limit": -1}'),
        ("string age", '{"min_age_seconds": "1"}'),
    ],
)
def test_reconcile_refuses_bad_options_cleanly(market: Market, what: str, body: str):
    answer = market.http.post(
        f"{market.target.url}/functions/v1/payment-reconcile",
        content=body,
        headers={"Authorization": f"Bearer {market.target.service_role_key}"},
    )
    assert_clean(answer, what)


def test_our_own_refusals_through_the_data_api_carry_no_internals(market: Market):
    customer = market.customer()
    for args in (
        {"p_idempotency_key": "short", "p_provider": "airtel", "p_shipping_address": ADDRESS},
        {"p_idempotency_key": f"k-{uuid.uuid4()}", "p_provider": "visa", "p_shipping_address": ADDRESS},
        {"p_idempotency_key": f"k-{uuid.uuid4()}", "p_provider": "airtel", "p_shipping_address": {"x": 1}},
        {"p_idempotency_key": f"k-{uuid.uuid4()}", "p_provider": "airtel", "p_shipping_address": ADDRESS},
    ):
        answer = market.http.post(
            f"{market.target.url}/rest/v1/rpc/checkout",
            json=args,
            headers={"apikey": market.target.anon_key, "Authorization": f"Bearer {customer.token}"},
        )
        assert_clean(answer, str(args))
        assert answer.json()["code"].startswith("PT"), answer.text
