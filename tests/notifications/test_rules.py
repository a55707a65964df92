"""Every notification type says where it goes (private.notification_rules), so none is sent
as marketing by accident or kept from SMS by a forgotten rule."""

from __future__ import annotations

import psycopg


def test_every_notification_type_has_a_rule_and_every_rule_a_type(db: psycopg.Connection) -> None:
    texts = {r[0] for r in db.execute("select distinct type from private.notification_texts").fetchall()}
    rules = {r[0] for r in db.execute("select type from private.notification_rules").fetchall()}
    # a type of the tests' own (tests/notifications/conftest.py) may come and go meanwhile
    texts.discard("test_marketing_offer")
    rules.discard("test_marketing_offer")
    assert texts - rules == set(), f"types without a rule in private.notification_rules: {sorted(texts - rules)}"
    assert rules - texts == set(), f"rules for types without texts: {sorted(rules - texts)}"


def test_sms_only_for_service_messages(db: psycopg.Connection) -> None:
    """Marketing never goes by SMS; the SMS events are the ones that matter when the app is
    closed: payment received or failed, order dispatched, refund sent, instalment due."""
    rows = db.execute("select type, purpose from private.notification_rules where sms").fetchall()
    assert all(purpose == "service" for _type, purpose in rows), rows
    assert {t for t, _p in rows} >= {"order_paid", "payment_failed", "order_shipped", "refund_succeeded"}
