"""The life of a call, from a driver's report to hang-up.

The call centre joins the dispatcher (who gets which call), the reports that make new calls
(kuaichu.calls.reports), the media session (the bridged and recorded peer connections), the
drivers' and officers' grace and the case's trail, and tells the pages through the fan-out.
The socket.io namespaces are only the edge: they validate, authorize and call in here.
Everything it works with comes in through the constructor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.actors import DRIVER, SYSTEM, officer_actor
from ..cases.eligibility import ServiceRules
from ..cases.states import CHINA_TIME, CaseEvent, CaseState, transition
from ..errors import Conflict, KuaichuError, MediaError
from ..media.call_media import CallMedia
from ..media.leg_health import HealthPolicy
from ..queue import Dispatcher, OfficerStatus
from ..signaling.schemas import Location, Report
from ..storage.db import Database
from .driver_grace import DriverGrace
from .fanout import CallFanout
from .media_session import MediaSession
from .model import DRIVER_ENDS, Call, CallState
from .officer_grace import OfficerGrace
from .ports import Bell, CallbackAnswers, CallEvidence, CaseIntake
from .recordings import Recordings
from .rejoin import RejoinLinks, RejoinTarget
from .reports import Reports
from .restart import REJOIN_WINDOW, RESTART_ENDS, Interruptions
from .resume import ResumeTokens
from .sessions import CallRegistry
from .trail import CallTrail

logger = logging.getLogger(__name__)


class CallCenter:
    """Reports, answers, hang-ups and the case events that go with them."""

    def __init__(
        self,
        db: Database,
        sessions: CallRegistry,
        fanout: CallFanout,
        dispatcher: Dispatcher,
        intake: CaseIntake,
        evidence: CallEvidence,
        recordings: Recordings,
        doorbell: Bell,
        *,
        recordings_dir: Path,
        driver_grace: float = 20.0,
        media_factory: Callable[..., CallMedia] = CallMedia,
        rules: ServiceRules | None = None,
        zone: tzinfo = CHINA_TIME,
        tokens: ResumeTokens | None = None,
        rejoin_window: float = REJOIN_WINDOW,
        officer_grace: float = 0.0,
        rejoin: RejoinLinks | None = None,
        health: HealthPolicy | None = None,
        callbacks: CallbackAnswers | None = None,
    ) -> None:
        """``officer_grace``: how long a call waits for its officer's console to come back
        (a reload, a language switch) before it goes back to the queue; 0 re-queues at once."""
        self.db = db
        self.sessions = sessions
        self.fanout = fanout
        self.dispatcher = dispatcher
        self.evidence = evidence
        self.recordings = recordings
        self.driver_grace = driver_grace
        self.officer_grace = officer_grace
        self.rejoin = rejoin
        self.tokens = tokens or ResumeTokens.random()
        interruptions = Interruptions(db, self.tokens, rejoin_window)
        self.trail = CallTrail(db, zone)
        self.reports = Reports(
            db,
            sessions,
            fanout,
            dispatcher,
            self.trail,
            intake,
            doorbell,
            self.tokens,
            interruptions,
            rules=rules or ServiceRules(),
            zone=zone,
            callbacks=callbacks,
        )
        self.media = MediaSession(
            db,
            sessions,
            fanout,
            dispatcher,
            self.trail,
            end=self._end,
            recordings_dir=recordings_dir,
            driver_grace=driver_grace,
            media_factory=media_factory,
            on_officer_failed=self._officer_leg_failed if officer_grace > 0 else None,
            health=health,
        )
        self.driver_away = DriverGrace(
            db,
            sessions,
            fanout,
            dispatcher,
            self.trail,
            self.tokens,
            interruptions,
            driver_grace,
            rejoin=rejoin,
            drop=self._drop,
        )
        self.grace = OfficerGrace(
            sessions,
            fanout,
            dispatcher,
            self.media,
            self.tokens,
            officer_grace,
            tell_driver_lost=self.driver_away.tell_lost,
        )

    # -- drivers ------------------------------------------------------------------------

    async def report(self, sid: str, report: Report) -> Call:
        """A driver's report: a new case with its call, or its interrupted case (Reports)."""
        return await self.reports.report(sid, report)

    async def callback(self, sid: str, token: str, location: Location | None) -> Call:
        """A driver page opened an officer's video callback link (Reports)."""
        return await self.reports.callback(sid, token, location)

    async def driver_location(self, sid: str, location: Location) -> None:
        """A newer position from the driver's phone: stored and shown to the officer."""
        call = self.sessions.driver_call(sid)
        call.location = location
        call.queued.location = location.as_dict()
        await self.db.update_call(
            call.call_id, lat=location.lat, lng=location.lng, accuracy=location.accuracy
        )
        self.fanout.to_officer(
            call, "call_location", {"call_id": call.call_id, "location": location.as_dict()}
        )

    async def driver_disconnected(self, sid: str) -> None:
        """The driver's socket is gone: the call waits for the page (DriverGrace)."""
        await self.driver_away.disconnected(sid)

    async def resume(self, sid: str, call_id: str, token: str) -> Call:
        """The driver page's new connection takes its call back (DriverGrace.resume)."""
        return await self.driver_away.resume(sid, call_id, token)

    async def send_rejoin(self, officer: Officer, call_id: str) -> dict[str, Any]:
        """The officer sends the dropped driver a rejoin link by SMS (DriverGrace)."""
        return await self.driver_away.send_rejoin(officer, call_id)

    async def redeem_rejoin(self, token: str) -> RejoinTarget:
        """An opened rejoin link: what resumes the call it leads to (DriverGrace)."""
        return await self.driver_away.redeem_rejoin(token)

    async def driver_hangup(self, sid: str) -> None:
        """The driver hung up (abandoned if nobody had answered yet)."""
        await self._drop(self.sessions.driver_call(sid), "driver_hangup")

    async def _drop(self, call: Call, reason: str) -> None:
        """The driver left: abandoned if still waiting, otherwise the call ends."""
        call_id = call.call_id
        if call.state is CallState.WAITING or (
            call.state is CallState.RECONNECTING
            and call.officer_id is None
            and self.dispatcher.queued(call_id)
        ):
            if self.dispatcher.abandon(call_id):
                await self._end(call, "abandoned")
                return
        await self._end(call, reason)

    async def driver_sdp_answer(self, sid: str, sdp: str) -> None:
        """The driver's answer to the media offer: their leg is up."""
        call = self.sessions.driver_call(sid)
        if call.media is None or call.driver_ready.is_set():
            raise Conflict("no media offer is pending for this call")
        await call.media.driver_answer(sdp)  # MediaError for bad SDP reaches the driver
        call.pending_offer = None
        call.driver_ready.set()

    # -- officers -----------------------------------------------------------------------

    def officer_connected(self, officer: Officer, sid: str) -> None:
        """A console tab connected: the officer is online; the tab gets the picture."""
        self.sessions.officer_connected(officer, sid)
        p = self.dispatcher.officer_online(officer.id)
        # A second tab gets the current picture at once.
        self.fanout.to_officer_sid(
            sid,
            "officer_state",
            {"status": p.status.value, "call_id": p.call_id, "wrapup_until": p.wrapup_until},
        )
        self.fanout.to_officer_sid(sid, "queue_summary", self.dispatcher.summary())

    async def officer_disconnected(self, officer: Officer, sid: str) -> None:
        """A console tab went away; with the last one the officer is offline and their
        call goes back to the head of the queue, unless the console may come back for it
        (a reload, a language switch): then the call is held for the officer's grace."""
        if not self.sessions.officer_disconnected(officer, sid):
            return
        presence = self.dispatcher.presence(officer.id)
        busy = presence.call_id if presence.status is OfficerStatus.BUSY else None
        held = self.sessions.get(busy) if busy else None
        if held is not None and self.officer_grace > 0 and held.officer_id == officer.id:
            self.grace.hold(held, "officer_disconnected")
            return
        busy_call = self.dispatcher.officer_offline(officer.id)
        call = self.sessions.get(busy_call) if busy_call else None
        if call is not None:
            await self.media.officer_lost(call, "officer_disconnected")

    def _officer_leg_failed(self, call: Call, reason: str) -> None:
        """MediaSession's hook: the officer's media leg died (the page closed it while
        reloading, or the network): the call waits for the console like for a lost socket."""
        self.grace.hold(call, f"officer_media_{reason}")

    async def officer_resume(self, officer: Officer, call_id: str, token: str) -> Call:
        """A console (reloaded, or the tab whose media leg died) takes its call back."""
        return self.grace.resume(officer, call_id, token)

    def set_status(self, officer: Officer, status: str) -> None:
        """Available or on break, as the officer chose."""
        self.dispatcher.set_status(officer.id, OfficerStatus(status))

    def hold_wrapup(self, officer: Officer, held: bool) -> None:
        """issue 12: the wrap-up waits while the console has the case's work open."""
        self.dispatcher.hold_wrapup(officer.id, held)

    async def accept(self, officer: Officer, call_id: str) -> Call:
        """The officer takes the call offered to them: the media is set up."""
        call = self.sessions.get(call_id)
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
        call.state = CallState.CONNECTING
        if first_answer:
            call.answered_at = time.time()
            await self.db.update_call(
                call_id,
                state=CallState.IN_CALL,
                answered_at=call.answered_at,
                officer_id=officer.id,
            )
        else:
            await self.db.update_call(call_id, state=CallState.IN_CALL, officer_id=officer.id)
        who = officer_actor(officer.id)
        answer = {"call_id": call_id, "officer": officer.username}
        if call.case_state is CaseState.QUEUED:
            await self.trail.event(call, CaseEvent.ANSWER, who, answer)
        else:
            # A re-queued call whose case moved on meanwhile (information collected during
            # the first leg), or a call linked into a case that is further along: the answer
            # goes into the trail without moving the case back.
            await self.trail.action(call, AuditAction.CALL_ANSWERED, who, answer)
        self.fanout.driver_state(call)
        self.fanout.to_officer_id(
            officer.id,
            "call_started",
            {
                "call_id": call_id,
                "case_id": call.case_id,
                "location": call.location.as_dict() if call.location else None,
                "answered_at": call.answered_at,
                "resume_token": self.grace.token(call, officer.id),
            },
        )
        call.spawn(self.media.connect(call, officer.id), "connect")
        logger.info("call %s: accepted by officer %s", call_id, officer.username)
        return call

    async def decline(self, officer: Officer, call_id: str) -> None:
        """The officer passes on an offer (it goes to someone else)."""
        call = self.sessions.get(call_id)
        self.dispatcher.decline(officer.id, call_id)  # Conflict unless offered to them
        if call is not None:
            await self.trail.action(
                call,
                AuditAction.DECLINE,
                officer_actor(officer.id),
                {"call_id": call_id, "officer": officer.username},
            )

    async def officer_sdp_answer(self, officer: Officer, call_id: str, sdp: str) -> None:
        """The officer's answer to the media offer: the call is bridged."""
        call = self.sessions.officer_call(officer, call_id)
        if call.media is None or call.state is not CallState.CONNECTING:
            raise Conflict("no media offer is pending for this call")
        try:
            await call.media.officer_answer(sdp)
        except MediaError as exc:
            # This officer's browser cannot take the call (e.g. no common codec): the call
            # must not hang in "connecting"; it goes back to the head for someone else.
            self.media.failed(call, "officer", exc.code)
            raise
        call.state = CallState.IN_CALL
        self.fanout.driver_state(call)
        self.evidence.start_patrol(call)

    async def officer_hangup(self, officer: Officer, call_id: str) -> None:
        """The officer ends the call."""
        call = self.sessions.officer_call(officer, call_id)
        await self._end(call, "officer_hangup", officer)

    # -- the end ------------------------------------------------------------------------

    async def _end(self, call: Call, reason: str, officer: Officer | None = None) -> None:
        if call.ended:
            return
        previous = call.state
        call.state = CallState.ENDED
        now = time.time()
        self.sessions.remove(call)
        if self.dispatcher.queued(call.call_id):
            self.dispatcher.abandon(call.call_id)
        call.cancel_tasks()  # the grace timer too, unless it is what ends the call
        self.fanout.driver_state(call, reason)
        held = self.grace.release(call.call_id)
        if call.officer_id is not None:
            self.fanout.to_officer_id(
                call.officer_id, "call_ended", {"call_id": call.call_id, "reason": reason}
            )
            handle = now - call.answered_at if call.answered_at else None
            self.dispatcher.call_finished(call.officer_id, call.call_id, handle)
            if held is not None and not self.sessions.officer_sids.get(held.officer_id):
                # The call ended while its officer's console was away: not available.
                self.dispatcher.officer_offline(held.officer_id)
        self.dispatcher.record(
            "call_ended", call.call_id, call.officer_id, reason=reason, previous=previous
        )
        try:
            await self.db.update_call(
                call.call_id, state=CallState.ENDED, ended_at=now, end_reason=reason
            )
            await self._case_after_call(call, reason, officer)
            # A restart's end keeps the call's rejoin link: it leads the driver to the case.
            if self.rejoin is not None and reason not in RESTART_ENDS:
                await self.rejoin.forget(call.call_id)
        except (SQLAlchemyError, OSError) as exc:
            # A full disk (the database cannot write) must not fail the hang-up nor keep
            # the recording from being finalized: the call is over either way.
            logger.error("call %s: its end could not be stored: %s", call.call_id, exc)
        finally:
            logger.info("call %s: ended (%s)", call.call_id, reason)
            self.recordings.finish(call)

    async def _case_after_call(self, call: Call, reason: str, officer: Officer | None) -> None:
        """A call that ends before anyone answered abandons its case. One that ends after
        the answer leaves the case in_call: the evidence and scene-cleared steps (which an
        officer may still complete after the call) come with the case form."""
        if officer is not None:
            who = officer_actor(officer.id)
        else:
            who = DRIVER if reason in DRIVER_ENDS else SYSTEM
        detail = {"call_id": call.call_id, "reason": reason}
        try:
            if call.case_state in (CaseState.REPORTED, CaseState.QUEUED):
                await self.trail.event(call, CaseEvent.ABANDON, who, detail)
            else:
                hangup = reason in ("driver_hangup", "officer_hangup")
                action = AuditAction.HANGUP if hangup else AuditAction.CALL_ENDED
                await self.trail.action(call, action, who, detail)
        except KuaichuError:
            # The call is over either way; the trail stays as it was and says so in the log.
            logger.exception(
                "call %s: could not record the end in case %s", call.call_id, call.case_id
            )

    def stop_reports(self) -> None:
        """From now on a report is refused with ``server_restarting`` (the drain's first
        step, before the pages are told)."""
        self.reports.stop()

    async def drain(self, timeout: float) -> None:
        """SIGTERM: refuse new reports, end every live call (``server_shutdown``: the pages
        are told), and wait up to ``timeout`` s for their recordings to be finalized and
        registered. The cleanup's :meth:`close` then finds nothing left to end."""
        self.reports.stop()
        live = list(self.sessions)
        logger.info("draining: %d live call(s) end, new reports refused", len(live))
        await self._end_all(live)
        try:
            await asyncio.wait_for(asyncio.shield(self.recordings.close()), timeout)
        except TimeoutError:
            logger.warning("draining: recordings not finalized within %.0f s", timeout)

    async def _end_all(self, live: list[Call]) -> None:
        for call in live:
            try:
                await self._end(call, "server_shutdown")
            except Exception:
                # One call that cannot be ended cleanly must not keep the others open.
                logger.exception("call %s: could not end it at shutdown", call.call_id)

    async def close(self) -> None:
        """Shutdown: every live call ends, and its recording is finalized."""
        self.reports.stop()
        try:
            await self._end_all(list(self.sessions))
        finally:
            await self.recordings.close()
