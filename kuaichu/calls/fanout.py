"""What the pages are told: the dispatcher's news, the call's state, the case work's pushes.

:class:`CallFanout` is built first, from the emitter and the session registry alone, and is
handed to the others' constructors: the dispatcher's listener, the case work's ``LiveCalls``
port, the call centre's way out to the sockets. It never calls back into any of them: what it
needs to say (queue positions, the summary) comes in as arguments.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..cases.states import CaseState
from ..queue import OfficerStatus, QueuedCall
from ..queue.model import QueuePosition
from ..signaling.emitter import Emitter
from ..signaling.rooms import DRIVER_NS, OFFICER_NS, officer_room
from .model import Call
from .sessions import CallRegistry


class CallFanout:
    """Sends socket events to drivers and officers; the DispatchListener and LiveCalls."""

    def __init__(self, emitter: Emitter, sessions: CallRegistry) -> None:
        self.emit = emitter
        self.sessions = sessions

    # -- to the people on a call -------------------------------------------------------

    def to_driver(self, call: Call, event: str, payload: dict[str, Any]) -> None:
        """To the call's driver page, if it is connected."""
        # Never emit with to=None: that would broadcast to every driver. A driver who is
        # away gets the current picture when they resume.
        if call.driver_sid is not None:
            self.emit.send(event, payload, DRIVER_NS, call.driver_sid)

    def to_officer(self, call: Call, event: str, payload: dict[str, Any]) -> None:
        """To the consoles of the call's officer, if it has one."""
        if call.officer_id is not None:
            self.to_officer_id(call.officer_id, event, payload)

    def to_officer_id(self, officer_id: int, event: str, payload: dict[str, Any]) -> None:
        """To every console tab of one officer."""
        self.emit.send(event, payload, OFFICER_NS, officer_room(officer_id))

    def to_officer_sid(self, sid: str, event: str, payload: Mapping[str, Any]) -> None:
        """To one console tab (the current picture for a tab that just connected)."""
        self.emit.send(event, dict(payload), OFFICER_NS, sid)

    def driver_state(self, call: Call, reason: str | None = None) -> None:
        """The call's state (and why it changed) to its driver page."""
        payload: dict[str, Any] = {"call_id": call.call_id, "state": call.state}
        if reason:
            payload["reason"] = reason
        self.to_driver(call, "call_state", payload)

    def queue_position(self, call: Call, position: QueuePosition | None) -> None:
        """The driver's place in the queue (nothing once the call left the queue)."""
        if position is None:
            return
        self.to_driver(
            call,
            "queue",
            {
                "call_id": call.call_id,
                "position": position.position,
                "waiting": position.waiting,
                "estimated_wait_s": position.estimated_wait_s,
            },
        )

    # -- DispatchListener --------------------------------------------------------------

    def officer_state_changed(
        self,
        officer_id: int,
        status: OfficerStatus,
        call_id: str | None,
        wrapup_until: float | None,
        summary: Mapping[str, Any],
    ) -> None:
        """An officer's status changed: their consoles, then everyone's queue summary."""
        self.to_officer_id(
            officer_id,
            "officer_state",
            {"status": status.value, "call_id": call_id, "wrapup_until": wrapup_until},
        )
        # "Available officers" in every console changes with any officer's state.
        self.emit.send("queue_summary", dict(summary), OFFICER_NS, None)

    def call_offered(self, officer_id: int, call: QueuedCall, expires_in: float) -> None:
        """An offer to one officer, with how long they have to take it."""
        self.to_officer_id(
            officer_id,
            "call_offered",
            {
                "call_id": call.call_id,
                "case_id": call.case_id,
                "waited_s": int(time.time() - call.queued_at),
                "location": call.location,
                "expires_in_s": expires_in,
            },
        )

    def offer_withdrawn(self, officer_id: int, call_id: str, reason: str) -> None:
        """The offer is gone (abandoned, timed out)."""
        self.to_officer_id(officer_id, "offer_withdrawn", {"call_id": call_id, "reason": reason})

    def queue_changed(
        self, positions: Sequence[QueuePosition], summary: Mapping[str, Any]
    ) -> None:
        """Every waiting driver's place, and the officers' queue summary."""
        for position in positions:
            call = self.sessions.get(position.call_id)
            if call is not None:
                self.queue_position(call, position)
        self.emit.send("queue_summary", dict(summary), OFFICER_NS, None)

    # -- LiveCalls: the case work's view of live calls ---------------------------------

    def push_to_case(self, case_id: str, event: str, payload: dict[str, Any]) -> int:
        """Send an event to every connected driver page of the case (and its officer's
        console); returns how many driver pages it reached."""
        reached = 0
        for call in self.sessions.in_case(case_id):
            if call.driver_sid is not None:
                reached += 1
            self.to_driver(call, event, payload)
            self.to_officer(call, event, payload)
        for sid, page_case in list(self.sessions.ended_pages.items()):
            if page_case == case_id:
                reached += 1
                self.emit.send(event, payload, DRIVER_NS, sid)
        return reached

    def case_state_changed(self, case_id: str, state: CaseState) -> None:
        """The case moved on: its live calls follow (answering checks it)."""
        for call in self.sessions.in_case(case_id):
            call.case_state = state

    def relink(self, from_case: str, to_case: str) -> None:
        """Two reports became one case: the calls and ended pages move to it."""
        pages = self.sessions.ended_pages
        for sid, page_case in list(pages.items()):
            if page_case == from_case:
                pages[sid] = to_case
        for call in self.sessions.in_case(from_case):
            # The case work tells us the merged case's state right after.
            call.case_id = to_case
            call.queued.case_id = to_case
