"""Sandbox-only endpoints under ``/_sandbox`` for tests and the demo.

NOT part of any provider's API: every answer carries ``X-Sandbox: not-a-provider-api``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wats.sandbox import airtel, clickpesa, mixx
from wats.sandbox.context import BadJson, Sandbox, json_object, sandbox_of
from wats.sandbox.protocols import CALLBACK_PROVIDERS
from wats.sandbox.scenarios import FAILURE_TEXT, describe, describe_payouts, describe_refunds
from wats.sandbox.store import FAILED, SUCCESS, Transaction

MARK = {"X-Sandbox": "not-a-provider-api"}
_REASON_TEXT = {reason: text for reason, text in FAILURE_TEXT.values()}


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=MARK)


async def index(request: Request) -> Response:
    sb = sandbox_of(request)
    return _json(
        200,
        {
            "service": "WATS mobile-money sandbox (local development only)",
            "providers": {
                "mpesa": "/mpesa/sandbox/ipg/v2/vodacomTZN/",
                "airtel": "/airtel/",
                "mixx": "/mixx/token, /mixx/push-billpay, /mixx/query",
                "halopesa": "/clickpesa/third-parties/",
            },
            "webhooks": {p: sb.config.webhook_url(p) for p in CALLBACK_PROVIDERS},
            "messaging": {
                "sms": "/beem/v1/send (Beem)",
                "push": "/expo/--/api/v2/push/send, …/getReceipts (Expo)",
                "received": "/_sandbox/sms, /_sandbox/push",
            },
            "refunds": {
                "mpesa": "PUT …/reversal/",
                "airtel": "/airtel/standard/v1/payments/refund, /airtel/standard/v2/disbursements/",
                "mixx": "/mixx/b2c",
                "halopesa": "/clickpesa/third-parties/payouts/",
            },
            "vendor_payouts": {
                "mpesa": "POST …/b2cPayment/singleStage/, GET …/queryBeneficiaryName/",
                "airtel": "/airtel/standard/v2/disbursements/, GET /airtel/standard/v1/users/{msisdn}",
                "mixx": "/mixx/b2c",
                "halopesa": "/clickpesa/third-parties/payouts/ (the preview names the receiver)",
            },
            "settings": sb.store.settings.to_json(),
            "pending_deliveries": sb.dispatcher.pending,
        },
    )


async def scenarios(_request: Request) -> Response:
    return _json(200, describe())


async def refund_scenarios(_request: Request) -> Response:
    return _json(200, describe_refunds())


async def payout_scenarios(_request: Request) -> Response:
    return _json(200, describe_payouts())


_MSISDN = re.compile(r"^255[0-9]{9}$")


async def wallets(request: Request) -> Response:
    """The wallet holders' names the providers' lookups answer (``{msisdn: name}``)."""
    sb = sandbox_of(request)
    return _json(200, dict(sb.store.wallet_names))


async def wallet(request: Request) -> Response:
    """Register (PUT ``{"name": "…"}``) or forget (DELETE) the holder of a wallet, as the
    provider's KYC record would hold it; GET says what a lookup answers now."""
    sb = sandbox_of(request)
    msisdn = request.path_params["msisdn"]
    if not _MSISDN.match(msisdn):
        return _json(400, {"error": "msisdn must be 255 + 9 digits"})
    if request.method == "PUT":
        try:
            body = await json_object(request)
        except BadJson as exc:
            return _json(400, {"error": str(exc)})
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            return _json(400, {"error": "name must be a non-empty string of at most 200 characters"})
        sb.store.wallet_names[msisdn] = name.strip()
    elif request.method == "DELETE":
        sb.store.wallet_names.pop(msisdn, None)
    return _json(
        200,
        {
            "msisdn": msisdn,
            "registered": sb.store.wallet_names.get(msisdn),
            "lookup_answers": sb.store.holder_name(msisdn),
        },
    )


async def settings(request: Request) -> Response:
    sb = sandbox_of(request)
    if request.method in ("PUT", "PATCH", "POST"):
        try:
            changes = await json_object(request)
            sb.store.settings = sb.store.settings.updated(changes)
        except (BadJson, ValueError) as exc:
            return _json(400, {"error": str(exc)})
    return _json(200, sb.store.settings.to_json())


