from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from .conftest import FAST, encrypt_bearer, msisdn

MARKET = "/mpesa/sandbox/ipg/v2/vodacomTZN"


def session_headers(client: TestClient, env: dict[str, str]) -> dict[str, str]:
    reply = client.get(
        f"{MARKET}/getSession/",
        headers={"Authorization": f"Bearer {encrypt_bearer(env, env['MPESA_API_KEY'])}", "Origin": "*"},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["output_ResponseCode"] == "INS-0"
    return {
        "Authorization": f"Bearer {encrypt_bearer(env, body['output_SessionID'])}",
        "Origin": "*",
        "Content-Type": "application/json",
    }


def c2b_body(phone: str, ref: str, amount: str = "15000") -> dict[str, Any]:
    return {
        "input_Amount": amount,
        "input_Country": "TZN",
        "input_Currency": "TZS",
        "input_CustomerMSISDN": phone,
        "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": ref,
        "input_TransactionReference": ref[:20],
        "input_PurchasedItemsDesc": "Order",
    }


def status_word(client: TestClient, headers: dict[str, str], ref: str) -> str:
    reply = client.get(
        f"{MARKET}/queryTransactionStatus/",
        params={
            "input_QueryReference": ref,
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": "q" + ref,
            "input_Country": "TZN",
        },
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["output_ResponseTransactionStatus"])


def test_get_session_requires_the_encrypted_api_key_and_origin(client: TestClient, env: dict[str, str]) -> None:
    wrong = client.get(
        f"{MARKET}/getSession/",
        headers={"Authorization": f"Bearer {encrypt_bearer(env, 'not-the-key')}", "Origin": "*"},
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"}
    garbage = client.get(f"{MARKET}/getSession/", headers={"Authorization": "Bearer abc", "Origin": "*"})
    assert garbage.status_code == 401
    plain = client.get(
        f"{MARKET}/getSession/", headers={"Authorization": f"Bearer {env['MPESA_API_KEY']}", "Origin": "*"}
    )
    assert plain.status_code == 401
    no_origin = client.get(
        f"{MARKET}/getSession/", headers={"Authorization": f"Bearer {encrypt_bearer(env, env['MPESA_API_KEY'])}"}
    )
    assert no_origin.status_code == 400
    assert client.get("/mpesa/elsewhere/ipg/v2/vodacomTZN/getSession/", headers={"Origin": "*"}).status_code == 404


def test_calls_need_a_live_session(client: TestClient, env: dict[str, str]) -> None:
    api_key_as_bearer = {
        "Authorization": f"Bearer {encrypt_bearer(env, env['MPESA_API_KEY'])}",
        "Origin": "*",
    }
    reply = client.post(
        f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn("01"), "REF1"), headers=api_key_as_bearer
    )
    assert reply.status_code == 401
    assert reply.json()["output_ResponseCode"] == "INS-2"


def test_success_reply_is_held_until_the_customer_answers(client: TestClient, env: dict[str, str]) -> None:
    headers = session_headers(client, env)
    started = time.monotonic()
    reply = client.post(f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn("01"), "OK1"), headers=headers)
    assert time.monotonic() - started >= FAST.answer_delay_s
    assert reply.status_code == 201
    body = reply.json()
    assert body["output_ResponseCode"] == "INS-0"
    assert body["output_ThirdPartyConversationID"] == "OK1"
    assert body["output_TransactionID"] and body["output_ConversationID"]
    assert status_word(client, headers, "OK1") == "Completed"
    assert status_word(client, headers, body["output_TransactionID"]) == "Completed"
    duplicate = client.post(f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn("01"), "OK1"), headers=headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["output_ResponseCode"] == "INS-10"


@pytest.mark.parametrize(
    ("digits", "http", "code", "word"),
    [
        ("91", 422, "INS-2006", "Failed"),
        ("92", 400, "INS-2001", "Failed"),
        ("93", 422, "INS-5", "Cancelled"),
        ("99", 400, "INS-2051", "Failed"),
        ("97", 500, "INS-1", "Completed"),
    ],
)
def test_customer_failures_and_ambiguity(
    client: TestClient, env: dict[str, str], digits: str, http: int, code: str, word: str
) -> None:
    headers = session_headers(client, env)
    ref = "S" + digits
    reply = client.post(f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn(digits), ref), headers=headers)
    assert (reply.status_code, reply.json()["output_ResponseCode"]) == (http, code)
    assert status_word(client, headers, ref) == word


def test_no_answer_times_out_then_expires(client: TestClient, env: dict[str, str]) -> None:
    headers = session_headers(client, env)
    started = time.monotonic()
    reply = client.post(f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn("94"), "NOANS"), headers=headers)
    assert time.monotonic() - started >= FAST.prompt_timeout_s
    assert (reply.status_code, reply.json()["output_ResponseCode"]) == (408, "INS-9")
    assert status_word(client, headers, "NOANS") == "Expired"


