"""The call's entries in its case's audit trail: state-machine events and plain actions."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from typing import Any

from ..cases.actions import AuditAction
from ..cases.states import CaseEvent
from ..storage.db import Database
from .model import Call

logger = logging.getLogger(__name__)


class CallTrail:
    """Writes a call's case events in the service's time zone and keeps ``case_state``."""

    def __init__(self, db: Database, zone: tzinfo) -> None:
        self.db = db
        self.zone = zone

    def now(self) -> datetime:
        """The service's local time (its day is the wallboard's "today")."""
        return datetime.now(self.zone)

    async def event(
        self, call: Call, event: CaseEvent, who: str, detail: dict[str, Any] | None = None
    ) -> None:
        """One state-machine transition of the call's case, stored with its audit row."""
        entry = await self.db.case_event(
            call.case_id, event, who, self.now(), detail, zone=self.zone
        )
        call.case_state = entry.to_state
        logger.info(
            "call %s: case %s %s -> %s (%s)",
            call.call_id,
            call.case_id,
            entry.from_state,
            entry.to_state,
            who,
        )

    async def action(
        self, call: Call, action: AuditAction, who: str, detail: dict[str, Any] | None = None
    ) -> None:
        """An entry that records what happened without moving the case."""
        await self.db.case_action(call.case_id, action, who, self.now(), detail, zone=self.zone)
