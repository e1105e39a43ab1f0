"""The officers' namespace: status, offers, media answer, hang-up, evidence requests."""

from __future__ import annotations

import logging
from typing import Any

from ..accounts.service import Accounts
from ..calls.center import CallCenter
from ..evidence.call_capture import CallCapture
from ..storage.diskspace import DiskWatch
from . import schemas
from .base import AuthenticatedNamespace
from .rooms import OFFICER_NS, officer_room

logger = logging.getLogger(__name__)


class OfficerNamespace(AuthenticatedNamespace):
    """An officer's console; each tab joins the officer's room."""

    def __init__(
        self,
        center: CallCenter,
        evidence: CallCapture,
        accounts: Accounts,
        max_message_bytes: int,
        *,
        disk: DiskWatch | None = None,
    ) -> None:
        """``disk``: a console that connects while the recordings disk is full is told."""
        super().__init__(OFFICER_NS, accounts, max_message_bytes)
        self.center = center
        self.evidence = evidence
        self.disk = disk
        self.handlers = {
            "set_status": self._set_status,
            "accept": self._accept,
            "decline": self._decline,
            "sdp_answer": self._sdp_answer,
            "hangup": self._hangup,
            "capture": self._capture,
            "request_still": self._request_still,
            "resume": self._resume,
            "wrapup_hold": self._wrapup_hold,  # issue 12
        }

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        officer = await self._authenticate(environ)
        self.officers[sid] = officer
        await self.enter_room(sid, officer_room(officer.id))
        self.center.officer_connected(officer, sid)
        if self.disk is not None and self.disk.low:
            await self.emit("disk_space", self.disk.state(), to=sid)
        logger.info("officer %s connected (%s)", officer.username, sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        officer = self.officers.pop(sid, None)
        if officer is not None:
            logger.info("officer %s disconnected (%s)", officer.username, reason)
            await self.center.officer_disconnected(officer, sid)

    async def _set_status(self, sid: str, payload: Any) -> None:
        self.center.set_status(await self.officer(sid), schemas.parse_status(payload))

    async def _wrapup_hold(self, sid: str, payload: Any) -> None:
        self.center.hold_wrapup(await self.officer(sid), schemas.parse_wrapup_hold(payload))

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

    async def _resume(self, sid: str, payload: Any) -> dict[str, Any]:
        call_id, token = schemas.parse_resume(payload)
        call = await self.center.officer_resume(await self.officer(sid), call_id, token)
        return {"call_id": call.call_id, "case_id": call.case_id, "answered_at": call.answered_at}

    async def _capture(self, sid: str, payload: Any) -> dict[str, Any]:
        call_id, kind = schemas.parse_capture(payload)
        return {"capture": await self.evidence.capture(await self.officer(sid), call_id, kind)}

    async def _request_still(self, sid: str, payload: Any) -> None:
        call_id, kind = schemas.parse_capture(payload)
        self.evidence.request_still(await self.officer(sid), call_id, kind)