async def reset(request: Request) -> Response:
    sb = sandbox_of(request)
    await sb.dispatcher.cancel_all()
    sb.store.reset()
    sb.messages.reset()
    return _json(200, {"reset": True, "settings": sb.store.settings.to_json()})


def _filtered(request: Request, items: list[Any]) -> list[Any]:
    provider = request.query_params.get("provider")
    ref = request.query_params.get("ref")
    msisdn = request.query_params.get("msisdn")
    return [
        item
        for item in items
        if (not provider or item.provider == provider)
        and (not ref or item.ref == ref)
        and (not msisdn or getattr(item, "msisdn", msisdn) == msisdn)
    ]


async def transactions(request: Request) -> Response:
    sb = sandbox_of(request)
    return _json(200, [t.to_json() for t in _filtered(request, list(sb.store.transactions.values()))])


async def transaction(request: Request) -> Response:
    sb = sandbox_of(request)
    txn = sb.store.get(request.path_params["provider"], request.path_params["ref"])
    if txn is None:
        return _json(404, {"error": "no such transaction"})
    return _json(200, txn.to_json())


async def deliveries(request: Request) -> Response:
    sb = sandbox_of(request)
    return _json(200, [d.to_json() for d in _filtered(request, sb.store.deliveries)])


async def payouts(request: Request) -> Response:
    """Every attempt to send money back (reversals, refunds, B2C payouts), oldest first;
    what was paid out is the ones with ``status`` ``paid``. Filters: ``provider``,
    ``reference``, ``msisdn``, ``status``."""
    sb = sandbox_of(request)
    q = request.query_params
    rows = [p.to_json() for p in sb.store.payouts]
    for key in ("provider", "reference", "msisdn", "status"):
        if q.get(key):
            rows = [r for r in rows if r[key] == q[key]]
    return _json(200, rows)


async def send_payout_callback(request: Request) -> Response:
    """Deliver a hand-made payout webhook (ClickPesa only: the other providers send no
    refund callbacks). Body (all optional): ``{"outcome": "success"|"failed", "event":
    "PAYOUT INITIATED"|"PAYOUT REFUNDED"|"PAYOUT REVERSED", "signature": "valid"|"invalid",
    "copies": 1, "delay_s": 0}``. The sandbox's record of the payout is not changed."""
    sb = sandbox_of(request)
    provider = request.path_params["provider"]
    if provider != clickpesa.PROVIDER:
        return _json(400, {"error": f"{provider} sends no refund callbacks"})
    payout = sb.store.found_payout(provider, request.path_params["reference"])
    if payout is None:
        return _json(404, {"error": "no such payout"})
    try:
        body = await json_object(request) if await request.body() else {}
    except BadJson as exc:
        return _json(400, {"error": str(exc)})
    outcome = body.get("outcome", SUCCESS)
    if outcome not in (SUCCESS, FAILED):
        return _json(400, {"error": "outcome must be success or failed"})
    event = body.get("event", "PAYOUT INITIATED" if outcome == SUCCESS else "PAYOUT REVERSED")
    if event not in ("PAYOUT INITIATED", "PAYOUT REFUNDED", "PAYOUT REVERSED"):
        return _json(400, {"error": "event must be PAYOUT INITIATED, PAYOUT REFUNDED or PAYOUT REVERSED"})
    copies = body.get("copies", 1)
    delay = body.get("delay_s", 0)
    if not isinstance(copies, int) or not 1 <= copies <= 50:
        return _json(400, {"error": "copies must be 1..50"})
    if not isinstance(delay, int | float) or not 0 <= delay <= 600:
        return _json(400, {"error": "delay_s must be 0..600"})
    forged = body.get("signature", "valid") == "invalid"
    payload = clickpesa.payout_webhook_payload(
        sb,
        payout,
        event=event,
        status="SUCCESS" if outcome == SUCCESS else "FAILED",
        key="forged-" + payout.reference if forged else None,
    )
    sent = sb.dispatcher.schedule(
        provider=provider,
        ref=payout.reference,
        url=sb.config.webhook_url(provider),
        payload=payload,
        delay_s=float(delay),
        copies=copies,
        interval_s=sb.store.settings.duplicate_interval_s,
        kind="manual-payout-forged" if forged else "manual-payout",
    )
    return _json(202, {"deliveries": [d.id for d in sent]})


