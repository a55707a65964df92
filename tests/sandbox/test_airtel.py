from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.padding import PKCS7
from starlette.testclient import TestClient

from wats.sandbox.signing import airtel_hash, compact_json

from .conftest import FAST, WebhookReceiver, msisdn, wait_idle


def token(client: TestClient, env: dict[str, str]) -> str:
    reply = client.post(
        "/airtel/auth/oauth2/token",
        json={
            "client_id": env["AIRTEL_CLIENT_ID"],
            "client_secret": env["AIRTEL_CLIENT_SECRET"],
            "grant_type": "client_credentials",
        },
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == str(FAST.token_ttl_s)
    return str(body["access_token"])


def headers(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}", "X-Country": "TZ", "X-Currency": "TZS"}


def push_body(phone: str, ref: str, amount: int = 25000) -> dict[str, Any]:
    return {
        "reference": "WATS order",
        "subscriber": {"country": "TZ", "currency": "TZS", "msisdn": phone[3:]},
        "transaction": {"amount": amount, "country": "TZ", "currency": "TZS", "id": ref},
    }


def push(client: TestClient, tok: str, phone: str, ref: str) -> dict[str, Any]:
    reply = client.post("/airtel/merchant/v1/payments/", json=push_body(phone, ref), headers=headers(tok))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def status(client: TestClient, tok: str, ref: str) -> dict[str, Any]:
    reply = client.get(f"/airtel/standard/v1/payments/{ref}", headers=headers(tok))
    return {"http": reply.status_code, **reply.json()}


def test_token_errors(client: TestClient, env: dict[str, str]) -> None:
    bad = client.post(
        "/airtel/auth/oauth2/token",
        json={"client_id": env["AIRTEL_CLIENT_ID"], "client_secret": "nope", "grant_type": "client_credentials"},
    )
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_client")
    grant = client.post(
        "/airtel/auth/oauth2/token",
        json={
            "client_id": env["AIRTEL_CLIENT_ID"],
            "client_secret": env["AIRTEL_CLIENT_SECRET"],
            "grant_type": "password",
        },
    )
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    form = client.post("/airtel/auth/oauth2/token", data={"client_id": "x"})
    assert form.status_code == 400


def test_push_requires_token_and_country_headers(client: TestClient, env: dict[str, str]) -> None:
    tok = token(client, env)
    body = push_body(msisdn("01", "25568"), "H1")
    assert client.post("/airtel/merchant/v1/payments/", json=body).status_code == 401
    assert client.post("/airtel/merchant/v1/payments/", json=body, headers=headers("forged")).status_code == 401
    no_country = client.post(
        "/airtel/merchant/v1/payments/", json=body, headers={"Authorization": f"Bearer {tok}", "X-Currency": "TZS"}
    )
    assert (no_country.status_code, no_country.json()["status"]["success"]) == (400, False)


def test_push_validation(client: TestClient, env: dict[str, str]) -> None:
    tok = token(client, env)
    full = push_body(msisdn("01", "25568"), "VAL1")
    full["subscriber"]["msisdn"] = msisdn("01", "25568")  # with country code: refused
    reply = client.post("/airtel/merchant/v1/payments/", json=full, headers=headers(tok))
    assert reply.status_code == 400
    assert "Invalid MSISDN" in reply.json()["status"]["message"]
    zero = push_body(msisdn("01", "25568"), "VAL2", amount=0)
    assert client.post("/airtel/merchant/v1/payments/", json=zero, headers=headers(tok)).status_code == 400
    push(client, tok, msisdn("01", "25568"), "VAL3")
    dup = client.post(
        "/airtel/merchant/v1/payments/", json=push_body(msisdn("01", "25568"), "VAL3"), headers=headers(tok)
    )
    assert (dup.status_code, dup.json()["status"]["message"]) == (400, "Duplicate transaction id")


def test_success_callback_is_signed_and_status_moves(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver
) -> None:
    tok = token(client, env)
    reply = push(client, tok, msisdn("01", "25568"), "OK1")
    assert reply["status"]["response_code"] == "DP00800001006"
    assert reply["data"]["transaction"]["id"] == "OK1"
    assert status(client, tok, "OK1")["data"]["transaction"]["status"] == "TIP"
    wait_idle(client)
    [callback] = webhook.for_provider("airtel")
    body = callback.json()
    tx = body["transaction"]
    assert tx["id"] == "OK1" and tx["status_code"] == "TS" and tx["airtel_money_id"]
    assert body["hash"] == airtel_hash(env["AIRTEL_CALLBACK_HASH_KEY"], {"transaction": tx})
    assert callback.body.decode() == compact_json(body)
    after = status(client, tok, "OK1")
    assert after["data"]["transaction"]["status"] == "TS"
    assert after["data"]["transaction"]["airtel_money_id"] == tx["airtel_money_id"]
    [delivery] = client.get("/_sandbox/deliveries", params={"provider": "airtel"}).json()
    assert (delivery["state"], delivery["status_code"]) == ("delivered", 200)


@pytest.mark.parametrize(
    ("digits", "message_part", "code"),
    [("91", "Insufficient", "DP00800001007"), ("92", "PIN", "DP00800001002"), ("93", "cancelled", "DP00800001008")],
)
def test_failure_callbacks(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver, digits: str, message_part: str, code: str
) -> None:
    tok = token(client, env)
    push(client, tok, msisdn(digits, "25568"), "F" + digits)
    wait_idle(client)
    [callback] = webhook.for_provider("airtel")
    tx = callback.json()["transaction"]
    assert tx["status_code"] == "TF" and message_part in tx["message"]
    after = status(client, tok, "F" + digits)
    assert after["data"]["transaction"]["status"] == "TF"
    assert after["status"]["response_code"] == code


def test_duplicates_bad_signature_ambiguous_refused(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver
) -> None:
    tok = token(client, env)
    push(client, tok, msisdn("96", "25568"), "DUP")
    forged = push(client, tok, msisdn("98", "25568"), "BAD")
    assert forged["status"]["response_code"] == "DP00800001006"
    ambiguous = push(client, tok, msisdn("97", "25568"), "AMB")
    assert ambiguous["status"]["response_code"] == "DP00800001000"
    refused = client.post(
        "/airtel/merchant/v1/payments/", json=push_body(msisdn("99", "25568"), "REF"), headers=headers(tok)
    )
    assert refused.status_code == 400 and "Invalid MSISDN" in refused.json()["status"]["message"]
    wait_idle(client)
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for r in webhook.for_provider("airtel"):
        by_ref.setdefault(r.json()["transaction"]["id"], []).append(r.json())
    assert len(by_ref["DUP"]) == FAST.duplicate_count
    assert all(b == by_ref["DUP"][0] for b in by_ref["DUP"])
    [bad] = by_ref["BAD"]
    assert bad["hash"] != airtel_hash(env["AIRTEL_CALLBACK_HASH_KEY"], bad)
    assert by_ref["AMB"][0]["transaction"]["status_code"] == "TS"
    assert "REF" not in by_ref
    assert status(client, tok, "AMB")["data"]["transaction"]["status"] == "TS"
    assert status(client, tok, "BAD")["data"]["transaction"]["status"] == "TIP"


def test_no_callback_and_lost_callback(client: TestClient, env: dict[str, str], webhook: WebhookReceiver) -> None:
    tok = token(client, env)
    push(client, tok, msisdn("94", "25568"), "NOCB")
    push(client, tok, msisdn("90", "25568"), "LOST")
    assert status(client, tok, "NOCB")["data"]["transaction"]["status"] == "TIP"
    time.sleep(FAST.prompt_timeout_s + 0.05)
    assert status(client, tok, "NOCB")["data"]["transaction"]["status"] == "TE"
    assert status(client, tok, "LOST")["data"]["transaction"]["status"] == "TS"
    wait_idle(client)
    assert webhook.for_provider("airtel") == []


def test_late_callback(client: TestClient, env: dict[str, str], webhook: WebhookReceiver) -> None:
    tok = token(client, env)
    push(client, tok, msisdn("95", "25568"), "LATE")
    time.sleep(FAST.answer_delay_s * 3)
    assert webhook.for_provider("airtel") == []
    assert status(client, tok, "LATE")["data"]["transaction"]["status"] == "TIP"
    assert len(webhook.wait_for("airtel", 1, timeout=FAST.late_delay_s + 2)) == 1
    assert status(client, tok, "LATE")["data"]["transaction"]["status"] == "TS"


def test_status_unknown_and_refund(client: TestClient, env: dict[str, str]) -> None:
    tok = token(client, env)
    missing = status(client, tok, "NOPE")
    assert missing["http"] == 404 and missing["status"]["response_code"] == "DP00800001025"
    push(client, tok, msisdn("01", "25568"), "RF")
    wait_idle(client)
    money_id = status(client, tok, "RF")["data"]["transaction"]["airtel_money_id"]
    refund = client.post(
        "/airtel/standard/v1/payments/refund", json={"transaction": {"airtel_money_id": money_id}}, headers=headers(tok)
    )
    assert refund.status_code == 200
    assert refund.json()["data"]["transaction"]["status"] == "SUCCESS"
    again = client.post(
        "/airtel/standard/v1/payments/refund", json={"transaction": {"airtel_money_id": money_id}}, headers=headers(tok)
    )
    assert again.status_code == 400


def test_webhook_answer_is_recorded_and_5xx_retried(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver
) -> None:
    tok = token(client, env)
    webhook.status_for = lambda _path: 503
    push(client, tok, msisdn("01", "25568"), "RETRY")
    wait_idle(client)
    assert len(webhook.for_provider("airtel")) == 1 + FAST.callback_retries
    [delivery] = client.get("/_sandbox/deliveries", params={"ref": "RETRY"}).json()
    assert delivery["state"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [503] * (1 + FAST.callback_retries)
    webhook.status_for = lambda _path: 401
    push(client, tok, msisdn("01", "25568"), "NORETRY")
    wait_idle(client)
    [rejected] = client.get("/_sandbox/deliveries", params={"ref": "NORETRY"}).json()
    assert (rejected["state"], rejected["status_code"], len(rejected["attempts"])) == ("failed", 401, 1)


# Airtel's published callback sample (developer portal, Collection API, "Callback
# authentication": sample body, sample key, sample hash; the same three appear in public
# client code). The sandbox must sign exactly as Airtel does.
AIRTEL_SAMPLE_KEY = "a4f48f692d2b4df9acbad7dff60a32a6"
AIRTEL_SAMPLE_HASH = "zITVAAGYSlzl1WkUQJn81kbpT5drH3koffT8jCkcJJA="
AIRTEL_SAMPLE = {
    "transaction": {
        "id": "BBZMiscxy",
        "message": "Paid UGX 5,000 to TECH LIMITED, Trans ID MP210603.1234.L06941.",
        "status_code": "TS",
        "airtel_money_id": "MP210603.1234.L06941",
    }
}


def test_the_published_callback_sample_reproduces() -> None:
    assert airtel_hash(AIRTEL_SAMPLE_KEY, AIRTEL_SAMPLE) == AIRTEL_SAMPLE_HASH
    # the hash field itself is never part of what is signed
    assert airtel_hash(AIRTEL_SAMPLE_KEY, {**AIRTEL_SAMPLE, "hash": "x"}) == AIRTEL_SAMPLE_HASH


def signed_headers(env: dict[str, str], tok: str, body: bytes, *, tamper: bool = False) -> dict[str, str]:
    """Airtel's message signing as a client does it: AES-256-CBC of the body, key:iv RSA-wrapped."""
    key, iv = secrets.token_bytes(32), secrets.token_bytes(16)
    padder = PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    signed = body + (b" " if tamper else b"")
    cipher = encryptor.update(padder.update(signed) + padder.finalize()) + encryptor.finalize()
    public = serialization.load_der_public_key(base64.b64decode(env["AIRTEL_ENCRYPTION_PUBLIC_KEY"]))
    key_iv = f"{base64.b64encode(key).decode()}:{base64.b64encode(iv).decode()}".encode()
    wrapped = public.encrypt(key_iv, padding.PKCS1v15())  # type: ignore[union-attr]
    return {
        **headers(tok),
        "content-type": "application/json",
        "x-signature": base64.b64encode(cipher).decode(),
        "x-key": base64.b64encode(wrapped).decode(),
    }


def test_v2_signed_push_accepted_bad_or_missing_signature_refused(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver
) -> None:
    tok = token(client, env)
    body = compact_json(push_body(msisdn("01", "25568"), "V2OK")).encode()
    ok = client.post("/airtel/merchant/v2/payments/", content=body, headers=signed_headers(env, tok, body))
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"]["response_code"] == "DP00800001006"
    bad_body = compact_json(push_body(msisdn("01", "25568"), "V2BAD")).encode()
    bad = client.post(
        "/airtel/merchant/v2/payments/", content=bad_body, headers=signed_headers(env, tok, bad_body, tamper=True)
    )
    assert (bad.status_code, bad.json()["status"]["response_code"]) == (400, "DP00800001026")
    unsigned = client.post("/airtel/merchant/v2/payments/", content=bad_body, headers=headers(tok))
    assert (unsigned.status_code, unsigned.json()["status"]["response_code"]) == (400, "DP00800001026")
    # refused pushes create nothing; v1 keeps working unsigned
    assert client.get("/_sandbox/transactions/airtel/V2BAD").status_code == 404
    push(client, tok, msisdn("01", "25568"), "V1OK")
    wait_idle(client)
    assert {r.json()["transaction"]["id"] for r in webhook.for_provider("airtel")} == {"V2OK", "V1OK"}
