"""Mixx by Yas (formerly Tigo Pesa) Push BillPay, as the sandbox imitates it.

Paths under ``/mixx`` (the real URLs are issued per partner): ``POST /token``
(form-encoded password grant), ``POST /push-billpay`` (Bearer + ``Username`` /
``Password`` headers), ``POST /query`` (the transaction query: XML ``MTPGGetSODetails``
authenticated by the biller MSISDN and its PIN in the body; ``RESULTCODE`` 0 with
``TXNSTATUS`` Posted once paid, Pending before, Failed after a refusal or expiry,
``GetSOError001`` for an unknown reference) and ``POST /b2c`` (B2C "Account to Wallet": XML ``REQMFCI``,
authenticated by the disbursement account's MSISDN and PIN in the body; synchronous XML
reply ``TXNID``/``TXNSTATUS``/``MESSAGE``; it plays out the refund scenario of the payee's
phone). There is no status query for payouts. Callbacks go, unsigned, to the one callback
URL registered for the biller: ``{webhook_base}/mixx?token=<callback token>``, or
``{webhook_base}/mixx/<callback token>`` when the setting ``mixx_callback_path_token`` is 1.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from wats.sandbox.callbacks import with_fields
from wats.sandbox.context import BadJson, Sandbox, bearer, json_object, reply, sandbox_of
from wats.sandbox.scenarios import Scenario
from wats.sandbox.signing import constant_time_equal
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

PROVIDER = "mixx"
#: Results are posted to our webhook.
CALLBACKS = True
PUSH_OK = "BILLER-18-0000-S"
_MSISDN = re.compile(r"^255[0-9]{9}$")
_DENIED = {"Message": "Authorization has been denied for this request."}
_INVALID = {"Message": "The request is invalid."}


def callback_url(sb: Sandbox, token: str | None = None) -> str:
    secret = token or sb.config.mixx_callback_token
    if sb.store.settings.mixx_callback_path_token:
        return f"{sb.config.webhook_url(PROVIDER)}/{secret}"
    return f"{sb.config.webhook_url(PROVIDER)}?token={secret}"


async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        # The OAuth endpoint only reads form fields: a JSON body has no grant_type.
        return reply(400, {"error": "unsupported_grant_type"})
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
    if form.get("grant_type") != "password":
        return reply(400, {"error": "unsupported_grant_type"})
    if not (
        constant_time_equal(form.get("username", ""), sb.config.mixx_username)
        and constant_time_equal(form.get("password", ""), sb.config.mixx_password)
    ):
        return reply(400, {"error": "invalid_grant", "error_description": "The user name or password is incorrect."})
    ttl = sb.store.settings.token_ttl_s
    return reply(200, {"access_token": sb.store.issue_token(PROVIDER, ttl), "token_type": "bearer", "expires_in": ttl})


def _refusal(code: str, description: str, reference: str) -> Response:
    return reply(
        200,
        {"ResponseCode": code, "ResponseStatus": False, "ResponseDescription": description, "ReferenceID": reference},
    )


def callback_payload(
    txn: Transaction, *, outcome: str, description: str, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    success = outcome == SUCCESS
    # Status and Amount as strings: the quirk the adapter must handle.
    payload = {
        "Status": "true" if success else "false",
        "Description": description,
        "MFSTransactionID": txn.txn_id if success else "",
        "ReferenceID": txn.ref,
        "Amount": str(txn.amount),
    }
    return with_fields(payload, fields)


def _schedule_callbacks(sb: Sandbox, txn: Transaction) -> None:
    s = sb.store.settings
    scenario = txn.scenario
    if scenario in (Scenario.NO_CALLBACK, Scenario.LOST_CALLBACK, Scenario.REFUSED):
        return
    if scenario is Scenario.BAD_SIGNATURE:
        payload = callback_payload(txn, outcome=SUCCESS, description="Transaction successful")
        sb.dispatcher.schedule(
            provider=PROVIDER,
            ref=txn.ref,
            url=callback_url(sb, token="forged" + txn.ref),
            payload=payload,
            delay_s=s.answer_delay_s,
            kind="forged",
        )
        return
    assert txn.answer_at is not None
    description = "Transaction successful" if txn.outcome == SUCCESS else txn.message
    duplicate = scenario is Scenario.DUPLICATE_CALLBACKS
    sb.dispatcher.schedule(
        provider=PROVIDER,
        ref=txn.ref,
        url=callback_url(sb),
        payload=callback_payload(txn, outcome=txn.outcome, description=description),
        delay_s=max(0.0, txn.answer_at - time.time()),
        copies=s.duplicate_count if duplicate else 1,
        interval_s=s.duplicate_interval_s,
        kind="duplicate" if duplicate else "callback",
    )


async def push_billpay(request: Request) -> Response:
    sb = sandbox_of(request)
    token_value = bearer(request)
    if token_value is None or not sb.store.token_valid(PROVIDER, token_value):
        return reply(401, _DENIED)
    try:
        body = await json_object(request)
    except BadJson:
        return reply(400, _INVALID)
    reference = body.get("ReferenceID")
    amount = body.get("Amount")
    if not isinstance(reference, str) or not reference:
        return reply(400, _INVALID)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        # Amount is an integer in Push BillPay; strings and fractions are refused.
        return reply(400, _INVALID)
    if not (
        constant_time_equal(request.headers.get("username", ""), sb.config.mixx_username)
        and constant_time_equal(request.headers.get("password", ""), sb.config.mixx_password)
    ):
        return _refusal("BILLER-18-3001-E", "Invalid biller credentials", reference)
    if str(body.get("BillerMSISDN") or "") != sb.config.mixx_biller_msisdn:
        return _refusal("BILLER-18-3002-E", "Biller not recognised", reference)
    if not reference.startswith(sb.config.mixx_biller_code):
        return _refusal("BILLER-18-3003-E", "ReferenceID must start with the biller code", reference)
    customer = str(body.get("CustomerMSISDN") or "")
    if not _MSISDN.match(customer):
        return _refusal("BILLER-18-3017-E", "Invalid customer MSISDN", reference)
    if sb.store.get(PROVIDER, reference) is not None:
        return _refusal("BILLER-18-3020-E", "Duplicate ReferenceID", reference)

    txn = sb.store.create(PROVIDER, reference, customer, amount, "TZS", body, txn_prefix="8")
    if txn.refused:
        return _refusal("BILLER-18-3017-E", "Invalid customer MSISDN", reference)
    _schedule_callbacks(sb, txn)
    if txn.scenario is Scenario.AMBIGUOUS_THEN_SUCCESS:
        return reply(504, {"Message": "An error has occurred."})
    return reply(
        200,
        {
            "ResponseCode": PUSH_OK,
            "ResponseStatus": True,
            "ResponseDescription": "Bill request submitted successfully",
            "ReferenceID": reference,
        },
    )


def _xml(status: int, fields: dict[str, str]) -> Response:
    body = "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in fields.items())
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><COMMAND>{body}</COMMAND>',
        status_code=status,
        media_type="application/xml",
    )


def _command(raw: bytes) -> dict[str, str] | None:
    """The flat fields of a ``<COMMAND>`` document; None when it is not one (DTDs refused)."""
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        return None
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, ValueError):
        return None
    if root.tag != "COMMAND":
        return None
    return {child.tag: (child.text or "").strip() for child in root}


async def b2c(request: Request) -> Response:
    """Account to Wallet: pays AMOUNT from our disbursement account to MSISDN1."""
    sb = sandbox_of(request)
    fields = _command(await request.body())
    if fields is None or fields.get("TYPE") != "REQMFCI":
        return _xml(400, {"MESSAGE": "Invalid request"})
    reference = fields.get("REFERENCEID", "")
    payee = fields.get("MSISDN1", "")
    amount_text = fields.get("AMOUNT", "")
    if not (
        constant_time_equal(fields.get("MSISDN", ""), sb.config.mixx_b2c_msisdn)
        and constant_time_equal(fields.get("PIN", ""), sb.config.mixx_b2c_pin)
        and constant_time_equal(fields.get("BRAND_ID", ""), sb.config.mixx_b2c_brand_id)
    ):
        return _xml(401, {"MESSAGE": "Authentication failed"})
    echo = {"TYPE": "RESMFCI", "REFERENCEID": reference}
    if not reference or not _MSISDN.match(payee):
        return _xml(200, {**echo, "TXNID": "", "TXNSTATUS": "error010", "MESSAGE": "Invalid customer"})
    if not amount_text.isdigit() or int(amount_text) <= 0:
        return _xml(200, {**echo, "TXNID": "", "TXNSTATUS": "error012", "MESSAGE": "Invalid amount"})
    amount = int(amount_text)
    decision = sb.store.decide_payout(PROVIDER, reference, payee)
    shown: dict[str, Any] = {**fields, "PIN": "[hidden]"}
    if decision == DUPLICATE:
        return _xml(200, {**echo, "TXNID": "", "TXNSTATUS": "error016", "MESSAGE": "Duplicate REFERENCEID"})
    if decision == LOST:
        sb.store.record_payout(PROVIDER, "b2c", reference, payee, amount, LOST, request=shown)
        return Response("", status_code=504)
    if decision == REFUSE_BALANCE:
        sb.store.record_payout(
            PROVIDER, "b2c", reference, payee, amount, REFUSED, reason="insufficient_balance", request=shown
        )
        return _xml(200, {**echo, "TXNID": "", "TXNSTATUS": "error013", "MESSAGE": "Insufficient funds"})
    if decision == REFUSE_PAYEE:
        sb.store.record_payout(
            PROVIDER, "b2c", reference, payee, amount, REFUSED, reason="payee_refused", request=shown
        )
        return _xml(200, {**echo, "TXNID": "", "TXNSTATUS": "error010", "MESSAGE": "Invalid customer: wallet barred"})
    payout = sb.store.record_payout(PROVIDER, "b2c", reference, payee, amount, PAID, id_prefix="MP", request=shown)
    if decision == PAY_ANSWER_LOST:
        return _xml(200, {**echo, "TXNID": "", "TXNSTATUS": "error111", "MESSAGE": "No response from the wallet"})
    return _xml(200, {**echo, "TXNID": payout.provider_id, "TXNSTATUS": "error000", "MESSAGE": "Success"})


_QUERY_WORD = {SUCCESS: "Posted", PENDING: "Pending", FAILED: "Failed", EXPIRED: "Failed"}


async def query(request: Request) -> Response:
    """The transaction query (MTPGGetSODetails) by the ReferenceID pushed with."""
    sb = sandbox_of(request)
    fields = _command(await request.body())
    if fields is None or fields.get("TYPE") != "MTPGGetSODetails":
        return _xml(400, {"RESULTCODE": "GetSOError100", "RESULTDESC": "Invalid request"})
    if not (
        constant_time_equal(fields.get("MSISDN", ""), sb.config.mixx_biller_msisdn)
        and constant_time_equal(fields.get("PIN", ""), sb.config.mixx_query_pin)
    ):
        return _xml(
            200, {"TYPE": "MTPGGetSODetails", "RESULTCODE": "GetSOError002", "RESULTDESC": "Authentication failed"}
        )
    reference = fields.get("EXTERNALREFID") or fields.get("REFERENCEID", "")
    txn = sb.store.get(PROVIDER, reference)
    if txn is None:
        return _xml(
            200, {"TYPE": "MTPGGetSODetails", "RESULTCODE": "GetSOError001", "RESULTDESC": "Sales order not found"}
        )
    status = txn.status()
    return _xml(
        200,
        {
            "TYPE": "MTPGGetSODetails",
            "RESULTCODE": "0",
            "RESULTDESC": "Sales order details retrieved successfully",
            "TXNID": txn.txn_id if status == SUCCESS else "",
            "TXNSTATUS": _QUERY_WORD[status],
            "EXTERNALREFID": txn.ref,
            "MSISDN": txn.msisdn,
            "AMOUNT": str(txn.amount),
        },
    )


routes: list[BaseRoute] = [
    Route("/mixx/token", token, methods=["POST"]),
    Route("/mixx/query", query, methods=["POST"]),
    Route("/mixx/push-billpay", push_billpay, methods=["POST"]),
    Route("/mixx/b2c", b2c, methods=["POST"]),
]
