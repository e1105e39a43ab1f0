"""The electronic determination (道路交通事故认定书): issue, number, content, and its
service (送达) when the last SMS of the version has gone out.

An insurer push-out hooks in here, next to :meth:`DeterminationStep.message_sent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actors import SYSTEM, officer_actor
from ..cases.errors import IllegalTransition
from ..cases.form import VEHICLE_TYPES, CaseForm, mask_id_number
from ..cases.ids import new_code
from ..cases.liability import check_liabilities
from ..cases.states import (
    CORRECTION_STATES,
    AuditEntry,
    CaseEvent,
    CaseState,
    review_deadline,
    transition,
)
from ..errors import Conflict, InvalidMessage, KuaichuError
from ..evidence.files import write_new
from ..notify import OutboxMessage, Template, format_deadline, mask_phone
from ..storage.casefiles import CaseStore
from ..storage.documents import Determination
from .context import CaseContext, written_reason
from .form import require_complete
from .ports import DocumentRenderer, EvidenceLedger, LiabilityListener

logger = logging.getLogger(__name__)

LEGAL_BASIS_DEFAULT: Final = (
    "《中华人民共和国道路交通安全法》第七十条第二款、《道路交通事故处理程序规定》第十九条、"
    "第二十条、第六十条"
)
REVIEW_NOTICE: Final = (
    "当事人对本认定有异议的，可以自本认定书送达之日起三日内，通过进度页面或向作出认定的"
    "公安机关交通管理部门书面申请复核。复核以一次为限。"
)


class DeterminationStep:
    """Issues determinations (a correction is a new version) and serves them."""

    def __init__(
        self,
        ctx: CaseContext,
        renderer: DocumentRenderer,
        ledger: EvidenceLedger,
        liability: LiabilityListener | None = None,
    ) -> None:
        self.ctx = ctx
        self.renderer = renderer
        self.ledger = ledger
        self.liability = liability

    async def issue(
        self, officer: Officer, case_id: str, correction_reason: str | None = None
    ) -> Determination:
        """Issue the electronic determination from the form's liabilities. A second issue is
        a new version that supersedes the old (a correction needs a written reason; after a
        review with outcome "revised" the review is the reason)."""
        ctx = self.ctx
        row = await ctx.authorize(officer, case_id)
        state = CaseState(row["status"])
        stored = await ctx.store.form(case_id)
        form = stored.form
        liabilities = form.liabilities()
        check_liabilities(liabilities)
        transition(state, CaseEvent.DETERMINE)  # refuse before rendering a PDF for nothing
        require_complete(form)
        at_fault_without_text = [
            p.key for p in form.parties if p.liability and p.liability.at_fault and not p.fault
        ]
        if at_fault_without_text:
            raise InvalidMessage(
                "describe the fault behaviour of party " + ", ".join(at_fault_without_text),
                field=f"parties.{at_fault_without_text[0]}.fault",
                parties=at_fault_without_text,
            )
        previous = await ctx.store.determinations(case_id)
        if previous and state in CORRECTION_STATES:
            correction_reason = written_reason(correction_reason or "", "correction_reason")
        version = len(previous) + 1
        number = previous[0].number if previous else self._number(case_id, row["created_at"])
        issued = ctx.now()
        code = new_code()
        evidence = [dict(e) for e in await self.ledger.evidence_list(case_id)]
        content = self.content(
            case_id, form, number, version, code, issued, officer, evidence, previous
        )
        if correction_reason:
            content["correction_reason"] = correction_reason
        # Render before the transaction (seconds of CPU in a thread); the file only counts
        # once the transaction that issues it commits.
        pdf = await asyncio.to_thread(self.renderer.render_pdf, content)
        folder = ctx.config.recordings_dir / case_id
        path = folder / f"determination-v{version}.pdf"
        sha = await asyncio.to_thread(write_new, path, pdf)
        deadline = review_deadline(issued, ctx.config.zone)
        who = officer_actor(officer.id)

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await ctx.store.add_determination(
                conn,
                case_id,
                number,
                version,
                code,
                issued.timestamp(),
                who,
                content,
                path.name,
                sha,
            )
            for party in form.parties:
                await ctx.notify(
                    conn,
                    case_id,
                    party,
                    Template.DETERMINATION_ISSUED,
                    f"v{version}",
                    number=number,
                    deadline=format_deadline(deadline),
                )
            if self.liability is not None:  # the insurers' "case ready" (issue 13)
                await self.liability.liability_set(
                    conn,
                    case_id,
                    form,
                    "determination_issued",
                    {"version": version, "number": number},
                )

        try:
            await ctx.event(
                case_id,
                CaseEvent.DETERMINE,
                who,
                {
                    "liabilities": {k: v.value for k, v in liabilities.items()},
                    "version": version,
                    "number": number,
                    "pdf_sha256": sha,
                    **({"correction_reason": correction_reason} if correction_reason else {}),
                },
                extra=write,
            )
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        try:
            await self.ledger.record(case_id, path, "document", sha)
        except KuaichuError:
            # The determination is issued and committed; the manifest's own refusals (bad
            # or already listed file, a broken manifest) are reported, not undone.
            logger.exception("case %s: could not list the document in the manifest", case_id)
        logger.info("case %s: determination %s v%d issued", case_id, number, version)
        found = [d for d in await ctx.store.determinations(case_id) if d.version == version]
        return found[0]

    def _number(self, case_id: str, created_at: float) -> str:
        year = datetime.fromtimestamp(created_at, self.ctx.config.zone).year
        # The case id is already unique and readable over the phone; the number is that id
        # in the form printed documents use.
        return f"{self.ctx.config.document_prefix}[{year}]第{case_id}号"

    def content(
        self,
        case_id: str,
        form: CaseForm,
        number: str,
        version: int,
        code: str,
        issued: datetime,
        officer: Officer,
        evidence: list[dict[str, Any]],
        previous: list[Determination],
    ) -> dict[str, Any]:
        """The frozen document content the renderers take (kuaichu.documents); the approved
        agreement's document (kuaichu.casework.agreement_document) is built from it too."""
        config = self.ctx.config
        parties = []
        for p in form.parties:
            assert p.liability is not None
            parties.append(
                {
                    "key": p.key,
                    "name": p.name,
                    "phone": mask_phone(p.phone),
                    "licence_no": mask_id_number(p.licence_no),
                    "plate": p.plate,
                    "vehicle_type": VEHICLE_TYPES.get(p.vehicle_type, p.vehicle_type),
                    "insurer": p.insurer,
                    "policy_no": p.policy_no,
                    "liability": p.liability.value,
                    "liability_text": p.liability.zh,
                    "fault": p.fault,
                }
            )
        return {
            "number": number,
            "version": version,
            "supersedes": (
                {"number": previous[-1].number, "version": previous[-1].version}
                if previous
                else None
            ),
            "issued_at": issued.isoformat(timespec="seconds"),
            "verification_code": code,
            # Typed from paper: the host, the case id and the code (issue 12); the older
            # /verify?n=<percent-encoded number>&c= form keeps working for earlier documents.
            "verify_url": short_verify_url(config.base_url, case_id, code),
            "authority": config.authority,
            "case_id": case_id,
            "accident": {
                "occurred_at": form.occurred_at.isoformat(timespec="minutes")
                if form.occurred_at
                else None,
                "address": form.address,
                "lat": form.lat,
                "lng": form.lng,
                "cause": form.cause.value if form.cause else None,
                "cause_text": form.cause.zh if form.cause else "",
                "description": form.description,
            },
            "parties": parties,
            "legal_basis": form.legal_basis or LEGAL_BASIS_DEFAULT,
            "evidence": evidence,
            # No badge number set: no badge line (never the login name, issue 12).
            "officer": {"name": officer.display_name, "badge": officer.badge or ""},
            "review_notice": REVIEW_NOTICE,
        }

    async def message_sent(self, message: OutboxMessage) -> None:
        """The notifier delivered an SMS. When every determination notice of the current
        version has gone out, the determination counts as served (送达): the case becomes
        notified and the review window starts."""
        if message.template != Template.DETERMINATION_ISSUED or message.case_id is None:
            return
        ctx = self.ctx
        case_id = message.case_id
        if await ctx.state(case_id) is not CaseState.DETERMINED:
            return
        dets = await ctx.store.determinations(case_id)
        if not dets:
            return
        current = dets[-1]
        if await ctx.store.unsent(
            case_id, Template.DETERMINATION_ISSUED.value, f"v{current.version}"
        ):
            return
        try:
            await ctx.event(
                case_id, CaseEvent.NOTIFY, SYSTEM, {"version": current.version, "channel": "sms"}
            )
        except IllegalTransition:
            # Two last messages sent at once (two workers): the other one served it.
            logger.info("case %s: already notified", case_id)


async def current_number(store: CaseStore, case_id: str) -> str:
    """The number of the case's determination (every version keeps it)."""
    dets = await store.determinations(case_id)
    if not dets:
        raise Conflict("no determination has been issued for this case")
    return dets[-1].number


def short_verify_url(base_url: str, case_id: str, code: str) -> str:
    """The address printed on a determination: ``<host>/v/<case id>/<code>``, letters and
    digits a reader can type (the number itself has 认字[年]第…号 in it)."""
    return f"{base_url}/v/{case_id}/{code}"
