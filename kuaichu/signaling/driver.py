"""The drivers' namespace: report, location, hang-up, media answer, resume."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from ..calls.center import CallCenter
from ..cases.errors import NotEligible
from ..errors import InvalidMessage, KuaichuError
from . import schemas
from .base import BaseNamespace
from .rooms import DRIVER_NS

logger = logging.getLogger(__name__)


_CALLBACK_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def parse_callback(data: Any) -> tuple[str, schemas.Location | None]:
    """``{"token", "location"?}``: a driver page answering an officer's video callback link
    (issue 13, kuaichu.photoreports.callbacks); the token has the link's shape."""
    if not isinstance(data, dict):
        raise InvalidMessage("payload must be a JSON object")
    extra = set(data) - {"token", "location"}
    if extra:
        raise InvalidMessage(f"unexpected field(s): {', '.join(sorted(extra))}")
    token = data.get("token")
    if not isinstance(token, str) or not _CALLBACK_TOKEN.fullmatch(token):
        raise InvalidMessage("token is missing or malformed", field="token")
    raw = data.get("location")
    return token, schemas.parse_location(raw) if raw is not None else None


class DriverNamespace(BaseNamespace):
    """A driver's phone page: anonymous; the call's resume token is its session."""

    def __init__(
        self,
        center: CallCenter,
        max_message_bytes: int,
        *,
        admit: Callable[[], None] | None = None,
    ) -> None:
        """``admit()`` raises when no new call may be taken (the recordings disk is full:
        kuaichu.storage.diskspace.DiskWatch.admit)."""
        super().__init__(DRIVER_NS, max_message_bytes)
        self.center = center
        self.admit = admit
        self.handlers = {
            "report": self._report,
            "location": self._location,
            "hangup": self._hangup,
            "sdp_answer": self._sdp_answer,
            "resume": self._resume,
            "media_restart": self._media_restart,
            "callback": self._callback,  # issue 13: an officer's video callback link
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
        report = schemas.parse_report(payload)
        if self.admit is not None:
            self.admit()
        call = await self.center.report(sid, report)
        return {
            "call_id": call.call_id,
            "case_id": call.case_id,
            "resume_token": call.resume_token,
            "progress_url": f"/p/{call.progress_token}" if call.progress_token else None,
        }

    async def _callback(self, sid: str, payload: Any) -> dict[str, Any]:
        """The page opened an officer's video callback link: a call in that case."""
        token, location = parse_callback(payload)
        if self.admit is not None:
            self.admit()
        call = await self.center.callback(sid, token, location)
        return {
            "call_id": call.call_id,
            "case_id": call.case_id,
            "resume_token": call.resume_token,
            "progress_url": None,
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

    async def _media_restart(self, sid: str, payload: Any) -> dict[str, Any]:
        # issue 9: the page's connection went disconnected/failed; a fresh leg is offered
        # (restarted: false when one is on its way already).
        reason = schemas.parse_media_restart(payload)
        return {"restarted": await self.center.media.restart_driver(sid, reason)}
