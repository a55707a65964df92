"""Users and identities as GoTrue serialises them (``models.User`` / ``models.Identity``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: GoTrue stores every row with the nil instance id and only finds rows that carry it.
NIL_INSTANCE = "00000000-0000-0000-0000-000000000000"


def go_time(value: datetime | None) -> str | None:
    """A timestamp as Go's ``time.Time`` marshals it (RFC 3339, trailing zeros trimmed)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += ("." + f"{value.microsecond:06d}").rstrip("0")
    return text + "Z"


def go_map(value: Any) -> Any:
    """A JSON value as Go marshals a ``map[string]interface{}``: object keys sorted."""
    if isinstance(value, dict):
        return {key: go_map(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [go_map(item) for item in value]
    return value


@dataclass
class Identity:
    row: dict[str, Any]

    @property
    def provider(self) -> str:
        return str(self.row["provider"])

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.row.get("identity_data") or {})

    def to_json(self) -> dict[str, Any]:
        r = self.row
        out: dict[str, Any] = {"identity_id": str(r["id"]), "id": r["provider_id"], "user_id": str(r["user_id"])}
        if r.get("identity_data"):
            out["identity_data"] = go_map(r["identity_data"])
        out["provider"] = r["provider"]
        if r.get("last_sign_in_at") is not None:
            out["last_sign_in_at"] = go_time(r["last_sign_in_at"])
        out["created_at"] = go_time(r.get("created_at")) or "0001-01-01T00:00:00Z"
        out["updated_at"] = go_time(r.get("updated_at")) or "0001-01-01T00:00:00Z"
        if r.get("email"):
            out["email"] = r["email"]
        return out


@dataclass
class User:
    """An ``auth.users`` row, with its identities when they were loaded."""

    row: dict[str, Any]
    identities: list[Identity] | None = field(default=None)

    @property
    def id(self) -> str:
        return str(self.row["id"])

    @property
    def phone(self) -> str:
        return self.row.get("phone") or ""

    @property
    def email(self) -> str:
        return self.row.get("email") or ""

    @property
    def aud(self) -> str:
        return self.row.get("aud") or ""

    @property
    def role(self) -> str:
        return self.row.get("role") or ""

    @property
    def app_metadata(self) -> dict[str, Any]:
        return dict(self.row.get("raw_app_meta_data") or {})

    @property
    def user_metadata(self) -> dict[str, Any]:
        return dict(self.row.get("raw_user_meta_data") or {})

    @property
    def is_anonymous(self) -> bool:
        return bool(self.row.get("is_anonymous"))

    @property
    def phone_confirmed(self) -> bool:
        return self.row.get("phone_confirmed_at") is not None

    def is_banned(self, now: datetime) -> bool:
        until = self.row.get("banned_until")
        return until is not None and now < until

    def to_json(self) -> dict[str, Any]:
        r = self.row
        out: dict[str, Any] = {"id": self.id, "aud": self.aud, "role": self.role, "email": self.email}
        self._time(out, "email_confirmed_at")
        self._time(out, "invited_at")
        out["phone"] = self.phone
        self._time(out, "phone_confirmed_at")
        self._time(out, "confirmation_sent_at")
        self._time(out, "confirmed_at")
        self._time(out, "recovery_sent_at")
        if r.get("email_change"):
            out["new_email"] = r["email_change"]
        self._time(out, "email_change_sent_at")
        if r.get("phone_change"):
            out["new_phone"] = r["phone_change"]
        self._time(out, "phone_change_sent_at")
        self._time(out, "reauthentication_sent_at")
        self._time(out, "last_sign_in_at")
        out["app_metadata"] = go_map(r.get("raw_app_meta_data"))
        out["user_metadata"] = go_map(r.get("raw_user_meta_data"))
        out["identities"] = None if self.identities is None else [i.to_json() for i in self.identities]
        out["created_at"] = go_time(r.get("created_at")) or "0001-01-01T00:00:00Z"
        out["updated_at"] = go_time(r.get("updated_at")) or "0001-01-01T00:00:00Z"
        self._time(out, "banned_until")
        self._time(out, "deleted_at")
        out["is_anonymous"] = self.is_anonymous
        return out

    def _time(self, out: dict[str, Any], column: str) -> None:
        value = self.row.get(column)
        if value is not None:
            out[column] = go_time(value)

    def audit_actor(self) -> dict[str, Any]:
        """The ``actor_*`` part of an audit log payload for this user."""
        username = self.phone or self.email
        payload: dict[str, Any] = {
            "actor_id": self.id,
            "actor_via_sso": bool(self.row.get("is_sso_user")),
            "actor_username": username,
        }
        name = self.user_metadata.get("full_name")
        if name is not None:
            payload["actor_name"] = name
        return payload