def test_status_pending_while_the_prompt_is_open(client: TestClient, env: dict[str, str]) -> None:
    headers = session_headers(client, env)
    results: list[int] = []
    thread = threading.Thread(
        target=lambda: results.append(
            client.post(
                f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn("95"), "LATE2"), headers=headers
            ).status_code
        )
    )
    thread.start()
    deadline = time.monotonic() + 2
    while client.get("/_sandbox/transactions/mpesa/LATE2").status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert status_word(client, headers, "LATE2") == "Pending"
    thread.join(5)
    assert results == [201]
    assert status_word(client, headers, "LATE2") == "Completed"


def test_validation_errors(client: TestClient, env: dict[str, str]) -> None:
    headers = session_headers(client, env)
    url = f"{MARKET}/c2bPayment/singleStage/"
    missing = c2b_body(msisdn("01"), "V1")
    del missing["input_PurchasedItemsDesc"]
    assert client.post(url, json=missing, headers=headers).json()["output_ResponseCode"] == "INS-20"
    assert (
        client.post(url, json=c2b_body("0754000001", "V2"), headers=headers).json()["output_ResponseCode"] == "INS-2051"
    )
    assert (
        client.post(url, json=c2b_body(msisdn("01"), "V3", "-5"), headers=headers).json()["output_ResponseCode"]
        == "INS-15"
    )
    wrong_code = {**c2b_body(msisdn("01"), "V4"), "input_ServiceProviderCode": "999999"}
    assert client.post(url, json=wrong_code, headers=headers).json()["output_ResponseCode"] == "INS-13"
    long_ref = {**c2b_body(msisdn("01"), "V5"), "input_TransactionReference": "x" * 21}
    assert client.post(url, json=long_ref, headers=headers).json()["output_ResponseCode"] == "INS-17"
    bad_json = client.post(url, content=b"{nope", headers=headers)
    assert (bad_json.status_code, bad_json.json()["output_ResponseCode"]) == (400, "INS-21")
    unknown = client.get(
        f"{MARKET}/queryTransactionStatus/",
        params={
            "input_QueryReference": "NOPE",
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": "q",
            "input_Country": "TZN",
        },
        headers=headers,
    )
    assert (unknown.status_code, unknown.json()["output_ResponseCode"]) == (400, "INS-18")
    no_params = client.get(f"{MARKET}/queryTransactionStatus/", headers=headers)
    assert no_params.json()["output_ResponseCode"] == "INS-20"


def test_reversal(client: TestClient, env: dict[str, str]) -> None:
    headers = session_headers(client, env)
    paid = client.post(f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn("01"), "REV"), headers=headers).json()
    body = {
        "input_ReversalAmount": "5000",
        "input_TransactionID": paid["output_TransactionID"],
        "input_Country": "TZN",
        "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": "R1",
    }
    first = client.put(f"{MARKET}/reversal/", json=body, headers=headers)
    assert first.status_code == 201 and first.json()["output_ResponseCode"] == "INS-0"
    # the same reference again is a duplicate, never a second reversal
    again = client.put(f"{MARKET}/reversal/", json=body, headers=headers)
    assert (again.status_code, again.json()["output_ResponseCode"]) == (409, "INS-10")
    too_much = client.put(
        f"{MARKET}/reversal/",
        json={**body, "input_ReversalAmount": "10001", "input_ThirdPartyConversationID": "R2"},
        headers=headers,
    )
    assert too_much.json()["output_ResponseCode"] == "INS-15"
    rest = client.put(
        f"{MARKET}/reversal/",
        json={**body, "input_ReversalAmount": "10000", "input_ThirdPartyConversationID": "R3"},
        headers=headers,
    )
    assert rest.json()["output_ResponseCode"] == "INS-0"
    unknown = client.put(f"{MARKET}/reversal/", json={**body, "input_TransactionID": "NOPE"}, headers=headers)
    assert unknown.json()["output_ResponseCode"] == "INS-18"
    txn = client.get("/_sandbox/transactions/mpesa/REV").json()
    assert [r["amount"] for r in txn["refunds"]] == [5000, 10000]
    # a reversal is found by its reference, as a transaction of its own
    assert status_word(client, headers, "R1") == "Completed"


def test_status_query_answers_as_the_openapi_documents(client: TestClient, env: dict[str, str]) -> None:
    """The OpenAPI's published Query Transaction Status answer (M-Pesa OpenAPI developer
    portal, Query Transaction Status, response parameters) names the mobile-money id
    ``output_OriginalTransactionID`` and says ``output_Reversed``; it has no
    ``output_TransactionID``. The sandbox answers in that shape."""
    headers = session_headers(client, env)
    paid = client.post(f"{MARKET}/c2bPayment/singleStage/", json=c2b_body(msisdn("01"), "Q1"), headers=headers)
    assert paid.status_code == 201
    reply = client.get(
        f"{MARKET}/queryTransactionStatus/",
        params={
            "input_QueryReference": "Q1",
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": "qQ1",
            "input_Country": "TZN",
        },
        headers=headers,
    ).json()
    assert reply["output_ResponseTransactionStatus"] == "Completed"
    assert reply["output_OriginalTransactionID"] == paid.json()["output_TransactionID"]
    assert reply["output_Reversed"] == "False"
    assert "output_TransactionID" not in reply
