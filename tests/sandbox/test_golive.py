"""Sandbox behaviours that imitate what the providers' published material says and what
go-live may meet (issue 14): Mixx's transaction query and path-token callbacks, ClickPesa's
legacy checksums, ``eventType`` and net-of-fee amounts."""

from __future__ import annotations

import hashlib
import hmac
import time
from xml.etree import ElementTree

from starlette.testclient import TestClient

from wats.sandbox.signing import clickpesa_checksum, clickpesa_legacy_checksum

from .conftest import FAST, WebhookReceiver, msisdn, wait_idle
from .test_mixx_and_clickpesa import cp_push, cp_token, mixx_body, mixx_headers, mixx_token

# -- Mixx: the transaction query -------------------------------------------------------------


def mixx_query(client: TestClient, env: dict[str, str], reference: str, pin: str | None = None) -> dict[str, str]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><COMMAND><TYPE>MTPGGetSODetails</TYPE>'
        f"<REFERENCEID>{reference}</REFERENCEID><MSISDN>{env['MIXX_BILLER_MSISDN']}</MSISDN>"
        f"<PIN>{pin or env['MIXX_QUERY_PIN']}</PIN><EXTERNALREFID>{reference}</EXTERNALREFID></COMMAND>"
    )
    reply = client.post("/mixx/query", content=body, headers={"content-type": "text/xml"})
    assert reply.status_code == 200, reply.text
    return {child.tag: (child.text or "") for child in ElementTree.fromstring(reply.content)}


def test_mixx_query_tells_a_lost_callback_and_a_never_answered_prompt(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver
) -> None:
    assert env["MIXX_QUERY_URL"].endswith("/mixx/query")
    assert env["MIXX_QUERY_PIN"] == env["SANDBOX_MIXX_QUERY_PIN"]
    tok = mixx_token(client, env)
    lost = mixx_body(env, msisdn("90", "25565"), "LOST1")
    never = mixx_body(env, msisdn("94", "25565"), "NEVER1")
    for body in (lost, never):
        assert client.post("/mixx/push-billpay", json=body, headers=mixx_headers(env, tok)).json()["ResponseStatus"]
    assert mixx_query(client, env, never["ReferenceID"])["TXNSTATUS"] == "Pending"
    time.sleep(FAST.prompt_timeout_s + 0.1)
    paid = mixx_query(client, env, lost["ReferenceID"])
    assert (paid["RESULTCODE"], paid["TXNSTATUS"], paid["AMOUNT"]) == ("0", "Posted", "7000")
    assert paid["TXNID"] and paid["EXTERNALREFID"] == lost["ReferenceID"]
    assert mixx_query(client, env, never["ReferenceID"])["TXNSTATUS"] == "Failed"
    assert mixx_query(client, env, "WATSNOSUCH")["RESULTCODE"] == "GetSOError001"
    assert mixx_query(client, env, lost["ReferenceID"], pin="0000")["RESULTCODE"] == "GetSOError002"
    wait_idle(client)
    assert webhook.for_provider("mixx") == []  # neither sent a callback


def test_mixx_callbacks_in_the_path_form(client: TestClient, env: dict[str, str], webhook: WebhookReceiver) -> None:
    assert client.patch("/_sandbox/settings", json={"mixx_callback_path_token": 1}).status_code == 200
    tok = mixx_token(client, env)
    body = mixx_body(env, msisdn("01", "25565"), "PATH1")
    client.post("/mixx/push-billpay", json=body, headers=mixx_headers(env, tok))
    wait_idle(client)
    [sent] = [r for r in webhook.requests if "/payment-webhook/mixx" in r.path]
    assert sent.path.endswith(f"/payment-webhook/mixx/{env['MIXX_CALLBACK_TOKEN']}")
    assert sent.query == ""
    client.post("/_sandbox/reset")


# -- ClickPesa: net-of-fee reports, legacy checksums, eventType --------------------------------


def test_clickpesa_reports_net_of_fees_when_the_account_deducts_them(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver
) -> None:
    client.patch("/_sandbox/settings", json={"clickpesa_fee_percent": 1.5, "clickpesa_report_fee": 1})
    tok = cp_token(client, env)
    assert cp_push(client, env, tok, msisdn("01", "25562"), "NET1").status_code == 200
    wait_idle(client)
    [hook] = webhook.for_provider("halopesa")
    data = hook.json()["data"]
    # 12,000 less ceil(1.5 %) = 180
    assert (data["collectedAmount"], data["fee"]) == ("11820", "180.00")
    assert hook.json()["checksum"] == clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], hook.json())
    [status] = client.get("/clickpesa/third-parties/payments/NET1", headers={"Authorization": tok}).json()
    assert (status["collectedAmount"], status["fee"]) == ("11820", "180.00")
    client.patch("/_sandbox/settings", json={"clickpesa_report_fee": 0})
    [bare] = client.get("/clickpesa/third-parties/payments/NET1", headers={"Authorization": tok}).json()
    assert bare["collectedAmount"] == "11820" and "fee" not in bare
    client.post("/_sandbox/reset")


def test_clickpesa_hand_made_webhooks_in_the_legacy_and_eventtype_forms(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver
) -> None:
    tok = cp_token(client, env)
    cp_push(client, env, tok, msisdn("90", "25562"), "LEG1")  # no webhook of its own
    sent = client.post(
        "/_sandbox/transactions/halopesa/LEG1/callback",
        json={"checksum_method": "legacy"},
    )
    assert sent.status_code == 202
    client.post(
        "/_sandbox/transactions/halopesa/LEG1/callback",
        json={"event_field": "eventType", "outcome": "failed"},
    )
    assert (
        client.post("/_sandbox/transactions/halopesa/LEG1/callback", json={"checksum_method": "md5"}).status_code == 400
    )
    wait_idle(client)
    legacy, typed = (r.json() for r in webhook.for_provider("halopesa"))
    assert legacy["checksumMethod"] == "legacy"
    assert legacy["checksum"] == clickpesa_legacy_checksum(env["CLICKPESA_CHECKSUM_KEY"], legacy)
    assert (
        legacy["checksum"]
        == hmac.new(
            env["CLICKPESA_CHECKSUM_KEY"].encode(), b"[object Object]PAYMENT RECEIVED", hashlib.sha256
        ).hexdigest()
    )
    assert "event" not in typed and typed["eventType"] == "PAYMENT FAILED"
    assert typed["checksum"] == clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], typed)
