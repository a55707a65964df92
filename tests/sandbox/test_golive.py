"""Sandbox behaviours that imitate what the providers' published material says and what
go-live may meet (issue 14): Mixx's transaction query and path-token callbacks, ClickPesa's
legacy checksums, ``eventType`` and net-of-fee amounts."""

from __future__ import annotations

import time
from xml.etree import ElementTree

from starlette.testclient import TestClient

from .conftest import FAST, WebhookReceiver, msisdn, wait_idle
from .test_mixx_and_clickpesa import mixx_body, mixx_headers, mixx_token

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
