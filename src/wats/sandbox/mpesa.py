"""Vodacom M-Pesa Tanzania OpenAPI (market vodacomTZN), as the sandbox imitates it.

Paths: ``/mpesa/{sandbox|openapi}/ipg/v2/vodacomTZN/{getSession,c2bPayment/singleStage,
queryTransactionStatus,reversal}/``. The status query answers the mobile-money id as
``output_OriginalTransactionID`` (the OpenAPI's published response). The single-stage C2B
is synchronous: the reply is held
until the simulated customer answers and carries the outcome. There is no callback.
Reversals (partial amounts allowed, at most what is left of the payment) are synchronous
too; they play out the refund scenario of the payer's phone and are found by the status
query under our ``input_ThirdPartyConversationID``. Vendor payouts are B2C payments
(``POST b2cPayment/singleStage/``, also ``b2cPayment/``), synchronous, playing out the
refund scenario of the payee's phone and found by the status query like reversals; Query
Beneficiary Name (``GET queryBeneficiaryName/``) answers a wallet's holder.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wats.sandbox.context import BadJson, Sandbox, bearer, json_object, positive_whole, reply, sandbox_of
from wats.sandbox.scenarios import Scenario
from wats.sandbox.signing import constant_time_equal, rsa_decrypt_bearer
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
    Payout,
    Transaction,
)

PROVIDER = "mpesa"
#: The synchronous reply is the outcome: no callbacks.
CALLBACKS = False
MARKET = "/mpesa/{stage}/ipg/v2/vodacomTZN"
_STAGES = {"sandbox", "openapi"}
_MSISDN = re.compile(r"^255[0-9]{9}$")
_NOT_APPLICABLE = frozenset({Scenario.LOST_CALLBACK, Scenario.DUPLICATE_CALLBACKS, Scenario.BAD_SIGNATURE})

#: Customer failures: reason → (HTTP status, INS code, description).
_FAILURES: dict[str, tuple[int, str, str]] = {
    "insufficient_funds": (422, "INS-2006", "Insufficient balance"),
    "wrong_pin": (400, "INS-2001", "Initiator authentication error."),
    "cancelled": (422, "INS-5", "Transaction cancelled by customer"),
}


def _error(status: int, code: str, description: str, **extra: Any) -> JSONResponse:
    return reply(status, {"output_ResponseCode": code, "output_ResponseDesc": description, **extra})


def _precheck(request: Request) -> JSONResponse | None:
    if request.path_params.get("stage") not in _STAGES:
        return _error(404, "INS-998", "Invalid Market")
    if not request.headers.get("origin"):
        return _error(400, "INS-20", "Not All Parameters Provided. Please try again.")
    return None


def _session_ok(request: Request, sb: Sandbox) -> bool:
    token = bearer(request)
    session_id = rsa_decrypt_bearer(sb.mpesa_key, token) if token else None
    return session_id is not None and sb.store.token_valid(PROVIDER, session_id)


async def get_session(request: Request) -> Response:
    sb = sandbox_of(request)
    if (problem := _precheck(request)) is not None:
        return problem
    token = bearer(request)
    api_key = rsa_decrypt_bearer(sb.mpesa_key, token) if token else None
    if api_key is None or not constant_time_equal(api_key, sb.config.mpesa_api_key):
        return _error(401, "INS-2", "Invalid API Key")
    session_id = sb.store.issue_token(PROVIDER)
    return reply(
        200,
        {
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            "output_SessionID": session_id,
        },
    )


_C2B_FIELDS = (
    "input_Amount",
    "input_Country",
    "input_Currency",
    "input_CustomerMSISDN",
    "input_ServiceProviderCode",
    "input_ThirdPartyConversationID",
    "input_TransactionReference",
    "input_PurchasedItemsDesc",
)


async def _transaction_request(
    request: Request, fields: tuple[str, ...]
) -> Response | tuple[Sandbox, dict[str, Any], dict[str, str], int]:
    """The checks C2B and B2C requests share, in M-Pesa's order: session, JSON, required
    fields, amount, market, currency, short code. The refusal, or the sandbox, the body,
    the ids every answer echoes and the amount."""
    sb = sandbox_of(request)
    if (problem := _precheck(request)) is not None:
        return problem
    if not _session_ok(request, sb):
        return _error(401, "INS-2", "Invalid API Key")
    try:
        body = await json_object(request)
    except BadJson:
        return _error(400, "INS-21", "Parameter validations failed. Please try again.")
    if any(str(body.get(name) or "").strip() == "" for name in fields):
        return _error(400, "INS-20", "Not All Parameters Provided. Please try again.")
    echo = {
        "output_ConversationID": secrets.token_hex(16),
        "output_ThirdPartyConversationID": str(body["input_ThirdPartyConversationID"]),
        "output_TransactionID": "",
    }
    amount = positive_whole(body["input_Amount"], allow_string=True)
    if amount is None:
        return _error(400, "INS-15", "Invalid Amount Used", **echo)
    if body["input_Country"] != "TZN":
        return _error(400, "INS-998", "Invalid Market", **echo)
    if body["input_Currency"] != "TZS":
        return _error(400, "INS-21", "Parameter validations failed. Please try again.", **echo)
    if str(body["input_ServiceProviderCode"]) != sb.config.mpesa_service_provider_code:
        return _error(400, "INS-13", "Invalid Shortcode Used", **echo)
    return sb, body, echo, amount


async def c2b_single_stage(request: Request) -> Response:
    checked = await _transaction_request(request, _C2B_FIELDS)
    if isinstance(checked, Response):
        return checked
    sb, body, echo, amount = checked
    third_party = echo["output_ThirdPartyConversationID"]
    msisdn = str(body["input_CustomerMSISDN"])
    if not _MSISDN.match(msisdn):
        return _error(400, "INS-2051", "MSISDN invalid.", **echo)
    if not 1 <= len(str(body["input_TransactionReference"])) <= 20:
        return _error(400, "INS-17", "Invalid Transaction Reference. Length Should Be Between 1 and 20.", **echo)
    if sb.store.get(PROVIDER, third_party) is not None:
        return _error(409, "INS-10", "Duplicate Transaction", **echo)

    txn = sb.store.create(PROVIDER, third_party, msisdn, amount, "TZS", body, not_applicable=_NOT_APPLICABLE)
    txn.extra["conversation_id"] = echo["output_ConversationID"]
    if txn.refused:
        return _error(400, "INS-2051", "MSISDN invalid.", **echo)
    if txn.answer_at is None:
        # The customer never answers: the prompt dies, the gateway gives up.
        await asyncio.sleep(sb.store.settings.prompt_timeout_s)
        return _error(408, "INS-9", "Request timeout", **echo)
    await asyncio.sleep(max(0.0, txn.answer_at - time.time()))
    if txn.scenario is Scenario.AMBIGUOUS_THEN_SUCCESS:
        return _error(500, "INS-1", "Internal Error", **echo)
    if txn.outcome == SUCCESS:
        return reply(
            201,
            {
                "output_ResponseCode": "INS-0",
                "output_ResponseDesc": "Request processed successfully",
                **echo,
                "output_TransactionID": txn.txn_id,
            },
        )
    status, code, description = _FAILURES.get(txn.reason or "", (422, "INS-6", "Transaction Failed"))
    return _error(status, code, description, **echo)


def _status_word(txn: Transaction) -> str:
    status = txn.status()
    if status == SUCCESS:
        return "Completed"
    if status == PENDING:
        return "Pending"
    if status == EXPIRED:
        return "Expired"
    assert status == FAILED
    return "Cancelled" if txn.reason == "cancelled" else "Failed"


async def query_transaction_status(request: Request) -> Response:
    sb = sandbox_of(request)
    if (problem := _precheck(request)) is not None:
        return problem
    if not _session_ok(request, sb):
        return _error(401, "INS-2", "Invalid API Key")
    params = request.query_params
    required = (
        "input_QueryReference",
        "input_ServiceProviderCode",
        "input_ThirdPartyConversationID",
        "input_Country",
    )
    if any(not params.get(name) for name in required):
        return _error(400, "INS-20", "Not All Parameters Provided. Please try again.")
    echo = {
        "output_ConversationID": secrets.token_hex(16),
        "output_ThirdPartyConversationID": params["input_ThirdPartyConversationID"],
    }
    if params["input_ServiceProviderCode"] != sb.config.mpesa_service_provider_code:
        return _error(400, "INS-13", "Invalid Shortcode Used", **echo)
    reference = params["input_QueryReference"]
    txn = sb.store.get(PROVIDER, reference) or sb.store.get_by_txn_id(PROVIDER, reference)
    if txn is None:
        reversed_ = sb.store.found_payout(PROVIDER, reference)
        if reversed_ is None:
            return _error(400, "INS-18", "Invalid TransactionID Used", **echo)
        return reply(
            200,
            {
                "output_ResponseCode": "INS-0",
                "output_ResponseDesc": "Request processed successfully",
                "output_ResponseTransactionStatus": _reversal_word(reversed_),
                "output_OriginalTransactionID": reversed_.provider_id,
                "output_Reversed": "False",
                **echo,
            },
        )
    return reply(
        200,
        {
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            "output_ResponseTransactionStatus": _status_word(txn),
            # the OpenAPI's published answer names the mobile-money id this way, and says
            # whether the payment was reversed
            "output_OriginalTransactionID": txn.txn_id if txn.status() == SUCCESS else "",
            "output_Reversed": "True" if txn.refunded_amount >= txn.amount > 0 else "False",
            **echo,
        },
    )


def _reversal_word(payout: Payout) -> str:
    return {PAID: "Completed", REFUSED: "Failed"}.get(payout.status(), "Pending")


async def reversal(request: Request) -> Response:
    sb = sandbox_of(request)
    if (problem := _precheck(request)) is not None:
        return problem
    if not _session_ok(request, sb):
        return _error(401, "INS-2", "Invalid API Key")
    try:
        body = await json_object(request)
    except BadJson:
        return _error(400, "INS-21", "Parameter validations failed. Please try again.")
    required = (
        "input_TransactionID",
        "input_Country",
        "input_ServiceProviderCode",
        "input_ThirdPartyConversationID",
    )
    if any(str(body.get(name) or "").strip() == "" for name in required):
        return _error(400, "INS-20", "Not All Parameters Provided. Please try again.")
    reference = str(body["input_ThirdPartyConversationID"])
    echo = {"output_ConversationID": secrets.token_hex(16), "output_ThirdPartyConversationID": reference}
    if str(body["input_ServiceProviderCode"]) != sb.config.mpesa_service_provider_code:
        return _error(400, "INS-13", "Invalid Shortcode Used", **echo)
    if not 1 <= len(reference) <= 20:
        return _error(400, "INS-19", "Invalid Third Party Reference", **echo)
    txn = sb.store.get_by_txn_id(PROVIDER, str(body["input_TransactionID"]))
    if txn is None:
        return _error(400, "INS-18", "Invalid TransactionID Used", **echo)
    if txn.status() != SUCCESS:
        return _error(422, "INS-6", "Transaction Failed", **echo)
    decision = sb.store.decide_payout(PROVIDER, reference, txn.msisdn)
    if decision == DUPLICATE:
        return _error(409, "INS-10", "Duplicate Transaction", **echo)
    remaining = txn.amount - txn.refunded_amount
    raw_amount = body.get("input_ReversalAmount")
    amount = remaining if raw_amount in (None, "") else positive_whole(raw_amount, allow_string=True)
    if amount is None or amount > remaining or amount <= 0:
        return _error(400, "INS-15", "Invalid Amount Used", **echo)
    original = txn.txn_id
    if decision == LOST:
        sb.store.record_payout(
            PROVIDER, "reversal", reference, txn.msisdn, amount, LOST, request=body, original=original
        )
        return _error(503, "INS-16", "Unable to handle the request due to a temporary overloading", **echo)
    if decision == REFUSE_BALANCE:
        sb.store.record_payout(
            PROVIDER,
            "reversal",
            reference,
            txn.msisdn,
            amount,
            REFUSED,
            reason="insufficient_balance",
            request=body,
            original=original,
        )
        return _error(422, "INS-2006", "Insufficient balance", **echo)
    if decision == REFUSE_PAYEE:
        sb.store.record_payout(
            PROVIDER,
            "reversal",
            reference,
            txn.msisdn,
            amount,
            REFUSED,
            reason="payee_refused",
            request=body,
            original=original,
        )
        return _error(422, "INS-6", "Transaction Failed", **echo)
    payout = sb.store.record_payout(
        PROVIDER, "reversal", reference, txn.msisdn, amount, PAID, request=body, original=original
    )
    txn.refunds.append({"id": payout.provider_id, "amount": amount, "reference": reference, "at": time.time()})
    if decision == PAY_ANSWER_LOST:
        return _error(500, "INS-1", "Internal Error", **echo)
    return reply(
        201,
        {
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            "output_TransactionID": payout.provider_id,
            **echo,
        },
    )


_B2C_FIELDS = (
    "input_Amount",
    "input_Country",
    "input_Currency",
    "input_CustomerMSISDN",
    "input_ServiceProviderCode",
    "input_ThirdPartyConversationID",
    "input_TransactionReference",
    "input_PaymentItemsDesc",
)


async def b2c_payment(request: Request) -> Response:
    """A B2C payment from our short code to a customer's wallet (vendor payouts)."""
    checked = await _transaction_request(request, _B2C_FIELDS)
    if isinstance(checked, Response):
        return checked
    sb, body, echo, amount = checked
    reference = echo["output_ThirdPartyConversationID"]
    if not 1 <= len(reference) <= 20:
        return _error(400, "INS-19", "Invalid Third Party Reference", **echo)
    if not 1 <= len(str(body["input_TransactionReference"])) <= 20:
        return _error(400, "INS-17", "Invalid Transaction Reference. Length Should Be Between 1 and 20.", **echo)
    msisdn = str(body["input_CustomerMSISDN"])
    if not _MSISDN.match(msisdn):
        return _error(400, "INS-2051", "MSISDN invalid.", **echo)
    decision = sb.store.decide_payout(PROVIDER, reference, msisdn)
    if decision == DUPLICATE:
        return _error(409, "INS-10", "Duplicate Transaction", **echo)
    if decision == LOST:
        sb.store.record_payout(PROVIDER, "b2c", reference, msisdn, amount, LOST, request=body)
        return _error(503, "INS-16", "Unable to handle the request due to a temporary overloading", **echo)
    if decision in (REFUSE_BALANCE, REFUSE_PAYEE):
        balance = decision == REFUSE_BALANCE
        sb.store.record_payout(
            PROVIDER,
            "b2c",
            reference,
            msisdn,
            amount,
            REFUSED,
            reason="insufficient_balance" if balance else "payee_refused",
            request=body,
        )
        if balance:
            return _error(422, "INS-2006", "Insufficient balance", **echo)
        return _error(400, "INS-2002", "Receiver invalid", **echo)
    payout = sb.store.record_payout(PROVIDER, "b2c", reference, msisdn, amount, PAID, request=body)
    if decision == PAY_ANSWER_LOST:
        return _error(500, "INS-1", "Internal Error", **echo)
    return reply(
        201,
        {
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            **echo,
            "output_TransactionID": payout.provider_id,
        },
    )


