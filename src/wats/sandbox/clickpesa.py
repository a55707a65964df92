"""ClickPesa (the aggregator we reach HaloPesa through), as the sandbox imitates it.

The provider is ``halopesa`` (the customer's choice and the webhook path); the protocol is
ClickPesa's, as on the Deno side (``_shared/payments/clickpesa.ts``).

Paths under ``/clickpesa/third-parties``: ``POST /generate-token`` (``client-id`` and
``api-key`` headers), ``POST /payments/initiate-ussd-push-request`` (checksum required),
``GET /payments/{orderReference}`` (with the setting ``clickpesa_fee_percent`` the reports
carry ``collectedAmount`` net of ClickPesa's fee, and ``fee`` when ``clickpesa_report_fee``
is 1), and for money going back ``POST
/payouts/preview-mobile-money-payout``, ``POST /payouts/create-mobile-money-payout`` (both
checksummed) and ``GET /payouts/{orderReference}``. Webhooks (``PAYMENT …`` and ``PAYOUT
…``) go to ``{webhook_base}/halopesa``, signed with the checksum key over the canonical
JSON of the payload. Payouts play out the refund scenario of the payee's phone; the
preview's ``receiver.accountName`` is the wallet holder's name (Store.holder_name), and a
wallet that does not exist is refused by the preview.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wats.sandbox.callbacks import with_fields
from wats.sandbox.context import BadJson, Sandbox, json_object, reply, sandbox_of
from wats.sandbox.scenarios import RefundScenario, Scenario
from wats.sandbox.signing import clickpesa_checksum, clickpesa_legacy_checksum, constant_time_equal
from wats.sandbox.store import (
    DUPLICATE,
    EXPIRED,
    FAILED,
    LOST,
    PAID,
    PAY_ANSWER_LOST,
    PAYOUT_PENDING,
    PENDING,
    REFUSE_BALANCE,
    REFUSE_PAYEE,
    REFUSED,
    SUCCESS,
    Payout,
    Transaction,
    iso,
)

#: The provider this protocol carries.
PROVIDER = "halopesa"
#: Results are posted to our webhook.
CALLBACKS = True
PREFIX = "/clickpesa/third-parties"
TOKEN_TTL_S = 3600
_MSISDN = re.compile(r"^255[0-9]{9}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9]{1,64}$")
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


def _nest_error(status: int, message: str | list[str], error: str) -> JSONResponse:
    return reply(status, {"statusCode": status, "message": message, "error": error})


def _channel(msisdn: str) -> str:
    prefix = msisdn[3:5]
    if prefix in ("61", "62"):
        return "HALOPESA"
    if prefix in ("74", "75", "76"):
        return "M-PESA"
    if prefix in ("68", "69", "78"):
        return "AIRTEL-MONEY"
    if prefix in ("65", "67", "71", "77"):
        return "TIGO-PESA"
    return "HALOPESA"


def _authorized(request: Request, sb: Sandbox) -> bool:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return False
    return sb.store.token_valid(PROVIDER, header[len("Bearer ") :])


async def generate_token(request: Request) -> Response:
    sb = sandbox_of(request)
    if not (
        constant_time_equal(request.headers.get("client-id", ""), sb.config.clickpesa_client_id)
        and constant_time_equal(request.headers.get("api-key", ""), sb.config.clickpesa_api_key)
    ):
        return _nest_error(401, "Invalid client-id or api-key", "Unauthorized")
    token = sb.store.issue_token(PROVIDER, TOKEN_TTL_S)
    return reply(200, {"success": True, "token": f"Bearer {token}"})


def collected(sb: Sandbox, amount: int) -> dict[str, str]:
    """``collectedAmount`` as the account's fee setting reports it (and ``fee`` when shown)."""
    percent = sb.store.settings.clickpesa_fee_percent
    if percent <= 0 or amount <= 0:
        return {"collectedAmount": str(amount)}
    fee = math.ceil(amount * round(percent * 100) / 10_000)
    shown = {"collectedAmount": str(max(0, amount - fee))}
    if sb.store.settings.clickpesa_report_fee:
        shown["fee"] = f"{fee}.00"
    return shown


