"""Queue vocabulary shared by the backends and the dispatcher."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class OfficerStatus(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    BUSY = "busy"
    WRAPUP = "wrapup"
    BREAK = "break"


@dataclass
class QueuedCall:
    call_id: str
    case_id: str
    queued_at: float  # wall clock, for the "waited" figures shown to people
    location: dict[str, Any] | None = None
    # officer id -> wall-clock time until which this call is not offered to them again
    declined_by: dict[int, float] = field(default_factory=dict)
    reserved_by: int | None = None
    # issue 13: a photo report's video callback is first for the officer who sent the link;
    # the dispatcher clears it after one reservation timeout or once that officer passes.
    preferred_officer: int | None = None


@dataclass(frozen=True)
class QueuePosition:
    """A waiting call's place, as its driver is told: what the listener gets on a change."""

    call_id: str
    position: int  # 1-based; 1 means next to be answered
    waiting: int  # calls in the queue
    estimated_wait_s: int | None
