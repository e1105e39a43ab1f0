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

from ..accounts.model import Officer, Role
from ..accounts.service import Accounts
from ..accounts.web import token_from_cookie_header
from ..errors import InvalidMessage, KuaichuError, NotAuthenticated, UnknownEvent
from . import schemas

logger = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[dict[str, Any] | None]]


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