def _payment_view(sb: Sandbox, txn: Transaction) -> dict[str, Any]:
    status = txn.status()
    word = {SUCCESS: "SUCCESS", PENDING: "PROCESSING", FAILED: "FAILED", EXPIRED: "FAILED"}[status]
    message = {SUCCESS: "success", PENDING: "processing"}.get(status, txn.message)
    updated = txn.answer_at if status in (SUCCESS, FAILED) and txn.answer_at else txn.created_at
    if status == EXPIRED:
        updated = txn.expires_at
    return {
        "id": txn.txn_id,
        "status": word,
        "paymentReference": txn.extra.get("payment_reference", ""),
        "paymentPhoneNumber": txn.msisdn,
        "orderReference": txn.ref,
        "collectedAmount": txn.amount,
        # a number here, as the status query answers it, unless the account nets fees
        **(collected(sb, txn.amount) if status == SUCCESS and sb.store.settings.clickpesa_fee_percent > 0 else {}),
        "collectedCurrency": txn.currency,
        "message": message,
        "updatedAt": iso(updated),
        "createdAt": iso(txn.created_at),
        "customer": {"customerName": "Sandbox Customer", "customerPhoneNumber": txn.msisdn, "customerEmail": ""},
        "clientId": sb.config.clickpesa_client_id,
    }


def webhook_payload(
    sb: Sandbox,
    txn: Transaction,
    *,
    outcome: str,
    message: str,
    key: str | None = None,
    fields: dict[str, Any] | None = None,
    checksum_method: str = "canonical",
    event_field: str = "event",
) -> dict[str, Any]:
    """A payment webhook, signed with the ``canonical`` checksum (or the ``legacy`` one);
    ``event_field`` is ``event`` or ``eventType`` (a documented failure sample's name)."""
    success = outcome == SUCCESS
    payload: dict[str, Any] = {
        event_field: "PAYMENT RECEIVED" if success else "PAYMENT FAILED",
        "data": {
            "id": txn.txn_id,
            "status": "SUCCESS" if success else "FAILED",
            "paymentReference": txn.extra.get("payment_reference", ""),
            "orderReference": txn.ref,
            **(collected(sb, txn.amount) if success else {"collectedAmount": str(txn.amount)}),
            "collectedCurrency": txn.currency,
            "message": message,
            "channel": txn.extra.get("channel", "HALOPESA"),
            "updatedAt": iso(time.time()),
            "createdAt": iso(txn.created_at),
            "customer": {
                "customerName": "Sandbox Customer",
                "customerEmail": "",
                "customerPhoneNumber": txn.msisdn,
            },
        },
    }
    payload = with_fields(payload, fields)
    sign = clickpesa_legacy_checksum if checksum_method == "legacy" else clickpesa_checksum
    payload["checksum"] = sign(key or sb.config.clickpesa_checksum_key, payload)
    payload["checksumMethod"] = checksum_method
    return payload


def _schedule_webhooks(sb: Sandbox, txn: Transaction) -> None:
    s = sb.store.settings
    scenario = txn.scenario
    if scenario in (Scenario.NO_CALLBACK, Scenario.LOST_CALLBACK, Scenario.REFUSED):
        return
    url = sb.config.webhook_url(PROVIDER)
    if scenario is Scenario.BAD_SIGNATURE:
        payload = webhook_payload(sb, txn, outcome=SUCCESS, message="success", key="forged-" + txn.ref)
        sb.dispatcher.schedule(
            provider=PROVIDER, ref=txn.ref, url=url, payload=payload, delay_s=s.answer_delay_s, kind="forged"
        )
        return
    assert txn.answer_at is not None
    message = "success" if txn.outcome == SUCCESS else txn.message
    duplicate = scenario is Scenario.DUPLICATE_CALLBACKS
    sb.dispatcher.schedule(
        provider=PROVIDER,
        ref=txn.ref,
        url=url,
        payload=webhook_payload(sb, txn, outcome=txn.outcome, message=message),
        delay_s=max(0.0, txn.answer_at - time.time()),
        copies=s.duplicate_count if duplicate else 1,
        interval_s=s.duplicate_interval_s,
        kind="duplicate" if duplicate else "callback",
    )


