"""Evidence during a live call: the officer's capture, the low-rate plate patrol and the
phone stills the officer asks the driver for.

Each stored still goes through :class:`~kuaichu.evidence.captures.CaptureDesk` (file, hash, row,
manifest, trail); this module knows the call: whose it is, whether its video is up, and
where the result is shown.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TypedDict

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

# How long the driver has to take and send a photo the officer asked for.
STILL_REQUEST_SECONDS: Final = 120.0
# Requests open at once on one call (an officer asking again and again keeps the newest).
MAX_OPEN_REQUESTS: Final = 6
# issue 9: a plate or a licence read from video below 720p is too small to be evidence (every
# wrong plate reading came from a 320x180-480x270 frame): the phone is asked for a photo.
SHARP_KINDS: Final = ("plate", "licence")
MIN_EVIDENCE_LINES: Final = 720


class StillAsked(TypedDict):
    """A capture answered with a photo request: the video arrives too small for this kind."""

    still_requested: Literal[True]
    call_id: str
    kind: str
    reason: Literal["low_resolution"]
    width: int  # of the video the server receives
    height: int


@dataclass(frozen=True)
class StillRequest:
    """The officer's request for one photo of one kind, open until it expires."""

    kind: str
    expires: float


class CaseForms(Protocol):
    """The case forms, for the plates the parties declared (kuaichu.storage.casefiles)."""

    async def form(self, case_id: str) -> StoredForm: ...


def _unrequested(kind: str) -> Conflict:
    return Conflict(
        "the officer has not asked for a photo of this kind, or the request has expired",
        kind=kind,
    )


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
        request_seconds: float = STILL_REQUEST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.fanout = fanout
        self.captures = captures
        self.forms = forms
        # Seconds between plate readings nobody asked for (0: off).
        self.auto_plate_seconds = auto_plate_seconds
        self.request_seconds = request_seconds
        self.clock = clock
        # One call's patrol at a time, server-wide: ten calls' patrols firing together ran ten
        # decoding and up to six reading threads at once beside the event loop, which waited
        # 230-330 ms of each such second for its core (10-call loop lag p99 17-46 ms, 5.5-12 ms
        # one at a time; docs/benchmarks.md, issue 2's third-session re-run).
        self._patrol_turn = asyncio.Semaphore(1)
        # Per call, the photos the officer asked for and the driver has not sent yet: an
        # upload is evidence only as the answer to one of them.
        self._requests: dict[str, list[StillRequest]] = {}

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

    async def capture(self, officer: Officer, call_id: str, kind: str) -> CaptureView | StillAsked:
        """One click in the console: the sharpest frame of the driver's video from a fresh
        keyframe, stored, hashed, listed, and for a plate the reading proposed. A plate or
        licence while the video arrives below 720p asks the driver's phone for a photo
        instead (answered with :class:`StillAsked`; the photo comes as ``capture_stored``)."""
        _check_kind(kind)
        call = self.sessions.officer_call(officer, call_id)  # NotFound unless theirs
        if call.media is None or call.state is not CallState.IN_CALL:
            raise Conflict("the driver's video is not up")
        size = call.media.received_video_size
        # min(): a phone held upright sends 720x1280, which is 720p too.
        if kind in SHARP_KINDS and size is not None and min(size) < MIN_EVIDENCE_LINES:
            self.request_still(officer, call_id, kind)
            logger.info(
                "call %s: %s capture at %dx%d: asked the phone for a photo",
                call_id, kind, size[0], size[1],
            )
            return StillAsked(
                still_requested=True,
                call_id=call_id,
                kind=kind,
                reason="low_resolution",
                width=size[0],
                height=size[1],
            )
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
                async with self._patrol_turn:
                    with tempfile.TemporaryDirectory(prefix="kuaichu-plate-") as scratch:
                        frame = await call.media.capture("auto", Path(scratch))
                        reading = await asyncio.to_thread(
                            functools.partial(self.captures.read_plate_file, frame.path, quick=True)
                        )
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
        """Ask the driver's phone for a full-resolution photo instead of a video frame; the
        request stays open for one photo until it expires."""
        _check_kind(kind)
        call = self.sessions.officer_call(officer, call_id)
        if call.driver_sid is None or call.state not in (CallState.IN_CALL, CallState.CONNECTING):
            raise Conflict("the driver's page is not connected")
        self._prune()
        open_ = self._requests.setdefault(call_id, [])
        open_.append(StillRequest(kind, self.clock() + self.request_seconds))
        del open_[:-MAX_OPEN_REQUESTS]
        self.fanout.to_driver(
            call,
            "still_requested",
            {"call_id": call_id, "kind": kind, "upload_url": f"/api/calls/{call_id}/stills"},
        )

    def _prune(self) -> None:
        """Forget expired requests, and the calls left with none."""
        now = self.clock()
        for call_id in list(self._requests):
            left = [r for r in self._requests[call_id] if r.expires > now]
            if left and not self._gone(call_id):
                self._requests[call_id] = left
            else:
                del self._requests[call_id]

    def _gone(self, call_id: str) -> bool:
        call = self.sessions.get(call_id)
        return call is None or call.ended

    def _take_request(self, call_id: str, kind: str) -> StillRequest:
        """Close the oldest open request for ``kind`` on this call (one photo per request)."""
        self._prune()
        open_ = self._requests.get(call_id, [])
        for request in open_:
            if request.kind == kind:
                open_.remove(request)
                return request
        raise _unrequested(kind)

    def _give_back(self, call_id: str, request: StillRequest) -> None:
        """An upload that was refused (not an image, too many pixels) leaves its request open."""
        self._requests.setdefault(call_id, []).insert(0, request)

    def _call_for_upload(self, call_id: str, token: str) -> Call:
        call = self.sessions.get(call_id)
        # A token that is not ASCII is not ours (and compare_digest refuses to compare it).
        if (
            call is None
            or not token.isascii()
            or not secrets.compare_digest(call.resume_token, token)
        ):
            raise NotFound("no such call, or it has ended")
        if call.officer_id is None or call.ended:
            raise Conflict("no officer is on this call")
        return call

    def expect_still(self, call_id: str, token: str, kind: str) -> None:
        """Before an upload's body is read: the call is the token's and answered, and the
        officer has an open request for a photo of ``kind``; else refused, nothing read."""
        _check_kind(kind)
        self._call_for_upload(call_id, token)
        self._prune()
        if not any(r.kind == kind for r in self._requests.get(call_id, [])):
            raise _unrequested(kind)

    async def phone_still(self, call_id: str, token: str, kind: str, data: bytes) -> CaptureView:
        """The driver's upload, authorized by the call's resume token (the page's session),
        as the answer to an open request of the officer's. Only while the call is answered:
        after hang-up nothing is stored."""
        _check_kind(kind)
        call = self._call_for_upload(call_id, token)
        request = self._take_request(call_id, kind)
        try:
            view = await self.captures.phone_still(self._facts(call), kind, data)
        except BaseException:
            if not call.ended:
                self._give_back(call_id, request)
            raise
        return await self._done(call, view)