async def idle(request: Request) -> Response:
    """Wait (at most ``timeout`` seconds, default 10, max 60) until no callback is pending."""
    sb = sandbox_of(request)
    try:
        timeout = min(60.0, max(0.0, float(request.query_params.get("timeout", "10"))))
    except ValueError:
        return _json(400, {"error": "timeout must be a number"})
    is_idle = await sb.dispatcher.wait_idle(timeout)
    return _json(200 if is_idle else 408, {"idle": is_idle, "pending": sb.dispatcher.pending})


def _manual_payload(
    sb: Sandbox,
    txn: Transaction,
    outcome: str,
    message: str,
    forged: bool,
    fields: dict[str, Any] | None,
    clickpesa_form: dict[str, str],
) -> tuple[str, dict[str, Any]]:
    key = "forged-" + txn.ref if forged else None
    if txn.provider == "airtel":
        return sb.config.webhook_url("airtel"), airtel.callback_payload(
            sb, txn, outcome=outcome, message=message, key=key, fields=fields
        )
    if txn.provider == "mixx":
        url = mixx.callback_url(sb, token="forged" + txn.ref if forged else None)
        return url, mixx.callback_payload(txn, outcome=outcome, description=message, fields=fields)
    return sb.config.webhook_url(clickpesa.PROVIDER), clickpesa.webhook_payload(
        sb, txn, outcome=outcome, message=message, key=key, fields=fields, **clickpesa_form
    )


async def send_callback(request: Request) -> Response:
    """Deliver a hand-made callback for a known transaction (chaos and review tests).

    Body (all optional): ``{"outcome": "success"|"failed", "reason": "insufficient_funds",
    "message": "...", "amount": 123, "signature": "valid"|"invalid", "copies": 1,
    "delay_s": 0, "fields": {...}}``; ClickPesa also ``"checksum_method": "canonical"|"legacy"``
    and ``"event_field": "event"|"eventType"``. ``fields`` is merged into the provider's payload
    before it is signed (Airtel: into ``transaction``), objects recursively, ``null``
    removing a key: a correctly signed callback with malformed values. The sandbox's own
    record of the transaction is not changed.
    """
    sb = sandbox_of(request)
    provider = request.path_params["provider"]
    if provider == "mpesa":
        return _json(400, {"error": "M-Pesa single-stage C2B has no callbacks"})
    txn = sb.store.get(provider, request.path_params["ref"])
    if txn is None:
        return _json(404, {"error": "no such transaction"})
    try:
        body = await json_object(request) if await request.body() else {}
    except BadJson as exc:
        return _json(400, {"error": str(exc)})
    outcome = body.get("outcome", SUCCESS)
    if outcome not in (SUCCESS, FAILED):
        return _json(400, {"error": "outcome must be success or failed"})
    reason = str(body.get("reason") or "insufficient_funds")
    default_message = "success" if outcome == SUCCESS else _REASON_TEXT.get(reason, "Transaction failed")
    message = str(body.get("message") or default_message)
    copies = body.get("copies", 1)
    delay = body.get("delay_s", 0)
    amount = body.get("amount", txn.amount)
    if not isinstance(copies, int) or not 1 <= copies <= 50:
        return _json(400, {"error": "copies must be 1..50"})
    if not isinstance(delay, int | float) or not 0 <= delay <= 600:
        return _json(400, {"error": "delay_s must be 0..600"})
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        return _json(400, {"error": "amount must be a whole number"})
    fields = body.get("fields")
    if fields is not None and not isinstance(fields, dict):
        return _json(400, {"error": "fields must be an object"})
    checksum_method = body.get("checksum_method", "canonical")
    event_field = body.get("event_field", "event")
    if checksum_method not in ("canonical", "legacy") or event_field not in ("event", "eventType"):
        return _json(400, {"error": "checksum_method is canonical or legacy; event_field is event or eventType"})
    forged = body.get("signature", "valid") == "invalid"
    variant = dataclasses.replace(txn, amount=amount)
    form = {"checksum_method": str(checksum_method), "event_field": str(event_field)}
    url, payload = _manual_payload(sb, variant, outcome, message, forged, fields, form)
    sent = sb.dispatcher.schedule(
        provider=provider,
        ref=txn.ref,
        url=url,
        payload=payload,
        delay_s=float(delay),
        copies=copies,
        interval_s=sb.store.settings.duplicate_interval_s,
        kind="manual-forged" if forged else "manual",
    )
    return _json(202, {"deliveries": [d.id for d in sent]})


