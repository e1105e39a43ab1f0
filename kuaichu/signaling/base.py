"""What every namespace shares: the acknowledgement envelope and the error translation, and
for the officers' namespaces the session cookie check.

Every client→server event is acknowledged with ``{"ok": true, ...}`` or
``{"ok": false, "error": {...}}``; failures also raise a ``kc_error`` event so a client that did
not ask for an ack still learns what went wrong. See docs/protocol.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from socketio import packet

from ..accounts.model import Officer, Role
from ..accounts.service import Accounts
from ..accounts.web import token_from_cookie_header
from ..errors import InvalidMessage, KuaichuError, NotAuthenticated, UnknownEvent
from . import schemas

logger = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[dict[str, Any] | None]]

# Events only the server raises (a connection made or lost): a client sending one by name is
# refused, never run.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})


class _Malformed:
    """The payload of a packet that did not decode, kept so the event can be refused."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Packet(packet.Packet):  # type: ignore[misc]
    """socket.io's packet, except that a payload that is not JSON (or nests too deep for
    the decoder) does not raise out of the transport, where it would be a traceback and no
    answer: the packet keeps its namespace and ack id, and its data says what was wrong."""

    def decode(self, encoded_packet: Any) -> int:
        try:
            count: int = super().decode(encoded_packet)
        except RecursionError:
            self._malformed("the message nests too deep")
            return 0
        except (ValueError, TypeError):
            self._malformed("the message is not a valid socket.io packet")
            return 0
        return count

    def _malformed(self, reason: str) -> None:
        is_event = self.packet_type in (packet.EVENT, packet.BINARY_EVENT)
        self.data = _Malformed(reason) if is_event else None


def _event_problem(data: Any) -> str | None:
    """Why an event packet's data is not ``[name, payload...]`` with a name a client may send."""
    if isinstance(data, _Malformed):
        return data.reason
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return "an event is a list: its name, then one JSON object"
    if data[0] in RESERVED_EVENTS:
        return f"the event {data[0]!r} is the server's own and cannot be sent"
    return None


class SignalingServer(socketio.AsyncServer):  # type: ignore[misc]
    """The socket.io server, refusing what does not decode as an event: a malformed packet,
    an event that is not ``[name, payload]``, or a client sending ``connect``/``disconnect``
    by name gets the ``{"ok": false}`` ack (when it asked for one) and a ``kc_error``, and
    one log line, never a traceback."""

    def __init__(self, **options: Any) -> None:
        super().__init__(serializer=_Packet, **options)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError) as exc:
            # An unknown packet type or an unexpected binary attachment: nothing to answer.
            logger.info("malformed socket.io packet from %s refused: %s", eio_sid, exc)

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, ack_id: Any, data: Any
    ) -> None:
        problem = _event_problem(data)
        if problem is None:
            await super()._handle_event(eio_sid, namespace, ack_id, data)
            return
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            logger.info("event on %s from unconnected %s ignored: %s", namespace, eio_sid, problem)
            return
        event = data[0][:40] if isinstance(data, list) and data and isinstance(data[0], str) else ""
        logger.info("%s %s from %s refused: %s", namespace, event or "(malformed)", sid, problem)
        error = InvalidMessage(problem).as_dict()
        await self.emit("kc_error", {**error, "event": event}, to=sid, namespace=namespace)
        if isinstance(ack_id, int):
            answer = {"ok": False, "error": error}
            await self._send_packet(
                eio_sid,
                self.packet_class(packet.ACK, namespace=namespace, id=ack_id, data=[answer]),
            )


class BaseNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Dispatches events to ``handlers`` and wraps each result in the ack envelope."""

    def __init__(self, namespace: str, max_message_bytes: int) -> None:
        super().__init__(namespace)
        self.max_message_bytes = max_message_bytes
        self.handlers: dict[str, Handler] = {}

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        try:
            handler = self.handlers.get(event)
            if handler is None:
                raise UnknownEvent(f"unknown event {event[:40]!r} on {self.namespace}")
            if len(args) > 2:
                raise InvalidMessage("send exactly one JSON object per event")
            payload = args[1] if len(args) == 2 else None
            schemas.check_size(payload, self.max_message_bytes)
            result = await handler(sid, payload)
            return {"ok": True, **(result or {})}
        except KuaichuError as exc:
            logger.info("%s %s from %s refused: %s", self.namespace, event[:40], sid, exc.code)
            error = self.error_payload(exc)
            await self.emit("kc_error", {**error, "event": event[:40]}, to=sid)
            return {"ok": False, "error": error}
        except Exception:
            logger.exception("%s %s from %s failed", self.namespace, event[:40], sid)
            error = {"code": "internal", "message": "internal error"}
            await self.emit("kc_error", {**error, "event": event[:40]}, to=sid)
            return {"ok": False, "error": error}

    def error_payload(self, exc: KuaichuError) -> dict[str, Any]:
        """The ``error`` object of a refusal (a namespace may add fields its page uses)."""
        return exc.as_dict()


class AuthenticatedNamespace(BaseNamespace):
    """A namespace for logged-in officers (optionally of one role), by session cookie."""

    role: Role | None = None

    def __init__(self, namespace: str, accounts: Accounts, max_message_bytes: int) -> None:
        super().__init__(namespace, max_message_bytes)
        self.accounts = accounts
        self.officers: dict[str, Officer] = {}

    async def _authenticate(self, environ: dict[str, Any]) -> Officer:
        token = token_from_cookie_header(environ.get("HTTP_COOKIE"))
        officer = await self.accounts.officer_for_token(token)
        if officer is None:
            err = NotAuthenticated("log in first").as_dict()
            raise socketio.exceptions.ConnectionRefusedError(err["message"], err)
        if officer.role == Role.INSURER and self.role != Role.INSURER:
            # An insurer's staff never join a police namespace (issue 13).
            message = "for police accounts only"
            raise socketio.exceptions.ConnectionRefusedError(
                message, {"code": "forbidden", "message": message}
            )
        if self.role and officer.role != self.role:
            message = f"requires the {self.role} role"
            raise socketio.exceptions.ConnectionRefusedError(
                message, {"code": "forbidden", "message": message}
            )
        return officer

    async def officer(self, sid: str) -> Officer:
        """The officer behind a connected socket (NotAuthenticated if unknown)."""
        officer = self.officers.get(sid)
        if officer is None:
            raise NotAuthenticated("log in first")
        return officer
