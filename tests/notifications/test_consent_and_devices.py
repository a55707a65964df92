"""Marketing needs the person's consent (PDPA 2022), stored with its time; payment and order
messages cannot be turned off. Devices are registered by their owner through the API."""

from __future__ import annotations

import datetime as dt

import pytest
from postgrest.exceptions import APIError

from tests.notifications.notices import Notices, new_token


def test_marketing_goes_out_only_with_consent(notices: Notices, marketing_type: str) -> None:
    person = notices.person()
    silent = notices.notify(person, marketing_type, {"vendor": "Kariakoo"})
    assert notices.deliveries(silent) == {}, "queued without consent"
    notices.consent(person, True)
    sent = notices.notify(person, marketing_type, {"vendor": "Kariakoo"})
    assert notices.settle(sent, ("push",))["push"]["status"] == "sent"
    assert "sms" not in notices.deliveries(sent)  # marketing never goes by SMS
    assert [p["title"] for p in notices.pushes(person.tokens[0])] == ["Ofa mubashara usiku huu"]
    # the inbox has both: consent is about messages reaching a closed app
    inbox = notices.db.execute(
        "select count(*) from public.notifications where user_id = %s and type = %s", [person.id, marketing_type]
    ).fetchone()
    assert inbox == (2,)


def test_consent_withdrawn_before_sending_stops_a_queued_marketing_message(
    notices: Notices, marketing_type: str
) -> None:
    """Queued while the person consented; withdrawn before the dispatcher claimed it."""
    person = notices.person()
    notices.consent(person, True)
    with notices.db.transaction():
        notification = notices.notify(person, marketing_type, {"vendor": "Zanzibar"})
        notices.db.execute("insert into public.marketing_consents (user_id, granted) values (%s, false)", [person.id])
    rows = notices.settle(notification, ("push",))
    assert (rows["push"]["status"], rows["push"]["last_error"]) == ("skipped", "no_consent")
    assert notices.pushes(person.tokens[0]) == []


def test_payment_and_order_messages_cannot_be_turned_off(notices: Notices) -> None:
    person = notices.person()
    notices.consent(person, True)
    notices.consent(person, False)  # says no to marketing
    shipped = {"carrier": "Boda", "center": "DAR", "tracking": "X"}
    for type_, params in (("payment_failed", {}), ("order_shipped", shipped)):
        rows = notices.settle(notices.notify(person, type_, params), ("push", "sms"))
        assert rows["push"]["status"] == rows["sms"]["status"] == "sent", type_
    assert len(notices.sms(person)) == 2 and len(notices.pushes(person.tokens[0])) == 2
    # what a message is (service or marketing) is not the person's to change
    with pytest.raises(APIError):
        person.customer.rest.schema("private").from_("notification_rules").select("*").execute()


def test_consent_is_recorded_with_its_time_once_per_change(notices: Notices) -> None:
    person = notices.person(devices=0)
    before = dt.datetime.now(dt.UTC)
    granted = notices.consent(person, True)
    assert granted["granted"] is True
    assert dt.datetime.fromisoformat(granted["since"]) >= before - dt.timedelta(seconds=2)
    assert notices.consent(person, True)["since"] == granted["since"], "the same answer twice is one record"
    withdrawn = notices.consent(person, False)
    assert withdrawn["granted"] is False and withdrawn["since"] > granted["since"]
    history = person.customer.rest.from_("marketing_consents").select("granted,created_at").order("created_at")
    rows = history.execute().data
    assert [r["granted"] for r in rows] == [True, False]
    bad = notices.market.rpc(person.customer, "set_marketing_consent", {"p_granted": None})
    assert bad.status_code == 422 and bad.json()["details"] == "invalid_consent"
    anon = notices.market.rpc(notices.target.anon_key, "set_marketing_consent", {"p_granted": True})
    assert anon.status_code == 401


def test_devices_are_registered_by_their_owner_and_move_with_the_token(notices: Notices) -> None:
    first, second = notices.person(devices=0), notices.person(devices=0)
    token = new_token()
    notices.register(first, token, "ios")
    assert [d["token"] for d in first.customer.rest.from_("push_devices").select("token").execute().data] == [token]
    assert second.customer.rest.from_("push_devices").select("token").execute().data == []
    notices.register(second, token, "android")  # the phone changed hands
    assert first.customer.rest.from_("push_devices").select("token").execute().data == []
    mine = second.customer.rest.from_("push_devices").select("id,platform,disabled_at").execute().data
    assert [(d["platform"], d["disabled_at"]) for d in mine] == [("android", None)]
    bad = notices.market.rpc(second.customer, "register_push_device", {"p_token": "not-a-token"})
    assert bad.status_code == 422 and bad.json()["details"] == "invalid_push_token"
    # the owner removes it (sign-out); pushes stop
    second.customer.rest.from_("push_devices").delete().eq("id", mine[0]["id"]).execute()
    assert notices.deliveries(notices.notify(second, "order_packed", {"center": "DAR"})).get("push") is None


def test_a_person_keeps_at_most_ten_devices(notices: Notices) -> None:
    person = notices.person(devices=0)
    tokens = [notices.register(person) for _ in range(11)]
    active = notices.db.execute(
        "select token from public.push_devices where user_id = %s and disabled_at is null", [person.id]
    ).fetchall()
    assert len(active) == 10 and (tokens[0],) not in active
