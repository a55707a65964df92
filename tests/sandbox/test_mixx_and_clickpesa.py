from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from wats.sandbox.signing import clickpesa_checksum

from .conftest import FAST, WebhookReceiver, msisdn, wait_idle

# -- Mixx by Yas ---------------------------------------------------------------------------


def mixx_token(client: TestClient, env: dict[str, str]) -> str:
    reply = client.post(
        "/mixx/token",
        data={"username": env["MIXX_USERNAME"], "password": env["MIXX_PASSWORD"], "grant_type": "password"},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "bearer" and isinstance(body["expires_in"], int)
    return str(body["access_token"])


def mixx_headers(env: dict[str, str], tok: str) -> dict[str, str]:
    return {"Authorization": f"bearer {tok}", "Username": env["MIXX_USERNAME"], "Password": env["MIXX_PASSWORD"]}


def mixx_body(env: dict[str, str], phone: str, ref: str, amount: Any = 7000) -> dict[str, Any]:
    return {
        "CustomerMSISDN": phone,
        "BillerMSISDN": env["MIXX_BILLER_MSISDN"],
        "Amount": amount,
        "Remarks": "WATS order",
        "ReferenceID": env["MIXX_BILLER_CODE"] + ref,
    }


def test_mixx_token_is_form_encoded(client: TestClient, env: dict[str, str]) -> None:
    as_json = client.post(
        "/mixx/token",
        json={"username": env["MIXX_USERNAME"], "password": env["MIXX_PASSWORD"], "grant_type": "password"},
    )
    assert (as_json.status_code, as_json.json()["error"]) == (400, "unsupported_grant_type")
    wrong = client.post(
        "/mixx/token", data={"username": env["MIXX_USERNAME"], "password": "x", "grant_type": "password"}
    )
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    mixx_token(client, env)


def test_mixx_push_auth_and_validation(client: TestClient, env: dict[str, str]) -> None:
    tok = mixx_token(client, env)
    body = mixx_body(env, msisdn("01", "25565"), "M1")
    denied = client.post("/mixx/push-billpay", json=body)
    assert denied.status_code == 401 and "denied" in denied.json()["Message"]
    no_creds = client.post("/mixx/push-billpay", json=body, headers={"Authorization": f"bearer {tok}"})
    assert no_creds.json()["ResponseStatus"] is False
    as_string = client.post(
        "/mixx/push-billpay", json=mixx_body(env, msisdn("01", "25565"), "M2", "7000"), headers=mixx_headers(env, tok)
    )
    assert as_string.status_code == 400
    no_prefix = {**body, "ReferenceID": "M3"}
    assert (
        client.post("/mixx/push-billpay", json=no_prefix, headers=mixx_headers(env, tok)).json()["ResponseStatus"]
        is False
    )
    ok = client.post("/mixx/push-billpay", json=body, headers=mixx_headers(env, tok))
    assert ok.status_code == 200
    assert ok.json() == {
        "ResponseCode": "BILLER-18-0000-S",
        "ResponseStatus": True,
        "ResponseDescription": "Bill request submitted successfully",
        "ReferenceID": body["ReferenceID"],
    }
    dup = client.post("/mixx/push-billpay", json=body, headers=mixx_headers(env, tok)).json()
    assert dup["ResponseStatus"] is False and "Duplicate" in dup["ResponseDescription"]


def test_mixx_callbacks(client: TestClient, env: dict[str, str], webhook: WebhookReceiver) -> None:
    tok = mixx_token(client, env)
    h = mixx_headers(env, tok)
    assert (
        client.post("/mixx/push-billpay", json=mixx_body(env, msisdn("01", "25565"), "OK"), headers=h).status_code
        == 200
    )
    client.post("/mixx/push-billpay", json=mixx_body(env, msisdn("91", "25565"), "POOR"), headers=h)
    client.post("/mixx/push-billpay", json=mixx_body(env, msisdn("98", "25565"), "FORGED"), headers=h)
    ambiguous = client.post("/mixx/push-billpay", json=mixx_body(env, msisdn("97", "25565"), "AMB"), headers=h)
    assert ambiguous.status_code == 504
    refused = client.post("/mixx/push-billpay", json=mixx_body(env, msisdn("99", "25565"), "NO"), headers=h).json()
    assert refused["ResponseStatus"] is False and "MSISDN" in refused["ResponseDescription"]
    wait_idle(client)
    received = {r.json()["ReferenceID"]: r for r in webhook.for_provider("mixx")}
    code = env["MIXX_BILLER_CODE"]
    ok = received[code + "OK"]
    assert ok.query == f"token={env['MIXX_CALLBACK_TOKEN']}"
    assert ok.json() == {
        "Status": "true",
        "Description": "Transaction successful",
        "MFSTransactionID": ok.json()["MFSTransactionID"],
        "ReferenceID": code + "OK",
        "Amount": "7000",
    }
    poor = received[code + "POOR"].json()
    assert (poor["Status"], poor["Description"]) == ("false", "Insufficient balance")
    assert received[code + "FORGED"].query != f"token={env['MIXX_CALLBACK_TOKEN']}"
    assert received[code + "AMB"].json()["Status"] == "true"
    assert code + "NO" not in received
    assert client.get("/mixx/status/x").status_code == 404


# -- ClickPesa (HaloPesa) ------------------------------------------------------------------


def cp_token(client: TestClient, env: dict[str, str]) -> str:
    reply = client.post(
        "/clickpesa/third-parties/generate-token",
        headers={"client-id": env["CLICKPESA_CLIENT_ID"], "api-key": env["CLICKPESA_API_KEY"]},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["success"] is True and body["token"].startswith("Bearer ")
    return str(body["token"])


def cp_body(env: dict[str, str], phone: str, ref: str, amount: str = "12000") -> dict[str, Any]:
    body: dict[str, Any] = {"amount": amount, "currency": "TZS", "orderReference": ref, "phoneNumber": phone}
    body["checksum"] = clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], body)
    return body


