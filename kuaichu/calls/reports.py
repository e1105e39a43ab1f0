"""A new call: a driver's report, or a driver page opening an officer's video callback link.

The report is checked again here (the page's screens count for nothing), stored as a new case
with its call, or rejoins the case of the page's interrupted call, and joins the queue. Its
own module, as the driver's and the officer's grace are: the call centre routes the driver's
``report`` and ``callback`` here, and stops them when the server drains.
"""

from __future__ import annotations

import logging
from datetime import tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..cases.actors import DRIVER, SYSTEM
from ..cases.eligibility import (
    EligibilityAnswers,
    GeoPoint,
    ServiceRules,
    check_eligibility,
)
from ..cases.ids import new_case_id
from ..cases.states import AuditEntry, CaseEvent, CaseState, apply
from ..errors import Conflict, NotFound, ServerRestarting
from ..queue import Dispatcher, QueuedCall
from ..signaling.schemas import Location, Report
from ..storage.db import Database
from .fanout import CallFanout
from .ids import new_call_id
from .model import Call
from .ports import Bell, CallbackAnswers, CaseIntake
from .restart import Interruptions
from .resume import ResumeTokens
from .sessions import CallRegistry
from .trail import CallTrail

logger = logging.getLogger(__name__)


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


class Reports:
    """Drivers' reports and video callbacks, each a new call put in the queue."""

    def __init__(
        self,
        db: Database,
        sessions: CallRegistry,
        fanout: CallFanout,
        dispatcher: Dispatcher,
        trail: CallTrail,
        intake: CaseIntake,
        doorbell: Bell,
        tokens: ResumeTokens,
        interruptions: Interruptions,
        *,
        rules: ServiceRules,
        zone: tzinfo,
        callbacks: CallbackAnswers | None = None,
    ) -> None:
        self.db = db
        self.sessions = sessions
        self.fanout = fanout
        self.dispatcher = dispatcher
        self.trail = trail
        self.intake = intake
        self.doorbell = doorbell
        self.tokens = tokens
        self.interruptions = interruptions
        self.rules = rules
        self.zone = zone
        self.callbacks = callbacks  # issue 13: officers' video callbacks of photo reports
        self.stopped = False

    def stop(self) -> None:
        """From now on a report or a callback is refused with ``server_restarting``."""
        self.stopped = True

    async def report(self, sid: str, report: Report) -> Call:
        """A driver's report: checked, stored as a new case with its call, then queued. A
        report naming the page's interrupted call (``previous``) rejoins that call's case."""
        if self.stopped:
            raise ServerRestarting("the server is restarting; report again in a minute")
        if self.sessions.has_driver(sid):
            raise Conflict("this connection already has a call")
        self.sessions.ended_pages.pop(sid, None)
        at = self.trail.now()
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
        call_id = new_call_id()
        location = report.location.as_dict() if report.location else None
        previous = await self.interruptions.rejoinable(report.previous)
        if previous is not None and not previous.case_state.terminal:
            state = await self.interruptions.rejoin(previous, call_id, at, location, self.zone)
            call = self._new_call(sid, call_id, previous.case_id, now, report, state)
            logger.info(
                "call %s: reported again after %s, rejoins case %s",
                call_id,
                previous.call_id,
                previous.case_id,
            )
            self._join_queue(call, at_head=True)
            return call
        case_id = new_case_id(now)
        detail: dict[str, Any] = {
            "call_id": call_id,
            "eligibility": _answers_dict(report.eligibility),
            "area_checked": eligibility.area_checked,
        }
        if previous is not None:
            # The interrupted call's case was closed meanwhile (nobody had answered it): a
            # new case, which names the old one for the officer.
            detail["previous_case"] = previous.case_id
        if point is not None and self.rules.area is not None:
            detail["district"] = self.rules.area.district(point)
        # The case exists from the moment of the report, before anyone answers; the report
        # entry's time starts the two advertised timings (kuaichu.cases.states.case_timings).
        entry = apply([], CaseEvent.REPORT, DRIVER, at, detail, zone=self.zone)
        progress_token: str | None = None

        async def case_file(conn: AsyncConnection, _entry: AuditEntry) -> None:
            nonlocal progress_token
            progress_token = await self.intake.reported(
                conn, case_id, report.phone, report.eligibility.cause, at, location
            )

        await self.db.create_case_and_call(
            case_id, call_id, now, location, report.phone, entry, extra=case_file
        )
        call = self._new_call(sid, call_id, case_id, now, report, entry.to_state)
        call.progress_token = progress_token
        self.doorbell.ring()  # the "queued" SMS, if the page gave a number
        await self.trail.event(call, CaseEvent.QUEUE, SYSTEM, {"call_id": call_id})
        logger.info("call %s: reported, case %s", call_id, case_id)
        self._join_queue(call)
        return call

    async def callback(self, sid: str, token: str, location: Location | None) -> Call:
        """A driver page opened an officer's video callback link (issue 13,
        kuaichu.photoreports.callbacks): a new call in the link's case, at the head of the
        queue and offered first to the officer who sent the link (Dispatcher: for one
        reservation timeout). No eligibility check: the case was reported, and an officer
        asked for it."""
        if self.stopped:
            raise ServerRestarting("the server is restarting; open the link again in a minute")
        if self.sessions.has_driver(sid):
            raise Conflict("this connection already has a call")
        if self.callbacks is None:
            raise NotFound("this callback link is not valid (used or expired)")
        self.sessions.ended_pages.pop(sid, None)
        now = self.trail.now().timestamp()
        call_id = new_call_id()
        loc = location.as_dict() if location else None
        case_id, state, sender = await self.callbacks.answer(token, call_id, now, loc)
        call = Call(
            call_id,
            case_id,
            sid,
            QueuedCall(call_id, case_id, now, loc, preferred_officer=sender),
            location,
            case_state=state,
            resume_token=self.tokens.mint(call_id),
        )
        logger.info("call %s: video callback answered in case %s", call_id, case_id)
        self._join_queue(call, at_head=True)
        return call

    def _new_call(
        self,
        sid: str,
        call_id: str,
        case_id: str,
        now: float,
        report: Report,
        case_state: CaseState,
    ) -> Call:
        location = report.location.as_dict() if report.location else None
        return Call(
            call_id,
            case_id,
            sid,
            QueuedCall(call_id, case_id, now, location),
            report.location,
            case_state=case_state,
            resume_token=self.tokens.mint(call_id),
        )

    def _join_queue(self, call: Call, *, at_head: bool = False) -> None:
        self.sessions.add(call)
        self.fanout.driver_state(call)
        self.dispatcher.enqueue(call.queued, at_head=at_head)
