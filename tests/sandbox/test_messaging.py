"""The sandbox's Beem SMS and Expo push APIs, in-process: what each answers, what it records
(and logs, masked), and the scripted outcomes."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from wats.sandbox import SandboxConfig, create_app
from wats.sandbox.config import Settings

PHONE = "255711000123"
TOKEN = "ExponentPushToken[sandbox-test-1]"


@pytest.fixture
def app(env: dict[str, str], tmp_path: Path) -> TestClient:
    config = SandboxConfig.from_env({**env, "SANDBOX_MESSAGE_LOG_DIR": str(tmp_path)}, settings=Settings())
    return TestClient(create_app(config))


def beem_auth(env: dict[str, str], secret: str | None = None) -> dict[str, str]:
    pair = f"{env['BEEM_API_KEY']}:{secret or env['BEEM_SECRET_KEY']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def sms_body(text: str = "WATS: Malipo yamepokelewa.", to: str = PHONE) -> dict[str, object]:
    return {
        "source_addr": "WATS",
        "encoding": 0,
        "message": text,
        "recipients": [{"recipient_id": "1", "dest_addr": to}],
    }


def test_beem_accepts_an_sms_and_records_it_masked_in_its_log(app: TestClient, env: dict[str, str], tmp_path: Path):
    r = app.post("/beem/v1/send", json=sms_body(), headers=beem_auth(env))
    assert r.status_code == 200
    body = r.json()
    assert body["successful"] is True and body["code"] == 100 and body["valid"] == 1
    [sms] = app.get("/_sandbox/sms", params={"to": PHONE}).json()
    assert sms["text"] == "WATS: Malipo yamepokelewa." and sms["request_id"] == body["request_id"]
    log = (tmp_path / "sms-gateway.log").read_text()
    assert "255****0123" in log and PHONE not in log


def test_beem_refuses_bad_credentials_and_bad_numbers(app: TestClient, env: dict[str, str]):
    assert app.post("/beem/v1/send", json=sms_body(), headers=beem_auth(env, "wrong")).status_code == 401
    bad = app.post("/beem/v1/send", json=sms_body(to="0711000123"), headers=beem_auth(env))
    assert bad.status_code == 400 and bad.json() == {"data": {"code": 101, "message": "Invalid phone number"}}
    assert app.get("/_sandbox/sms").json() == []


def test_beem_scripted_outcomes(app: TestClient, env: dict[str, str]):
    script = {"to": PHONE, "outcomes": ["refuse_balance", "server_error", "proxy_timeout", "accept"]}
    assert app.post("/_sandbox/sms/script", json=script).status_code == 200
    statuses = [app.post("/beem/v1/send", json=sms_body(), headers=beem_auth(env)).status_code for _ in range(4)]
    assert statuses == [402, 500, 504, 200]
    # the 504 hides an SMS that went out
    assert len(app.get("/_sandbox/sms", params={"to": PHONE}).json()) == 2
    attempts = app.get("/_sandbox/messages/attempts", params={"channel": "sms"}).json()
    assert [a["outcome"] for a in attempts] == ["refuse_balance", "server_error", "proxy_timeout", "accept"]
    unknown = app.post("/_sandbox/sms/script", json={"to": PHONE, "outcomes": ["explode"]})
    assert unknown.status_code == 400


def test_expo_needs_the_access_token_and_answers_tickets(app: TestClient, env: dict[str, str], tmp_path: Path):
    message = {"to": [TOKEN], "title": "Malipo yamepokelewa", "body": "Tumepokea TZS 12,000.", "data": {"a": 1}}
    assert app.post("/expo/--/api/v2/push/send", json=[message]).status_code == 401
    headers = {"Authorization": f"Bearer {env['EXPO_ACCESS_TOKEN']}"}
    compressed = gzip.compress(json.dumps([message]).encode())
    r = app.post(
        "/expo/--/api/v2/push/send",
        content=compressed,
        headers={**headers, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 200
    [ticket] = r.json()["data"]
    assert ticket["status"] == "ok"
    [push] = app.get("/_sandbox/push", params={"to": TOKEN}).json()
    assert push["title"] == "Malipo yamepokelewa" and push["ticket"] == ticket["id"]
    receipts = app.post("/expo/--/api/v2/push/getReceipts", json={"ids": [ticket["id"], "nope"]}, headers=headers)
    assert receipts.json() == {"data": {ticket["id"]: {"status": "ok"}}}
    log = (tmp_path / "push.log").read_text()
    assert "ExponentPushToken[sand…]" in log and TOKEN not in log


def test_expo_scripted_tickets_and_request_errors(app: TestClient, env: dict[str, str]):
    headers = {"Authorization": f"Bearer {env['EXPO_ACCESS_TOKEN']}"}
    other = "ExponentPushToken[sandbox-test-2]"
    app.post("/_sandbox/push/script", json={"to": TOKEN, "outcomes": ["device_not_registered", "too_many_requests"]})
    app.post("/_sandbox/push/script", json={"to": other, "outcomes": ["receipt_device_not_registered"]})
    message = {"to": [TOKEN, other], "title": "t", "body": "b"}
    first = app.post("/expo/--/api/v2/push/send", json=message, headers=headers).json()["data"]
    assert first[0]["details"]["error"] == "DeviceNotRegistered" and first[1]["status"] == "ok"
    receipt = app.post("/expo/--/api/v2/push/getReceipts", json={"ids": [first[1]["id"]]}, headers=headers).json()
    assert receipt["data"][first[1]["id"]]["details"]["error"] == "DeviceNotRegistered"
    limited = app.post("/expo/--/api/v2/push/send", json=message, headers=headers)
    assert limited.status_code == 429 and limited.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    bad = app.post("/expo/--/api/v2/push/send", json={"to": "not-a-token"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "VALIDATION_ERROR"


def test_reset_forgets_messages_and_scripts(app: TestClient, env: dict[str, str]):
    app.post("/_sandbox/sms/script", json={"to": PHONE, "outcomes": ["server_error", "server_error"]})
    assert app.post("/beem/v1/send", json=sms_body(), headers=beem_auth(env)).status_code == 500
    app.post("/_sandbox/reset")
    assert app.post("/beem/v1/send", json=sms_body(), headers=beem_auth(env)).status_code == 200
    assert len(app.get("/_sandbox/sms").json()) == 1
