"""Edge Functions behind /functions/v1 behave as on Supabase: verify_jwt per function from
supabase/config.toml, CORS preflight handed to the function, Supabase's environment, and
(local stack) a crashed function is restarted."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from supabase_standin import keys


def test_a_function_with_verify_jwt_refuses_calls_without_a_valid_jwt(target):
    url = f"{target.url}/functions/v1/checkout-initiate"
    missing = httpx.post(url, json={})
    assert missing.status_code == 401
    assert missing.json()["msg"] == "Error: Missing authorization header"
    forged = keys.sign("not-the-project-secret-but-32-chars-long!", {"role": "authenticated", "sub": "x"})
    bad = httpx.post(url, json={}, headers={"Authorization": f"Bearer {forged}"})
    assert bad.status_code == 401
    assert bad.json()["msg"] == "Invalid JWT"


def test_a_function_without_verify_jwt_is_reached_without_one(target):
    # payment-webhook authenticates providers itself: without a JWT the call reaches it
    r = httpx.post(f"{target.url}/functions/v1/payment-webhook/airtel", content=b"{}")
    assert r.status_code == 400  # the adapter judged the (empty) callback, not the gateway
    assert r.headers["content-type"].startswith("application/json")


def test_a_valid_jwt_reaches_the_function(target):
    r = httpx.post(
        f"{target.url}/functions/v1/checkout-initiate",
        json={},
        headers={"Authorization": f"Bearer {target.anon_key}", "Idempotency-Key": "k" * 10},
    )
    assert r.status_code == 401  # the function's own answer: the anon key is not a customer
    assert r.json()["error"]["code"] == "sign_in_required"


def test_cors_preflight_is_passed_to_the_function(target):
    r = httpx.options(
        f"{target.url}/functions/v1/checkout-initiate",
        headers={
            "Origin": "http://localhost:8081",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert r.status_code == 204
    assert "idempotency-key" in r.headers["access-control-allow-headers"]


def test_an_unknown_function_is_404(target):
    r = httpx.post(
        f"{target.url}/functions/v1/no-such-function", headers={"Authorization": f"Bearer {target.anon_key}"}
    )
    assert r.status_code == 404


def health(target):  # type: ignore[no-untyped-def]
    r = httpx.get(f"{target.url}/_wats/health")
    if r.status_code == 404:
        pytest.skip("not the WATS local stack: process supervision is the platform's job there")
    return r.json()["function_processes"]


def test_a_crashed_function_is_restarted(target):
    before = health(target)["payment-webhook"]
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        now = health(target)["payment-webhook"]
        if now["restarts"] > before["restarts"] and now["ready"]:
            break
        assert time.monotonic() < deadline, "the function was not restarted"
        time.sleep(0.2)
    assert now["pid"] != before["pid"]
    r = httpx.post(f"{target.url}/functions/v1/payment-webhook/airtel", content=b"{}")
    assert r.status_code == 400


# -- the client's address, as the hosted edge passes it on --------------------------------
# Hosted Supabase sits behind Cloudflare, which sets CF-Connecting-IP to the address the
# request came from (overwriting whatever the client sent) and appends that address to
# X-Forwarded-For. A function must take the client's address from cf-connecting-ip: the
# first X-Forwarded-For hop is the client's own writing.

FORGED = "198.51.100.23"


def echo(target, headers: dict[str, str] | list[tuple[str, str]]) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    r = httpx.post(
        f"{target.url}/functions/v1/test-echo",
        json={},
        headers=[
            ("Authorization", f"Bearer {target.anon_key}"),
            *(headers.items() if isinstance(headers, dict) else headers),
        ],
    )
    if r.status_code == 404 and "WATS_TEST_FUNCTIONS_DIR" not in os.environ:
        pytest.skip("the test-only function test-echo is served by `wats test` instances only")
    assert r.status_code == 200, r.text
    return r.json()["headers"]


def test_a_function_sees_the_peer_address_whatever_the_client_claims(target):
    seen = echo(target, {"CF-Connecting-IP": FORGED, "X-Real-IP": FORGED, "X-Forwarded-For": FORGED})
    peer = "127.0.0.1"  # the suite talks to the gateway over loopback
    assert seen["cf-connecting-ip"] == peer
    assert seen["x-real-ip"] == peer
    assert seen["x-forwarded-for"] == f"{FORGED}, {peer}"  # appended, as a proxy does


def test_a_function_sees_one_forwarded_chain_and_the_peer_without_client_headers(target):
    assert echo(target, {}) == {
        "cf-connecting-ip": "127.0.0.1",
        "x-real-ip": "127.0.0.1",
        "x-forwarded-for": "127.0.0.1",
    }
    several = echo(target, [("X-Forwarded-For", "203.0.113.1, 10.0.0.1"), ("X-Forwarded-For", "10.0.0.2")])
    assert several["x-forwarded-for"] == "203.0.113.1, 10.0.0.1, 10.0.0.2, 127.0.0.1"
