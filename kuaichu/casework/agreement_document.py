"""The approved self-negotiated agreement's own document (自行协商协议书, issue 13): numbered,
versioned, HTML + PDF, with the QR code to the public authenticity page — the
determination's document (:mod:`.determination`) with the agreement's words
(``content["kind"] = "agreement"``, :data:`kuaichu.documents.view.AGREEMENT`).

Issued as the determination is: the PDF is rendered and written before the transaction
(:meth:`AgreementDocuments.prepare`), its row is written inside the officer's approval
(:meth:`AgreementDocuments.write`, the approval's ``extra``), and it is listed in the case's
evidence manifest after the commit (:meth:`AgreementDocuments.listed`). A refused approval
removes the file (:meth:`AgreementDocuments.discard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actors import officer_actor
from ..cases.form import CaseForm
from ..cases.ids import new_code
from ..errors import KuaichuError
from ..evidence.files import write_new
from ..insurers.store import InsurerStore
from .context import CaseContext
from .determination import DeterminationStep
from .ports import DocumentRenderer, EvidenceLedger

logger = logging.getLogger(__name__)

AGREEMENT_BASIS: Final = (
    "《中华人民共和国道路交通安全法》第七十条第二款、《道路交通事故处理程序规定》第十九条："
    "机动车与机动车发生财产损失事故，当事人对事实及成因无争议的，可以自行协商处理损害赔偿事宜。"
)
AGREEMENT_NOTICE: Final = (
    "本协议由各方当事人在线确认、经公安机关交通管理部门审核，各方当事人可凭本协议书向保险"
    "公司办理定损理赔。当事人对协议内容反悔的，可以依法向人民法院提起民事诉讼。"
)


@dataclass(frozen=True)
class PreparedDocument:
    case_id: str
    number: str
    version: int
    code: str
    issued: datetime
    content: dict[str, Any]
    path: Path
    sha256: str
    who: str


class AgreementDocuments:
    """Renders, stores and lists the agreement document."""

    def __init__(
        self,
        ctx: CaseContext,
        renderer: DocumentRenderer,
        ledger: EvidenceLedger,
        determination: DeterminationStep,
    ) -> None:
        self.ctx = ctx
        self.renderer = renderer
        self.ledger = ledger
        self.determination = determination
        self.store = InsurerStore(ctx.store.engine)

    async def prepare(self, officer: Officer, case_id: str, form: CaseForm) -> PreparedDocument:
        """Render the next version's PDF and write it (not yet issued)."""
        ctx = self.ctx
        row = await ctx.store.case_row(case_id)
        previous = await self.store.agreement_documents(case_id)
        version = len(previous) + 1
        number = previous[0].number if previous else self._number(case_id, row["created_at"])
        issued = ctx.now()
        code = new_code()
        evidence = [dict(e) for e in await self.ledger.evidence_list(case_id)]
        content = self.determination.content(
            case_id, form, number, version, code, issued, officer, evidence, previous
        )
        content.update(
            kind="agreement",
            legal_basis=AGREEMENT_BASIS,
            review_notice=AGREEMENT_NOTICE,
            # The public check takes the agreement's number as it takes a determination's.
            verify_url=f"{ctx.config.base_url}/verify?n={quote(number)}&c={code}",
        )
        pdf = await asyncio.to_thread(self.renderer.render_pdf, content)
        path = ctx.config.recordings_dir / case_id / f"agreement-v{version}.pdf"
        sha = await asyncio.to_thread(write_new, path, pdf)
        return PreparedDocument(
            case_id, number, version, code, issued, content, path, sha, officer_actor(officer.id)
        )

    async def write(self, conn: AsyncConnection, doc: PreparedDocument) -> None:
        """The document's row, inside the approval's transaction."""
        await self.store.add_agreement_document(
            conn,
            doc.case_id,
            doc.number,
            doc.version,
            doc.code,
            doc.issued.timestamp(),
            doc.who,
            doc.content,
            doc.path.name,
            doc.sha256,
        )

    async def listed(self, doc: PreparedDocument) -> None:
        """After the commit: the PDF goes into the case's evidence manifest."""
        try:
            await self.ledger.record(doc.case_id, doc.path, "document", doc.sha256)
        except KuaichuError:
            logger.exception("case %s: could not list the agreement in the manifest", doc.case_id)
        logger.info(
            "case %s: agreement document %s v%d issued", doc.case_id, doc.number, doc.version
        )

    @staticmethod
    def discard(doc: PreparedDocument) -> None:
        """The approval was refused: the file never counted."""
        with contextlib.suppress(OSError):
            doc.path.unlink()

    def _number(self, case_id: str, created_at: float) -> str:
        year = datetime.fromtimestamp(created_at, self.ctx.config.zone).year
        return f"{self.ctx.config.document_prefix}[{year}]协第{case_id}号"