async def initiate_ussd_push(request: Request) -> Response:
    sb = sandbox_of(request)
    if not _authorized(request, sb):
        return _nest_error(401, "Unauthorized", "Unauthorized")
    try:
        body = await json_object(request)
    except BadJson:
        return _nest_error(400, ["Invalid JSON body"], "Bad Request")
    problems: list[str] = []
    amount = body.get("amount")
    if not isinstance(amount, str) or not _AMOUNT.match(amount) or float(amount) <= 0:
        problems.append("amount must be a numeric string")
    if body.get("currency") != "TZS":
        problems.append("currency must be one of the following values: TZS")
    reference = body.get("orderReference")
    if not isinstance(reference, str) or not _REFERENCE.match(reference):
        problems.append("orderReference must contain only letters and numbers")
    phone = body.get("phoneNumber")
    if not isinstance(phone, str) or not _MSISDN.match(phone):
        problems.append("phoneNumber must be a valid phone number, e.g. 255712345678")
    if problems:
        return _nest_error(400, problems, "Bad Request")
    checksum = body.get("checksum")
    if not isinstance(checksum, str) or not checksum:
        return _nest_error(400, ["checksum is required"], "Bad Request")
    if not constant_time_equal(checksum.lower(), clickpesa_checksum(sb.config.clickpesa_checksum_key, body)):
        return _nest_error(400, ["Invalid checksum"], "Bad Request")
    assert isinstance(amount, str) and isinstance(reference, str) and isinstance(phone, str)
    if float(amount) != int(float(amount)):
        return _nest_error(400, ["amount must be a whole number of TZS"], "Bad Request")
    if sb.store.get(PROVIDER, reference) is not None:
        return _nest_error(409, "Order reference already exists", "Conflict")

    txn = sb.store.create(PROVIDER, reference, phone, int(float(amount)), "TZS", body, txn_prefix="CP")
    txn.extra["channel"] = _channel(phone)
    txn.extra["payment_reference"] = txn.txn_id.lower()
    if txn.refused:
        return _nest_error(400, "Invalid phone number: no mobile money account", "Bad Request")
    _schedule_webhooks(sb, txn)
    if txn.scenario is Scenario.AMBIGUOUS_THEN_SUCCESS:
        return _nest_error(502, "Bad Gateway", "Bad Gateway")
    return reply(
        200,
        {
            "id": txn.txn_id,
            "status": "PROCESSING",
            "channel": txn.extra["channel"],
            "orderReference": reference,
            "collectedAmount": str(txn.amount),
            "collectedCurrency": "TZS",
            "createdAt": iso(txn.created_at),
            "clientId": sb.config.clickpesa_client_id,
        },
    )


async def query_payment(request: Request) -> Response:
    sb = sandbox_of(request)
    if not _authorized(request, sb):
        return _nest_error(401, "Unauthorized", "Unauthorized")
    txn = sb.store.get(PROVIDER, request.path_params["reference"])
    if txn is None:
        return _nest_error(404, "Payment not found", "Not Found")
    return reply(200, [_payment_view(sb, txn)])


# -- payouts (money going back) ------------------------------------------------------------

_PAYOUT_WORD = {PAID: "SUCCESS", PAYOUT_PENDING: "PROCESSING", REFUSED: "FAILED"}


