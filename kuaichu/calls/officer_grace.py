"""A call waiting for its officer's console to come back (issue 12).

A console reloaded, switched language or lost its media leg: instead of sending the call back
to the queue at once, the call is held for ``grace`` seconds (``--officer-grace-seconds``). The
driver sees "reconnecting to the officer", the dispatcher keeps the officer busy, and the
console that shows the call's officer token back gets a fresh media leg offered. When the grace
runs out the call leaves the officer as it would have at once (the media session's
``officer_lost``: back to the head of the queue).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ..accounts.model import Officer
from ..errors import KuaichuError, NotFound
from ..queue import Dispatcher
from .fanout import CallFanout
from .media_session import MediaSession
from .model import Call, CallState
from .resume import ResumeTokens
from .sessions import CallRegistry

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class OfficerHold:
    """A call waiting for its officer's console to come back (compared by identity)."""

    officer_id: int


class OfficerGrace:
    """The calls whose officer's console is away, and their return."""

    def __init__(
        self,
        sessions: CallRegistry,
        fanout: CallFanout,
        dispatcher: Dispatcher,
        media: MediaSession,
        tokens: ResumeTokens,
        grace: float,
        *,
        tell_driver_lost: Callable[[Call], Coroutine[Any, Any, None]],
    ) -> None:
        self.sessions = sessions
        self.fanout = fanout
        self.dispatcher = dispatcher
        self.media = media
        self.tokens = tokens
        self.grace = grace
        self._tell_driver_lost = tell_driver_lost
        # call id -> the hold (whose officer). The dispatcher keeps the officer busy meanwhile.
        self.holds: dict[str, OfficerHold] = {}

    def token(self, call: Call, officer_id: int) -> str:
        """The console's hold on its call: handed to the officer's tabs with call_started,
        shown back by a reloaded console to take the call again."""
        return self.tokens.mint(f"officer:{officer_id}:{call.call_id}")

    def release(self, call_id: str) -> OfficerHold | None:
        """The call ended: its hold, if its officer's console was away."""
        return self.holds.pop(call_id, None)

    def hold(self, call: Call, reason: str) -> None:
        """The officer's console is away: its media leg goes, the driver is told the officer
        is reconnecting, and the call waits ``grace`` s for :meth:`resume`."""
        if call.ended or call.officer_id is None or call.call_id in self.holds:
            return
        officer_id = call.officer_id
        logger.info(
            "call %s: officer %s away (%s), holding %.0f s",
            call.call_id,
            officer_id,
            reason,
            self.grace,
        )
        hold = self.holds[call.call_id] = OfficerHold(officer_id)
        call.state = CallState.RECONNECTING
        # The driver sees the same screen as for a lost officer: "reconnecting to the officer".
        self.fanout.driver_state(call, "officer_lost")
        self.dispatcher.record("officer_away", call.call_id, officer_id, reason=reason)
        call.spawn(self._away(call, hold), "officer-grace")

    async def _away(self, call: Call, hold: OfficerHold) -> None:
        officer_id = hold.officer_id
        if call.media is not None:
            await call.media.detach_officer()
        await asyncio.sleep(self.grace)
        # Not cancelled on resume (it may be closing the old leg): it looks whether its
        # hold is still the call's.
        if self.holds.get(call.call_id) is not hold or call.ended:
            return
        del self.holds[call.call_id]
        logger.info("call %s: officer %s did not come back", call.call_id, officer_id)
        if self.sessions.officer_sids.get(officer_id):
            # A console is open but never took the call back: it is told the call left it.
            self.dispatcher.call_finished(officer_id, call.call_id, None)
            self.fanout.to_officer_id(
                officer_id, "call_ended", {"call_id": call.call_id, "reason": "officer_lost"}
            )
        else:
            self.dispatcher.officer_offline(officer_id)
        await self.media.officer_lost(call, "officer_grace_expired")

    def resume(self, officer: Officer, call_id: str, token: str) -> Call:
        """A console (reloaded, or the tab whose media leg died) takes its call back with its
        token: a fresh media leg is offered to it; the call goes on where it was."""
        call = self.sessions.get(call_id)
        if (
            call is None
            or call.officer_id != officer.id
            or not token.isascii()
            or not secrets.compare_digest(self.token(call, officer.id), token)
        ):
            raise NotFound("no such call to resume")
        if call.media is None:
            # Still being set up: the first offer is on its way to every tab of the officer.
            return call
        self.holds.pop(call_id, None)
        call.state = CallState.CONNECTING
        logger.info("call %s: officer %s resumed", call_id, officer.username)
        self.dispatcher.record("officer_resumed", call_id, officer.id)
        call.spawn(self._offer(call, officer.id), "officer-reoffer")
        if call.driver_sid is None:
            # A reloaded console learns again that the driver's page is away.
            call.spawn(self._tell_driver_lost(call), "driver-lost-news")
        return call

    async def _offer(self, call: Call, officer_id: int) -> None:
        assert call.media is not None
        # The driver's leg may itself be coming back (both pages reloaded): the officer's
        # leg carries the driver's media, so it waits for it (the call's end cancels this).
        await call.driver_ready.wait()
        try:
            offer = await call.media.officer_offer()
        except KuaichuError as exc:
            logger.warning("call %s: cannot re-offer the officer leg: %s", call.call_id, exc)
            self.hold(call, "officer_reoffer_failed")
            return
        self.fanout.to_officer_id(officer_id, "sdp_offer", {"call_id": call.call_id, **offer})
