"""The life of a call, from a driver's report to the recording on disk.

The call centre joins the dispatcher (who gets which call), the media (the bridged and recorded
peer connections) and the database, and tells the sockets what happened. The socket.io
namespaces are only the edge: they validate, authorize and call in here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from .auth import Officer
from .captures import KINDS as CAPTURE_KINDS
from .captures import CallFacts, CaptureDesk, plate_check
from .cases.eligibility import EligibilityAnswers, GeoPoint, ServiceRules, check_eligibility
from .cases.states import CHINA_TIME, AuditEntry, CaseEvent, CaseState, apply, transition
from .errors import Conflict, InvalidMessage, KuaichuError, MediaError, NotFound
from .media.call_media import CallMedia
from .media.recorder import RecordingInfo
from .queue import Dispatcher, OfficerStatus, QueuedCall
from .signaling.emitter import Emitter
from .signaling.schemas import Location, Report
from .storage.db import Database

if TYPE_CHECKING:
    from .casework import CaseWork
    from .storage.ledger import Ledger

logger = logging.getLogger(__name__)

DRIVER_NS = "/driver"
OFFICER_NS = "/officer"
SUPERVISOR_NS = "/supervisor"
MEDIA_SETUP_TIMEOUT = 30.0


def officer_room(officer_id: int) -> str:
    return f"officer:{officer_id}"


@dataclass
class Call:
    call_id: str
    case_id: str
    driver_sid: str | None  # None while the driver's socket is gone (grace period)
    queued: QueuedCall
    location: Location | None
    state: str = "waiting"  # waiting, connecting, in_call, reconnecting, ended
    # The case's state-machine state as last stored (cases.status); the call's own state
    # above is about media and the queue, not the accident case.
    case_state: CaseState = CaseState.QUEUED
    officer_id: int | None = None
    answered_at: float | None = None
    media: CallMedia | None = None
    driver_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Lets the same driver page take the call back after its socket reconnects.
    resume_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    pending_offer: dict[str, str] | None = None
    # The caller's link to the progress page (/p/<token>), handed to the page once.
    progress_token: str | None = None
    patrolling: bool = False  # the low-rate plate reading runs for this call
    plates_seen: set[str] = field(default_factory=set)
    grace: asyncio.Task[None] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(f"{name}:{self.call_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


_DRIVER_ENDS = frozenset({"abandoned", "driver_hangup"})


def officer_who(officer: Officer) -> str:
    """The audit trail's actor for an officer: the stable account id."""
    return f"officer:{officer.id}"


def _answers_dict(answers: EligibilityAnswers) -> dict[str, Any]:
    return {
        "injuries": answers.injuries,
        "vehicles_movable": answers.vehicles_movable,
        "vehicle_to_vehicle": answers.vehicle_to_vehicle,
        "all_insured": answers.all_insured,
        "cause": answers.cause.value if answers.cause else "other",
        "unlicensed": answers.unlicensed,
        "drunk_driving": answers.drunk_driving,
        "hit_and_run": answers.hit_and_run,
    }


def new_case_id(now: float) -> str:
    # Readable over the phone: date plus six characters without look-alikes.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return (
        "KC"
        + datetime.fromtimestamp(now).strftime("%Y%m%d")
        + "".join(secrets.choice(alphabet) for _ in range(6))
    )


