"""Airtel Money Tanzania (Airtel Africa Open API, collection v1), as the sandbox imitates it.

Paths under ``/airtel``: ``POST /auth/oauth2/token``, ``POST /merchant/v1/payments/`` and
``POST /merchant/v2/payments/`` (the same push with Airtel's message signing: ``x-signature``
= the body AES-256-CBC-encrypted, ``x-key`` = ``base64(key):base64(iv)`` RSA-encrypted with
the portal key; a missing or wrong signature is refused with ``DP00800001026``),
``GET /standard/v1/payments/{id}``, ``POST /standard/v1/payments/refund`` (the whole
payment back), ``POST /standard/v2/disbursements/`` (B2C, PIN RSA-encrypted) and
``GET /standard/v2/disbursements/{id}?transactionType=B2C``. Callbacks go to
``{webhook_base}/airtel`` with ``hash`` = base64 HMAC-SHA256 over the whole body without
``hash``, 2-space indented (Airtel's published sample).
Refunds and disbursements play out the refund scenario of the payer's phone. The KYC user
enquiry (``GET /standard/v1/users/{msisdn}``, 9 digits) answers a wallet's holder before a
vendor's first payout.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wats.sandbox.callbacks import with_fields
from wats.sandbox.context import BadJson, Sandbox, bearer, json_object, positive_whole, reply, sandbox_of
from wats.sandbox.scenarios import Scenario
from wats.sandbox.signing import airtel_hash, airtel_signed_body_ok, constant_time_equal, rsa_decrypt_bearer
from wats.sandbox.store import (
    DUPLICATE,
    EXPIRED,
    FAILED,
    LOST,
    PAID,
    PAY_ANSWER_LOST,
    PENDING,
    REFUSE_BALANCE,
    REFUSE_PAYEE,
    REFUSED,
    SUCCESS,
    Transaction,
)

PROVIDER = "airtel"
#: Results are posted to our webhook.
CALLBACKS = True
_NATIONAL = re.compile(r"^[0-9]{9}$")

#: Failure reason → (response_code, callback/status message).
_FAILURES: dict[str, tuple[str, str]] = {
    "insufficient_funds": ("DP00800001007", "Insufficient funds"),
    "wrong_pin": ("DP00800001002", "Incorrect PIN entered"),
    "cancelled": ("DP00800001008", "Transaction cancelled by customer"),
    "timeout": ("DP00800001024", "Transaction timed out"),
}


def _status(code: str, message: str, *, success: bool, http: int, response_code: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "code": str(http),
        "message": message,
        "result_code": code,
        "success": success,
    }
    if response_code:
        status["response_code"] = response_code
    return status


def _fail(http: int, message: str, result_code: str = "ESB000001", response_code: str | None = None) -> JSONResponse:
    return reply(
        http,
        {"data": {}, "status": _status(result_code, message, success=False, http=http, response_code=response_code)},
    )


def _auth(request: Request, sb: Sandbox) -> JSONResponse | None:
    token = bearer(request)
    if token is None or not sb.store.token_valid(PROVIDER, token):
        return reply(401, {"error": "invalid_token", "error_description": "The access token is invalid or has expired"})
    if request.headers.get("x-country") != "TZ":
        return _fail(400, "Invalid or missing X-Country header")
    if request.headers.get("x-currency") != "TZS":
        return _fail(400, "Invalid or missing X-Currency header")
    return None


async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        body = await json_object(request)
    except BadJson:
        return reply(400, {"error": "invalid_request", "error_description": "The request body must be JSON"})
    if body.get("grant_type") != "client_credentials":
        return reply(
            400, {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"}
        )
    client_id = str(body.get("client_id") or "")
    client_secret = str(body.get("client_secret") or "")
    if not (
        constant_time_equal(client_id, sb.config.airtel_client_id)
        and constant_time_equal(client_secret, sb.config.airtel_client_secret)
    ):
        return reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
    ttl = sb.store.settings.token_ttl_s
    # Airtel sends expires_in as a string.
    return reply(
        200, {"access_token": sb.store.issue_token(PROVIDER, ttl), "expires_in": str(ttl), "token_type": "bearer"}
    )


def callback_payload(
    sb: Sandbox,
    txn: Transaction,
    *,
    outcome: str,
    message: str,
    key: str | None = None,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    transaction = {
        "id": txn.ref,
        "message": message,
        "status_code": "TS" if outcome == SUCCESS else "TF",
        "airtel_money_id": txn.txn_id,
    }
    transaction = with_fields(transaction, fields)
    body: dict[str, Any] = {"transaction": transaction}
    body["hash"] = airtel_hash(key or sb.config.airtel_callback_hash_key, body)
    return body


def _schedule_callbacks(sb: Sandbox, txn: Transaction) -> None:
    s = sb.store.settings
    scenario = txn.scenario
    if scenario in (Scenario.NO_CALLBACK, Scenario.LOST_CALLBACK, Scenario.REFUSED):
        return
    url = sb.config.webhook_url(PROVIDER)
    if scenario is Scenario.BAD_SIGNATURE:
        payload = callback_payload(sb, txn, outcome=SUCCESS, message="Transaction successful", key="forged-" + txn.ref)
        sb.dispatcher.schedule(
            provider=PROVIDER, ref=txn.ref, url=url, payload=payload, delay_s=s.answer_delay_s, kind="forged"
        )
        return
    assert txn.answer_at is not None
    message = (
        "Transaction successful" if txn.outcome == SUCCESS else _FAILURES.get(txn.reason or "", ("", txn.message))[1]
    )
    payload = callback_payload(sb, txn, outcome=txn.outcome, message=message)
    duplicate = scenario is Scenario.DUPLICATE_CALLBACKS
    sb.dispatcher.schedule(
        provider=PROVIDER,
        ref=txn.ref,
        url=url,
        payload=payload,
        delay_s=max(0.0, txn.answer_at - time.time()),
        copies=s.duplicate_count if duplicate else 1,
        interval_s=s.duplicate_interval_s,
        kind="duplicate" if duplicate else "callback",
    )


async def push_v2(request: Request) -> Response:
    """The signed push: refused with DP00800001026 unless x-signature/x-key match the body."""
    sb = sandbox_of(request)
    if (problem := _auth(request, sb)) is not None:
        return problem
    if not airtel_signed_body_ok(
        sb.airtel_key,
        request.headers.get("x-key", ""),
        request.headers.get("x-signature", ""),
        await request.body(),
    ):
        return _fail(400, "X-signature and payload did not match", "ESB000001", "DP00800001026")
    return await push(request)


async def push(request: Request) -> Response:
    sb = sandbox_of(request)
    if (problem := _auth(request, sb)) is not None:
        return problem
    try:
        body = await json_object(request)
    except BadJson:
        return _fail(400, "Malformed JSON body", "ESB000008")
    subscriber = body.get("subscriber")
    transaction = body.get("transaction")
    if not isinstance(subscriber, dict) or not isinstance(transaction, dict) or not body.get("reference"):
        return _fail(400, "Mandatory fields missing: reference, subscriber, transaction", "ESB000008")
    msisdn = str(subscriber.get("msisdn") or "")
    if not _NATIONAL.match(msisdn):
        return _fail(400, "Invalid MSISDN: send the subscriber number without the country code", "ESB000008")
    if subscriber.get("country") != "TZ" or transaction.get("country") != "TZ":
        return _fail(400, "Invalid country", "ESB000008")
    if subscriber.get("currency") != "TZS" or transaction.get("currency") != "TZS":
        return _fail(400, "Invalid currency", "ESB000008")
    amount = positive_whole(transaction.get("amount"), allow_string=True)
    if amount is None:
        return _fail(400, "Invalid Amount", "ESB000008", "DP00800001004")
    txn_id = str(transaction.get("id") or "")
    if not txn_id:
        return _fail(400, "Invalid transaction id", "ESB000008", "DP00800001005")
    if sb.store.get(PROVIDER, txn_id) is not None:
        return _fail(400, "Duplicate transaction id", "ESB000041")

    txn = sb.store.create(PROVIDER, txn_id, "255" + msisdn, amount, "TZS", body, txn_prefix="MP")
    if txn.refused:
        return _fail(400, "Invalid MSISDN: subscriber is not registered for Airtel Money", "ESB000008")
    _schedule_callbacks(sb, txn)
    response_code = "DP00800001000" if txn.scenario is Scenario.AMBIGUOUS_THEN_SUCCESS else "DP00800001006"
    message = "Ambiguous" if response_code == "DP00800001000" else "In process"
    return reply(
        200,
        {
            "data": {"transaction": {"id": txn_id, "status": "Success."}},
            "status": _status("ESB000010", message, success=True, http=200, response_code=response_code),
        },
    )


def _status_view(txn: Transaction) -> tuple[str, str, str]:
    """(TS|TF|TIP|TE, response_code, message) at this moment."""
    status = txn.status()
    if status == SUCCESS:
        return "TS", "DP00800001001", "Transaction is successful"
    if status == PENDING:
        return "TIP", "DP00800001006", "Transaction in progress"
    if status == EXPIRED:
        return "TE", "DP00800001029", "Transaction expired"
    assert status == FAILED
    code, message = _FAILURES.get(txn.reason or "", ("DP00800001010", txn.message))
    return "TF", code, message


async def status(request: Request) -> Response:
    sb = sandbox_of(request)
    if (problem := _auth(request, sb)) is not None:
        return problem
    txn = sb.store.get(PROVIDER, request.path_params["id"])
    if txn is None:
        return _fail(404, "Transaction not found", "ESB000014", "DP00800001025")
    code, response_code, message = _status_view(txn)
    return reply(
        200,
        {
            "data": {
                "transaction": {
                    "airtel_money_id": txn.txn_id if code in ("TS", "TF") else "",
                    "id": txn.ref,
                    "message": message,
                    "status": code,
                }
            },
            "status": _status("ESB000010", "SUCCESS", success=True, http=200, response_code=response_code),
        },
    )


def _refund_status(message: str, http: int) -> dict[str, Any]:
    # Airtel documents a successful refund with success: false beside transaction SUCCESS
    return _status("ESB000010", message, success=False, http=http)


async def refund(request: Request) -> Response:
    """The refund API: the whole payment back, by its airtel_money_id."""
    sb = sandbox_of(request)
    if (problem := _auth(request, sb)) is not None:
        return problem
    try:
        body = await json_object(request)
    except BadJson:
        return _fail(400, "Malformed JSON body", "ESB000008")
    transaction = body.get("transaction")
    money_id = str(transaction.get("airtel_money_id") or "") if isinstance(transaction, dict) else ""
    if not money_id:
        return _fail(400, "Mandatory field missing: transaction.airtel_money_id", "ESB000008")
    txn = sb.store.get_by_txn_id(PROVIDER, money_id)
    if txn is None:
        return _fail(404, "Transaction not found", "ESB000014", "DP00800001025")
    if txn.status() != SUCCESS:
        return _fail(400, "Transaction is not eligible for refund", "ESB000045")
    decision = sb.store.decide_payout(PROVIDER, money_id, txn.msisdn)
    original = txn.ref
    if decision == DUPLICATE:
        return _fail(400, "Transaction is not eligible for refund: already refunded", "ESB000045")
    if decision == LOST:
        sb.store.record_payout(
            PROVIDER, "refund", money_id, txn.msisdn, txn.amount, LOST, request=body, original=original
        )
        return reply(504, {"message": "Gateway Timeout"})
    if decision in (REFUSE_BALANCE, REFUSE_PAYEE):
        message = (
            "Insufficient balance in the merchant account"
            if decision == REFUSE_BALANCE
            else "Transaction is not eligible for refund"
        )
        reason = "insufficient_balance" if decision == REFUSE_BALANCE else "payee_refused"
        sb.store.record_payout(
            PROVIDER,
            "refund",
            money_id,
            txn.msisdn,
            txn.amount,
            REFUSED,
            reason=reason,
            message=message,
            request=body,
            original=original,
        )
        return _fail(400, message, "ESB000045")
    payout = sb.store.record_payout(
        PROVIDER, "refund", money_id, txn.msisdn, txn.amount, PAID, id_prefix="RF", request=body, original=original
    )
    txn.refunds.append({"id": payout.provider_id, "amount": txn.amount, "at": time.time()})
    if decision == PAY_ANSWER_LOST:
        return reply(500, {"message": "Internal Server Error"})
    return reply(
        200,
        {
            "data": {"transaction": {"airtel_money_id": payout.provider_id, "status": "SUCCESS"}},
            "status": _refund_status("SUCCESS", 200),
        },
    )


def _disbursement_reply(
    http: int, code: str, message: str, *, txn_id: str, status: str, money_id: str = ""
) -> JSONResponse:
    return reply(
        http,
        {
            "data": {
                "transaction": {
                    "reference_id": money_id.lower(),
                    "airtel_money_id": money_id,
                    "id": txn_id,
                    "status": status,
                    "message": message,
                }
            },
            "status": _status("ESB000010" if http == 200 else "ESB000001", message, success=http == 200, http=http)
            | {"response_code": code},
        },
    )


async def disburse(request: Request) -> Response:
    """A disbursement (B2C) to a wallet, authorised by the PIN encrypted with the portal key."""
    sb = sandbox_of(request)
    if (problem := _auth(request, sb)) is not None:
        return problem
    try:
        body = await json_object(request)
    except BadJson:
        return _fail(400, "Malformed JSON body", "ESB000008")
    payee = body.get("payee")
    transaction = body.get("transaction")
    if not isinstance(payee, dict) or not isinstance(transaction, dict) or not body.get("pin"):
        return _fail(400, "Mandatory fields missing: payee, pin, transaction", "ESB000008")
    msisdn = str(payee.get("msisdn") or "")
    if not _NATIONAL.match(msisdn):
        return _fail(400, "Invalid MSISDN: send the payee number without the country code", "ESB000008")
    if payee.get("currency") != "TZS":
        return _fail(400, "Invalid currency", "ESB000008")
    reference = str(body.get("reference") or "")
    if not re.fullmatch(r"[A-Za-z0-9]{4,64}", reference):
        return _fail(400, "Invalid reference: 4 to 64 letters and digits", "ESB000008")
    amount = positive_whole(transaction.get("amount"), allow_string=True)
    txn_id = str(transaction.get("id") or "")
    if amount is None or not txn_id or transaction.get("type") != "B2C":
        return _fail(400, "Invalid transaction: amount, id and type B2C are required", "ESB000008")
    pin = rsa_decrypt_bearer(sb.airtel_key, str(body["pin"]))
    if pin is None or not constant_time_equal(pin, sb.config.airtel_disbursement_pin):
        return _disbursement_reply(400, "DP00900001003", "Invalid PIN", txn_id=txn_id, status="TF")
    wallet = "255" + msisdn
    decision = sb.store.decide_payout(PROVIDER, txn_id, wallet)
    shown = {**body, "pin": "[encrypted]"}
    if decision == DUPLICATE:
        return _disbursement_reply(400, "DP00900001011", "Duplicate transaction id", txn_id=txn_id, status="TF")
    if decision == LOST:
        sb.store.record_payout(PROVIDER, "disbursement", txn_id, wallet, amount, LOST, request=shown)
        return reply(504, {"message": "Gateway Timeout"})
    if decision == REFUSE_BALANCE:
        sb.store.record_payout(
            PROVIDER, "disbursement", txn_id, wallet, amount, REFUSED, reason="insufficient_balance", request=shown
        )
        return _disbursement_reply(
            400, "DP00900001007", "Insufficient funds in the disbursement wallet", txn_id=txn_id, status="TF"
        )
    if decision == REFUSE_PAYEE:
        sb.store.record_payout(
            PROVIDER, "disbursement", txn_id, wallet, amount, REFUSED, reason="payee_refused", request=shown
        )
        return _disbursement_reply(400, "DP00900001012", "Payee is not allowed to receive", txn_id=txn_id, status="TF")
    payout = sb.store.record_payout(
        PROVIDER, "disbursement", txn_id, wallet, amount, PAID, id_prefix="DB", request=shown
    )
    if decision == PAY_ANSWER_LOST:
        return _disbursement_reply(200, "DP00900001000", "Transaction is ambiguous", txn_id=txn_id, status="TA")
    return _disbursement_reply(
        200, "DP00900001001", "Transaction is successful", txn_id=txn_id, status="TS", money_id=payout.provider_id
    )


async def disbursement_status(request: Request) -> Response:
    sb = sandbox_of(request)
    if (problem := _auth(request, sb)) is not None:
        return problem
    if request.query_params.get("transactionType") != "B2C":
        return _fail(400, "transactionType must be B2C", "ESB000008")
    txn_id = request.path_params["id"]
    payout = sb.store.found_payout(PROVIDER, txn_id)
    if payout is None or payout.method != "disbursement":
        return _disbursement_reply(404, "DP00900001015", "Transaction not found", txn_id=txn_id, status="")
    status = payout.status()
    word = {PAID: "TS", REFUSED: "TF"}.get(status, "TIP")
    message = {PAID: "Transaction is successful", REFUSED: payout.reason or "failed"}.get(status, "In progress")
    return _disbursement_reply(200, "DP00900001001", message, txn_id=txn_id, status=word, money_id=payout.provider_id)


async def user_enquiry(request: Request) -> Response:
    """KYC user enquiry: the registered first and last names of a wallet (9-digit msisdn)."""
    sb = sandbox_of(request)
    if (problem := _auth(request, sb)) is not None:
        return problem
    msisdn = request.path_params["msisdn"]
    if not _NATIONAL.match(msisdn):
        return _fail(400, "Invalid MSISDN: send the number without the country code", "ESB000008")
    name = sb.store.holder_name("255" + msisdn)
    if name is None:
        return _fail(404, "User not found", "ESB000014")
    first, _, last = name.partition(" ")
    return reply(
        200,
        {
            "data": {
                "first_name": first,
                "last_name": last,
                "msisdn": msisdn,
                "grade": "SUBS",
                "is_barred": False,
                "is_pin_set": True,
                "registration": {"id": f"REG{msisdn}", "status": "SUBS"},
            },
            "status": _status("ESB000010", "SUCCESS", success=True, http=200),
        },
    )


routes: list[BaseRoute] = [
    Route("/airtel/auth/oauth2/token", token, methods=["POST"]),
    Route("/airtel/merchant/v1/payments/", push, methods=["POST"]),
    Route("/airtel/merchant/v1/payments", push, methods=["POST"]),
    Route("/airtel/merchant/v2/payments/", push_v2, methods=["POST"]),
    Route("/airtel/merchant/v2/payments", push_v2, methods=["POST"]),
    Route("/airtel/standard/v1/payments/refund", refund, methods=["POST"]),
    Route("/airtel/standard/v1/payments/{id}", status, methods=["GET"]),
    Route("/airtel/standard/v2/disbursements/", disburse, methods=["POST"]),
    Route("/airtel/standard/v2/disbursements", disburse, methods=["POST"]),
    Route("/airtel/standard/v2/disbursements/{id}", disbursement_status, methods=["GET"]),
    Route("/airtel/standard/v1/users/{msisdn}", user_enquiry, methods=["GET"]),
]
