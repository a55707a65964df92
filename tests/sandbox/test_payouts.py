"""Vendor payouts, as the sandbox imitates them: M-Pesa B2C and Query Beneficiary Name, the
Airtel KYC user enquiry, the ClickPesa preview naming the receiver; the wallet scenarios of
the payee's phone (85 another name, 87 no such wallet) beside the money-out scenarios it
shares with refunds; the wallet holders registered at ``/_sandbox/wallets``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from wats.sandbox.scenarios import (
    DEFAULT_HOLDER,
    MISMATCH_HOLDER,
    PAYOUT_TABLE,
    WalletScenario,
    describe_payouts,
    wallet_scenario_for,
)

from .conftest import msisdn
from .test_airtel import headers as airtel_headers
from .test_airtel import token as airtel_token
from .test_mixx_and_clickpesa import cp_token
from .test_mpesa import MARKET, session_headers
from .test_refunds import PAYOUTS, payout_body, payouts

DOCS = Path(__file__).resolve().parents[2] / "docs" / "payments.md"

# -- the table ------------------------------------------------------------------------------


def test_payout_scenarios_by_the_payees_last_two_digits() -> None:
    assert wallet_scenario_for(msisdn("85")) is WalletScenario.NAME_MISMATCH
    assert wallet_scenario_for(msisdn("87")) is WalletScenario.NOT_REGISTERED
    for digits in ("01", "81", "83", "86", "90"):
        assert wallet_scenario_for(msisdn(digits)) is WalletScenario.REGISTERED
    rows = describe_payouts()
    assert [r["digits"] for r in rows] == ["81", "82", "83", "84", "85", "86", "87", "any other"]
    for row in rows:
        behaviour = row["behaviour"]
        assert isinstance(behaviour, dict) and set(behaviour) == {"mpesa", "airtel", "mixx", "halopesa"}
    docs = DOCS.read_text()
    for info in PAYOUT_TABLE:
        assert f"| {info.digits} | {info.scenario} |" in docs, f"docs/payments.md misses payout {info.digits}"


def test_payout_scenarios_are_served(client: TestClient) -> None:
    rows = client.get("/_sandbox/payout-scenarios")
    assert rows.headers["x-sandbox"] == "not-a-provider-api"
    assert rows.json() == describe_payouts()


# -- wallet holders -------------------------------------------------------------------------


def test_wallet_holders_are_registered_by_hand_and_forgotten_on_reset(client: TestClient) -> None:
    phone = msisdn("01")
    assert client.get(f"/_sandbox/wallets/{phone}").json() == {
        "msisdn": phone,
        "registered": None,
        "lookup_answers": DEFAULT_HOLDER,
    }
    put = client.put(f"/_sandbox/wallets/{phone}", json={"name": "  Amina Juma "})
    assert put.status_code == 200 and put.json()["lookup_answers"] == "Amina Juma"
    assert client.get("/_sandbox/wallets").json() == {phone: "Amina Juma"}
    # the scenarios win over what was registered
    for digits, answer in (("85", MISMATCH_HOLDER), ("87", None)):
        other = msisdn(digits)
        client.put(f"/_sandbox/wallets/{other}", json={"name": "Amina Juma"})
        assert client.get(f"/_sandbox/wallets/{other}").json()["lookup_answers"] == answer
    for bad in ({"name": ""}, {"name": 7}, {"name": "x" * 201}, {}):
        assert client.put(f"/_sandbox/wallets/{phone}", json=bad).status_code == 400
    assert client.put("/_sandbox/wallets/0754000001", json={"name": "A"}).status_code == 400
    assert client.delete(f"/_sandbox/wallets/{phone}").json()["registered"] is None
    client.put(f"/_sandbox/wallets/{phone}", json={"name": "Amina Juma"})
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/wallets").json() == {}


# -- M-Pesa ---------------------------------------------------------------------------------


def b2c_body(phone: str, reference: str, amount: str = "150000") -> dict[str, str]:
    return {
        "input_Amount": amount,
        "input_Country": "TZN",
        "input_Currency": "TZS",
        "input_CustomerMSISDN": phone,
        "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": reference,
        "input_TransactionReference": reference,
        "input_PaymentItemsDesc": "WATS payout",
    }


def b2c(client: TestClient, headers: dict[str, str], phone: str, reference: str) -> Any:
    return client.post(f"{MARKET}/b2cPayment/singleStage/", json=b2c_body(phone, reference), headers=headers)


def mpesa_status(client: TestClient, headers: dict[str, str], reference: str) -> tuple[int, str | None]:
    reply = client.get(
        f"{MARKET}/queryTransactionStatus/",
        params={
            "input_QueryReference": reference,
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": "q" + reference,
            "input_Country": "TZN",
        },
        headers=headers,
    )
    body = reply.json()
    return reply.status_code, body.get("output_ResponseTransactionStatus") or body["output_ResponseCode"]


def test_mpesa_b2c_pays_a_wallet_once_and_is_found_by_our_reference(client: TestClient, env: dict[str, str]) -> None:
    headers = session_headers(client, env)
    phone = msisdn("01", "25575")
    paid = b2c(client, headers, phone, "WO01")
    assert paid.status_code == 201, paid.text
    assert paid.json()["output_ResponseCode"] == "INS-0" and paid.json()["output_TransactionID"]
    assert mpesa_status(client, headers, "WO01") == (200, "Completed")
    again = b2c(client, headers, phone, "WO01")
    assert (again.status_code, again.json()["output_ResponseCode"]) == (409, "INS-10")
    # the other B2C path some SDKs use
    other = client.post(f"{MARKET}/b2cPayment/", json=b2c_body(phone, "WO02"), headers=headers)
    assert other.status_code == 201
    assert [(p["method"], p["amount"], p["status"]) for p in payouts(client, msisdn=phone)] == [
        ("b2c", 150000, "paid"),
        ("b2c", 150000, "paid"),
    ]
    # refused before anything is recorded: no session, a wrong short code, a bad wallet
    assert b2c(client, {**headers, "Authorization": "Bearer nope"}, phone, "WO03").status_code == 401
    wrong = client.post(
        f"{MARKET}/b2cPayment/singleStage/",
        json={**b2c_body(phone, "WO04"), "input_ServiceProviderCode": "999999"},
        headers=headers,
    )
    assert wrong.json()["output_ResponseCode"] == "INS-13"
    assert b2c(client, headers, "0754000001", "WO05").json()["output_ResponseCode"] == "INS-2051"
    missing = client.post(
        f"{MARKET}/b2cPayment/singleStage/",
        json={**b2c_body(phone, "WO06"), "input_PaymentItemsDesc": ""},
        headers=headers,
    )
    assert missing.json()["output_ResponseCode"] == "INS-20"
    assert len(payouts(client, msisdn=phone)) == 2


def test_mpesa_b2c_scenarios(client: TestClient, env: dict[str, str]) -> None:
    headers = session_headers(client, env)
    short = b2c(client, headers, msisdn("81", "25575"), "WO81")
    assert (short.status_code, short.json()["output_ResponseCode"]) == (422, "INS-2006")
    assert b2c(client, headers, msisdn("81", "25575"), "WO81").status_code == 201  # the same reference pays
    barred = b2c(client, headers, msisdn("82", "25575"), "WO82")
    assert (barred.status_code, barred.json()["output_ResponseCode"]) == (400, "INS-2002")
    lost = b2c(client, headers, msisdn("83", "25575"), "WO83")
    assert (lost.status_code, lost.json()["output_ResponseCode"]) == (500, "INS-1")
    assert mpesa_status(client, headers, "WO83") == (200, "Completed")
    never = b2c(client, headers, msisdn("84", "25575"), "WO84")
    assert (never.status_code, never.json()["output_ResponseCode"]) == (503, "INS-16")
    assert mpesa_status(client, headers, "WO84") == (400, "INS-18")
    assert [p["status"] for p in payouts(client, reference="WO84")] == ["lost"]
    assert [p["status"] for p in payouts(client, reference="WO83")] == ["paid"]


def beneficiary(client: TestClient, headers: dict[str, str], phone: str, **extra: str) -> Any:
    return client.get(
        f"{MARKET}/queryBeneficiaryName/",
        params={
            "input_CustomerMSISDN": phone,
            "input_Country": "TZN",
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": "kyc1",
            "input_KycQueryType": "Name",
            **extra,
        },
        headers=headers,
    )


def test_mpesa_query_beneficiary_name(client: TestClient, env: dict[str, str]) -> None:
    headers = session_headers(client, env)
    phone = msisdn("01", "25575")
    client.put(f"/_sandbox/wallets/{phone}", json={"name": "Mwanaisha Abdallah Juma"})
    named = beneficiary(client, headers, phone).json()
    assert (named["output_ResponseCode"], named["output_CustomerFirstName"], named["output_CustomerLastName"]) == (
        "INS-0",
        "Mwanaisha",
        "Abdallah Juma",
    )
    unregistered = beneficiary(client, headers, msisdn("02", "25575")).json()
    assert f"{unregistered['output_CustomerFirstName']} {unregistered['output_CustomerLastName']}" == DEFAULT_HOLDER
    other = beneficiary(client, headers, msisdn("85", "25575")).json()
    assert f"{other['output_CustomerFirstName']} {other['output_CustomerLastName']}" == MISMATCH_HOLDER
    none = beneficiary(client, headers, msisdn("87", "25575"))
    assert (none.status_code, none.json()["output_ResponseCode"]) == (400, "INS-2051")
    assert beneficiary(client, headers, phone, input_KycQueryType="Id").json()["output_ResponseCode"] == "INS-21"
    assert beneficiary(client, headers, phone, input_ThirdPartyConversationID="").json()["output_ResponseCode"] == (
        "INS-20"
    )
    assert beneficiary(client, {**headers, "Authorization": "Bearer x"}, phone).status_code == 401


# -- Airtel ---------------------------------------------------------------------------------


def test_airtel_kyc_user_enquiry(client: TestClient, env: dict[str, str]) -> None:
    tok = airtel_token(client, env)
    phone = msisdn("01", "25568")
    client.put(f"/_sandbox/wallets/{phone}", json={"name": "Baraka Mushi"})
    found = client.get(f"/airtel/standard/v1/users/{phone[3:]}", headers=airtel_headers(tok))
    assert found.status_code == 200
    body = found.json()
    assert (body["data"]["first_name"], body["data"]["last_name"], body["data"]["msisdn"]) == (
        "Baraka",
        "Mushi",
        phone[3:],
    )
    assert body["status"]["success"] is True
    other = client.get(f"/airtel/standard/v1/users/{msisdn('85', '25568')[3:]}", headers=airtel_headers(tok)).json()
    assert f"{other['data']['first_name']} {other['data']['last_name']}" == MISMATCH_HOLDER
    none = client.get(f"/airtel/standard/v1/users/{msisdn('87', '25568')[3:]}", headers=airtel_headers(tok))
    assert none.status_code == 404 and none.json()["status"]["message"] == "User not found"
    assert client.get(f"/airtel/standard/v1/users/{phone}", headers=airtel_headers(tok)).status_code == 400
    assert client.get(f"/airtel/standard/v1/users/{phone[3:]}", headers=airtel_headers("nope")).status_code == 401


# -- ClickPesa ------------------------------------------------------------------------------


def test_clickpesa_preview_names_the_receiver(client: TestClient, env: dict[str, str]) -> None:
    tok = cp_token(client, env)
    phone = msisdn("01", "25562")
    client.put(f"/_sandbox/wallets/{phone}", json={"name": "Neema Mollel"})

    def preview(to: str, ref: str) -> Any:
        return client.post(
            f"{PAYOUTS}/preview-mobile-money-payout", json=payout_body(env, to, ref), headers={"Authorization": tok}
        )

    assert preview(phone, "WOP1").json()["receiver"]["accountName"] == "Neema Mollel"
    assert preview(msisdn("02", "25562"), "WOP2").json()["receiver"]["accountName"] == DEFAULT_HOLDER
    assert preview(msisdn("85", "25562"), "WOP3").json()["receiver"]["accountName"] == MISMATCH_HOLDER
    none = preview(msisdn("87", "25562"), "WOP4")
    assert none.status_code == 400 and "not registered" in str(none.json()["message"])
    # previews move nothing
    assert payouts(client, provider="halopesa") == []