async def sms(request: Request) -> Response:
    """Every SMS the gateway accepted, oldest first; ``?to=<phone>`` filters (full phones:
    the log file masks them)."""
    sb = sandbox_of(request)
    to = request.query_params.get("to")
    return _json(200, [m.to_json() for m in sb.messages.sms if not to or m.to == to])


async def push(request: Request) -> Response:
    """Every push notification Expo accepted, oldest first; ``?to=<token>`` filters."""
    sb = sandbox_of(request)
    to = request.query_params.get("to")
    return _json(200, [m.to_json() for m in sb.messages.push if not to or m.to == to])


async def message_attempts(request: Request) -> Response:
    """Every attempt to reach a recipient, accepted or not: ``?channel=sms|push&to=…``."""
    sb = sandbox_of(request)
    q = request.query_params
    rows = [a for a in sb.messages.attempts if (not q.get("channel") or a["channel"] == q["channel"])]
    return _json(200, [a for a in rows if not q.get("to") or a["to"] == q["to"]])


async def message_script(request: Request) -> Response:
    """Script what the next attempts to reach one recipient do: ``{"to": phone or token,
    "outcomes": ["server_error", "accept"]}`` (``messages.SMS_OUTCOMES`` /
    ``PUSH_OUTCOMES``); later attempts are accepted."""
    sb = sandbox_of(request)
    channel = request.path_params["channel"]
    if channel not in ("sms", "push"):
        return _json(404, {"error": "not found"})
    try:
        body = await json_object(request)
    except BadJson as exc:
        return _json(400, {"error": str(exc)})
    to, outcomes = body.get("to"), body.get("outcomes")
    if not isinstance(to, str) or not isinstance(outcomes, list) or not all(isinstance(o, str) for o in outcomes):
        return _json(400, {"error": "give to (a phone or token) and outcomes (a list of names)"})
    try:
        sb.messages.script(channel, to, outcomes)
    except ValueError as exc:
        return _json(400, {"error": str(exc)})
    return _json(200, {"to": to, "outcomes": outcomes})


routes: list[BaseRoute] = [
    Route("/_sandbox", index, methods=["GET"]),
    Route("/_sandbox/scenarios", scenarios, methods=["GET"]),
    Route("/_sandbox/refund-scenarios", refund_scenarios, methods=["GET"]),
    Route("/_sandbox/payout-scenarios", payout_scenarios, methods=["GET"]),
    Route("/_sandbox/wallets", wallets, methods=["GET"]),
    Route("/_sandbox/wallets/{msisdn}", wallet, methods=["GET", "PUT", "DELETE"]),
    Route("/_sandbox/settings", settings, methods=["GET", "PUT", "PATCH", "POST"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/idle", idle, methods=["GET", "POST"]),
    Route("/_sandbox/transactions", transactions, methods=["GET"]),
    Route("/_sandbox/transactions/{provider}/{ref}", transaction, methods=["GET"]),
    Route("/_sandbox/transactions/{provider}/{ref}/callback", send_callback, methods=["POST"]),
    Route("/_sandbox/deliveries", deliveries, methods=["GET"]),
    Route("/_sandbox/payouts", payouts, methods=["GET"]),
    Route("/_sandbox/payouts/{provider}/{reference}/callback", send_payout_callback, methods=["POST"]),
    Route("/_sandbox/sms", sms, methods=["GET"]),
    Route("/_sandbox/push", push, methods=["GET"]),
    Route("/_sandbox/messages/attempts", message_attempts, methods=["GET"]),
    Route("/_sandbox/{channel:str}/script", message_script, methods=["POST"]),
]
