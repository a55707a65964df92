"""What the sandbox's messaging providers received: SMS (Beem) and Expo push notifications,
and the scripted answers tests ask for.

Every message the providers accept is recorded here (``/_sandbox/sms``, ``/_sandbox/push``)
and written as one JSON line to ``sms-gateway.log`` / ``push.log`` in the stack's log folder,
with the phone and the push token masked (``wats logs sms`` shows it). Outcomes are
scripted per recipient (``/_sandbox/sms/script``, ``/_sandbox/push/script``): each attempt
to reach that phone or token takes the next outcome of its script; without one, accepted.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: SMS outcomes (Beem): accepted; refused (not sent): our balance is short, the number is
#: invalid, a server error; accepted but the answer is lost (a proxy's 504, or no answer
#: before the client gives up).
SMS_OUTCOMES = ("accept", "refuse_balance", "refuse_number", "server_error", "proxy_timeout", "hang")
#: Push outcomes (Expo), per device token: accepted; the ticket says DeviceNotRegistered or
#: MessageRateExceeded (not sent); the whole request refused (429, 500 with Expo's errors);
#: accepted but the answer lost (504 from a proxy, or none in time); accepted, but the
#: receipt says the device is no longer registered.
PUSH_OUTCOMES = (
    "accept",
    "device_not_registered",
    "message_rate_exceeded",
    "too_many_requests",
    "server_error",
    "proxy_timeout",
    "hang",
    "receipt_device_not_registered",
)
#: Push outcomes that are about the whole request, not one device.
REQUEST_LEVEL = frozenset({"too_many_requests", "server_error", "proxy_timeout", "hang"})


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_token(token: str) -> str:
    """``ExponentPushToken[abcd…]``: the kind and the first four characters only."""
    head, _, rest = token.partition("[")
    return f"{head}[{rest[:4]}…]" if rest else "…"


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class SentSms:
    id: int
    request_id: int
    to: str
    sender: str
    text: str
    outcome: str
    time: str = field(default_factory=now_iso)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "to": self.to,
            "sender": self.sender,
            "text": self.text,
            "outcome": self.outcome,
            "time": self.time,
        }


@dataclass
class SentPush:
    id: int
    ticket: str
    to: str
    title: str
    body: str
    data: dict[str, Any]
    outcome: str
    #: delivered, or not_delivered when the receipt will say DeviceNotRegistered
    delivered: bool
    time: str = field(default_factory=now_iso)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ticket": self.ticket,
            "to": self.to,
            "title": self.title,
            "body": self.body,
            "data": self.data,
            "outcome": self.outcome,
            "delivered": self.delivered,
            "time": self.time,
        }


class Messages:
    """The messaging providers' memory (cleared by ``/_sandbox/reset``)."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.log_dir = log_dir
        self.sms: list[SentSms] = []
        self.push: list[SentPush] = []
        self.scripts: dict[tuple[str, str], deque[str]] = defaultdict(deque)
        #: Every attempt to reach a recipient (accepted or not), for tests.
        self.attempts: list[dict[str, Any]] = []
        self._next = 1
        self._request_id = 4_000_000 + secrets.randbelow(1_000_000)
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.sms.clear()
        self.push.clear()
        self.scripts.clear()
        self.attempts.clear()

    # -- scripts --------------------------------------------------------------------------
    def script(self, channel: str, recipient: str, outcomes: list[str]) -> None:
        allowed = SMS_OUTCOMES if channel == "sms" else PUSH_OUTCOMES
        for outcome in outcomes:
            if outcome not in allowed:
                raise ValueError(f"unknown {channel} outcome {outcome!r}: one of {', '.join(allowed)}")
        self.scripts[(channel, recipient)] = deque(outcomes)

    def next_outcome(self, channel: str, recipient: str) -> str:
        queue = self.scripts.get((channel, recipient))
        outcome = queue.popleft() if queue else "accept"
        self.attempts.append({"channel": channel, "to": recipient, "outcome": outcome, "time": now_iso()})
        return outcome

    def peek(self, channel: str, recipient: str) -> str:
        queue = self.scripts.get((channel, recipient))
        return queue[0] if queue else "accept"

    # -- records --------------------------------------------------------------------------
    def new_request_id(self) -> int:
        self._request_id += 1
        return self._request_id

    def record_sms(self, request_id: int, to: str, sender: str, text: str, outcome: str) -> SentSms:
        sms = SentSms(self._next, request_id, to, sender, text, outcome)
        self._next += 1
        self.sms.append(sms)
        self._log("sms-gateway.log", {**sms.to_json(), "to": mask_phone(to)})
        return sms

    def record_push(self, to: str, message: dict[str, Any], outcome: str) -> SentPush:
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        push = SentPush(
            self._next,
            f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}",
            to,
            str(message.get("title") or ""),
            str(message.get("body") or ""),
            dict(data or {}),
            outcome,
            delivered=outcome != "receipt_device_not_registered",
        )
        self._next += 1
        self.push.append(push)
        self._log("push.log", {**push.to_json(), "to": mask_token(to)})
        return push

    def by_ticket(self, ticket: str) -> SentPush | None:
        return next((p for p in self.push if p.ticket == ticket), None)

    def _log(self, name: str, record: dict[str, Any]) -> None:
        if self.log_dir is None:
            return
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with (self.log_dir / name).open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