class CallCenter:
    def __init__(
        self,
        db: Database,
        emitter: Emitter,
        recordings_dir: Path,
        ice_servers: list[str],
        driver_grace: float = 20.0,
        media_factory: Callable[..., CallMedia] = CallMedia,
        rules: ServiceRules | None = None,
        zone: tzinfo = CHINA_TIME,
    ) -> None:
        self.db = db
        self.rules = rules or ServiceRules()
        self.zone = zone
        self.emit = emitter
        self.recordings_dir = recordings_dir
        self.ice_servers = ice_servers
        self.driver_grace = driver_grace
        self.media_factory = media_factory
        self.dispatcher: Dispatcher  # set by attach(): the dispatcher needs us as listener
        self.calls: dict[str, Call] = {}
        self.by_driver: dict[str, str] = {}  # driver sid -> call id
        self.officer_sids: dict[int, set[str]] = {}
        self.officers: dict[int, Officer] = {}
        self._finalizing: set[asyncio.Task[None]] = set()
        # The case work after the report (form, documents, notices) and the evidence
        # ledger; set by the app.
        self.casework: CaseWork | None = None
        self.ledger: Ledger | None = None
        self.captures: CaptureDesk | None = None
        # Driver pages whose call has ended but which are still open (the "ended" screen):
        # a leave-the-scene notice pushed during wrap-up must still reach them.
        self.ended_pages: dict[str, str] = {}  # driver sid -> case id
        # Seconds between plate readings nobody asked for (0: off); set by the app.
        self.auto_plate_seconds = 0.0

    def attach(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    # -- DispatchListener -----------------------------------------------------------------

    def officer_state_changed(
        self,
        officer_id: int,
        status: OfficerStatus,
        call_id: str | None,
        wrapup_until: float | None,
    ) -> None:
        self.emit.send(
            "officer_state",
            {"status": status.value, "call_id": call_id, "wrapup_until": wrapup_until},
            OFFICER_NS,
            officer_room(officer_id),
        )
        # "Available officers" in every console changes with any officer's state.
        self.emit.send("queue_summary", self.dispatcher.summary(), OFFICER_NS, None)

    def call_offered(self, officer_id: int, call: QueuedCall, expires_in: float) -> None:
        self.emit.send(
            "call_offered",
            {
                "call_id": call.call_id,
                "case_id": call.case_id,
                "waited_s": int(time.time() - call.queued_at),
                "location": call.location,
                "expires_in_s": expires_in,
            },
            OFFICER_NS,
            officer_room(officer_id),
        )

    def offer_withdrawn(self, officer_id: int, call_id: str, reason: str) -> None:
        self.emit.send(
            "offer_withdrawn",
            {"call_id": call_id, "reason": reason},
            OFFICER_NS,
            officer_room(officer_id),
        )

    def queue_changed(self) -> None:
        for queued in self.dispatcher.waiting():
            call = self.calls.get(queued.call_id)
            if call is not None:
                self._send_queue(call)
        self.emit.send("queue_summary", self.dispatcher.summary(), OFFICER_NS, None)

    # -- drivers ------------------------------------------------------------------------------

    def _to_driver(self, call: Call, event: str, payload: dict[str, Any]) -> None:
        # Never emit with to=None: that would broadcast to every driver. A driver who is
        # away gets the current picture when they resume.
        if call.driver_sid is not None:
            self.emit.send(event, payload, DRIVER_NS, call.driver_sid)

    def _to_officer(self, call: Call, event: str, payload: dict[str, Any]) -> None:
        if call.officer_id is not None:
            self.emit.send(event, payload, OFFICER_NS, officer_room(call.officer_id))

    def _send_queue(self, call: Call) -> None:
        position = self.dispatcher.position(call.call_id)
        if position is None:
            return
        self._to_driver(
            call,
            "queue",
            {
                "call_id": call.call_id,
                "position": position,
                "waiting": self.dispatcher.waiting_count(),
                "estimated_wait_s": self.dispatcher.estimated_wait(call.call_id),
            },
        )

    def _now(self) -> datetime:
        return datetime.now(self.zone)

    async def report(self, sid: str, report: Report) -> Call:
        if sid in self.by_driver:
            raise Conflict("this connection already has a call")
        self.ended_pages.pop(sid, None)
        at = self._now()
        now = at.timestamp()
        point = (
            GeoPoint(lon=report.location.lng, lat=report.location.lat) if report.location else None
        )
        # The page asks the same questions, but only this check counts: a client that skips
        # the page's screens still cannot get into the queue. Nothing is written when refused.
        eligibility = check_eligibility(report.eligibility, at=at, location=point, rules=self.rules)
        if not eligibility.eligible:
            logger.info(
                "report from %s refused: not eligible (%s)", sid, ", ".join(eligibility.reasons)
            )
        eligibility.require()
        call_id = secrets.token_urlsafe(12)
        case_id = new_case_id(now)
        location = report.location.as_dict() if report.location else None
        detail: dict[str, Any] = {
            "call_id": call_id,
            "eligibility": _answers_dict(report.eligibility),
            "area_checked": eligibility.area_checked,
        }
        if point is not None and self.rules.area is not None:
            detail["district"] = self.rules.area.district(point)
        # The case exists from the moment of the report, before anyone answers; the report
        # entry's time starts the two advertised timings (kuaichu.cases.states.case_timings).
        entry = self._first_entry(at, detail)
        progress_token: str | None = None

        async def case_file(conn: AsyncConnection, _entry: AuditEntry) -> None:
            nonlocal progress_token
            if self.casework is not None:
                progress_token = await self.casework.reported(
                    conn, case_id, report.phone, report.eligibility.cause, at, location
                )

        await self.db.create_case_and_call(
            case_id, call_id, now, location, report.phone, entry, extra=case_file
        )
        queued = QueuedCall(call_id, case_id, now, location)
        call = Call(call_id, case_id, sid, queued, report.location, case_state=entry.to_state)
        call.progress_token = progress_token
        if self.casework is not None and self.casework.notifier is not None:
            self.casework.notifier.wake()  # the "queued" SMS, if the page gave a number
        await self._case_event(call, CaseEvent.QUEUE, "system", {"call_id": call_id})
        self.calls[call_id] = call
        self.by_driver[sid] = call_id
        logger.info("call %s: reported, case %s", call_id, case_id)
        self._driver_state(call)
        self.dispatcher.enqueue(queued)
        return call

    def _first_entry(self, at: datetime, detail: dict[str, Any]) -> AuditEntry:
        return apply([], CaseEvent.REPORT, "driver", at, detail, zone=self.zone)

    async def _case_event(
        self, call: Call, event: CaseEvent, who: str, detail: dict[str, Any] | None = None
    ) -> None:
        """One state-machine transition of the call's case, stored with its audit row."""
        entry = await self.db.case_event(
            call.case_id, event, who, self._now(), detail, zone=self.zone
        )
        call.case_state = entry.to_state
        logger.info(
            "call %s: case %s %s -> %s (%s)",
            call.call_id,
            call.case_id,
            entry.from_state,
            entry.to_state,
            who,
        )

    async def _case_action(
        self, call: Call, action: str, who: str, detail: dict[str, Any] | None = None
    ) -> None:
        await self.db.case_action(call.case_id, action, who, self._now(), detail, zone=self.zone)

    def driver_call(self, sid: str) -> Call:
        call_id = self.by_driver.get(sid)
        if call_id is None or call_id not in self.calls:
            raise NotFound("you have no active call")
        return self.calls[call_id]

    async def driver_location(self, sid: str, location: Location) -> None:
        call = self.driver_call(sid)
        call.location = location
        call.queued.location = location.as_dict()
        await self.db.update_call(
            call.call_id, lat=location.lat, lng=location.lng, accuracy=location.accuracy
        )
        if call.officer_id is not None:
            self.emit.send(
                "call_location",
                {"call_id": call.call_id, "location": location.as_dict()},
                OFFICER_NS,
                officer_room(call.officer_id),
            )

    async def driver_disconnected(self, sid: str) -> None:
        """The driver's socket is gone. On a road the network drops for a moment: the call
        keeps its place (or its officer) for a grace period in which the page can resume."""
        self.ended_pages.pop(sid, None)
        call_id = self.by_driver.pop(sid, None)
        call = self.calls.get(call_id) if call_id else None
        if call is None or call.driver_sid != sid:
            return
        call.driver_sid = None
        logger.info(
            "call %s: driver connection lost, holding %.0f s", call.call_id, self.driver_grace
        )
        call.grace = asyncio.ensure_future(self._grace_expired(call))

    async def _grace_expired(self, call: Call) -> None:
        await asyncio.sleep(self.driver_grace)
        if call.driver_sid is None:
            call.grace = None
            await self._drop(call, "driver_lost")

    async def resume(self, sid: str, call_id: str, token: str) -> Call:
        call = self.calls.get(call_id)
        if call is None or not secrets.compare_digest(call.resume_token, token):
            raise NotFound("no such call to resume")
        if sid in self.by_driver:
            raise Conflict("this connection already has a call")
        if call.driver_sid is not None:
            self.by_driver.pop(call.driver_sid, None)  # the newer connection wins
        if call.grace is not None:
            call.grace.cancel()
            call.grace = None
        call.driver_sid = sid
        self.by_driver[sid] = call_id
        logger.info("call %s: driver resumed", call_id)
        self._driver_state(call)
        self._send_queue(call)
        if call.pending_offer is not None:
            self._to_driver(call, "sdp_offer", call.pending_offer)
        return call

    async def driver_hangup(self, sid: str) -> None:
        call_id = self.by_driver.get(sid)
        if call_id is None or call_id not in self.calls:
            raise NotFound("you have no active call")
        await self._drop(self.calls[call_id], "driver_hangup")

    async def _drop(self, call: Call, reason: str) -> None:
        """The driver left: abandoned if still waiting, otherwise the call ends."""
        call_id = call.call_id
        if call.state == "waiting" or (
            call.state == "reconnecting"
            and call.officer_id is None
            and self.dispatcher.queued(call_id)
        ):
            if self.dispatcher.abandon(call_id):
                await self._end(call, "abandoned")
                return
        await self._end(call, reason)

    async def driver_sdp_answer(self, sid: str, sdp: str) -> None:
        call = self.driver_call(sid)
        if call.media is None or call.driver_ready.is_set():
            raise Conflict("no media offer is pending for this call")
        await call.media.driver_answer(sdp)  # MediaError for bad SDP reaches the driver
        call.pending_offer = None
        call.driver_ready.set()

    # -- officers -----------------------------------------------------------------------------

    def officer_connected(self, officer: Officer, sid: str) -> None:
        self.officers[officer.id] = officer
        self.officer_sids.setdefault(officer.id, set()).add(sid)
        p = self.dispatcher.officer_online(officer.id)
        # A second tab gets the current picture at once.
        self.emit.send(
            "officer_state",
            {"status": p.status.value, "call_id": p.call_id, "wrapup_until": p.wrapup_until},
            OFFICER_NS,
            sid,
        )
        self.emit.send("queue_summary", self.dispatcher.summary(), OFFICER_NS, sid)

    async def officer_disconnected(self, officer: Officer, sid: str) -> None:
        sids = self.officer_sids.get(officer.id, set())
        sids.discard(sid)
        if sids:
            return
        self.officer_sids.pop(officer.id, None)
        busy_call = self.dispatcher.officer_offline(officer.id)
        if busy_call and busy_call in self.calls:
            await self._officer_lost(self.calls[busy_call], "officer_disconnected")

    def set_status(self, officer: Officer, status: str) -> None:
        self.dispatcher.set_status(officer.id, OfficerStatus(status))

    async def accept(self, officer: Officer, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise Conflict("this call is no longer waiting")
        if call.queued.reserved_by == officer.id and call.case_state.terminal:
            # Check the case may be answered before the dispatcher commits the officer
            # (a cancelled case's call must not be bridged); someone else's offer stays a
            # plain conflict.
            transition(call.case_state, CaseEvent.ANSWER)
        self.dispatcher.accept(officer.id, call_id)  # raises Conflict if not reserved for them
        call.officer_id = officer.id
        first_answer = call.answered_at is None
        call.state = "connecting"
        if first_answer:
            call.answered_at = time.time()
            await self.db.update_call(
                call_id, state="in_call", answered_at=call.answered_at, officer_id=officer.id
            )
        else:
            await self.db.update_call(call_id, state="in_call", officer_id=officer.id)
        answer = {"call_id": call_id, "officer": officer.username}
        if call.case_state is CaseState.QUEUED:
            await self._case_event(call, CaseEvent.ANSWER, officer_who(officer), answer)
        else:
            # A re-queued call whose case moved on meanwhile (information collected during
            # the first leg), or a call linked into a case that is further along: the answer
            # goes into the trail without moving the case back.
            await self._case_action(call, "call_answered", officer_who(officer), answer)
        self._driver_state(call)
        self.emit.send(
            "call_started",
            {
                "call_id": call_id,
                "case_id": call.case_id,
                "location": call.location.as_dict() if call.location else None,
                "answered_at": call.answered_at,
            },
            OFFICER_NS,
            officer_room(officer.id),
        )
        call.spawn(self._connect(call, officer.id), "connect")
        logger.info("call %s: accepted by officer %s", call_id, officer.username)
        return call

    async def decline(self, officer: Officer, call_id: str) -> None:
        call = self.calls.get(call_id)
        self.dispatcher.decline(officer.id, call_id)  # Conflict unless offered to them
        if call is not None:
            await self._case_action(
                call,
                "decline",
                officer_who(officer),
                {"call_id": call_id, "officer": officer.username},
            )

    def officer_call(self, officer: Officer, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None or call.officer_id != officer.id:
            raise NotFound("you have no such call")
        return call

    async def officer_sdp_answer(self, officer: Officer, call_id: str, sdp: str) -> None:
        call = self.officer_call(officer, call_id)
        if call.media is None or call.state != "connecting":
            raise Conflict("no media offer is pending for this call")
        try:
            await call.media.officer_answer(sdp)
        except MediaError as exc:
            # This officer's browser cannot take the call (e.g. no common codec): the call
            # must not hang in "connecting"; it goes back to the head for someone else.
            self._media_failed(call, "officer", exc.code)
            raise
        call.state = "in_call"
        self._driver_state(call)
        if self.auto_plate_seconds > 0 and self.captures is not None and not call.patrolling:
            call.patrolling = True
            call.spawn(self._plate_patrol(call), "plate-patrol")

    async def officer_hangup(self, officer: Officer, call_id: str) -> None:
        call = self.officer_call(officer, call_id)
        await self._end(call, "officer_hangup", officer)

    # -- evidence (kuaichu.captures) ------------------------------------------------------------

    def _capture_facts(self, call: Call) -> CallFacts:
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

    async def capture(self, officer: Officer, call_id: str, kind: str) -> dict[str, Any]:
        """One click in the console: the sharpest frame of the driver's video from a fresh
        keyframe, stored, hashed, listed, and for a plate the reading proposed."""
        if kind not in CAPTURE_KINDS:
            raise InvalidMessage(f"kind must be one of {', '.join(CAPTURE_KINDS)}", field="kind")
        call = self.officer_call(officer, call_id)  # NotFound unless it is this officer's
        if self.captures is None or call.media is None or call.state != "in_call":
            raise Conflict("the driver's video is not up")
        frame = await call.media.capture(kind)
        view = await self.captures.stored_frame(self._capture_facts(call), frame)
        return await self._capture_done(call, view)

    async def _capture_done(self, call: Call, view: dict[str, Any]) -> dict[str, Any]:
        if view.get("plate") and self.casework is not None:
            form = await self.casework.store.form(call.case_id)
            view["plate_check"] = plate_check(
                view["plate"], [p.to_dict() for p in form.form.parties]
            )
        self._to_officer(call, "capture_stored", view)
        return view

    async def _plate_patrol(self, call: Call) -> None:
        """Read plates at a low rate on frames nobody asked for, and propose each new one in
        the console. A proposal, not evidence: the frame is decoded in a worker thread into a
        scratch folder and thrown away; only the officer's capture stores a still."""
        assert self.captures is not None
        while call.state != "ended":
            await asyncio.sleep(self.auto_plate_seconds)
            if call.state != "in_call" or call.media is None or call.officer_id is None:
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
            if self.casework is not None:
                form = await self.casework.store.form(call.case_id)
                view["plate_check"] = plate_check(reading, [p.to_dict() for p in form.form.parties])
            logger.info("call %s: plate seen unasked: %s", call.call_id, reading["plate"])
            self._to_officer(call, "plate_seen", view)

    def request_still(self, officer: Officer, call_id: str, kind: str) -> None:
        """Ask the driver's phone for a full-resolution photo instead of a video frame."""
        if kind not in CAPTURE_KINDS:
            raise InvalidMessage(f"kind must be one of {', '.join(CAPTURE_KINDS)}", field="kind")
        call = self.officer_call(officer, call_id)
        if call.driver_sid is None or call.state not in ("in_call", "connecting"):
            raise Conflict("the driver's page is not connected")
        self._to_driver(
            call,
            "still_requested",
            {"call_id": call_id, "kind": kind, "upload_url": f"/api/calls/{call_id}/stills"},
        )

    async def phone_still(self, call_id: str, token: str, kind: str, data: bytes) -> dict[str, Any]:
        """The driver's upload, authorized by the call's resume token (the page's session).
        Only while the call is answered: after hang-up nothing is stored."""
        call = self.calls.get(call_id)
        if call is None or not secrets.compare_digest(call.resume_token, token):
            raise NotFound("no such call, or it has ended")
        if call.officer_id is None or call.state == "ended" or self.captures is None:
            raise Conflict("no officer is on this call")
        view = await self.captures.phone_still(self._capture_facts(call), kind, data)
        return await self._capture_done(call, view)

    # -- the case work's view of live calls (kuaichu.casework.LiveCalls) ------------------------

    def push_to_case(self, case_id: str, event: str, payload: dict[str, Any]) -> int:
        """Send an event to every connected driver page of the case (and its officer's
        console); returns how many driver pages it reached."""
        reached = 0
        for call in list(self.calls.values()):
            if call.case_id != case_id:
                continue
            if call.driver_sid is not None:
                reached += 1
            self._to_driver(call, event, payload)
            self._to_officer(call, event, payload)
        for sid, page_case in list(self.ended_pages.items()):
            if page_case == case_id:
                reached += 1
                self.emit.send(event, payload, DRIVER_NS, sid)
        return reached

    def case_state_changed(self, case_id: str, state: CaseState) -> None:
        for call in self.calls.values():
            if call.case_id == case_id:
                call.case_state = state

    def relink(self, from_case: str, to_case: str) -> None:
        for sid, page_case in list(self.ended_pages.items()):
            if page_case == from_case:
                self.ended_pages[sid] = to_case
        for call in self.calls.values():
            if call.case_id == from_case:
                # The case work tells us the merged case's state right after.
                call.case_id = to_case
                call.queued.case_id = to_case

    # -- internals ----------------------------------------------------------------------------

    def _driver_state(self, call: Call, reason: str | None = None) -> None:
        payload: dict[str, Any] = {"call_id": call.call_id, "state": call.state}
        if reason:
            payload["reason"] = reason
        self._to_driver(call, "call_state", payload)

    async def _connect(self, call: Call, officer_id: int) -> None:
        try:
            if call.media is None:
                call.media = self.media_factory(
                    call.call_id,
                    self.recordings_dir / call.case_id,
                    ice_servers=None,
                    on_failed=lambda leg, why: self._media_failed(call, leg, why),
                )
                offer = await call.media.driver_offer()
                call.pending_offer = {"call_id": call.call_id, **offer}
                self._to_driver(call, "sdp_offer", call.pending_offer)
            await asyncio.wait_for(call.driver_ready.wait(), MEDIA_SETUP_TIMEOUT)
            if call.officer_id != officer_id:
                return
            offer = await call.media.officer_offer()
            self.emit.send(
                "sdp_offer",
                {"call_id": call.call_id, **offer},
                OFFICER_NS,
                officer_room(officer_id),
            )
        except TimeoutError:
            logger.warning("call %s: driver did not answer the media offer", call.call_id)
            await self._end(call, "media_failed")
        except KuaichuError as exc:
            logger.warning("call %s: media setup failed: %s", call.call_id, exc)
            await self._end(call, "media_failed")

    def _media_failed(self, call: Call, leg: str, reason: str) -> None:
        if call.state == "ended":
            return
        logger.warning("call %s: %s leg failed (%s)", call.call_id, leg, reason)
        if leg == "driver":
            call.spawn(self._rejoin_driver(call), "rejoin")
        elif call.officer_id is not None:
            officer_id = call.officer_id
            self.dispatcher.call_finished(officer_id, call.call_id, None)
            self.emit.send(
                "call_ended",
                {"call_id": call.call_id, "reason": "media_failed"},
                OFFICER_NS,
                officer_room(officer_id),
            )
            call.spawn(self._officer_lost(call, "officer_media_failed"), "requeue")

    async def _rejoin_driver(self, call: Call) -> None:
        """The driver's media connection died (a phone moving from Wi-Fi to 4G; aiortc has no
        ICE restart): offer a fresh driver leg over the socket, which may itself be resuming.
        The officer leg and the recording go on; a driver who does not answer within the
        grace period is lost."""
        if call.media is None or call.state == "ended":
            return
        call.driver_ready.clear()
        try:
            offer = await call.media.driver_offer()
        except KuaichuError as exc:
            logger.warning("call %s: cannot re-offer the driver leg: %s", call.call_id, exc)
            await self._end(call, "driver_lost")
            return
        call.pending_offer = {"call_id": call.call_id, **offer}
        self._to_driver(call, "sdp_offer", call.pending_offer)
        self.dispatcher.record("driver_media_rejoin", call.call_id, call.officer_id)
        self._to_officer(call, "driver_media", {"call_id": call.call_id, "state": "reconnecting"})
        try:
            await asyncio.wait_for(call.driver_ready.wait(), self.driver_grace)
        except TimeoutError:
            logger.info("call %s: driver did not rejoin the media", call.call_id)
            await self._end(call, "driver_lost")
            return
        logger.info("call %s: driver media rejoined", call.call_id)
        self._to_officer(call, "driver_media", {"call_id": call.call_id, "state": "connected"})

    async def _officer_lost(self, call: Call, reason: str) -> None:
        """The officer vanished mid-call: back to the head of the queue, driver told."""
        if call.state == "ended":
            return
        logger.info("call %s: officer lost (%s), re-queued at the head", call.call_id, reason)
        lost_officer = call.officer_id
        call.officer_id = None
        call.state = "reconnecting"
        if call.media is not None:
            await call.media.detach_officer()
        await self.db.update_call(call.call_id, state="waiting")
        # With two calls in one case (linked reports), losing one officer leg must not send
        # the case back to the queue while the other call is still answered.
        others = [
            c
            for c in self.calls.values()
            if c.case_id == call.case_id and c is not call and c.officer_id is not None
        ]
        if call.case_state is CaseState.IN_CALL and not others:
            try:
                await self._case_event(
                    call,
                    CaseEvent.REQUEUE,
                    "system",
                    {"call_id": call.call_id, "reason": reason, "officer_id": lost_officer},
                )
            except KuaichuError:
                logger.exception("call %s: could not record the re-queue", call.call_id)
        self._driver_state(call, "officer_lost")
        self.dispatcher.enqueue(call.queued, at_head=True)

    async def _end(self, call: Call, reason: str, officer: Officer | None = None) -> None:
        if call.state == "ended":
            return
        previous = call.state
        call.state = "ended"
        now = time.time()
        self.calls.pop(call.call_id, None)
        if call.driver_sid is not None:
            self.by_driver.pop(call.driver_sid, None)
            self.ended_pages[call.driver_sid] = call.case_id
        if self.dispatcher.queued(call.call_id):
            self.dispatcher.abandon(call.call_id)
        if call.grace is not None and call.grace is not asyncio.current_task():
            call.grace.cancel()
        current = asyncio.current_task()
        for task in list(call.tasks):
            if task is not current:
                task.cancel()
        self._driver_state(call, reason)
        if call.officer_id is not None:
            self.emit.send(
                "call_ended",
                {"call_id": call.call_id, "reason": reason},
                OFFICER_NS,
                officer_room(call.officer_id),
            )
            handle = now - call.answered_at if call.answered_at else None
            self.dispatcher.call_finished(call.officer_id, call.call_id, handle)
        self.dispatcher.record(
            "call_ended", call.call_id, call.officer_id, reason=reason, previous=previous
        )
        await self.db.update_call(call.call_id, state="ended", ended_at=now, end_reason=reason)
        await self._case_after_call(call, reason, officer)
        logger.info("call %s: ended (%s)", call.call_id, reason)
        # Finalizing the recording (close, remux, hash) takes a moment; nobody waits for it,
        # but it is owned and awaited at shutdown.
        task = asyncio.ensure_future(self._finalize(call))
        self._finalizing.add(task)
        task.add_done_callback(self._finalizing.discard)

    async def _case_after_call(self, call: Call, reason: str, officer: Officer | None) -> None:
        """A call that ends before anyone answered abandons its case. One that ends after
        the answer leaves the case in_call: the evidence and scene-cleared steps (which an
        officer may still complete after the call) come with the case form."""
        who = officer_who(officer) if officer else "driver" if reason in _DRIVER_ENDS else "system"
        detail = {"call_id": call.call_id, "reason": reason}
        try:
            if call.case_state in (CaseState.REPORTED, CaseState.QUEUED):
                await self._case_event(call, CaseEvent.ABANDON, who, detail)
            else:
                action = "hangup" if reason in ("driver_hangup", "officer_hangup") else "call_ended"
                await self._case_action(call, action, who, detail)
        except KuaichuError:
            # The call is over either way; the trail stays as it was and says so in the log.
            logger.exception(
                "call %s: could not record the end in case %s", call.call_id, call.case_id
            )

    async def _finalize(self, call: Call) -> None:
        tasks = [t for t in call.tasks if t is not asyncio.current_task()]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if call.media is None:
            return
        try:
            info: RecordingInfo | None = await call.media.close()
        except MediaError:
            logger.exception("call %s: could not finalize the recording", call.call_id)
            return
        if info is not None:
            await self.db.add_recording(call.call_id, info)
            await self.db.update_call(call.call_id, video_codec=call.media.video_codec)
            if self.ledger is not None:
                # The folder the recording was written to (a linked call keeps its first
                # case's folder).
                try:
                    await self.ledger.record(
                        info.path.parent.name,
                        info.path,
                        "recording",
                        info.sha256,
                        {
                            "call_id": call.call_id,
                            "duration_s": round(info.duration_s, 1),
                            "taken_at": datetime.fromtimestamp(
                                info.started_at, self.zone
                            ).isoformat(timespec="seconds"),
                        },
                    )
                except (KuaichuError, OSError):
                    logger.exception("call %s: could not list the recording", call.call_id)
            logger.info(
                "call %s: recording %s (%.1f s, sha256 %s)",
                call.call_id,
                info.path.name,
                info.duration_s,
                info.sha256[:12],
            )

    async def wallboard(self) -> dict[str, Any]:
        now = time.time()
        calls = []
        for call in self.calls.values():
            # An offered call shows who it is offered to; the wait stops counting at answer.
            reserved = call.queued.reserved_by
            officer_id = call.officer_id if call.officer_id is not None else reserved
            officer = self.officers.get(officer_id) if officer_id is not None else None
            state = "offered" if reserved is not None and call.officer_id is None else call.state
            waited_until = call.answered_at if call.state in ("connecting", "in_call") else now
            calls.append(
                {
                    "call_id": call.call_id,
                    "case_id": call.case_id,
                    "state": state,
                    "waited_s": int((waited_until or now) - call.queued.queued_at),
                    "position": self.dispatcher.position(call.call_id),
                    "officer": officer.display_name if officer else None,
                }
            )
        officers = []
        for oid, p in self.dispatcher.officers().items():
            o = self.officers.get(oid)
            if o is None:
                continue
            officers.append(
                {
                    "username": o.username,
                    "display_name": o.display_name,
                    "status": p.status.value,
                    "call_id": p.call_id,
                }
            )
        # "Today" is the service's day (its time zone), not the server's.
        midnight = self._now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        events = await self.db.events_since(midnight, kinds=("call_answered", "call_abandoned"))
        answered = [e for e in events if e["kind"] == "call_answered"]
        waits = [float(json.loads(e.get("detail") or "{}").get("waited_s", 0)) for e in answered]
        return {
            "calls": calls,
            "officers": officers,
            "today": {
                "answered": len(answered),
                "abandoned": sum(1 for e in events if e["kind"] == "call_abandoned"),
                "waiting": self.dispatcher.waiting_count(),
                "avg_wait_s": round(sum(waits) / len(waits), 1) if waits else 0,
            },
        }

    async def close(self) -> None:
        for call in list(self.calls.values()):
            await self._end(call, "server_shutdown")
        while self._finalizing:
            await asyncio.gather(*list(self._finalizing), return_exceptions=True)
        self.dispatcher.close()
