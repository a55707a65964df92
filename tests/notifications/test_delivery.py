"""Push and SMS through the real callers: a payment made through checkout-initiate and the
sandbox, notify-dispatch (the deployed Edge Function) sending through Expo's and Beem's
APIs as the sandbox speaks them. Each person gets each message once: under retries,
refusals, lost answers, concurrent dispatchers and a dispatcher killed mid-send."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import signal
import time

from tests.notifications.notices import Notices


def test_a_paid_order_reaches_the_customer_by_push_and_sms_once_in_swahili(notices: Notices) -> None:
    amina = notices.person(language="sw")
    checkout = notices.market.buy(amina.customer, "airtel")
    assert notices.market.wait_payment(checkout["payment_id"])["status"] == "succeeded"
    row = notices.db.execute(
        "select id::text from public.notifications where user_id = %s and type = 'order_paid'", [amina.id]
    ).fetchone()
    assert row is not None
    rows = notices.settle(row[0], ("push", "sms"))
    assert rows["push"]["status"] == rows["sms"]["status"] == "sent"
    [sms] = notices.sms(amina)
    [push] = notices.pushes(amina.tokens[0])
    assert sms["text"].startswith("WATS: Malipo yamepokelewa. Tumepokea TZS")
    assert sms["sender"] == "WATS"
    assert push["title"] == "Malipo yamepokelewa" and push["body"].startswith("Tumepokea TZS")
    assert push["data"]["type"] == "order_paid" and push["data"]["order_id"] == checkout["order_id"]
    for _ in range(3):  # the schedule keeps running: nothing is sent again
        notices.dispatch()
    assert len(notices.sms(amina)) == 1 and len(notices.pushes(amina.tokens[0])) == 1


def test_texts_are_in_each_persons_language(notices: Notices) -> None:
    english, swahili = notices.person(language="en"), notices.person(language="sw")
    for person in (english, swahili):
        notices.settle(notices.notify(person, "refund_succeeded", {"amount": 5000}), ("push", "sms"))
    assert [m["text"] for m in notices.sms(english)] == ["WATS: Refund sent. 5000 TZS was sent back to your phone."]
    assert [m["text"] for m in notices.sms(swahili)] == [
        "WATS: Pesa zimerejeshwa. TZS 5000 zimerudishwa kwenye simu yako."
    ]
    assert [p["title"] for p in notices.pushes(english.tokens[0])] == ["Refund sent"]
    assert [p["title"] for p in notices.pushes(swahili.tokens[0])] == ["Pesa zimerejeshwa"]


def test_only_the_events_that_matter_when_the_app_is_closed_go_by_sms(notices: Notices) -> None:
    person = notices.person()
    by_sms = {"order_paid", "payment_failed", "order_shipped", "refund_succeeded"}
    push_only = {"order_packed", "order_delivered", "return_requested"}
    params = {"amount": 1000, "center": "DAR", "carrier": "Boda", "tracking": "T1", "days": 7, "quantity": 1}
    ids = {t: notices.notify(person, t, params | {"title": "Kitenge"}) for t in sorted(by_sms | push_only)}
    for type_, notification in ids.items():
        rows = notices.settle(notification, ("push",))
        assert rows["push"]["status"] == "sent", type_
        assert ("sms" in rows) == (type_ in by_sms), f"{type_}: {rows}"
    assert len(notices.sms(person)) == len(by_sms)
    assert len(notices.pushes(person.tokens[0])) == len(by_sms | push_only)


def test_no_device_no_push_no_phone_no_sms(notices: Notices) -> None:
    person = notices.person(devices=0)
    notification = notices.notify(person, "order_shipped", {"carrier": "Boda", "center": "DAR", "tracking": "T"})
    rows = notices.settle(notification, ("sms",))
    assert set(rows) == {"sms"}
    notices.db.execute("update public.profiles set phone = null where id = %s", [person.id])
    try:
        assert notices.deliveries(notices.notify(person, "order_paid", {"amount": 1})) == {}
    finally:
        notices.db.execute("update public.profiles set phone = %s where id = %s", [person.phone, person.id])


def test_a_refused_sms_is_retried_with_backoff_then_sent_once(notices: Notices) -> None:
    person = notices.person(devices=0)
    notices.script("sms", person.phone, ["server_error", "refuse_balance", "accept"])
    notification = notices.notify(person, "payment_failed")
    first = notices.settle(notification, ("sms",))["sms"]
    assert (first["status"], first["attempts"]) == ("pending", 1)
    wait = first["next_attempt_at"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=20) < wait < dt.timedelta(seconds=40), wait  # 30 s, up to 20% more
    notices.dispatch()
    assert notices.deliveries(notification)["sms"]["attempts"] == 1, "retried before its time"
    notices.due_now(notification)
    second = notices.settle(notification, ("sms",), attempts=2)["sms"]
    assert (second["status"], second["attempts"]) == ("pending", 2)
    assert dt.timedelta(seconds=45) < second["next_attempt_at"] - dt.datetime.now(dt.UTC) < dt.timedelta(seconds=75)
    notices.due_now(notification)
    third = notices.settle(notification, ("sms",), attempts=3)["sms"]
    assert (third["status"], third["attempts"]) == ("sent", 3)
    assert third["provider_message_id"]
    assert notices.attempts("sms", person.phone) == ["server_error", "refuse_balance", "accept"]
    assert len(notices.sms(person)) == 1


def test_a_send_the_gateway_keeps_refusing_is_given_up(notices: Notices) -> None:
    person = notices.person(devices=0)
    notices.script("sms", person.phone, ["server_error"] * 6)
    notification = notices.notify(person, "payment_failed")
    for attempt in range(1, 7):
        row = notices.settle(notification, ("sms",), attempts=attempt)["sms"]
        assert row["attempts"] == attempt
        notices.due_now(notification)
    assert row["status"] == "failed"
    assert row["last_error"].startswith("gave_up after 6 attempts: beem 500")
    assert notices.sms(person) == []


def test_a_lost_answer_is_never_sent_again(notices: Notices) -> None:
    """Beem took the SMS but a proxy answered 504: it may have arrived, so it is not resent."""
    person = notices.person()
    notices.script("sms", person.phone, ["proxy_timeout"])
    notices.script("push", person.tokens[0], ["proxy_timeout"])
    notification = notices.notify(person, "order_paid", {"amount": 2500})
    rows = notices.settle(notification, ("push", "sms"))
    for channel in ("push", "sms"):
        assert rows[channel]["status"] == "failed"
        assert rows[channel]["last_error"].startswith("outcome_unknown: HTTP 504 without")
    for _ in range(2):
        notices.dispatch()
    assert len(notices.sms(person)) == 1 and len(notices.pushes(person.tokens[0])) == 1


def test_concurrent_dispatchers_send_each_message_once(notices: Notices) -> None:
    people = [notices.person() for _ in range(6)]
    notifications = [notices.notify(p, "order_shipped", {"carrier": "Boda", "center": "DAR", "tracking": "T9"})
                     for p in people for _ in range(2)]  # fmt: skip
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _i: notices.dispatch(limit=3), range(16)))
    for notification in notifications:
        notices.settle(notification, ("push", "sms"))
    for person in people:
        assert len(notices.sms(person)) == 2, person.phone
        assert len(notices.pushes(person.tokens[0])) == 2


def test_a_dispatcher_killed_mid_send_never_sends_twice(notices: Notices) -> None:
    """notify-dispatch is killed while Beem and Expo hold the request (the SMS and the push
    already went out). The claims stay until their lease ends, then are settled as sent or
    not — unknown — and never sent again."""
    person = notices.person()
    notices.script("sms", person.phone, ["hang"])
    notices.script("push", person.tokens[0], ["hang"])
    notification = notices.notify(person, "order_paid", {"amount": 7000})
    # the new notification woke the dispatcher (NOTIFY → the local stand-in for pg_net)
    notices.wait_for("the SMS and the push reach the gateway", lambda: notices.sms(person) and notices.pushes(
        person.tokens[0]))  # fmt: skip
    os.kill(notices.function_pid("notify-dispatch"), signal.SIGKILL)
    rows = notices.deliveries(notification)
    assert rows["sms"]["status"] == rows["push"]["status"] == "sending"
    notices.wait_for("notify-dispatch is back", lambda: _dispatches(notices), timeout=30)
    assert notices.deliveries(notification)["sms"]["status"] == "sending", "a live claim was taken over"
    notices.db.execute(
        "update private.notification_deliveries set claimed_at = now() - interval '301 seconds' "
        "where notification_id = %s",
        [notification],
    )
    notices.dispatch()
    rows = notices.deliveries(notification)
    for channel in ("push", "sms"):
        assert rows[channel]["status"] == "failed", rows
        assert rows[channel]["last_error"].startswith("outcome_unknown: the dispatcher stopped")
    time.sleep(0.5)
    notices.dispatch()
    assert len(notices.sms(person)) == 1 and len(notices.pushes(person.tokens[0])) == 1


def _dispatches(notices: Notices) -> bool:
    r = notices.http.post(
        f"{notices.target.url}/functions/v1/notify-dispatch",
        json={},
        headers={"Authorization": f"Bearer {notices.target.service_role_key}"},
        timeout=30,
    )
    return r.status_code == 200


def test_a_dispatcher_that_died_right_after_claiming_leaves_a_visible_failure(notices: Notices) -> None:
    """The claim committed, the dispatcher died before sending: nothing went out, and the
    send is reported failed (unknown) after the lease rather than risk a second message."""
    person = notices.person(devices=0)
    notification = notices.notify(person, "order_shipped", {"carrier": "Boda", "center": "DAR", "tracking": "T2"})
    claimed = []
    deadline = time.monotonic() + 10
    while not claimed and time.monotonic() < deadline:
        r = notices.market.service_rpc("claim_notification_deliveries", {"p_limit": 500})
        assert r.status_code == 200, r.text
        claimed = [d for d in r.json() if d["notification_id"] == notification]
    if not claimed:  # the woken dispatcher was quicker: nothing to simulate, it was sent once
        assert len(notices.sms(person)) == 1
        return
    notices.dispatch()
    assert notices.deliveries(notification)["sms"]["status"] == "sending"
    notices.db.execute(
        "update private.notification_deliveries set claimed_at = now() - interval '10 minutes' "
        "where notification_id = %s",
        [notification],
    )
    notices.dispatch()
    row = notices.deliveries(notification)["sms"]
    assert row["status"] == "failed" and row["last_error"].startswith("outcome_unknown")
    assert notices.sms(person) == []
    late = notices.market.service_rpc(
        "record_notification_delivery",
        {"p_delivery_id": claimed[0]["delivery_id"], "p_claim_id": claimed[0]["claim_id"], "p_outcome": "sent"},
    )
    assert late.status_code == 200 and late.json() == {"recorded": False, "status": "failed"}


def test_a_gone_device_is_disabled_and_no_longer_pushed_to(notices: Notices) -> None:
    person = notices.person(devices=2)
    gone, kept = person.tokens
    notices.script("push", gone, ["device_not_registered"])
    first = notices.notify(person, "order_packed", {"center": "DAR"})
    assert notices.settle(first, ("push",))["push"]["status"] == "sent"
    disabled = notices.db.execute(
        "select token, disabled_reason from public.push_devices where user_id = %s and disabled_at is not null",
        [person.id],
    ).fetchall()
    assert disabled == [(gone, "DeviceNotRegistered")]
    second = notices.notify(person, "order_delivered", {"days": 7})
    notices.settle(second, ("push",))
    assert len(notices.pushes(kept)) == 2 and notices.pushes(gone) == []
    assert notices.attempts("push", gone) == ["device_not_registered"]


def test_a_rate_limited_device_is_retried_alone(notices: Notices) -> None:
    person = notices.person(devices=2)
    busy, calm = person.tokens
    notices.script("push", busy, ["message_rate_exceeded", "accept"])
    notification = notices.notify(person, "order_packed", {"center": "DAR"})
    row = notices.settle(notification, ("push",))["push"]
    assert row["status"] == "pending" and len(row["push_tickets"]) == 1
    notices.due_now(notification)
    row = notices.settle(notification, ("push",), attempts=2)["push"]
    assert row["status"] == "sent" and len(row["push_tickets"]) == 2
    assert len(notices.pushes(busy)) == 1 and len(notices.pushes(calm)) == 1


def test_expo_receipts_disable_devices_that_are_gone(notices: Notices) -> None:
    person = notices.person()
    notices.script("push", person.tokens[0], ["receipt_device_not_registered"])
    notification = notices.notify(person, "order_packed", {"center": "DAR"})
    assert notices.settle(notification, ("push",))["push"]["status"] == "sent"
    notices.db.execute(
        "update private.notification_deliveries set sent_at = now() - interval '16 minutes' "
        "where notification_id = %s and channel = 'push'",
        [notification],
    )
    notices.wait_for(
        "the receipt is read",
        lambda: notices.dispatch() and notices.db.execute(
            "select disabled_reason from public.push_devices where token = %s", [person.tokens[0]]
        ).fetchone() == ("DeviceNotRegistered",),
    )  # fmt: skip
    checked = notices.db.execute(
        "select receipts_checked_at is not null from private.notification_deliveries "
        "where notification_id = %s and channel = 'push'",
        [notification],
    ).fetchone()
    assert checked == (True,)


def test_the_sms_log_shows_masked_phones_only(notices: Notices) -> None:
    person = notices.person(devices=0)
    notices.settle(notices.notify(person, "order_paid", {"amount": 300}), ("sms",))
    log = notices.target.settings.log_dir / "sms-gateway.log"
    text = log.read_text()
    masked = person.phone[:3] + "****" + person.phone[-4:]
    assert masked in text and person.phone not in text
    push_log = (notices.target.settings.log_dir / "push.log").read_text()
    assert "ExponentPushToken[test…]" in push_log
    assert not any(token in push_log for token in _all_tokens(notices))


def _all_tokens(notices: Notices) -> list[str]:
    return [r[0] for r in notices.db.execute("select token from public.push_devices").fetchall()]
