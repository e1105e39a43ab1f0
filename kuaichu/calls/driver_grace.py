"""A call waiting for its driver's page to come back, and the page's return.

On a road the network drops for a moment, a phone locks, a browser is killed: instead of
ending the call, it keeps its place in the queue (or its officer) for ``grace`` seconds
(``--driver-grace-seconds``), and the officer is told, with the number the driver gave. The
page's new connection takes the call back with the call's resume token (docs/protocol.md,
``resume``). The officer may send a rejoin link by SMS (kuaichu.calls.rejoin): the call then
waits the link's life, and opening the link gives the page that token. A call a restart cut
off is not live any more: its token finds it among the interrupted ones
(kuaichu.calls.restart) and the page is answered ``call_interrupted``.

Its own module, as the officer's side is kuaichu.calls.officer_grace: the call centre only
routes the driver's socket events here and ends the call when the grace runs out.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.actors import officer_actor
from ..errors import CallInterrupted, Conflict, NotFound
from ..queue import Dispatcher
from ..storage.db import Database
from .fanout import CallFanout
from .model import Call
from .rejoin import RejoinLinks, RejoinTarget
from .restart import Interrupted, Interruptions
from .resume import ResumeTokens
from .sessions import CallRegistry
from .trail import CallTrail

logger = logging.getLogger(__name__)


def _interrupted_error(call: Interrupted) -> CallInterrupted:
    return CallInterrupted(
        "the call was interrupted by a server restart; report again to rejoin the case",
        case_id=call.case_id,
        reason=call.reason,
    )


class DriverGrace:
    """The calls whose driver's page is away, the rejoin links sent to it, and its return."""

    def __init__(
        self,
        db: Database,
        sessions: CallRegistry,
        fanout: CallFanout,
        dispatcher: Dispatcher,
        trail: CallTrail,
        tokens: ResumeTokens,
        interruptions: Interruptions,
        grace: float,
        *,
        rejoin: RejoinLinks | None,
        drop: Callable[[Call, str], Coroutine[Any, Any, None]],
    ) -> None:
        """``drop``: the call centre's end of a call whose driver left (``driver_lost``)."""
        self.db = db
        self.sessions = sessions
        self.fanout = fanout
        self.dispatcher = dispatcher
        self.trail = trail
        self.tokens = tokens
        self.interruptions = interruptions
        self.grace = grace
        self.rejoin = rejoin
        self._drop = drop

    async def disconnected(self, sid: str) -> None:
        """The driver's socket is gone. On a road the network drops for a moment: the call
        keeps its place (or its officer) for a grace period in which the page can resume."""
        call = self.sessions.detach_driver(sid)
        if call is None:
            return
        logger.info("call %s: driver connection lost, holding %.0f s", call.call_id, self.grace)
        call.grace = call.spawn(self._grace_expired(call, self.grace), "grace")
        await self.tell_lost(call)

    async def tell_lost(self, call: Call) -> None:
        """The officer may call back or send a rejoin link: the number comes with the news."""
        if call.officer_id is None:
            return
        info = await self.db.get_call(call.call_id)
        case = info["case"] if info else None
        phone = case["reporter_phone"] if case else None
        self.fanout.to_officer(
            call, "driver_link", {"call_id": call.call_id, "state": "lost", "phone": phone}
        )

    async def _grace_expired(self, call: Call, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if call.driver_sid is None:
            call.grace = None
            await self._drop(call, "driver_lost")

    async def send_rejoin(self, officer: Officer, call_id: str) -> dict[str, Any]:
        """The officer sends the dropped driver a rejoin link by SMS; the call waits for the
        driver as long as the link works."""
        call = self.sessions.officer_call(officer, call_id)
        if self.rejoin is None:
            raise Conflict("rejoin links are not available", reason="no_rejoin")
        if call.driver_sid is not None:
            raise Conflict("the driver is still connected", reason="driver_connected")
        info = await self.db.get_call(call_id)
        case = info["case"] if info else None
        phone = case["reporter_phone"] if case else None
        if not phone:
            raise Conflict("the driver gave no mobile number", reason="no_phone")
        sent_to = await self.rejoin.send(call_id, call.case_id, phone)
        # The call now waits the link's life for its driver, not the short grace.
        if call.grace is not None:
            call.grace.cancel()
        call.grace = call.spawn(self._grace_expired(call, self.rejoin.ttl), "grace")
        call.driver_hold_until = time.monotonic() + self.rejoin.ttl
        await self.trail.action(
            call,
            AuditAction.REJOIN_SENT,
            officer_actor(officer.id),
            {"call_id": call_id, "to": sent_to},
        )
        return {"sent_to": sent_to, "expires_in": self.rejoin.ttl}

    async def redeem_rejoin(self, token: str) -> RejoinTarget:
        """An opened rejoin link: what resumes the call it leads to (NotFound once used or
        expired). After a restart the call is gone but not its case: the page gets the cut-off
        call's own token, and its resume answers ``call_interrupted`` as after a reload, with
        the offer to report again into the case."""
        call_id = await self.rejoin.redeem(token) if self.rejoin is not None else None
        call = self.sessions.get(call_id) if call_id else None
        if call is not None:
            return RejoinTarget(call.call_id, call.resume_token, call.case_id)
        if call_id:
            resume_token = self.tokens.mint(call_id)
            interrupted = await self.interruptions.find(call_id, resume_token)
            if interrupted is not None:
                return RejoinTarget(call_id, resume_token, interrupted.case_id)
        raise NotFound("this link has expired or was used already", reason="rejoin_expired")

    async def resume(self, sid: str, call_id: str, token: str) -> Call:
        """The driver page's new connection takes its call back (within the grace period).
        A call that a restart cut off is answered ``call_interrupted`` with its case, so the
        page can offer to report again (which rejoins the case)."""
        call = self.sessions.get(call_id)
        if call is None:
            interrupted = await self.interruptions.find(call_id, token)
            if interrupted is not None:
                raise _interrupted_error(interrupted)
        # compare_digest raises on text that is not ASCII: such a token is simply not ours.
        if (
            call is None
            or not token.isascii()
            or not secrets.compare_digest(call.resume_token, token)
        ):
            raise NotFound("no such call to resume")
        if self.sessions.has_driver(sid):
            raise Conflict("this connection already has a call")
        if call.grace is not None:
            call.grace.cancel()
            call.grace = None
        self.sessions.attach_driver(call, sid)
        call.driver_hold_until = 0.0
        logger.info("call %s: driver resumed", call_id)
        self.fanout.to_officer(call, "driver_link", {"call_id": call_id, "state": "back"})
        self.fanout.driver_state(call)
        self.fanout.queue_position(call, self.dispatcher.queue_position(call.call_id))
        if call.pending_offer is not None:
            self.fanout.to_driver(call, "sdp_offer", call.pending_offer)
        return call