def cp_push(client: TestClient, env: dict[str, str], tok: str, phone: str, ref: str) -> Any:
    return client.post(
        "/clickpesa/third-parties/payments/initiate-ussd-push-request",
        json=cp_body(env, phone, ref),
        headers={"Authorization": tok},
    )


def test_clickpesa_token_and_checksum(client: TestClient, env: dict[str, str]) -> None:
    bad = client.post("/clickpesa/third-parties/generate-token", headers={"client-id": "x", "api-key": "y"})
    assert bad.status_code == 401
    tok = cp_token(client, env)
    url = "/clickpesa/third-parties/payments/initiate-ussd-push-request"
    assert client.post(url, json=cp_body(env, msisdn("01", "25562"), "A1")).status_code == 401
    unsigned = {"amount": "1000", "currency": "TZS", "orderReference": "A2", "phoneNumber": msisdn("01", "25562")}
    assert client.post(url, json=unsigned, headers={"Authorization": tok}).json()["message"] == ["checksum is required"]
    tampered = {**cp_body(env, msisdn("01", "25562"), "A3"), "amount": "1"}
    assert client.post(url, json=tampered, headers={"Authorization": tok}).json()["message"] == ["Invalid checksum"]
    numeric = cp_body(env, msisdn("01", "25562"), "A4")
    numeric["amount"] = 12000
    numeric["checksum"] = clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], numeric)
    invalid = client.post(url, json=numeric, headers={"Authorization": tok})
    assert invalid.status_code == 400 and "amount must be a numeric string" in invalid.json()["message"]


def test_clickpesa_push_status_and_webhooks(client: TestClient, env: dict[str, str], webhook: WebhookReceiver) -> None:
    tok = cp_token(client, env)
    ok = cp_push(client, env, tok, msisdn("01", "25562"), "HP1")
    assert ok.status_code == 200
    assert ok.json()["status"] == "PROCESSING" and ok.json()["channel"] == "HALOPESA"
    assert cp_push(client, env, tok, msisdn("01", "25562"), "HP1").status_code == 409
    assert cp_push(client, env, tok, msisdn("97", "25562"), "HPAMB").status_code == 502
    assert cp_push(client, env, tok, msisdn("99", "25562"), "HPNO").status_code == 400
    cp_push(client, env, tok, msisdn("93", "25562"), "HPCAN")
    cp_push(client, env, tok, msisdn("98", "25562"), "HPBAD")
    cp_push(client, env, tok, msisdn("96", "25562"), "HPDUP")
    wait_idle(client)
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for r in webhook.for_provider("halopesa"):
        by_ref.setdefault(r.json()["data"]["orderReference"], []).append(r.json())
    good = by_ref["HP1"][0]
    assert good["event"] == "PAYMENT RECEIVED" and good["checksumMethod"] == "canonical"
    assert good["checksum"] == clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], good)
    assert good["data"]["collectedAmount"] == "12000"
    assert by_ref["HPCAN"][0]["event"] == "PAYMENT FAILED"
    bad = by_ref["HPBAD"][0]
    assert bad["checksum"] != clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], bad)
    assert len(by_ref["HPDUP"]) == FAST.duplicate_count
    assert by_ref["HPAMB"][0]["event"] == "PAYMENT RECEIVED"
    assert "HPNO" not in by_ref

    def query(ref: str) -> Any:
        return client.get(f"/clickpesa/third-parties/payments/{ref}", headers={"Authorization": tok})

    [paid] = query("HP1").json()
    assert (paid["status"], paid["collectedAmount"], paid["paymentPhoneNumber"]) == (
        "SUCCESS",
        12000,
        msisdn("01", "25562"),
    )
    assert query("HPCAN").json()[0]["status"] == "FAILED"
    assert query("HPBAD").json()[0]["status"] == "PROCESSING"
    assert query("NOPE").status_code == 404
