from __future__ import annotations

import time

from starlette.testclient import TestClient

from wats.sandbox.signing import airtel_hash, clickpesa_checksum

from .conftest import FAST, WebhookReceiver, msisdn, wait_idle
from .test_airtel import headers, push, token
from .test_mixx_and_clickpesa import cp_push, cp_token


def test_control_endpoints_are_marked_and_list_scenarios(client: TestClient) -> None:
    index = client.get("/_sandbox")
    assert index.status_code == 200
    assert index.headers["x-sandbox"] == "not-a-provider-api"
    assert index.json()["settings"]["answer_delay_s"] == FAST.answer_delay_s
    rows = client.get("/_sandbox/scenarios").json()
    assert [r["digits"] for r in rows][:3] == ["90", "91", "92"]


def test_settings_update_and_validation(client: TestClient) -> None:
    changed = client.patch("/_sandbox/settings", json={"late_delay_s": 2, "duplicate_count": 5})
    assert changed.status_code == 200
    assert changed.json()["late_delay_s"] == 2.0 and changed.json()["duplicate_count"] == 5
    assert client.patch("/_sandbox/settings", json={"nope": 1}).status_code == 400
    assert client.patch("/_sandbox/settings", json={"duplicate_count": 1.5}).status_code == 400
    assert client.patch("/_sandbox/settings", json={"late_delay_s": -1}).status_code == 400
    assert client.patch("/_sandbox/settings", json={"late_delay_s": "x"}).status_code == 400
    reset = client.post("/_sandbox/reset").json()
    assert reset["settings"]["duplicate_count"] == FAST.duplicate_count


def test_transactions_listing_and_reset(client: TestClient, env: dict[str, str]) -> None:
    tok = token(client, env)
    push(client, tok, msisdn("01", "25568"), "L1")
    push(client, tok, msisdn("91", "25568"), "L2")
    listed = client.get("/_sandbox/transactions", params={"provider": "airtel"}).json()
    assert {t["ref"] for t in listed} == {"L1", "L2"}
    one = client.get("/_sandbox/transactions/airtel/L2").json()
    assert (one["scenario"], one["reason"], one["amount"]) == ("insufficient_funds", "insufficient_funds", 25000)
    assert client.get("/_sandbox/transactions/airtel/NOPE").status_code == 404
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/transactions").json() == []
    assert client.get("/_sandbox/deliveries").json() == []
    # Tokens survive a reset, so adapters keep working.
    assert client.get("/airtel/standard/v1/payments/L1", headers=headers(tok)).status_code == 404


def test_manual_callbacks(client: TestClient, env: dict[str, str], webhook: WebhookReceiver) -> None:
    tok = token(client, env)
    push(client, tok, msisdn("90", "25568"), "MAN")  # lost callback: nothing automatic
    sent = client.post(
        "/_sandbox/transactions/airtel/MAN/callback",
        json={"outcome": "failed", "reason": "wrong_pin", "copies": 2},
    )
    assert sent.status_code == 202 and len(sent.json()["deliveries"]) == 2
    forged = client.post("/_sandbox/transactions/airtel/MAN/callback", json={"signature": "invalid"})
    assert forged.status_code == 202
    wait_idle(client)
    bodies = [r.json() for r in webhook.for_provider("airtel")]
    key = env["AIRTEL_CALLBACK_HASH_KEY"]
    seen = sorted((b["transaction"]["status_code"], b["hash"] == airtel_hash(key, b)) for b in bodies)
    assert seen == [("TF", True), ("TF", True), ("TS", False)]
    # the customer "answers" after the sandbox's answer delay, on its own clock: poll for it
    deadline = time.monotonic() + 5
    while client.get("/_sandbox/transactions/airtel/MAN").json()["status"] != "success":
        assert time.monotonic() < deadline, "the transaction never completed"
        time.sleep(0.02)

    cp = cp_token(client, env)
    cp_push(client, env, cp, msisdn("90", "25562"), "CPMAN")
    client.post("/_sandbox/transactions/halopesa/CPMAN/callback", json={"amount": 1})
    wait_idle(client)
    [mismatch] = [r.json() for r in webhook.for_provider("halopesa")]
    assert mismatch["data"]["collectedAmount"] == "1"
    assert mismatch["checksum"] == clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], mismatch)

    assert client.post("/_sandbox/transactions/mpesa/X/callback").status_code == 400
    assert client.post("/_sandbox/transactions/airtel/NOPE/callback").status_code == 404
    assert client.post("/_sandbox/transactions/airtel/MAN/callback", json={"copies": 0}).status_code == 400


def test_only_loopback_webhooks_are_called(env: dict[str, str]) -> None:
    from wats.sandbox.callbacks import is_loopback_url

    assert is_loopback_url("http://127.0.0.1:54321/x")
    assert is_loopback_url("http://localhost/x")
    assert is_loopback_url("http://[::1]:80/x")
    assert not is_loopback_url("https://example.com/x")
    assert not is_loopback_url("http://10.0.0.1/x")
