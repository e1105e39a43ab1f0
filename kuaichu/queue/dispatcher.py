"""Dispatch: which officer is offered which call, and for how long.

The server owns every officer's state. State changes happen synchronously on the event loop
(no ``await`` between a check and its change), which is what makes a reservation atomic in the
embedded, single-process setup; the listener and the event log are told afterwards.

Policy: the longest-waiting call goes to the officer who has been available longest. An offer
is a reservation with a timeout. A decline puts the call back where it was and keeps it away
from that officer for a cool-down; a timeout also sets the silent officer on break (they are
evidently not at their desk). Neither moves the call in the queue.

A call may name a preferred officer (a photo report's video callback: the officer who sent
the link is the one the driver expects). For one reservation timeout after it is queued it is
offered to that officer only, as soon as they are available; after that, or once they let
the offer pass (decline, timeout), it goes to whoever is free like any other call.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol

from ..clock import Clock, SystemClock, Timer
from ..errors import Conflict, NotFound
from .model import OfficerStatus, QueuedCall, QueuePosition
from .ports import CallQueue, EventSink

logger = logging.getLogger(__name__)


class DispatchListener(Protocol):
    """What the edge (signaling) is told. Implementations must not block."""

    def officer_state_changed(
        self,
        officer_id: int,
        status: OfficerStatus,
        call_id: str | None,
        wrapup_until: float | None,
        summary: Mapping[str, Any],
    ) -> None:
        """An officer's status changed; ``summary`` is the queue summary after the change."""
        ...

    def call_offered(self, officer_id: int, call: QueuedCall, expires_in: float) -> None: ...

    def offer_withdrawn(self, officer_id: int, call_id: str, reason: str) -> None: ...

    def queue_changed(
        self, positions: Sequence[QueuePosition], summary: Mapping[str, Any]
    ) -> None:
        """The queue changed: every waiting call's place, and the summary."""
        ...


@dataclass
class OfficerPresence:
    """One officer's dispatch state, as the dispatcher keeps it."""

    officer_id: int
    status: OfficerStatus = OfficerStatus.OFFLINE
    since: float = 0.0  # monotonic; "available longest" is the smallest
    call_id: str | None = None
    wrapup_until: float | None = None  # wall clock, for display


