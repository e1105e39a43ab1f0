"""A driver page that comes back after a restart: the call a restart cut off, found by the
page's resume token, and the transaction of a report that rejoins that call's case.

The call centre asks here when a ``resume`` names no live call (the answer is then
``call_interrupted``) and when a ``report`` carries ``previous`` (docs/protocol.md, "After a
restart"; the rule in docs/cases.md, "After a crash or a stop").
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ..cases.actions import AuditAction
from ..cases.actors import DRIVER
from ..cases.states import AuditEntry, CaseState
from ..storage.db import Database
from .model import CallState
from .resume import ResumeTokens

# Ends the server caused by restarting: a crash (closed by start-up recovery) or a drain.
RESTART_ENDS: Final = frozenset({"interrupted", "server_shutdown"})
# How long after such an end a report from the same page rejoins the case.
REJOIN_WINDOW: Final = 1800.0


@dataclass(frozen=True)
class Interrupted:
    """A call that a restart ended, and where its case stands now."""

    call_id: str
    case_id: str
    case_state: CaseState
    reason: str
    ended_at: float


class Interruptions:
    """Finds interrupted calls by their resume token and rejoins their cases."""

    def __init__(self, db: Database, tokens: ResumeTokens, window: float = REJOIN_WINDOW) -> None:
        self.db = db
        self.tokens = tokens
        self.window = window

    async def find(self, call_id: str, token: str) -> Interrupted | None:
        """The call if ``token`` is its own and a restart ended it; None otherwise (a wrong
        token learns nothing)."""
        if not self.tokens.check(call_id, token):
            return None
        row = await self.db.get_call(call_id)
        if row is None or row["state"] != CallState.ENDED or row["case"] is None:
            return None
        reason = row["end_reason"]
        if reason not in RESTART_ENDS:
            return None
        return Interrupted(
            call_id,
            row["case_id"],
            CaseState(row["case"]["status"]),
            reason,
            row["ended_at"] or 0.0,
        )

    async def rejoinable(self, previous: tuple[str, str] | None) -> Interrupted | None:
        """The report's ``previous`` call, if it may still be rejoined (within the window)."""
        found = await self.find(*previous) if previous is not None else None
        if found is None or time.time() - found.ended_at > self.window:
            return None
        return found

    async def rejoin(
        self,
        previous: Interrupted,
        call_id: str,
        at: datetime,
        location: Mapping[str, float] | None,
        zone: tzinfo,
    ) -> CaseState:
        """The new call's row in the old case and the trail's ``rejoined`` action, in one
        transaction; the case's state (unchanged)."""

        async def add_call(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await self.db.insert_call(conn, call_id, previous.case_id, at.timestamp(), location)

        entry = await self.db.case_action(
            previous.case_id,
            AuditAction.REJOINED,
            DRIVER,
            at,
            {"call_id": call_id, "previous_call_id": previous.call_id},
            zone=zone,
            extra=add_call,
        )
        return entry.to_state
