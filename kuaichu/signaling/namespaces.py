"""socket.io namespaces, one per role. The edge: validate, authorize, translate errors.

Every client→server event is acknowledged with ``{"ok": true, ...}`` or
``{"ok": false, "error": {...}}``; failures also raise a ``kc_error`` event so a client that did
not ask for an ack still learns what went wrong. See docs/protocol.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from ..auth import Accounts, Officer, token_from_cookie_header
from ..callcenter import DRIVER_NS, OFFICER_NS, SUPERVISOR_NS, CallCenter
from ..cases.errors import NotEligible
from ..errors import InvalidMessage, KuaichuError, NotAuthenticated, UnknownEvent
from . import schemas

logger = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[dict[str, Any] | None]]


class _Base(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, namespace: str, center: CallCenter, max_message_bytes: int) -> None:
        super().__init__(namespace)
        self.center = center
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
        return exc.as_dict()


class DriverNamespace(_Base):
    def __init__(self, center: CallCenter, max_message_bytes: int) -> None:
        super().__init__(DRIVER_NS, center, max_message_bytes)
        self.handlers = {
            "report": self._report,
            "location": self._location,
            "hangup": self._hangup,
            "sdp_answer": self._sdp_answer,
            "resume": self._resume,
        }

    def error_payload(self, exc: KuaichuError) -> dict[str, Any]:
        error = exc.as_dict()
        if isinstance(exc, NotEligible):
            # The page acts on these directly: why (reason), what to do (action), and the
            # message key with its parameters; "detail" stays for uniformity.
            error.update(
                {k: exc.detail[k] for k in ("reason", "reasons", "action", "advice", "params")}
            )
        return error

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        logger.debug("driver %s connected", sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        await self.center.driver_disconnected(sid)

    async def _report(self, sid: str, payload: Any) -> dict[str, Any]:
        call = await self.center.report(sid, schemas.parse_report(payload))
        return {
            "call_id": call.call_id,
            "case_id": call.case_id,
            "resume_token": call.resume_token,
            "progress_url": f"/p/{call.progress_token}" if call.progress_token else None,
        }

    async def _resume(self, sid: str, payload: Any) -> dict[str, Any]:
        call_id, token = schemas.parse_resume(payload)
        call = await self.center.resume(sid, call_id, token)
        return {"call_id": call.call_id, "case_id": call.case_id, "state": call.state}

    async def _location(self, sid: str, payload: Any) -> None:
        await self.center.driver_location(sid, schemas.parse_location(payload))

    async def _hangup(self, sid: str, payload: Any) -> None:
        schemas.parse_empty(payload)
        await self.center.driver_hangup(sid)

    async def _sdp_answer(self, sid: str, payload: Any) -> None:
        answer = schemas.parse_sdp_answer(payload, need_call_id=False)
        await self.center.driver_sdp_answer(sid, answer.sdp)


class _Authenticated(_Base):
    role: str | None = None

    def __init__(
        self, namespace: str, center: CallCenter, accounts: Accounts, max_message_bytes: int
    ) -> None:
        super().__init__(namespace, center, max_message_bytes)
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
        officer = self.officers.get(sid)
        if officer is None:
            raise NotAuthenticated("log in first")
        return officer


class OfficerNamespace(_Authenticated):
    def __init__(self, center: CallCenter, accounts: Accounts, max_message_bytes: int) -> None:
        super().__init__(OFFICER_NS, center, accounts, max_message_bytes)
        self.handlers = {
            "set_status": self._set_status,
            "accept": self._accept,
            "decline": self._decline,
            "sdp_answer": self._sdp_answer,
            "hangup": self._hangup,
            "capture": self._capture,
            "request_still": self._request_still,
        }

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        officer = await self._authenticate(environ)
        self.officers[sid] = officer
        await self.enter_room(sid, f"officer:{officer.id}")
        self.center.officer_connected(officer, sid)
        logger.info("officer %s connected (%s)", officer.username, sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        officer = self.officers.pop(sid, None)
        if officer is not None:
            logger.info("officer %s disconnected (%s)", officer.username, reason)
            await self.center.officer_disconnected(officer, sid)

    async def _set_status(self, sid: str, payload: Any) -> None:
        self.center.set_status(await self.officer(sid), schemas.parse_status(payload))

    async def _accept(self, sid: str, payload: Any) -> dict[str, Any]:
        call = await self.center.accept(await self.officer(sid), schemas.parse_call_id(payload))
        return {"call_id": call.call_id, "case_id": call.case_id}

    async def _decline(self, sid: str, payload: Any) -> None:
        await self.center.decline(await self.officer(sid), schemas.parse_call_id(payload))

    async def _sdp_answer(self, sid: str, payload: Any) -> None:
        answer = schemas.parse_sdp_answer(payload, need_call_id=True)
        assert answer.call_id is not None
        await self.center.officer_sdp_answer(await self.officer(sid), answer.call_id, answer.sdp)

    async def _hangup(self, sid: str, payload: Any) -> None:
        await self.center.officer_hangup(await self.officer(sid), schemas.parse_call_id(payload))

    async def _capture(self, sid: str, payload: Any) -> dict[str, Any]:
        call_id, kind = schemas.parse_capture(payload)
        return {"capture": await self.center.capture(await self.officer(sid), call_id, kind)}

    async def _request_still(self, sid: str, payload: Any) -> None:
        call_id, kind = schemas.parse_capture(payload)
        self.center.request_still(await self.officer(sid), call_id, kind)


class SupervisorNamespace(_Authenticated):
    role = "supervisor"

    def __init__(self, center: CallCenter, accounts: Accounts, max_message_bytes: int) -> None:
        super().__init__(SUPERVISOR_NS, center, accounts, max_message_bytes)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.officers[sid] = await self._authenticate(environ)
        await self.emit("wallboard", await self.center.wallboard(), to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.officers.pop(sid, None)