class Dispatcher:
    """Offers queued calls to available officers (see the module docstring for the policy)."""

    def __init__(
        self,
        queue: CallQueue,
        events: EventSink,
        listener: DispatchListener,
        *,
        reservation_timeout: float,
        wrapup_seconds: float,
        decline_cooldown: float,
        default_handle_seconds: float,
        clock: Clock | None = None,
    ) -> None:
        self._queue = queue
        self._events = events
        self.listener = listener
        self.clock: Clock = clock or SystemClock()
        self.reservation_timeout = reservation_timeout
        self.wrapup_seconds = wrapup_seconds
        self.decline_cooldown = decline_cooldown
        self.default_handle_seconds = default_handle_seconds
        self._officers: dict[int, OfficerPresence] = {}
        self._timers: dict[int, Timer] = {}  # officer id -> reservation/wrap-up
        # One timer per decline: when its cool-down ends the call may go to that officer again,
        # and if they are the only one free nothing else would run dispatch().
        self._cooldowns: dict[tuple[str, int], Timer] = {}
        # call id -> when its preferred officer's turn ends (QueuedCall.preferred_officer)
        self._preferences: dict[str, Timer] = {}
        self._handle_times: deque[float] = deque(maxlen=50)
        # issue 12: officers whose wrap-up waits for open case work (the console says so):
        # their wrap-up time ending does not make them available; saving the work or "ready" does.
        self._wrapup_holds: set[int] = set()

    # -- reading ------------------------------------------------------------------------------

    def position(self, call_id: str) -> int | None:
        """1-based place in the queue (1 is next); None once the call is not waiting."""
        return self._queue.position(call_id)

    def queued(self, call_id: str) -> QueuedCall | None:
        """The waiting call, or None if it is not in the queue."""
        return self._queue.get(call_id)

    def waiting(self) -> list[QueuedCall]:
        """The waiting calls, next to be answered first (a snapshot)."""
        return list(self._queue)

    def waiting_count(self) -> int:
        """How many calls are waiting."""
        return len(self._queue)

    def officers(self) -> Mapping[int, OfficerPresence]:
        """Every officer seen so far, by id (read-only view)."""
        return MappingProxyType(self._officers)

    def record(
        self, kind: str, call_id: str | None = None, officer_id: int | None = None, **detail: Any
    ) -> None:
        """Add an event to the queue event log (for call events the dispatcher does not see)."""
        self._events.record(kind, call_id, officer_id, **detail)

    # -- officers ---------------------------------------------------------------------------

    def presence(self, officer_id: int) -> OfficerPresence:
        """The officer's presence, created offline on first sight."""
        return self._officers.setdefault(officer_id, OfficerPresence(officer_id))

    def _set(
        self,
        p: OfficerPresence,
        status: OfficerStatus,
        call_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        previous = p.status
        p.status = status
        p.since = self.clock.monotonic()
        p.call_id = call_id
        p.wrapup_until = (
            self.clock.now() + self.wrapup_seconds if status is OfficerStatus.WRAPUP else None
        )
        self._cancel_timer(p.officer_id)
        if status is not OfficerStatus.WRAPUP:
            self._wrapup_holds.discard(p.officer_id)
        if status is OfficerStatus.WRAPUP:
            self._timers[p.officer_id] = self.clock.call_later(
                self.wrapup_seconds, partial(self._wrapup_over, p.officer_id)
            )
        self._events.record(
            "officer_" + status.value,
            call_id,
            p.officer_id,
            previous=previous.value,
            **({"reason": reason} if reason else {}),
        )
        self.listener.officer_state_changed(
            p.officer_id, status, call_id, p.wrapup_until, self.summary()
        )

    def _cancel_timer(self, officer_id: int) -> None:
        timer = self._timers.pop(officer_id, None)
        if timer is not None:
            timer.cancel()

    def officer_online(self, officer_id: int) -> OfficerPresence:
        """An officer connected: on break until they say they are available."""
        p = self.presence(officer_id)
        if p.status is OfficerStatus.OFFLINE:
            self._set(p, OfficerStatus.BREAK)
        return p

    def officer_offline(self, officer_id: int) -> str | None:
        """The officer's last connection is gone. Returns the call they were busy with, which
        the caller must put back at the head of the queue (the media is the caller's)."""
        p = self.presence(officer_id)
        busy_call = p.call_id if p.status is OfficerStatus.BUSY else None
        if p.status is OfficerStatus.RESERVED and p.call_id:
            self._release(p.call_id, p, "officer_offline")
        self._set(p, OfficerStatus.OFFLINE, reason="disconnected")
        self.dispatch()
        return busy_call

    def set_status(self, officer_id: int, status: OfficerStatus) -> None:
        """The officer chose available or break (refused while reserved or busy)."""
        if status not in (OfficerStatus.AVAILABLE, OfficerStatus.BREAK):
            raise Conflict("officers can only set themselves available or on break")
        p = self.presence(officer_id)
        if p.status in (OfficerStatus.RESERVED, OfficerStatus.BUSY):
            raise Conflict(f"cannot change status while {p.status.value}")
        if p.status is status:
            return
        self._set(p, status)
        self.dispatch()

    def hold_wrapup(self, officer_id: int, held: bool) -> None:
        """issue 12: the officer's console has case work open (``held``) or saved it. While
        held, the end of the wrap-up time leaves them in wrap-up; released after that end,
        they become available now. Ignored outside wrap-up."""
        p = self.presence(officer_id)
        if p.status is not OfficerStatus.WRAPUP:
            return
        if held:
            self._wrapup_holds.add(officer_id)
            self._events.record("wrapup_held", p.call_id, officer_id)
            return
        self._wrapup_holds.discard(officer_id)
        if officer_id not in self._timers:  # the wrap-up time is over
            self._set(p, OfficerStatus.AVAILABLE, reason="wrapup_work_saved")
            self.dispatch()

    def _wrapup_over(self, officer_id: int) -> None:
        self._timers.pop(officer_id, None)
        p = self.presence(officer_id)
        if p.status is OfficerStatus.WRAPUP and officer_id in self._wrapup_holds:
            self._events.record("wrapup_waits_for_work", p.call_id, officer_id)
            return
        if p.status is OfficerStatus.WRAPUP:
            self._set(p, OfficerStatus.AVAILABLE, reason="wrapup_over")
            self.dispatch()

    # -- calls --------------------------------------------------------------------------------

    def enqueue(self, call: QueuedCall, at_head: bool = False) -> None:
        """Queue a call (at the head when it is put back through no fault of the driver)."""
        call.reserved_by = None
        if call.preferred_officer is not None and (
            self.presence(call.preferred_officer).status is OfficerStatus.OFFLINE
        ):
            call.preferred_officer = None  # not in the console: no one to wait for
        if call.preferred_officer is not None:
            self._preferences[call.call_id] = self.clock.call_later(
                self.reservation_timeout, partial(self._preference_over, call.call_id)
            )
        self._queue.push(call, at_head=at_head)
        self._events.record("call_requeued" if at_head else "call_queued", call.call_id)
        self.dispatch()
        self.listener.queue_changed(self.queue_positions(), self.summary())

    def abandon(self, call_id: str) -> bool:
        """The driver hung up (or vanished) while waiting."""
        call = self._queue.remove(call_id)
        if call is None:
            return False
        self._drop_preference(call)
        if call.reserved_by is not None:
            p = self.presence(call.reserved_by)
            self.listener.offer_withdrawn(p.officer_id, call_id, "abandoned")
            self._set(p, OfficerStatus.AVAILABLE, reason="offer_abandoned")
        self._events.record(
            "call_abandoned", call_id, waited_s=round(self.clock.now() - call.queued_at, 1)
        )
        self.dispatch()
        self.listener.queue_changed(self.queue_positions(), self.summary())
        return True

    def accept(self, officer_id: int, call_id: str) -> QueuedCall:
        """The officer takes the call offered to them; Conflict if it is not theirs."""
        p = self.presence(officer_id)
        call = self._queue.get(call_id)
        if call is None or call.reserved_by != officer_id or p.status is not OfficerStatus.RESERVED:
            raise Conflict("this call is no longer offered to you")
        self._queue.remove(call_id)
        call.reserved_by = None
        self._drop_preference(call)
        waited = self.clock.now() - call.queued_at
        self._set(p, OfficerStatus.BUSY, call_id)
        self._events.record("call_answered", call_id, officer_id, waited_s=round(waited, 1))
        self.dispatch()
        self.listener.queue_changed(self.queue_positions(), self.summary())
        return call

    def decline(self, officer_id: int, call_id: str) -> None:
        """The officer passes: the call keeps its place and skips them for a cool-down."""
        p = self.presence(officer_id)
        call = self._queue.get(call_id)
        if call is None or call.reserved_by != officer_id:
            raise NotFound("no such offer")
        call.declined_by[officer_id] = self.clock.now() + self.decline_cooldown
        self._drop_preference(call)
        key = (call_id, officer_id)
        previous = self._cooldowns.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._cooldowns[key] = self.clock.call_later(
            self.decline_cooldown, partial(self._cooldown_over, key)
        )
        self._release(call_id, p, "declined")
        self._set(p, OfficerStatus.AVAILABLE, reason="declined")
        self.dispatch()

    def call_finished(self, officer_id: int, call_id: str, handle_seconds: float | None) -> None:
        """The officer's call ended: wrap-up, then available again."""
        if handle_seconds is not None:
            self._handle_times.append(handle_seconds)
        p = self.presence(officer_id)
        if p.call_id == call_id and p.status is OfficerStatus.BUSY:
            self._set(p, OfficerStatus.WRAPUP, call_id)

    def _release(self, call_id: str, p: OfficerPresence, reason: str) -> None:
        call = self._queue.get(call_id)
        if call is not None:
            call.reserved_by = None
        self._cancel_timer(p.officer_id)
        self._events.record("offer_" + reason, call_id, p.officer_id)

    def _drop_preference(self, call: QueuedCall) -> None:
        call.preferred_officer = None
        timer = self._preferences.pop(call.call_id, None)
        if timer is not None:
            timer.cancel()

    def _preference_over(self, call_id: str) -> None:
        self._preferences.pop(call_id, None)
        call = self._queue.get(call_id)
        if call is not None and call.preferred_officer is not None:
            call.preferred_officer = None
            self.dispatch()

    def _cooldown_over(self, key: tuple[str, int]) -> None:
        self._cooldowns.pop(key, None)
        self.dispatch()

    def _reservation_expired(self, officer_id: int, call_id: str) -> None:
        self._timers.pop(officer_id, None)
        p = self.presence(officer_id)
        if p.status is not OfficerStatus.RESERVED or p.call_id != call_id:
            return
        logger.info("call %s: offer to officer %s timed out", call_id, officer_id)
        self._release(call_id, p, "timeout")
        call = self._queue.get(call_id)
        if call is not None and call.preferred_officer == officer_id:
            self._drop_preference(call)
        self.listener.offer_withdrawn(officer_id, call_id, "timeout")
        self._set(p, OfficerStatus.BREAK, reason="missed_offer")
        self.dispatch()

    def dispatch(self) -> None:
        """Offer every unreserved call, oldest first, to the longest-available officer."""
        now = self.clock.now()
        for call in self._queue:
            if call.reserved_by is not None:
                continue
            candidates = [
                p
                for p in self._officers.values()
                if p.status is OfficerStatus.AVAILABLE
                and call.declined_by.get(p.officer_id, 0) <= now
                and call.preferred_officer in (None, p.officer_id)
            ]
            if not candidates:
                if not any(p.status is OfficerStatus.AVAILABLE for p in self._officers.values()):
                    return  # nobody free: later calls cannot be placed either
                continue
            officer = min(candidates, key=lambda p: p.since)
            call.reserved_by = officer.officer_id
            self._set(officer, OfficerStatus.RESERVED, call.call_id)
            # partial, not a lambda: the loop rebinds its variables before the timer fires.
            self._timers[officer.officer_id] = self.clock.call_later(
                self.reservation_timeout,
                partial(self._reservation_expired, officer.officer_id, call.call_id),
            )
            self._events.record("call_offered", call.call_id, officer.officer_id)
            self.listener.call_offered(officer.officer_id, call, self.reservation_timeout)

    # -- figures ------------------------------------------------------------------------------

    def average_handle_seconds(self) -> float:
        """Mean of the last 50 handle times (the configured default before any)."""
        if not self._handle_times:
            return self.default_handle_seconds
        return sum(self._handle_times) / len(self._handle_times)

    def estimated_wait(self, call_id: str) -> int | None:
        """Seconds a waiting call can expect to wait, roughly; None if it is not queued."""
        position = self._queue.position(call_id)
        if position is None:
            return None
        return self._estimate(position)

    def _estimate(self, position: int) -> int:
        staffed = sum(
            1
            for p in self._officers.values()
            if p.status not in (OfficerStatus.OFFLINE, OfficerStatus.BREAK)
        )
        if staffed == 0:
            staffed = 1  # nobody on shift yet: still give an order of magnitude
        # On average an officer frees up half a handle time from now.
        return int(self.average_handle_seconds() * (position - 0.5) / staffed)

    def queue_position(self, call_id: str) -> QueuePosition | None:
        """A waiting call's place as its driver is told; None if it is not queued."""
        waiting = list(self._queue)
        for i, call in enumerate(waiting):
            if call.call_id == call_id:
                return QueuePosition(call_id, i + 1, len(waiting), self._estimate(i + 1))
        return None

    def queue_positions(self) -> list[QueuePosition]:
        """Every waiting call's place, next to be answered first."""
        waiting = list(self._queue)
        return [
            QueuePosition(call.call_id, i + 1, len(waiting), self._estimate(i + 1))
            for i, call in enumerate(waiting)
        ]

    def summary(self) -> dict[str, Any]:
        """The officers' queue figures: waiting, longest wait, available officers."""
        now = self.clock.now()
        calls = list(self._queue)
        return {
            "waiting": len(calls),
            "longest_wait_s": int(max((now - c.queued_at for c in calls), default=0)),
            "available": sum(
                1 for p in self._officers.values() if p.status is OfficerStatus.AVAILABLE
            ),
        }

    def close(self) -> None:
        """Cancel the reservation and wrap-up timers."""
        for timer in (
            *self._timers.values(),
            *self._cooldowns.values(),
            *self._preferences.values(),
        ):
            timer.cancel()
        self._timers.clear()
        self._cooldowns.clear()
        self._preferences.clear()
