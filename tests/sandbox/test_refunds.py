"""Money going back, as the sandbox imitates it: M-Pesa reversals, the Airtel refund API and
disbursements, Mixx B2C, ClickPesa payouts; the refund scenarios of the payer's phone; what
``/_sandbox/payouts`` says was paid out."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.testclient import TestClient

from wats.sandbox import ensure_credentials
from wats.sandbox.credentials import CREDENTIALS_FILE
from wats.sandbox.scenarios import REFUND_TABLE, RefundScenario, describe_refunds, refund_scenario_for
from wats.sandbox.signing import clickpesa_checksum, load_private_key

from .conftest import FAST, WebhookReceiver, msisdn, wait_idle
from .test_airtel import headers as airtel_headers
from .test_airtel import push as airtel_push
from .test_airtel import status as airtel_status
from .test_airtel import token as airtel_token
from .test_mixx_and_clickpesa import cp_token
from .test_mpesa import MARKET, c2b_body, session_headers, status_word

# -- the table -----------------------------------------------------------------------------


def test_refund_scenarios_by_the_payers_last_two_digits() -> None:
    expected = {
        "81": RefundScenario.FAILS_ONCE,
        "82": RefundScenario.REFUSED,
        "83": RefundScenario.ANSWER_LOST,
        "84": RefundScenario.NOT_RECEIVED,
        "86": RefundScenario.DUPLICATE_CALLBACKS,
    }
    for digits, scenario in expected.items():
        assert refund_scenario_for("2557540000" + digits) is scenario
    assert refund_scenario_for("255754000001") is RefundScenario.SUCCESS
    assert refund_scenario_for("255754000091") is RefundScenario.SUCCESS
    assert {info.digits for info in REFUND_TABLE} == set(expected)
    rows = describe_refunds()
    assert rows[-1]["scenario"] == "refund_success"
    for row in rows:
        assert set(row["behaviour"]) == {"mpesa", "airtel", "mixx", "halopesa"}  # type: ignore[arg-type]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "payments.md").read_text()
    for info in REFUND_TABLE:
        assert f"| {info.digits} | {info.scenario.value} |" in docs, f"docs/payments.md misses refund {info.digits}"


def test_refund_scenarios_are_served(client: TestClient) -> None:
    rows = client.get("/_sandbox/refund-scenarios")
    assert rows.headers["x-sandbox"] == "not-a-provider-api"
    assert [r["digits"] for r in rows.json()] == ["81", "82", "83", "84", "86", "any other"]


# -- M-Pesa reversals ------------------------------------------------------------------------


def mpesa_paid(client: TestClient, env: dict[str, str], digits: str, ref: str) -> tuple[dict[str, str], str]:
    headers = session_headers(client, env)
    paid = client.post(f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn(digits), ref), headers=headers)
    assert paid.status_code == 201, paid.text
    return headers, str(paid.json()["output_TransactionID"])


def reversal(client: TestClient, headers: dict[str, str], txn_id: str, reference: str, amount: str) -> Any:
    return client.put(
        f"{MARKET}/reversal/",
        json={
            "input_ReversalAmount": amount,
            "input_TransactionID": txn_id,
            "input_Country": "TZN",
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": reference,
        },
        headers=headers,
    )


def payouts(client: TestClient, **filters: str) -> list[dict[str, Any]]:
    reply = client.get("/_sandbox/payouts", params=filters)
    assert reply.status_code == 200 and reply.headers["x-sandbox"] == "not-a-provider-api"
    return list(reply.json())


def test_mpesa_reversal_scenarios(client: TestClient, env: dict[str, str]) -> None:
    headers, txn = mpesa_paid(client, env, "81", "P81")
    first = reversal(client, headers, txn, "RV81", "6000")
    assert (first.status_code, first.json()["output_ResponseCode"]) == (422, "INS-2006")
    assert status_word(client, headers, "RV81") == "Failed"
    second = reversal(client, headers, txn, "RV81", "6000")
    assert (second.status_code, second.json()["output_ResponseCode"]) == (201, "INS-0")
    assert status_word(client, headers, "RV81") == "Completed"
    assert [(p["status"], p["amount"]) for p in payouts(client, reference="RV81")] == [
        ("refused", 6000),
        ("paid", 6000),
    ]

    headers, txn = mpesa_paid(client, env, "82", "P82")
    for _ in range(2):
        refused = reversal(client, headers, txn, "RV82", "1000")
        assert (refused.status_code, refused.json()["output_ResponseCode"]) == (422, "INS-6")

    headers, txn = mpesa_paid(client, env, "83", "P83")
    lost = reversal(client, headers, txn, "RV83", "15000")
    assert (lost.status_code, lost.json()["output_ResponseCode"]) == (500, "INS-1")
    assert status_word(client, headers, "RV83") == "Completed"  # it went through
    again = reversal(client, headers, txn, "RV83", "15000")
    assert (again.status_code, again.json()["output_ResponseCode"]) == (409, "INS-10")
    assert [p["status"] for p in payouts(client, reference="RV83")] == ["paid"]

    headers, txn = mpesa_paid(client, env, "84", "P84")
    never = reversal(client, headers, txn, "RV84", "15000")
    assert never.status_code == 503
    unknown = client.get(
        f"{MARKET}/queryTransactionStatus/",
        params={
            "input_QueryReference": "RV84",
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": "q",
            "input_Country": "TZN",
        },
        headers=headers,
    )
    assert unknown.json()["output_ResponseCode"] == "INS-18"
    retried = reversal(client, headers, txn, "RV84", "15000")
    assert retried.status_code == 201
    assert [p["status"] for p in payouts(client, reference="RV84")] == ["lost", "paid"]
    # what was paid out, for a payer
    [paid] = payouts(client, msisdn=msisdn("84"), status="paid")
    assert (paid["provider"], paid["method"], paid["amount"], paid["original"]) == ("mpesa", "reversal", 15000, txn)


# -- Airtel ----------------------------------------------------------------------------------


def airtel_paid(client: TestClient, env: dict[str, str], digits: str, ref: str) -> tuple[str, str]:
    tok = airtel_token(client, env)
    airtel_push(client, tok, msisdn(digits, "25568"), ref)
    wait_idle(client)
    return tok, str(airtel_status(client, tok, ref)["data"]["transaction"]["airtel_money_id"])


def airtel_refund(client: TestClient, tok: str, money_id: str) -> Any:
    return client.post(
        "/airtel/standard/v1/payments/refund",
        json={"transaction": {"airtel_money_id": money_id}},
        headers=airtel_headers(tok),
    )


def encrypt_pin(env: dict[str, str], pin: str) -> str:
    key = serialization.load_der_public_key(base64.b64decode(env["AIRTEL_ENCRYPTION_PUBLIC_KEY"]))
    assert isinstance(key, rsa.RSAPublicKey)
    return base64.b64encode(key.encrypt(pin.encode(), padding.PKCS1v15())).decode()


def disburse(client: TestClient, env: dict[str, str], tok: str, phone: str, ref: str, pin: str | None = None) -> Any:
    return client.post(
        "/airtel/standard/v2/disbursements/",
        json={
            "payee": {"currency": "TZS", "msisdn": phone[3:]},
            "reference": ref,
            "pin": encrypt_pin(env, pin or env["AIRTEL_DISBURSEMENT_PIN"]),
            "transaction": {"amount": 4000, "id": ref, "type": "B2C"},
        },
        headers=airtel_headers(tok),
    )


def enquiry(client: TestClient, tok: str, ref: str) -> Any:
    return client.get(
        f"/airtel/standard/v2/disbursements/{ref}", params={"transactionType": "B2C"}, headers=airtel_headers(tok)
    )


def test_airtel_refund_api_returns_the_whole_payment(client: TestClient, env: dict[str, str]) -> None:
    tok, money_id = airtel_paid(client, env, "01", "ARF1")
    done = airtel_refund(client, tok, money_id)
    assert done.status_code == 200
    # as Airtel documents it: the transaction says SUCCESS, the status flag says false
    assert (done.json()["data"]["transaction"]["status"], done.json()["status"]["success"]) == ("SUCCESS", False)
    again = airtel_refund(client, tok, money_id)
    assert again.status_code == 400 and "eligible" in again.json()["status"]["message"]
    [paid] = payouts(client, provider="airtel", reference=money_id)
    assert (paid["method"], paid["amount"], paid["status"]) == ("refund", 25000, "paid")

    tok, money_id = airtel_paid(client, env, "81", "ARF2")
    short = airtel_refund(client, tok, money_id)
    assert short.status_code == 400 and "Insufficient" in short.json()["status"]["message"]
    assert airtel_refund(client, tok, money_id).status_code == 200


def test_airtel_disbursement_pin_scenarios_and_enquiry(client: TestClient, env: dict[str, str]) -> None:
    tok = airtel_token(client, env)
    wrong = disburse(client, env, tok, msisdn("01", "25568"), "DBPIN", pin="0000")
    assert wrong.json()["status"]["response_code"] == "DP00900001003"
    ok = disburse(client, env, tok, msisdn("01", "25568"), "DBOK")
    assert (ok.status_code, ok.json()["status"]["response_code"]) == (200, "DP00900001001")
    assert ok.json()["data"]["transaction"]["status"] == "TS"
    assert enquiry(client, tok, "DBOK").json()["data"]["transaction"]["status"] == "TS"
    dup = disburse(client, env, tok, msisdn("01", "25568"), "DBOK")
    assert dup.json()["status"]["response_code"] == "DP00900001011"
    missing = enquiry(client, tok, "NOPE")
    assert (missing.status_code, missing.json()["status"]["response_code"]) == (404, "DP00900001015")

    lost = disburse(client, env, tok, msisdn("83", "25568"), "DB83")
    assert lost.json()["status"]["response_code"] == "DP00900001000"
    assert enquiry(client, tok, "DB83").json()["data"]["transaction"]["status"] == "TS"
    never = disburse(client, env, tok, msisdn("84", "25568"), "DB84")
    assert never.status_code == 504
    assert enquiry(client, tok, "DB84").status_code == 404
    assert disburse(client, env, tok, msisdn("84", "25568"), "DB84").json()["status"]["response_code"] == (
        "DP00900001001"
    )
    barred = disburse(client, env, tok, msisdn("82", "25568"), "DB82")
    assert barred.json()["status"]["response_code"] == "DP00900001012"
    assert enquiry(client, tok, "DB82").json()["data"]["transaction"]["status"] == "TF"
    [pin_hidden] = payouts(client, reference="DBOK")
    assert pin_hidden["request"]["pin"] == "[encrypted]"


# -- Mixx B2C --------------------------------------------------------------------------------


def b2c_xml(env: dict[str, str], payee: str, ref: str, *, pin: str | None = None, amount: str = "7000") -> str:
    fields = {
        "TYPE": "REQMFCI",
        "REFERENCEID": ref,
        "MSISDN": env["MIXX_B2C_MSISDN"],
        "PIN": pin or env["MIXX_B2C_PIN"],
        "MSISDN1": payee,
        "AMOUNT": amount,
        "SENDERNAME": env["MIXX_B2C_SENDER_NAME"],
        "LANGUAGE1": "EN",
        "BRAND_ID": env["MIXX_B2C_BRAND_ID"],
    }
    return "<COMMAND>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</COMMAND>"


def b2c(client: TestClient, body: str) -> tuple[int, dict[str, str]]:
    reply = client.post("/mixx/b2c", content=body, headers={"content-type": "application/xml"})
    root = ElementTree.fromstring(reply.text) if reply.text else None
    return reply.status_code, {c.tag: c.text or "" for c in root} if root is not None else {}


def test_mixx_b2c_account_to_wallet(client: TestClient, env: dict[str, str]) -> None:
    assert env["MIXX_B2C_URL"].endswith("/mixx/b2c")
    assert b2c(client, b2c_xml(env, msisdn("01", "25565"), "B1", pin="0000"))[0] == 401
    status, paid = b2c(client, b2c_xml(env, msisdn("01", "25565"), "B1"))
    assert (status, paid["TXNSTATUS"], paid["REFERENCEID"]) == (200, "error000", "B1") and paid["TXNID"]
    status, dup = b2c(client, b2c_xml(env, msisdn("01", "25565"), "B1"))
    assert (dup["TXNSTATUS"], "Duplicate" in dup["MESSAGE"]) == ("error016", True)
    _, short = b2c(client, b2c_xml(env, msisdn("81", "25565"), "B81"))
    assert short["TXNSTATUS"] == "error013"
    _, retried = b2c(client, b2c_xml(env, msisdn("81", "25565"), "B81"))
    assert retried["TXNSTATUS"] == "error000"
    _, lost = b2c(client, b2c_xml(env, msisdn("83", "25565"), "B83"))
    assert lost["TXNSTATUS"] == "error111"
    assert [p["status"] for p in payouts(client, reference="B83")] == ["paid"]  # the money went out
    _, barred = b2c(client, b2c_xml(env, msisdn("82", "25565"), "B82"))
    assert barred["TXNSTATUS"] == "error010"
    assert b2c(client, "<not-xml")[0] == 400
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa">]><COMMAND><TYPE>&a;</TYPE></COMMAND>'
    assert b2c(client, bomb)[0] == 400
    _, zero = b2c(client, b2c_xml(env, msisdn("01", "25565"), "B0", amount="0"))
    assert zero["TXNSTATUS"] == "error012"
    assert [p["amount"] for p in payouts(client, provider="mixx", status="paid")] == [7000, 7000, 7000]


# -- ClickPesa payouts -----------------------------------------------------------------------

PAYOUTS = "/clickpesa/third-parties/payouts"


def payout_body(env: dict[str, str], phone: str, ref: str, amount: int = 5000) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": amount, "currency": "TZS", "orderReference": ref, "phoneNumber": phone}
    body["checksum"] = clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], body)
    return body


def preview_and_create(client: TestClient, env: dict[str, str], tok: str, phone: str, ref: str) -> tuple[Any, Any]:
    body = payout_body(env, phone, ref)
    preview = client.post(f"{PAYOUTS}/preview-mobile-money-payout", json=body, headers={"Authorization": tok})
    if preview.status_code != 200:
        return preview, None
    return preview, client.post(f"{PAYOUTS}/create-mobile-money-payout", json=body, headers={"Authorization": tok})


def test_clickpesa_payout_preview_create_query_and_webhook(
    client: TestClient, env: dict[str, str], webhook: WebhookReceiver
) -> None:
    tok = cp_token(client, env)
    bad = payout_body(env, msisdn("01", "25562"), "PO1")
    bad["checksum"] = "0" * 64
    assert client.post(f"{PAYOUTS}/preview-mobile-money-payout", json=bad, headers={"Authorization": tok}).json()[
        "message"
    ] == ["Invalid checksum"]
    assert (
        client.post(
            f"{PAYOUTS}/create-mobile-money-payout", json=payout_body(env, msisdn("01", "25562"), "PO1")
        ).status_code
        == 401
    )
    preview, created = preview_and_create(client, env, tok, msisdn("01", "25562"), "PO1")
    assert preview.json()["receiver"]["amount"] == 5000 and preview.json()["payoutFeeBearer"] == "merchant"
    assert (created.status_code, created.json()["status"]) == (200, "AUTHORIZED")
    wait_idle(client)
    [hook] = webhook.for_provider("halopesa")
    payload = hook.json()
    assert (payload["event"], payload["data"]["status"], payload["data"]["orderReference"]) == (
        "PAYOUT INITIATED",
        "SUCCESS",
        "PO1",
    )
    assert payload["checksum"] == clickpesa_checksum(env["CLICKPESA_CHECKSUM_KEY"], payload)
    [row] = client.get(f"{PAYOUTS}/PO1", headers={"Authorization": tok}).json()
    assert (row["status"], row["amount"], row["beneficiary"]["accountNumber"]) == (
        "SUCCESS",
        "5000.00",
        msisdn("01", "25562"),
    )
    assert client.get(f"{PAYOUTS}/NOPE", headers={"Authorization": tok}).status_code == 404
    dup_preview, _ = preview_and_create(client, env, tok, msisdn("01", "25562"), "PO1")
    assert dup_preview.status_code == 409


def test_clickpesa_payout_scenarios(client: TestClient, env: dict[str, str], webhook: WebhookReceiver) -> None:
    tok = cp_token(client, env)
    short, _ = preview_and_create(client, env, tok, msisdn("81", "25562"), "PO81")
    assert short.status_code == 400 and "Insufficient" in short.json()["message"]
    _, created = preview_and_create(client, env, tok, msisdn("81", "25562"), "PO81")
    assert created.status_code == 200
    barred, _ = preview_and_create(client, env, tok, msisdn("82", "25562"), "PO82")
    assert barred.status_code == 400
    _, lost = preview_and_create(client, env, tok, msisdn("83", "25562"), "PO83")
    assert lost.status_code == 502
    _, never = preview_and_create(client, env, tok, msisdn("84", "25562"), "PO84")
    assert never.status_code == 504
    assert client.get(f"{PAYOUTS}/PO84", headers={"Authorization": tok}).status_code == 404
    _, retried = preview_and_create(client, env, tok, msisdn("84", "25562"), "PO84")
    assert retried.status_code == 200
    preview_and_create(client, env, tok, msisdn("86", "25562"), "PO86")
    wait_idle(client)
    refs = [h.json()["data"]["orderReference"] for h in webhook.for_provider("halopesa")]
    assert sorted(refs) == sorted(["PO81", "PO84", *["PO86"] * FAST.duplicate_count])  # none for PO83
    [row] = client.get(f"{PAYOUTS}/PO83", headers={"Authorization": tok}).json()
    assert row["status"] == "SUCCESS"
    paid = {p["reference"] for p in payouts(client, provider="halopesa", status="paid")}
    assert paid == {"PO81", "PO83", "PO84", "PO86"}


def test_hand_made_payout_callbacks(client: TestClient, env: dict[str, str], webhook: WebhookReceiver) -> None:
    tok = cp_token(client, env)
    preview_and_create(client, env, tok, msisdn("83", "25562"), "POMAN")  # no webhook by itself
    sent = client.post("/_sandbox/payouts/halopesa/POMAN/callback", json={"copies": 10})
    assert sent.status_code == 202 and len(sent.json()["deliveries"]) == 10
    client.post("/_sandbox/payouts/halopesa/POMAN/callback", json={"outcome": "failed", "signature": "invalid"})
    wait_idle(client)
    bodies = [h.json() for h in webhook.for_provider("halopesa")]
    key = env["CLICKPESA_CHECKSUM_KEY"]
    signed = [(b["event"], b["checksum"] == clickpesa_checksum(key, b)) for b in bodies]
    assert sorted(signed) == sorted([("PAYOUT INITIATED", True)] * 10 + [("PAYOUT REVERSED", False)])
    assert client.post("/_sandbox/payouts/mpesa/X/callback").status_code == 400
    assert client.post("/_sandbox/payouts/halopesa/NOPE/callback").status_code == 404
    assert client.post("/_sandbox/payouts/halopesa/POMAN/callback", json={"event": "NOPE"}).status_code == 400
    client.post("/_sandbox/reset")
    assert payouts(client) == []


# -- credentials -----------------------------------------------------------------------------


def test_refund_credentials_pair_up_and_older_files_keep_their_secrets(tmp_path: Path) -> None:
    env = ensure_credentials(tmp_path)
    assert env["AIRTEL_DISBURSEMENT_PIN"] == env["SANDBOX_AIRTEL_DISBURSEMENT_PIN"]
    assert env["MIXX_B2C_PIN"] == env["SANDBOX_MIXX_B2C_PIN"]
    assert env["MIXX_B2C_BRAND_ID"] == env["SANDBOX_MIXX_B2C_BRAND_ID"]
    private = load_private_key(env["SANDBOX_AIRTEL_PRIVATE_KEY"])
    ciphertext = base64.b64decode(encrypt_pin(env, "1234"))
    assert private.decrypt(ciphertext, padding.PKCS1v15()) == b"1234"
    # a version-1 file (before refunds) keeps every secret and gains the new ones
    file = tmp_path / "old" / CREDENTIALS_FILE
    file.parent.mkdir()
    data = json.loads((tmp_path / CREDENTIALS_FILE).read_text())
    old = {k: v for k, v in data.items() if not k.startswith(("airtel_disbursement", "airtel_p", "mixx_b2c"))}
    old["version"] = "1"
    file.write_text(json.dumps(old))
    upgraded = ensure_credentials(file.parent)
    assert upgraded["MPESA_API_KEY"] == env["MPESA_API_KEY"]
    assert upgraded["AIRTEL_CLIENT_SECRET"] == env["AIRTEL_CLIENT_SECRET"]
    assert upgraded["AIRTEL_DISBURSEMENT_PIN"] and upgraded["MIXX_B2C_PIN"]
    assert json.loads(file.read_text())["version"] == "2"
