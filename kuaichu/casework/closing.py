"""The ends of a case other than its determination: cancel, link two reports of one
accident, and close the notified cases whose review window has passed."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.actors import SYSTEM, officer_actor
from ..cases.errors import IllegalTransition
from ..cases.states import AuditEntry, CaseEvent, CaseState, review_deadline
from ..errors import Conflict, InvalidMessage
from ..storage.rows import NotifiedCase
from .context import HAS_DOCUMENT, Access, CaseContext, written_reason
from .merge import merge_parties

logger = logging.getLogger(__name__)


class ClosingStep:
    """Cancel, link and the periodic close after the review window."""

    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx

    async def cancel(self, officer: Officer, case_id: str, reason: str) -> AuditEntry:
        """Cancel the case with a written reason (e.g. sent to on-site handling)."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id)
        written = written_reason(reason, "reason")
        entry = await ctx.event(
            case_id, CaseEvent.CANCEL, officer_actor(officer.id), {"reason": written}
        )
        # The driver's page, in the call or after it, says why (issue 12): the officer's words
        # are for the parties (e.g. "转现场处理").
        ctx.live.push_to_case(case_id, "case_cancelled", {"case_id": case_id, "reason": written})
        return entry

    async def link(self, officer: Officer, case_id: str, other_id: str) -> dict[str, Any]:
        """Two calls about one accident (each driver reported): the other case is merged
        into this one. Its calls (so its recordings), stills and progress links move here,
        its parties join this case's (the same person, by phone or ID number, merged into
        one party: :mod:`.merge`), and it is cancelled with a pointer to this one; its trail
        stays its own and the case view of this one lists it (``linked_cases``). Both cases
        are authorized before anything is looked at (``Access.LINK``): an officer cannot take
        a case another officer answered into their own."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id, other_id, action=Access.LINK)
        if other_id == case_id:
            raise InvalidMessage("a case cannot be linked to itself", field="case_id")
        other = await ctx.store.case_row(other_id)
        other_state = CaseState(other["status"])
        if other_state not in (CaseState.QUEUED, CaseState.IN_CALL):
            raise Conflict(
                f"case {other_id} is {other_state.value}; only a case still in the queue or on "
                "a call can be linked"
            )
        state = await ctx.state(case_id)
        if state.terminal or state in HAS_DOCUMENT:
            raise Conflict(f"this case is {state.value}; link before the determination")
        mine = await ctx.store.form(case_id)
        theirs = await ctx.store.form(other_id)
        # One person is one party (same phone or ID number): merged, not duplicated.
        form, party_map = merge_parties(mine.form, theirs.form)
        who = officer_actor(officer.id)
        moved = {"captures": 0}

        async def cancel_other(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await ctx.store.move_links(conn, other_id, case_id, party_map)
            await ctx.store.move_calls(conn, other_id, case_id)  # and so their recordings
            moved["captures"] = await ctx.store.move_captures(conn, other_id, case_id)

        await ctx.event(
            other_id,
            CaseEvent.CANCEL,
            who,
            {"reason": "linked", "merged_into": case_id},
            extra=cancel_other,
        )

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await ctx.store.write_form(conn, case_id, mine.revision, form, who)

        await ctx.action(
            case_id,
            AuditAction.CASE_LINKED,
            who,
            {
                "case": other_id,
                "parties": party_map,
                "revision": mine.revision + 1,
                "captures": moved["captures"],
            },
            extra=write,
        )
        ctx.live.relink(other_id, case_id)
        ctx.live.case_state_changed(case_id, await ctx.state(case_id))
        return {"linked": other_id, "parties": party_map}

    async def close_expired(self, *, page: int = 500) -> list[str]:
        """Close notified cases whose review window has passed (run periodically). Every
        notified case is looked at, oldest first, a page at a time: none is left out however
        many there are."""
        ctx = self.ctx
        closed: list[str] = []
        now = ctx.now()
        after: tuple[float, str] | None = None
        while True:
            cases = await ctx.store.notified_cases(after, limit=page)
            for case in cases:
                if not self._window_passed(case, now):
                    continue
                try:
                    await ctx.event(
                        case.case_id, CaseEvent.CLOSE, SYSTEM, {"after": "review_window"}
                    )
                except IllegalTransition as exc:
                    # A review was requested (or the case otherwise moved) since the page
                    # was read: the state machine refused the close, as it should.
                    logger.info("case %s: not closed (%s)", case.case_id, exc)
                    continue
                closed.append(case.case_id)
            if len(cases) < page:
                return closed
            after = (cases[-1].created_at, cases[-1].case_id)

    def _window_passed(self, case: NotifiedCase, now: datetime) -> bool:
        # The rule of kuaichu.cases.states.review_window_open, from the two rows it needs.
        if case.delivered_at is None or case.review_used:
            return True
        return now >= review_deadline(case.delivered_at, self.ctx.config.zone)