def payout_view(payout: Payout) -> dict[str, Any]:
    status = payout.status()
    updated = payout.settle_at if status == PAID and payout.settle_at else payout.created_at
    return {
        "id": payout.provider_id,
        "orderReference": payout.reference,
        "amount": f"{payout.amount}.00",
        "currency": "TZS",
        "fee": "0.00",
        "status": _PAYOUT_WORD.get(status, "FAILED"),
        "channel": "MOBILE MONEY",
        "channelProvider": _channel(payout.msisdn),
        "notes": payout.message,
        "createdAt": iso(payout.created_at),
        "updatedAt": iso(updated),
        "beneficiary": {
            "accountNumber": payout.msisdn,
            "accountName": "Sandbox Customer",
            "beneficiaryMobileNumber": payout.msisdn,
        },
    }


def payout_webhook_payload(
    sb: Sandbox, payout: Payout, *, event: str, status: str | None = None, key: str | None = None
) -> dict[str, Any]:
    data = payout_view(payout)
    data["updatedAt"] = iso(time.time())
    if status is not None:
        data["status"] = status
    payload: dict[str, Any] = {"event": event, "data": data}
    payload["checksum"] = clickpesa_checksum(key or sb.config.clickpesa_checksum_key, payload)
    payload["checksumMethod"] = "canonical"
    return payload


async def _payout_request(request: Request, sb: Sandbox) -> tuple[dict[str, Any], int, str, str] | Response:
    """The checked body of a preview or create: (body, amount, reference, phone), or the refusal."""
    if not _authorized(request, sb):
        return _nest_error(401, "Unauthorized", "Unauthorized")
    try:
        body = await json_object(request)
    except BadJson:
        return _nest_error(400, ["Invalid JSON body"], "Bad Request")
    problems: list[str] = []
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0 or amount != int(amount):
        problems.append("amount must be a positive whole number")
    if body.get("currency") != "TZS":
        problems.append("currency must be one of the following values: TZS, USD")
    reference = body.get("orderReference")
    if not isinstance(reference, str) or not _REFERENCE.match(reference):
        problems.append("orderReference must contain only letters and numbers")
    phone = body.get("phoneNumber")
    if not isinstance(phone, str) or not _MSISDN.match(phone):
        problems.append("phoneNumber must be a valid phone number, e.g. 255712345678")
    if problems:
        return _nest_error(400, problems, "Bad Request")
    checksum = body.get("checksum")
    if not isinstance(checksum, str) or not checksum:
        return _nest_error(400, ["checksum is required"], "Bad Request")
    if not constant_time_equal(checksum.lower(), clickpesa_checksum(sb.config.clickpesa_checksum_key, body)):
        return _nest_error(400, ["Invalid checksum"], "Bad Request")
    assert isinstance(amount, int | float) and isinstance(reference, str) and isinstance(phone, str)
    return body, int(amount), reference, phone


async def preview_payout(request: Request) -> Response:
    """Checks the payout (phone, balance, fee); moves nothing."""
    sb = sandbox_of(request)
    checked = await _payout_request(request, sb)
    if isinstance(checked, Response):
        return checked
    body, amount, reference, phone = checked
    holder = sb.store.holder_name(phone)
    if holder is None:
        return _nest_error(400, ["phoneNumber is not registered for mobile money"], "Bad Request")
    decision = sb.store.decide_payout(PROVIDER, reference, phone)
    if decision == DUPLICATE:
        return _nest_error(409, f"Order reference {reference} already used", "Conflict")
    if decision in (REFUSE_BALANCE, REFUSE_PAYEE):
        message = (
            "Insufficient balance: available balance is 0 TZS"
            if decision == REFUSE_BALANCE
            else "Receiver account cannot receive payouts"
        )
        reason = "insufficient_balance" if decision == REFUSE_BALANCE else "payee_refused"
        sb.store.record_payout(
            PROVIDER, "payout", reference, phone, amount, REFUSED, reason=reason, message=message, request=body
        )
        return _nest_error(400, message, "Bad Request")
    return reply(
        200,
        {
            "amount": amount,
            "balance": 10_000_000,
            "channelProvider": _channel(phone),
            "fee": 0,
            "exchanged": False,
            "order": {"amount": amount, "currency": "TZS", "id": reference},
            "payoutFeeBearer": "merchant",
            "receiver": {
                "accountName": holder,
                "accountNumber": phone,
                "accountCurrency": "TZS",
                "amount": amount,
            },
        },
    )


