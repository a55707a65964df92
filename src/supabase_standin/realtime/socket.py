"""One Realtime WebSocket: its channels, as ``RealtimeWeb.UserSocket`` and
``RealtimeWeb.RealtimeChannel`` serve them.

- ``heartbeat`` on ``phoenix`` is answered ``ok``;
- ``phx_join`` on ``realtime:<topic>`` checks the access token of the join (or the socket's
  apikey), and for a private channel (``config.private``) asks PostgreSQL whether that
  user may read the topic (:mod:`.authorization`); refused joins get Realtime's reasons;
- ``broadcast`` from the client is relayed to the topic's other subscribers (to the sender
  too with ``config.broadcast.self``), on a private channel only when the user may write
  (RLS again), acknowledged with ``config.broadcast.ack``;
- ``access_token`` replaces the channel's token and checks the topic again; a channel whose
  token expires or whose read permission is gone is shut down with a ``system`` message;
- ``phx_leave`` closes the channel.

Not served: Presence and Postgres Changes. A channel that asks for Postgres Changes is
joined (its broadcasts work) and told at once, by the ``system`` error message Realtime
sends when it cannot subscribe; presence messages are answered with an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from supabase_standin import keys
from supabase_standin.realtime import protocol
from supabase_standin.realtime.authorization import AuthorizationUnavailable, Context, Policies
from supabase_standin.realtime.broker import Message
from supabase_standin.realtime.protocol import Frame, ProtocolError

if TYPE_CHECKING:
    from supabase_standin.realtime.service import RealtimeService

log = logging.getLogger(__name__)

#: Frames waiting for a slow client before its socket is closed (Phoenix drops such sockets).
MAX_OUTGOING = 2000
#: How often a channel's token is looked at again (Realtime: every 5 minutes or at expiry).
CONFIRM_TOKEN_INTERVAL = 300.0
POSTGRES_CHANGES_NOT_SERVED = (
    "Postgres Changes are not served by the local Realtime stand-in (use Broadcast from the database)"
)
PRESENCE_NOT_SERVED = "Presence is not served by the local Realtime stand-in"


class TokenRefused(Exception):
    """A JWT Realtime does not accept; ``reason`` is its ``Code: message``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def confirm_token(secret: str, token: str) -> dict[str, Any]:
    """``confirm_token``: a valid HS256 JWT with ``role`` and a future integer ``exp``."""
    try:
        claims = keys.verify(secret, token.strip())
    except keys.ExpiredToken:
        try:
            import jwt

            exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
            ago = int(time.time() - exp) if isinstance(exp, int) else 0
        except Exception:
            ago = 0
        raise TokenRefused(f"InvalidJWTToken: Token has expired {ago} seconds ago") from None
    except keys.InvalidToken as exc:
        if "Signature" in str(exc):
            raise TokenRefused("JwtSignatureError: Failed to validate JWT signature") from None
        raise TokenRefused("MalformedJWT: The token provided is not a valid JWT") from None
    if not isinstance(claims.get("role"), str) or not isinstance(claims.get("exp"), int):
        raise TokenRefused("InvalidJWTToken: Fields `role` and `exp` are required in JWT")
    return claims


@dataclass(eq=False)
class Channel:
    """A joined channel: the socket's subscription to one topic."""

    socket: Socket
    topic: str
    join_ref: str | None
    private: bool
    token: str
    claims: dict[str, Any]
    self_broadcast: bool
    ack_broadcast: bool
    policies: Policies = field(default_factory=Policies)
    watch: asyncio.Task[None] | None = None

    @property
    def sub_topic(self) -> str:
        return self.topic.removeprefix("realtime:")

    def context(self) -> Context:
        return Context(self.sub_topic, str(self.claims["role"]), self.claims, self.socket.headers)

    def deliver(self, message: Message) -> None:
        """A broadcast of this topic: private channels get it only when the user may read."""
        if self.private and not self.policies.broadcast_read:
            return
        if self.socket.vsn == protocol.VSN_1 and not message.json:
            return  # a 1.0.0 client cannot receive binary payloads
        encoding = protocol.JSON_ENCODING if message.json else protocol.BINARY_ENCODING
        self.socket.enqueue(
            protocol.user_broadcast(self.socket.vsn, self.topic, message.event, message.body, encoding, message.meta)
        )