async def query_beneficiary_name(request: Request) -> Response:
    """The wallet holder's first and last names (KYC query type ``Name``)."""
    sb = sandbox_of(request)
    if (problem := _precheck(request)) is not None:
        return problem
    if not _session_ok(request, sb):
        return _error(401, "INS-2", "Invalid API Key")
    params = request.query_params
    required = (
        "input_CustomerMSISDN",
        "input_Country",
        "input_ServiceProviderCode",
        "input_ThirdPartyConversationID",
        "input_KycQueryType",
    )
    if any(not params.get(name) for name in required):
        return _error(400, "INS-20", "Not All Parameters Provided. Please try again.")
    echo = {
        "output_ConversationID": secrets.token_hex(16),
        "output_ThirdPartyConversationID": params["input_ThirdPartyConversationID"],
    }
    if params["input_ServiceProviderCode"] != sb.config.mpesa_service_provider_code:
        return _error(400, "INS-13", "Invalid Shortcode Used", **echo)
    if params["input_KycQueryType"] != "Name":
        return _error(400, "INS-21", "Parameter validations failed. Please try again.", **echo)
    msisdn = params["input_CustomerMSISDN"]
    name = sb.store.holder_name(msisdn) if _MSISDN.match(msisdn) else None
    if name is None:
        return _error(400, "INS-2051", "MSISDN invalid.", **echo)
    first, _, last = name.partition(" ")
    return reply(
        200,
        {
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            "output_CustomerFirstName": first,
            "output_CustomerLastName": last,
            **echo,
        },
    )


def _both(path: str, endpoint: Any, method: str) -> list[BaseRoute]:
    return [
        Route(f"{MARKET}/{path}/", endpoint, methods=[method]),
        Route(f"{MARKET}/{path}", endpoint, methods=[method]),
    ]


routes: list[BaseRoute] = [
    *_both("getSession", get_session, "GET"),
    *_both("c2bPayment/singleStage", c2b_single_stage, "POST"),
    *_both("queryTransactionStatus", query_transaction_status, "GET"),
    *_both("reversal", reversal, "PUT"),
    *_both("b2cPayment/singleStage", b2c_payment, "POST"),
    *_both("b2cPayment", b2c_payment, "POST"),
    *_both("queryBeneficiaryName", query_beneficiary_name, "GET"),
]
