"""A live call: who is on it, where its media and its case stand, and the tasks it owns."""

from __future__ import annotations

import asyncio
import enum
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..cases.states import CaseState
from ..media.call_media import CallMedia
from ..queue import QueuedCall
from ..signaling.schemas import Location
from ..tasks import TaskOwner


class CallState(enum.StrEnum):
    """The call's own state (media and queue), sent to the driver page as ``call_state``.

    Not the accident case's state: that is :class:`kuaichu.cases.states.CaseState`."""

    WAITING = "waiting"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


# End reasons that the driver caused: the trail names the driver, not the system.
DRIVER_ENDS = frozenset({"abandoned", "driver_hangup"})


@dataclass(eq=False)
class Call:
    """One driver's report from the queue to hang-up; lives in the CallRegistry meanwhile."""

    call_id: str
    case_id: str
    driver_sid: str | None  # None while the driver's socket is gone (grace period)
    queued: QueuedCall
    location: Location | None
    state: CallState = CallState.WAITING
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
    # The driver's grace timer (also owned by ``tasks``); kept to cancel it on resume.
    grace: asyncio.Task[None] | None = None
    # While a rejoin link is out (kuaichu.calls.rejoin): until when (monotonic) the call
    # waits for its driver, also for a fresh media leg; 0 otherwise.
    driver_hold_until: float = 0.0
    # Re-offers of the driver's media leg since it last received (issue 9: after
    # the health policy's re-offers the call goes back to the head of the queue).
    driver_reoffers: int = 0
    officer_reconnecting: bool = False  # the console was told its media leg is being redone
    tasks: TaskOwner = field(init=False)

    def __post_init__(self) -> None:
        self.tasks = TaskOwner(f"call {self.call_id}")

    @property
    def ended(self) -> bool:
        """True once the call is over (its media may still be finalizing)."""
        return self.state is CallState.ENDED

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run per-call work as a task the call owns (cancelled when the call ends)."""
        return self.tasks.spawn(coro, f"{name}:{self.call_id}")

    def cancel_tasks(self) -> None:
        """Cancel the call's tasks except the one running now (which is ending the call)."""
        current = asyncio.current_task()
        for task in self.tasks.tasks():
            if task is not current:
                task.cancel()