class Socket:
    def __init__(self, service: RealtimeService, vsn: str, tenant_token: str, headers: dict[str, str]) -> None:
        self.service = service
        self.vsn = vsn
        self.tenant_token = tenant_token
        self.headers = headers
        self.channels: dict[str, Channel] = {}
        self.outgoing: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.closed = asyncio.Event()

    # -- sending ------------------------------------------------------------------------------
    def enqueue(self, frame: str | bytes) -> None:
        if self.closed.is_set():
            return
        if self.outgoing.qsize() >= MAX_OUTGOING:
            log.warning("realtime: a client does not read its messages; closing its socket")
            self.close()
            return
        self.outgoing.put_nowait(frame)

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.outgoing.put_nowait(None)

    def reply(self, frame: Frame, status: str, response: Any) -> None:
        self.enqueue(protocol.reply(self.vsn, frame, status, response))

    def error(self, frame: Frame, reason: str) -> None:
        self.reply(frame, "error", {"reason": reason})

    def system(self, channel: Channel, status: str, message: str, extension: str = "system") -> None:
        payload = {"extension": extension, "status": status, "message": message, "channel": channel.sub_topic}
        self.enqueue(protocol.push(self.vsn, channel.topic, "system", payload))

    # -- receiving ----------------------------------------------------------------------------
    async def handle(self, raw: str | bytes) -> None:
        try:
            frame = (
                protocol.decode_text(self.vsn, raw) if isinstance(raw, str) else protocol.decode_binary(self.vsn, raw)
            )
        except ProtocolError as exc:
            log.info("realtime: dropped a malformed frame (%s)", exc)
            return
        if frame.topic == "phoenix":
            if frame.event == "heartbeat":
                self.reply(frame, "ok", {})
            return
        if frame.event == "phx_join":
            await self.join(frame)
            return
        channel = self.channels.get(frame.topic)
        if channel is None or (frame.join_ref is not None and channel.join_ref not in (None, frame.join_ref)):
            self.error(frame, "unmatched topic")
            return
        if frame.event == "phx_leave":
            self.reply(frame, "ok", {})
            self.drop(channel, notify=True)
        elif frame.event == "access_token":
            await self.refresh(channel, frame)
        elif frame.event == "broadcast":
            await self.relay(channel, frame)
        elif frame.event == "presence":
            self.error(frame, PRESENCE_NOT_SERVED)

    # -- join ---------------------------------------------------------------------------------
    async def join(self, frame: Frame) -> None:
        if not frame.topic.startswith("realtime:"):
            self.error(frame, "unmatched topic")
            return
        sub_topic = frame.topic.removeprefix("realtime:")
        if not sub_topic:
            self.error(frame, "TopicNameRequired: You must provide a topic name")
            return
        params = frame.payload if isinstance(frame.payload, dict) else {}
        config = params.get("config") if isinstance(params.get("config"), dict) else {}
        assert isinstance(config, dict)
        private = config.get("private") is True
        broadcast = config.get("broadcast") if isinstance(config.get("broadcast"), dict) else {}
        presence = config.get("presence") if isinstance(config.get("presence"), dict) else {}
        assert isinstance(broadcast, dict) and isinstance(presence, dict)
        changes = config.get("postgres_changes") if isinstance(config.get("postgres_changes"), list) else []
        assert isinstance(changes, list)
        token = params.get("access_token") or params.get("user_token")
        if not isinstance(token, str) or token.startswith("sb_"):
            token = self.tenant_token
        try:
            claims = confirm_token(self.service.jwt_secret, token)
        except TokenRefused as exc:
            self.error(frame, exc.reason)
            return
        existing = self.channels.get(frame.topic)
        if existing is not None:  # Phoenix closes the old channel on a duplicate join
            self.drop(existing, notify=True)
        channel = Channel(
            socket=self,
            topic=frame.topic,
            join_ref=frame.join_ref or frame.ref,
            private=private,
            token=token,
            claims=claims,
            self_broadcast=broadcast.get("self") is True,
            ack_broadcast=broadcast.get("ack") is True,
        )
        if private:
            try:
                channel.policies = await self.service.authorizer.read(
                    channel.context(), presence=presence.get("enabled") is True
                )
            except AuthorizationUnavailable:
                self.error(frame, "UnableToConnectToProject: Realtime was unable to connect to the project database")
                return
            if not (channel.policies.broadcast_read or channel.policies.presence_read):
                self.error(
                    frame, f"Unauthorized: You do not have permissions to read from this Channel topic: {sub_topic}"
                )
                return
        self.channels[frame.topic] = channel
        self.service.broker.subscribe(sub_topic, private, channel)
        bindings = [
            {
                "id": i + 1,
                "event": c.get("event"),
                "schema": c.get("schema"),
                "table": c.get("table"),
                "filter": c.get("filter"),
            }
            for i, c in enumerate(changes)
            if isinstance(c, dict)
        ]
        self.reply(frame, "ok", {"postgres_changes": bindings})
        if bindings:
            self.system(channel, "error", POSTGRES_CHANGES_NOT_SERVED, extension="postgres_changes")
        channel.watch = asyncio.create_task(self.watch_token(channel))

    def drop(self, channel: Channel, *, notify: bool) -> None:
        """The channel stops: unsubscribed, and ``phx_close`` sent when ``notify``."""
        if self.channels.get(channel.topic) is channel:
            del self.channels[channel.topic]
        self.service.broker.unsubscribe(channel.sub_topic, channel.private, channel)
        if channel.watch is not None and channel.watch is not asyncio.current_task():
            channel.watch.cancel()
        if notify:
            self.enqueue(protocol.push(self.vsn, channel.topic, "phx_close", {}, channel.join_ref))

    def shutdown(self, channel: Channel, message: str) -> None:
        """``shutdown_response``: a ``system`` error, then the channel closes."""
        self.system(channel, "error", message)
        self.drop(channel, notify=True)

    # -- tokens -------------------------------------------------------------------------------
    async def watch_token(self, channel: Channel) -> None:
        """Close the channel when its token expires (Realtime looks every 5 min or at ``exp``)."""
        while True:
            left = float(channel.claims["exp"]) - time.time()
            await asyncio.sleep(max(0.0, min(CONFIRM_TOKEN_INTERVAL, left)))
            try:
                channel.claims = confirm_token(self.service.jwt_secret, channel.token)
            except TokenRefused as exc:
                self.shutdown(channel, exc.reason.split(": ", 1)[-1])
                return

    async def refresh(self, channel: Channel, frame: Frame) -> None:
        token = frame.payload.get("access_token") if isinstance(frame.payload, dict) else None
        if not isinstance(token, str) or token.startswith("sb_") or token == channel.token:
            return
        try:
            claims = confirm_token(self.service.jwt_secret, token)
        except TokenRefused as exc:
            self.shutdown(channel, exc.reason.split(": ", 1)[-1])
            return
        before = channel.policies
        channel.token, channel.claims = token, claims
        if channel.private:
            try:
                channel.policies = await self.service.authorizer.read(
                    channel.context(), presence=before.presence_read is not None
                )
            except AuthorizationUnavailable:
                self.shutdown(channel, "Realtime was unable to connect to the project database")
                return
            if before.broadcast_read and not channel.policies.broadcast_read:
                topic = channel.sub_topic
                self.shutdown(channel, f"You no longer have permission to read from this Channel topic: {topic}")
                return
        if channel.watch is not None:
            channel.watch.cancel()
        channel.watch = asyncio.create_task(self.watch_token(channel))

    # -- broadcast from clients ---------------------------------------------------------------
    async def relay(self, channel: Channel, frame: Frame) -> None:
        if frame.binary is not None:
            event, body, encoding = frame.binary
            is_json = encoding == protocol.JSON_ENCODING
        else:
            payload = frame.payload if isinstance(frame.payload, dict) else {}
            named = payload.get("event")
            if not isinstance(named, str):
                return
            event = named
            body = json.dumps(payload.get("payload", {}), separators=(",", ":")).encode()
            is_json = True
        if channel.private:
            if channel.policies.broadcast_write is None:
                try:
                    channel.policies.broadcast_write = await self.service.authorizer.write(channel.context())
                except AuthorizationUnavailable:
                    return
            if not channel.policies.broadcast_write:
                return  # Realtime ignores it (no ack)
        message = Message(str(uuid.uuid4()), channel.sub_topic, event, channel.private, body, is_json)
        self.service.broker.publish(message, exclude=None if channel.self_broadcast else channel)
        if channel.ack_broadcast:
            self.reply(frame, "ok", {})

    # -- end ----------------------------------------------------------------------------------
    def release(self) -> None:
        """The connection is gone: every channel stops, silently."""
        for channel in list(self.channels.values()):
            self.drop(channel, notify=False)
        self.close()


async def writer(socket: Socket, send_text: Any, send_bytes: Any) -> None:
    """Sends the socket's queued frames in order until it closes."""
    while True:
        frame = await socket.outgoing.get()
        if frame is None:
            return
        with contextlib.suppress(Exception):
            if isinstance(frame, bytes):
                await send_bytes(frame)
            else:
                await send_text(frame)