async def create_payout(request: Request) -> Response:
    sb = sandbox_of(request)
    checked = await _payout_request(request, sb)
    if isinstance(checked, Response):
        return checked
    body, amount, reference, phone = checked
    decision = sb.store.decide_payout(PROVIDER, reference, phone)
    if decision == DUPLICATE:
        return _nest_error(409, f"Order reference {reference} already used", "Conflict")
    if decision == LOST:
        sb.store.record_payout(PROVIDER, "payout", reference, phone, amount, LOST, request=body)
        return _nest_error(504, "Gateway Timeout", "Gateway Timeout")
    if decision in (REFUSE_BALANCE, REFUSE_PAYEE):
        message = "Insufficient balance" if decision == REFUSE_BALANCE else "Receiver account cannot receive payouts"
        sb.store.record_payout(PROVIDER, "payout", reference, phone, amount, REFUSED, message=message, request=body)
        return _nest_error(400, message, "Bad Request")
    s = sb.store.settings
    if decision == PAY_ANSWER_LOST:
        # the payout went through at once; our answer and the webhook are lost
        sb.store.record_payout(PROVIDER, "payout", reference, phone, amount, PAID, request=body, id_prefix="PO")
        return _nest_error(502, "Bad Gateway", "Bad Gateway")
    payout = sb.store.record_payout(
        PROVIDER,
        "payout",
        reference,
        phone,
        amount,
        PAYOUT_PENDING,
        request=body,
        settle_after_s=s.answer_delay_s,
        id_prefix="PO",
    )
    duplicate = payout.scenario is RefundScenario.DUPLICATE_CALLBACKS
    sb.dispatcher.schedule(
        provider=PROVIDER,
        ref=reference,
        url=sb.config.webhook_url(PROVIDER),
        payload=payout_webhook_payload(sb, payout, event="PAYOUT INITIATED", status="SUCCESS"),
        delay_s=s.answer_delay_s,
        copies=s.duplicate_count if duplicate else 1,
        interval_s=s.duplicate_interval_s,
        kind="payout-duplicate" if duplicate else "payout",
    )
    return reply(200, payout_view(payout) | {"status": "AUTHORIZED", "clientId": sb.config.clickpesa_client_id})


async def query_payout(request: Request) -> Response:
    sb = sandbox_of(request)
    if not _authorized(request, sb):
        return _nest_error(401, "Unauthorized", "Unauthorized")
    reference = request.path_params["reference"]
    payout = sb.store.found_payout(PROVIDER, reference)
    if payout is None:
        return reply(404, {"message": f"Invalid or missing payout: {reference}"})
    return reply(200, [payout_view(payout)])


routes: list[BaseRoute] = [
    Route(f"{PREFIX}/generate-token", generate_token, methods=["POST"]),
    Route(f"{PREFIX}/payments/initiate-ussd-push-request", initiate_ussd_push, methods=["POST"]),
    Route(f"{PREFIX}/payments/{{reference}}", query_payment, methods=["GET"]),
    Route(f"{PREFIX}/payouts/preview-mobile-money-payout", preview_payout, methods=["POST"]),
    Route(f"{PREFIX}/payouts/create-mobile-money-payout", create_payout, methods=["POST"]),
    Route(f"{PREFIX}/payouts/{{reference}}", query_payout, methods=["GET"]),
]
