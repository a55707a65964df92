"""The demo's messages: Amina's app registers its Expo push token through the API at the
start, and at the end the demo prints what reached her phone while the app was closed —
the SMS the sandbox's Beem gateway took and the pushes its Expo service took, in her
language, each once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from supabase import Client

from wats.demo.api import Stack
from wats.demo.show import DemoFailed, expect, show, step

#: The demo phone's push token (stable, so demo after demo it is the same device).
DEMO_TOKEN = "ExponentPushToken[wats-demo-amina]"


@dataclass(frozen=True)
class Device:
    """Amina's phone as the messaging providers know it, and what they had before the demo."""

    msisdn: str
    token: str
    sms_before: int
    push_before: int


def sandbox(stack: Stack, path: str, **params: str) -> list[dict[str, Any]]:
    answer = stack.http.get(f"{stack.settings.sandbox_url}{path}", params=params)
    answer.raise_for_status()
    return [dict(m) for m in answer.json()]


def register_device(stack: Stack, customer: Client, msisdn: str) -> Device:
    step("Amina's app registers its Expo push token (rpc register_push_device, as Amina)")
    answer = customer.rpc("register_push_device", {"p_token": DEMO_TOKEN, "p_platform": "android"}).execute().data
    if not isinstance(answer, dict) or "device_id" not in answer:
        raise DemoFailed(f"register_push_device answered {answer!r}")
    show("device", f"{answer['device_id']} ({answer['platform']})")
    return Device(
        msisdn,
        DEMO_TOKEN,
        len(sandbox(stack, "/_sandbox/sms", to=msisdn)),
        len(sandbox(stack, "/_sandbox/push", to=DEMO_TOKEN)),
    )


def clock(stamp: str) -> str:
    return stamp[11:19] if len(stamp) >= 19 else stamp


def show_messages(stack: Stack, device: Device) -> None:
    """Let notify-dispatch finish (it is woken by every notification; run once more as the
    schedule does), then print the SMS and pushes that reached Amina's phone."""
    step("What reached Amina's phone while the app was closed (the sandbox's Beem SMS and Expo push)")
    settled, deadline = None, time.monotonic() + 30
    while True:
        stack.job("notify-dispatch")
        counts = (
            len(sandbox(stack, "/_sandbox/sms", to=device.msisdn)),
            len(sandbox(stack, "/_sandbox/push", to=device.token)),
        )
        if counts == settled or time.monotonic() > deadline:
            break
        settled = counts
        time.sleep(1.0)
    sms = sandbox(stack, "/_sandbox/sms", to=device.msisdn)[device.sms_before :]
    pushes = sandbox(stack, "/_sandbox/push", to=device.token)[device.push_before :]
    masked = device.msisdn[:3] + "****" + device.msisdn[-4:]
    show("SMS", f"{len(sms)} to {masked} (payments, dispatch, refunds: what matters with the app closed)")
    for message in sms:
        print(f"      {clock(message['time'])}  [{message['sender']}] {message['text']}", flush=True)
    show("push", f"{len(pushes)} to her phone (every notification of her inbox)")
    for message in pushes:
        print(f"      {clock(message['time'])}  {message['title']} — {message['body']}", flush=True)
    expect(bool(sms) and bool(pushes), "no SMS or push reached Amina's phone")
    expect(any("Malipo yamepokelewa" in m["text"] for m in sms), "no Swahili payment SMS (Amina reads Kiswahili)")
