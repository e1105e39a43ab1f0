"""The supervisors' wallboard: live calls, officers and today's figures, as one snapshot."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from typing import Any

from ..queue import Dispatcher
from ..storage.db import Database
from .model import CallState
from .sessions import CallRegistry


class Wallboard:
    """A read model over the live sessions, the dispatcher and the day's queue events."""

    def __init__(
        self,
        sessions: CallRegistry,
        dispatcher: Dispatcher,
        db: Database,
        zone: tzinfo,
        complaints: Callable[[], Awaitable[dict[str, int]]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.db = db
        self.zone = zone
        # The claim-complaint line's callbacks due (issue 13): {"open": n, "overdue": m}.
        self.complaints = complaints

    async def snapshot(self) -> dict[str, Any]:
        """What the ``wallboard`` event carries (docs/protocol.md)."""
        now = time.time()
        calls = []
        for call in self.sessions:
            # An offered call shows who it is offered to; the wait stops counting at answer.
            reserved = call.queued.reserved_by
            officer = self.sessions.officer(
                call.officer_id if call.officer_id is not None else reserved
            )
            state = "offered" if reserved is not None and call.officer_id is None else call.state
            answered = call.state in (CallState.CONNECTING, CallState.IN_CALL)
            waited_until = call.answered_at if answered else now
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
            o = self.sessions.officer(oid)
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
        midnight = (
            datetime.now(self.zone).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        )
        events = await self.db.events_since(midnight, kinds=("call_answered", "call_abandoned"))
        answered_events = [e for e in events if e["kind"] == "call_answered"]
        waits = [
            float(json.loads(e.get("detail") or "{}").get("waited_s", 0)) for e in answered_events
        ]
        complaints = await self.complaints() if self.complaints else {"open": 0, "overdue": 0}
        return {
            "calls": calls,
            "officers": officers,
            "complaints": complaints,
            "today": {
                "answered": len(answered_events),
                "abandoned": sum(1 for e in events if e["kind"] == "call_abandoned"),
                "waiting": self.dispatcher.waiting_count(),
                "avg_wait_s": round(sum(waits) / len(waits), 1) if waits else 0,
            },
        }
