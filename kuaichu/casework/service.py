"""The :class:`CaseWork` façade: one object the edges and the call centre hold, the same
public methods as ever, each delegating to the step that owns it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.eligibility import AccidentCause
from ..cases.states import AuditEntry
from ..errors import Forbidden, NotFound
from ..notify import Doorbell, Outbox, OutboxMessage, Template
from ..storage.casefiles import CaseStore, StoredForm
from ..storage.db import Database
from ..storage.documents import Determination
from ..storage.links import LinkStore
from ..storage.rows import CaseRow, RecordingRow
from ..verification import Registry
from .agreement import AgreementStep
from .agreement_document import AgreementDocuments
from .closing import ClosingStep
from .context import Access, CaseContext, PartyLink
from .determination import DeterminationStep
from .form import FormStep
from .links import LinkAccess, LinkGuard
from .notices import NoticesStep
from .ports import (
    CaseWorkConfig,
    DocumentRenderer,
    EvidenceLedger,
    LiabilityListener,
    LiveCalls,
)
from .relink import link_candidates
from .review import ReviewStep
from .scene import SceneStep
from .verification import VerificationStep
from .views import CaseViews


class CaseWork:
    """The case after the report, complete from its constructor.

    ``live`` is the call centre's view of its live calls; ``doorbell`` is rung after a step
    that may have queued an SMS (the notifier waits on it); ``outbox`` reads a case's
    messages for the case page. The notifier itself is built after this object, with
    ``on_sent=casework.message_sent``.
    """

    def __init__(
        self,
        db: Database,
        store: CaseStore,
        registry: Registry,
        renderer: DocumentRenderer,
        config: CaseWorkConfig,
        *,
        live: LiveCalls,
        doorbell: Doorbell,
        outbox: Outbox,
        ledger: EvidenceLedger,
        liability: LiabilityListener | None = None,
    ) -> None:
        self.doorbell = doorbell
        self._store = store
        self._ctx = CaseContext(db, store, config, live=live, doorbell=doorbell)
        self._links = LinkGuard(self._ctx, LinkStore(store.engine))
        self._form = FormStep(self._ctx, self._links)
        self._notices = NoticesStep(self._ctx, outbox)
        self._verification = VerificationStep(self._ctx, registry)
        self._scene = SceneStep(self._ctx)
        self._determination = DeterminationStep(self._ctx, renderer, ledger, liability)
        self._review = ReviewStep(self._ctx)
        self._agreement = AgreementStep(
            self._ctx,
            liability,
            AgreementDocuments(self._ctx, renderer, ledger, self._determination),
        )
        self._closing = ClosingStep(self._ctx)
        self._views = CaseViews(self._ctx, renderer, outbox, self._verification)

    # -- shared ---------------------------------------------------------------------------------

    def link_url(self, token: str) -> str:
        """A party's progress page for a link token."""
        return self._ctx.link_url(token)

    async def authorize(
        self, officer: Officer, case_id: str, *others: str, action: Access = Access.VIEW
    ) -> CaseRow:
        """The row of ``case_id`` if this officer may do ``action`` to it and to every case
        in ``others`` (403/404 otherwise): the one rule, :meth:`CaseContext.authorize`. Every
        method below that takes an ``Officer`` calls it for every case it touches; the edges
        call it themselves only for another service's objects (a still's case)."""
        return await self._ctx.authorize(officer, case_id, *others, action=action)

    async def form(self, case_id: str) -> StoredForm:
        """The case's current form, for the call centre (which holds the call's case); an
        edge asks :meth:`parties` with the officer instead."""
        return await self._store.form(case_id)

    async def parties(self, officer: Officer, case_id: str) -> list[dict[str, Any]]:
        """The parties of the case's form, for an officer who may see the case."""
        await self._ctx.authorize(officer, case_id, action=Access.VIEW)
        return [p.to_dict() for p in (await self._store.form(case_id)).form.parties]

    async def recent_cases(self, officer: Officer, *, every: bool = False) -> list[CaseRow]:
        """Newest first, at most 100: the officer's own cases, or every case (``every``,
        supervisors only)."""
        if every and not officer.is_supervisor:
            raise Forbidden("only a supervisor sees every case")
        return await self._store.recent_cases(None if every else officer.id, limit=100)

    async def recording(self, officer: Officer, call_id: str) -> RecordingRow:
        """A call's (last) recording, if the officer may see the case it belongs to now
        (404 if the call has none)."""
        found = await self._store.recording(call_id)
        if found is None:
            raise NotFound("no recording for this call")
        await self._ctx.authorize(officer, found["case_id"], action=Access.VIEW)
        return found

    async def resolve_link(self, token: str) -> PartyLink:
        """The case and party behind a progress link's token (404 if unknown): the only
        way to the party-facing methods below."""
        case_id, party = await self._store.resolve_link(token)
        return PartyLink(case_id, party)

    # -- the form -------------------------------------------------------------------------------

    async def reported(
        self,
        conn: AsyncConnection,
        case_id: str,
        phone: str | None,
        cause: AccidentCause | None,
        at: datetime,
        location: Mapping[str, float] | None,
    ) -> str:
        """Inside the report's transaction: initial form, progress link, "queued" SMS."""
        return await self._form.reported(conn, case_id, phone, cause, at, location)

    async def call_interrupted(self, conn: AsyncConnection, case_id: str, key: str) -> None:
        """Inside start-up recovery's abandon (kuaichu.calls.recovery): the "call
        interrupted" SMS with a progress link to the caller, if the form has their number."""
        parties = (await self._store.form(case_id, conn)).form.parties
        caller = next((p for p in parties if p.reporter), None)
        if caller is not None:
            await self._ctx.notify(conn, case_id, caller, Template.CALL_INTERRUPTED, key)

    async def save_form(
        self, officer: Officer, case_id: str, revision: int, raw: object
    ) -> StoredForm:
        """Save the officer's edit of the form."""
        return await self._form.save_form(officer, case_id, revision, raw)

    # -- verification and the scene ---------------------------------------------------------------

    async def verify(self, officer: Officer, case_id: str, party_key: str) -> dict[str, Any]:
        """Ask the registry about one party."""
        return await self._verification.verify(officer, case_id, party_key)

    async def decide_item(
        self,
        officer: Officer,
        case_id: str,
        party_key: str,
        item: str,
        decision: str,
        reason: str,
    ) -> None:
        """The officer's decision on an item the registry did not confirm."""
        await self._verification.decide_item(officer, case_id, party_key, item, decision, reason)

    async def complete_information(self, officer: Officer, case_id: str) -> AuditEntry:
        """Information and evidence are fixed (信息采集完成)."""
        return await self._verification.complete_information(officer, case_id)

    async def leave_scene(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """撤离现场: live push and SMS to every party."""
        return await self._scene.leave_scene(officer, case_id)

    # -- the determination and its review --------------------------------------------------------

    async def issue(
        self, officer: Officer, case_id: str, correction_reason: str | None = None
    ) -> Determination:
        """Issue (or correct) the electronic determination."""
        return await self._determination.issue(officer, case_id, correction_reason)

    async def message_sent(self, message: OutboxMessage) -> None:
        """The notifier's ``on_sent``: a served determination makes the case notified."""
        await self._determination.message_sent(message)

    async def request_review(self, link: PartyLink, reason: str) -> AuditEntry:
        """A party's review request."""
        return await self._review.request_review(link.case_id, link.party, reason)

    async def decide_review(
        self, officer: Officer, case_id: str, outcome: str, text: str
    ) -> AuditEntry:
        """The supervisor's review decision."""
        return await self._review.decide_review(officer, case_id, outcome, text)

    async def review_queue(self, officer: Officer) -> list[dict[str, Any]]:
        """Every open review request, oldest first (supervisors only)."""
        if not officer.is_supervisor:
            raise Forbidden("for supervisors only")
        return await self._review.review_queue()

    # -- agreement ---------------------------------------------------------------------------------

    async def propose_agreement(self, officer: Officer, case_id: str) -> AuditEntry:
        """Offer the form's liabilities for the parties' confirmation."""
        return await self._agreement.propose_agreement(officer, case_id)

    async def confirm_agreement(self, link: PartyLink) -> AuditEntry:
        """One party confirms the agreement."""
        return await self._agreement.confirm_agreement(link.case_id, link.party)

    async def withdraw_agreement(self, link: PartyLink) -> AuditEntry:
        """One party withdraws from the agreement."""
        return await self._agreement.withdraw_agreement(link.case_id, link.party)

    async def approve_agreement(self, officer: Officer, case_id: str, approve: bool) -> AuditEntry:
        """The officer approves (closing the case) or rejects the agreement."""
        return await self._agreement.approve_agreement(officer, case_id, approve)

    # -- cancel, link, close -----------------------------------------------------------------------

    async def cancel(self, officer: Officer, case_id: str, reason: str) -> AuditEntry:
        """Cancel the case with a reason."""
        return await self._closing.cancel(officer, case_id, reason)

    async def link(self, officer: Officer, case_id: str, other_id: str) -> dict[str, Any]:
        """Merge another report of the same accident into this case."""
        return await self._closing.link(officer, case_id, other_id)

    async def link_candidates(self, officer: Officer, case_id: str) -> list[dict[str, Any]]:
        """Open reports that look like the same accident, proposed for linking (issue 12)."""
        return await link_candidates(self._ctx, officer, case_id)

    async def close_expired(self) -> list[str]:
        """Close every notified case whose review window has passed."""
        return await self._closing.close_expired()

    # -- views -----------------------------------------------------------------------------------

    async def officer_view(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """The officer's case page."""
        return await self._views.officer_view(officer, case_id)

    async def party_view(self, link: PartyLink) -> dict[str, Any]:
        """A party's progress page."""
        return await self._views.party_view(link.case_id, link.party)

    async def document(self, officer: Officer, case_id: str, version: int) -> Determination:
        """One issued version of the determination, for an officer who may see the case."""
        await self._ctx.authorize(officer, case_id, action=Access.VIEW)
        return await self._views.document(case_id, version)

    async def party_document(self, link: PartyLink) -> Determination:
        """The latest determination, for a party, once one has been issued (404 before)."""
        view = await self._views.party_view(link.case_id, link.party)
        if view["determination"] is None:
            raise NotFound("no determination has been issued yet")
        return await self._views.document(link.case_id, None)

    def document_html(self, det: Determination) -> str:
        """The determination as a web page."""
        return self._views.document_html(det)

    def pdf_path(self, det: Determination) -> Path:
        """Where the determination's PDF lies."""
        return self._views.pdf_path(det)

    async def authenticity(self, number: str, code: str) -> dict[str, Any]:
        """The public authenticity check."""
        return await self._views.authenticity(number, code)

    async def authenticity_by_case(self, case_id: str, code: str) -> dict[str, Any]:
        """The same check from the printed short address (/v/<case id>/<code>): every version
        of a case's determination has the case's one number."""
        dets = await self._ctx.store.determinations(case_id)
        if not dets:
            return {"found": False, "number": case_id}
        return await self._views.authenticity(dets[0].number, code)

    # -- progress links and failed notices ---------------------------------------------------------

    async def link_access(self, token: str, device: str | None) -> LinkAccess:
        """Whether the browser with ``device`` may open the link (404 unknown or replaced)."""
        return await self._links.access(token, device)

    async def open_link(self, token: str, device: str | None, *, codes: bool) -> PartyLink:
        """The party behind a link, for a browser allowed to open it: the reporting device or
        one that entered the code (403 ``device_unverified`` otherwise, when ``codes``)."""
        access = await self._links.access(token, device)
        if codes and not access.allowed:
            raise Forbidden(
                "enter the code sent to the party's phone first",
                reason="device_unverified",
                phone=access.masked_phone,
            )
        return PartyLink(access.case_id, access.party)

    async def trust_reporting_device(self, token: str, device: str) -> None:
        """The reporting device opens its link without a code."""
        await self._links.trust_reporting_device(token, device)

    async def send_link_code(self, token: str) -> dict[str, object]:
        """A one-time code by SMS to the link's number."""
        return await self._links.send_code(token)

    async def verify_link_code(self, token: str, code: str, device: str) -> None:
        """Admit the device if the code is right (limited tries with back-off)."""
        await self._links.verify_code(token, code, device)

    async def failed_notices(self, officer: Officer) -> list[dict[str, Any]]:
        """Failed messages not yet resent: all for a supervisor, an officer's own cases'."""
        return await self._notices.failed(officer)

    async def resend_notice(self, officer: Officer, message_id: int) -> dict[str, Any]:
        """Resend one failed message as a new outbox row, with an audit entry."""
        return await self._notices.resend(officer, message_id)
