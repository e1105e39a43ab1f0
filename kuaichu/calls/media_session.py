"""A call's media: the two peer connections set up, lost and set up again.

The driver's leg is offered as soon as an officer answers; the officer's leg once the driver
has answered. A leg that dies is recovered where it can be: a fresh driver leg over the
socket (the phone changed networks), or the call back at the head of the queue when the
officer's leg is gone. Ending the call is the call centre's: it is handed in as ``end``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..cases.actors import SYSTEM
from ..cases.states import CaseEvent, CaseState
from ..errors import KuaichuError
from ..media.call_media import CallMedia
from ..media.leg_health import HealthPolicy
from ..queue import Dispatcher
from ..storage.db import Database
from .fanout import CallFanout
from .model import Call, CallState
from .sessions import CallRegistry
from .trail import CallTrail

logger = logging.getLogger(__name__)

MEDIA_SETUP_TIMEOUT = 30.0

EndCall = Callable[[Call, str], Awaitable[None]]


class MediaSession:
    """Connects, recovers and re-queues a call's media legs."""

    def __init__(
        self,
        db: Database,
        sessions: CallRegistry,
        fanout: CallFanout,
        dispatcher: Dispatcher,
        trail: CallTrail,
        *,
        end: EndCall,
        recordings_dir: Path,
        driver_grace: float,
        media_factory: Callable[..., CallMedia] = CallMedia,
        on_officer_failed: Callable[[Call, str], None] | None = None,
        health: HealthPolicy | None = None,
    ) -> None:
        """``on_officer_failed(call, reason)``: the officer's leg died; when given, it decides
        (the call centre holds the call for the officer's console to come back) instead of
        re-queueing the call at once. ``health``: when a leg is declared failed, and how many
        fresh driver legs a call gets in a row before it goes back to the head of the queue."""
        self.db = db
        self.sessions = sessions
        self.fanout = fanout
        self.dispatcher = dispatcher
        self.trail = trail
        self.end = end
        self.recordings_dir = recordings_dir
        self.driver_grace = driver_grace
        self.media_factory = media_factory
        self.on_officer_failed = on_officer_failed
        self.health = health or HealthPolicy()

    async def connect(self, call: Call, officer_id: int) -> None:
        """Offer the driver's leg (unless it is up already), then the officer's."""
        try:
            if call.media is None:
                call.media = self.media_factory(
                    call.call_id,
                    self.recordings_dir / call.case_id,
                    on_failed=lambda leg, why: self.failed(call, leg, why),
                    on_recording_failed=lambda why: self.recording_failed(call, why),
                    on_leg_up=lambda leg: self.leg_up(call, leg),
                    connect_timeout=self.health.connect_timeout,
                    media_timeout=self.health.media_timeout,
                )
            if call.pending_offer is None and not call.driver_ready.is_set():
                # A new call, or one re-queued because its driver leg never came back.
                offer = await call.media.driver_offer()
                call.pending_offer = {"call_id": call.call_id, **offer}
                self.fanout.to_driver(call, "sdp_offer", call.pending_offer)
            await asyncio.wait_for(call.driver_ready.wait(), MEDIA_SETUP_TIMEOUT)
            if call.officer_id != officer_id:
                return
            offer = await call.media.officer_offer()
            self.fanout.to_officer_id(officer_id, "sdp_offer", {"call_id": call.call_id, **offer})
        except TimeoutError:
            logger.warning("call %s: driver did not answer the media offer", call.call_id)
            await self.end(call, "media_failed")
        except KuaichuError as exc:
            logger.warning("call %s: media setup failed: %s", call.call_id, exc)
            await self.end(call, "media_failed")

    def failed(self, call: Call, leg: str, reason: str) -> None:
        """A leg's connection died (CallMedia's ``on_failed``, or a refused answer)."""
        if call.ended:
            return
        logger.warning("call %s: %s leg failed (%s)", call.call_id, leg, reason)
        if leg == "driver":
            if call.driver_reoffers >= self.health.reoffers:
                call.spawn(self.driver_media_failed(call, reason), "requeue")
            else:
                call.driver_reoffers += 1
                call.spawn(self.rejoin_driver(call), "rejoin")
        elif call.officer_id is not None and self.on_officer_failed is not None:
            # The console hears it (it asks for its leg back, kuaichu/officer_ui/static/
            # console/media.js) and the call waits for it meanwhile.
            call.officer_reconnecting = True
            self.fanout.to_officer_id(
                call.officer_id,
                "officer_media",
                {"call_id": call.call_id, "state": "reconnecting", "reason": reason},
            )
            self.on_officer_failed(call, reason)
        elif call.officer_id is not None:
            officer_id = call.officer_id
            self.dispatcher.call_finished(officer_id, call.call_id, None)
            self.fanout.to_officer_id(
                officer_id, "call_ended", {"call_id": call.call_id, "reason": "media_failed"}
            )
            call.spawn(self.officer_lost(call, "officer_media_failed"), "requeue")

    def leg_up(self, call: Call, leg: str) -> None:
        """A leg connected and receives (CallMedia's ``on_leg_up``): a driver leg that was
        re-offered is back, and the count of re-offers starts again."""
        if call.ended:
            return
        if leg == "officer":
            if call.officer_id is not None and call.officer_reconnecting:
                call.officer_reconnecting = False
                self.fanout.to_officer_id(
                    call.officer_id,
                    "officer_media",
                    {"call_id": call.call_id, "state": "connected"},
                )
            return
        if call.driver_reoffers:
            call.driver_reoffers = 0
            logger.info("call %s: driver media rejoined", call.call_id)
            self.fanout.to_officer(
                call, "driver_media", {"call_id": call.call_id, "state": "connected"}
            )

    async def restart_driver(self, sid: str, reason: str) -> bool:
        """The driver page saw its own connection go disconnected or failed: its leg is
        treated as failed (re-offered). False when no answered leg is up to restart (one is
        being offered already, or the call has no media yet)."""
        call = self.sessions.driver_call(sid)
        if call.media is None or not call.driver_ready.is_set():
            return False
        return call.media.fail_leg("driver", f"page_{reason}")

    async def driver_media_failed(self, call: Call, reason: str) -> None:
        """The driver's media did not come back after ``media_reoffers`` fresh legs: the call
        leaves its officer (told: ``call_ended`` "media_failed") and goes back to the head of
        the queue, the driver told; whoever answers next offers the driver a fresh leg."""
        if call.ended:
            return
        logger.warning(
            "call %s: driver media failed %d time(s) in a row (%s), re-queued at the head",
            call.call_id,
            call.driver_reoffers + 1,
            reason,
        )
        call.driver_reoffers = 0
        call.driver_ready.clear()
        call.pending_offer = None
        officer_id = call.officer_id
        if officer_id is None:
            return  # already back in the queue: the next answer re-offers the driver leg
        self.fanout.to_officer_id(
            officer_id, "call_ended", {"call_id": call.call_id, "reason": "media_failed"}
        )
        try:
            await self.officer_lost(call, "driver_media_failed", driver_reason="media_failed")
        finally:
            # The officer's wrap-up starts once the call is back at the head of the queue:
            # started before, a wrap-up shorter than the re-queue's awaits (the row, the trail)
            # freed the officer while only the calls behind were queued, and the next of those
            # was offered first (tests/e2e/test_leg_failure.py, a loaded machine). Whatever
            # the re-queue raises, the officer is released.
            self.dispatcher.call_finished(officer_id, call.call_id, None)

    def recording_failed(self, call: Call, reason: str) -> None:
        """A write error (a full disk) stopped the recording: the call goes on, unrecorded,
        and its officer is told (the console says "recording stopped")."""
        # The recorder logged it, once; the officer hears it here.
        self.fanout.to_officer(
            call, "recording_stopped", {"call_id": call.call_id, "reason": reason}
        )

    async def rejoin_driver(self, call: Call) -> None:
        """The driver's media connection died (a phone moving from Wi-Fi to 4G; aiortc has no
        ICE restart): offer a fresh driver leg over the socket, which may itself be resuming.
        The officer leg and the recording go on; a driver who does not answer within the
        grace period is lost."""
        if call.media is None or call.ended:
            return
        call.driver_ready.clear()
        try:
            offer = await call.media.driver_offer()
        except KuaichuError as exc:
            logger.warning("call %s: cannot re-offer the driver leg: %s", call.call_id, exc)
            await self.end(call, "driver_lost")
            return
        call.pending_offer = {"call_id": call.call_id, **offer}
        self.fanout.to_driver(call, "sdp_offer", call.pending_offer)
        self.dispatcher.record("driver_media_rejoin", call.call_id, call.officer_id)
        self.fanout.to_officer(
            call, "driver_media", {"call_id": call.call_id, "state": "reconnecting"}
        )
        # A rejoin link sent meanwhile (kuaichu.calls.rejoin) holds the call longer.
        deadline = time.monotonic() + self.driver_grace
        while not call.driver_ready.is_set():
            left = max(deadline, call.driver_hold_until) - time.monotonic()
            if left <= 0:
                logger.info("call %s: driver did not rejoin the media", call.call_id)
                await self.end(call, "driver_lost")
                return
            try:
                await asyncio.wait_for(call.driver_ready.wait(), left)
            except TimeoutError:
                continue
        # "connected" goes to the officer once the new leg receives (leg_up); a leg that
        # does not is re-offered again by its watchdog, up to media_reoffers times.
        logger.info("call %s: driver answered the new media offer", call.call_id)

    async def officer_lost(
        self, call: Call, reason: str, *, driver_reason: str = "officer_lost"
    ) -> None:
        """The officer vanished mid-call: back to the head of the queue, driver told."""
        if call.ended:
            return
        logger.info("call %s: officer lost (%s), re-queued at the head", call.call_id, reason)
        lost_officer = call.officer_id
        call.officer_id = None
        call.state = CallState.RECONNECTING
        if call.media is not None:
            await call.media.detach_officer()
        # The call may have ended meanwhile (a shutdown's drain): an ended call's row and its
        # case must not be sent back to the queue.
        if call.ended:
            return
        await self.db.update_call(call.call_id, state=CallState.WAITING)
        if call.ended:
            return
        # With two calls in one case (linked reports), losing one officer leg must not send
        # the case back to the queue while the other call is still answered.
        others = [
            c
            for c in self.sessions.in_case(call.case_id)
            if c is not call and c.officer_id is not None
        ]
        if call.case_state is CaseState.IN_CALL and not others:
            try:
                await self.trail.event(
                    call,
                    CaseEvent.REQUEUE,
                    SYSTEM,
                    {"call_id": call.call_id, "reason": reason, "officer_id": lost_officer},
                )
            except KuaichuError:
                logger.exception("call %s: could not record the re-queue", call.call_id)
        self.fanout.driver_state(call, driver_reason)
        self.dispatcher.enqueue(call.queued, at_head=True)
