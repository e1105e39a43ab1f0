"""Review (复核): a party's request from the progress page, the supervisor's decision, and
the supervisor's queue of open requests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actors import SYSTEM, officer_actor, party_actor
from ..cases.states import REVIEW_DAYS, AuditEntry, CaseEvent, ReviewOutcome
from ..errors import InvalidMessage
from ..notify import Template
from .context import Access, CaseContext, written_reason
from .determination import current_number


class ReviewStep:
    """Requests and decisions of reviews, and the queue the supervisor works from."""

    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx

    async def request_review(self, case_id: str, party_key: str, reason: str) -> AuditEntry:
        """A party asks for a review within the window (once per case)."""
        ctx = self.ctx
        text = written_reason(reason, "reason")
        stored = await ctx.store.form(case_id)
        party = stored.form.party(party_key)
        number = await current_number(ctx.store, case_id)

        async def sms(conn: AsyncConnection, _entry: AuditEntry) -> None:
            if party is not None:
                await ctx.notify(conn, case_id, party, Template.REVIEW_RECEIVED, "1", number=number)

        return await ctx.event(
            case_id,
            CaseEvent.REQUEST_REVIEW,
            party_actor(party_key),
            {"party": party_key, "reason": text},
            extra=sms,
        )

    async def decide_review(
        self, officer: Officer, case_id: str, outcome: str, text: str
    ) -> AuditEntry:
        """The supervisor's decision; an upheld determination closes the case."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id, action=Access.DECIDE_REVIEW)
        try:
            which = ReviewOutcome(outcome)
        except ValueError:
            raise InvalidMessage("outcome must be upheld or revised", field="outcome") from None
        body = written_reason(text, "text")
        stored = await ctx.store.form(case_id)
        number = await current_number(ctx.store, case_id)

        async def sms(conn: AsyncConnection, _entry: AuditEntry) -> None:
            for party in stored.form.parties:
                await ctx.notify(
                    conn,
                    case_id,
                    party,
                    Template.REVIEW_OUTCOME,
                    "1",
                    outcome=which.value,
                    number=number,
                )

        entry = await ctx.event(
            case_id,
            CaseEvent.DECIDE_REVIEW,
            officer_actor(officer.id),
            {"outcome": which.value, "text": body},
            extra=sms,
        )
        if which is ReviewOutcome.UPHELD:
            entry = await ctx.event(case_id, CaseEvent.CLOSE, SYSTEM, {"after": "review"})
        return entry

    async def review_queue(self) -> list[dict[str, Any]]:
        """Every open review request, oldest first, however many there are."""
        out = []
        for request in await self.ctx.store.review_requests():
            # Decide within the time the programmes promise for a review; shown, not enforced.
            due = request.requested_at + timedelta(days=REVIEW_DAYS + 2)
            out.append(
                {
                    "case_id": request.case_id,
                    "party": request.party,
                    "reason": request.reason,
                    "requested_at": request.requested_at.isoformat(timespec="minutes"),
                    "decide_by": due.isoformat(timespec="minutes"),
                }
            )
        return out
