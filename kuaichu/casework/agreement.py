"""The parties' own agreement on liability (自行协商): proposed by the officer, confirmed
by every party on the progress page, approved (or rejected) by the officer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actors import SYSTEM, officer_actor, party_actor
from ..cases.errors import IllegalTransition
from ..cases.liability import check_liabilities
from ..cases.states import AuditEntry, CaseEvent, CaseState, transition
from ..notify import Template
from .agreement_document import AgreementDocuments
from .context import CaseContext
from .ports import LiabilityListener


class AgreementStep:
    """Propose, confirm, withdraw and approve an agreement."""

    def __init__(
        self,
        ctx: CaseContext,
        liability: LiabilityListener | None = None,
        documents: AgreementDocuments | None = None,
    ) -> None:
        self.ctx = ctx
        self.liability = liability
        # The approved agreement's own document (协议书, issue 13).
        self.documents = documents

    async def propose_agreement(self, officer: Officer, case_id: str) -> AuditEntry:
        """Offer the form's liabilities to the parties for confirmation (SMS with a link)."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id)
        stored = await ctx.store.form(case_id)
        liabilities = stored.form.liabilities()
        check_liabilities(liabilities)

        async def sms(conn: AsyncConnection, entry: AuditEntry) -> None:
            for party in stored.form.parties:
                await ctx.notify(
                    conn, case_id, party, Template.AGREEMENT_CONFIRM, entry.when.isoformat()
                )

        return await ctx.event(
            case_id,
            CaseEvent.PROPOSE_AGREEMENT,
            officer_actor(officer.id),
            {"liabilities": {k: v.value for k, v in liabilities.items()}},
            extra=sms,
        )

    async def confirm_agreement(self, case_id: str, party_key: str) -> AuditEntry:
        """One party confirms; the last confirmation completes the agreement."""
        ctx = self.ctx
        entry = await ctx.event(
            case_id, CaseEvent.CONFIRM_AGREEMENT, party_actor(party_key), {"party": party_key}
        )
        try:
            entry = await ctx.event(case_id, CaseEvent.COMPLETE_AGREEMENT, SYSTEM, {})
        except IllegalTransition:
            pass  # others still have to confirm
        return entry

    async def withdraw_agreement(self, case_id: str, party_key: str) -> AuditEntry:
        """A party withdraws from the proposal (it goes back to the officer)."""
        return await self.ctx.event(
            case_id, CaseEvent.WITHDRAW_AGREEMENT, party_actor(party_key), {"party": party_key}
        )

    async def approve_agreement(self, officer: Officer, case_id: str, approve: bool) -> AuditEntry:
        """The officer approves the confirmed agreement (which closes the case) or rejects it."""
        ctx = self.ctx
        row = await ctx.authorize(officer, case_id)
        who = officer_actor(officer.id)
        if not approve:
            return await ctx.event(case_id, CaseEvent.REJECT_AGREEMENT, who, {})
        stored = await ctx.store.form(case_id)
        documents = self.documents
        doc = None
        if documents is not None:
            # Refused before a PDF is rendered for nothing.
            transition(CaseState(row["status"]), CaseEvent.APPROVE_AGREEMENT)
            doc = await documents.prepare(officer, case_id, stored.form)

        async def sms(conn: AsyncConnection, _entry: AuditEntry) -> None:
            if documents is not None and doc is not None:
                await documents.write(conn, doc)
            for party in stored.form.parties:
                await ctx.notify(conn, case_id, party, Template.AGREEMENT_APPROVED, "1")
            if self.liability is not None:  # the insurers' "case ready" (issue 13)
                await self.liability.liability_set(
                    conn, case_id, stored.form, "agreement_approved", {}
                )

        try:
            await ctx.event(case_id, CaseEvent.APPROVE_AGREEMENT, who, {}, extra=sms)
        except BaseException:
            if documents is not None and doc is not None:
                documents.discard(doc)
            raise
        if documents is not None and doc is not None:
            await documents.listed(doc)
        return await ctx.event(case_id, CaseEvent.CLOSE, SYSTEM, {"after": "agreement"})
