"""Evidence during a live call: the officer's capture, the low-rate plate patrol and the
phone stills the officer asks the driver for.

Each stored still goes through :class:`~kuaichu.evidence.captures.CaptureDesk` (file, hash, row,
manifest, trail); this module knows the call: whose it is, whether its video is up, and
where the result is shown.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
from pathlib import Path
from typing import Any, Protocol

from ..accounts.model import Officer
from ..calls.fanout import CallFanout
from ..calls.model import Call, CallState
from ..calls.sessions import CallRegistry
from ..errors import Conflict, InvalidMessage, KuaichuError, NotFound
from ..storage.casefiles import StoredForm
from .captures import CallFacts, CaptureDesk, CaptureView
from .kinds import CAPTURE_KINDS
from .plate_check import PlateCheck, plate_check

logger = logging.getLogger(__name__)


class CaseForms(Protocol):
    """The case forms, for the plates the parties declared (kuaichu.storage.casefiles)."""

    async def form(self, case_id: str) -> StoredForm: ...


def _check_kind(kind: str) -> None:
    if kind not in CAPTURE_KINDS:
        raise InvalidMessage(f"kind must be one of {', '.join(CAPTURE_KINDS)}", field="kind")


class CallCapture:
    """Stills from a live call, and plates proposed from it."""

    def __init__(
        self,
        sessions: CallRegistry,
        fanout: CallFanout,
        captures: CaptureDesk,
        forms: CaseForms,
        *,
        auto_plate_seconds: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self.fanout = fanout
        self.captures = captures
        self.forms = forms
        # Seconds between plate readings nobody asked for (0: off).
        self.auto_plate_seconds = auto_plate_seconds

    def _facts(self, call: Call) -> CallFacts:
        assert call.officer_id is not None
        started = call.media.recorder.started_at if call.media is not None else None
        return CallFacts(
            call_id=call.call_id,
            case_id=call.case_id,
            officer_id=call.officer_id,
            lat=call.location.lat if call.location else None,
            lng=call.location.lng if call.location else None,
            recording_started_at=started,
        )

    async def capture(self, officer: Officer, call_id: str, kind: str) -> CaptureView:
        """One click in the console: the sharpest frame of the driver's video from a fresh
        keyframe, stored, hashed, listed, and for a plate the reading proposed."""
        _check_kind(kind)
        call = self.sessions.officer_call(officer, call_id)  # NotFound unless theirs
        if call.media is None or call.state is not CallState.IN_CALL:
            raise Conflict("the driver's video is not up")
        frame = await call.media.capture(kind)
        view = await self.captures.stored_frame(self._facts(call), frame)
        return await self._done(call, view)

    async def _plate_check(self, case_id: str, reading: Any) -> PlateCheck:
        stored = await self.forms.form(case_id)
        return plate_check(reading, [p.to_dict() for p in stored.form.parties])

    async def _done(self, call: Call, view: CaptureView) -> CaptureView:
        if view.get("plate"):
            view["plate_check"] = await self._plate_check(call.case_id, view["plate"])
        self.fanout.to_officer(call, "capture_stored", dict(view))
        return view

    def start_patrol(self, call: Call) -> None:
        """The officer's video is up: start reading plates unasked, once per call."""
        if self.auto_plate_seconds > 0 and not call.patrolling:
            call.patrolling = True
            call.spawn(self._patrol(call), "plate-patrol")

    async def _patrol(self, call: Call) -> None:
        """Read plates at a low rate on frames nobody asked for, and propose each new one in
        the console. A proposal, not evidence: the frame is decoded in a worker thread into a
        scratch folder and thrown away; only the officer's capture stores a still."""
        while not call.ended:
            await asyncio.sleep(self.auto_plate_seconds)
            if call.state is not CallState.IN_CALL or call.media is None or call.officer_id is None:
                continue
            try:
                with tempfile.TemporaryDirectory(prefix="kuaichu-plate-") as scratch:
                    frame = await call.media.capture("auto", Path(scratch))
                    reading = await asyncio.to_thread(self.captures.read_plate_file, frame.path)
            except KuaichuError as exc:
                logger.debug("call %s: plate patrol skipped (%s)", call.call_id, exc.code)
                continue
            if reading is None or reading["plate"] in call.plates_seen:
                continue
            call.plates_seen.add(reading["plate"])
            view: dict[str, Any] = {"call_id": call.call_id, "plate": reading}
            view["plate_check"] = await self._plate_check(call.case_id, reading)
            logger.info("call %s: plate seen unasked: %s", call.call_id, reading["plate"])
            self.fanout.to_officer(call, "plate_seen", view)

    def request_still(self, officer: Officer, call_id: str, kind: str) -> None:
        """Ask the driver's phone for a full-resolution photo instead of a video frame."""
        _check_kind(kind)
        call = self.sessions.officer_call(officer, call_id)
        if call.driver_sid is None or call.state not in (CallState.IN_CALL, CallState.CONNECTING):
            raise Conflict("the driver's page is not connected")
        self.fanout.to_driver(
            call,
            "still_requested",
            {"call_id": call_id, "kind": kind, "upload_url": f"/api/calls/{call_id}/stills"},
        )

    async def phone_still(self, call_id: str, token: str, kind: str, data: bytes) -> CaptureView:
        """The driver's upload, authorized by the call's resume token (the page's session).
        Only while the call is answered: after hang-up nothing is stored."""
        call = self.sessions.get(call_id)
        if call is None or not secrets.compare_digest(call.resume_token, token):
            raise NotFound("no such call, or it has ended")
        if call.officer_id is None or call.ended:
            raise Conflict("no officer is on this call")
        view = await self.captures.phone_still(self._facts(call), kind, data)
        return await self._done(call, view)
