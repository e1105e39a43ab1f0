"""What the case work needs from the rest of the server, as small protocols, and its settings.

Each port is implemented elsewhere and handed to :class:`~kuaichu.casework.service.CaseWork`'s
constructor: the live calls by the call centre's fan-out, the renderer by
:mod:`kuaichu.documents`, the ledger by :mod:`kuaichu.evidence.ledger`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from ..cases.form import CaseForm
from ..cases.states import CHINA_TIME, CaseState


class LiveCalls(Protocol):
    """What the call centre offers the case work: its live calls by case."""

    def push_to_case(self, case_id: str, event: str, payload: dict[str, Any]) -> int:
        """Send ``event`` to every live page of the case; how many got it."""
        ...

    def case_state_changed(self, case_id: str, state: CaseState) -> None:
        """The case moved to ``state``: the live calls of the case follow."""
        ...

    def relink(self, from_case: str, to_case: str) -> None:
        """``from_case`` was merged into ``to_case``: its live calls move there."""
        ...


class DocumentRenderer(Protocol):
    """Renders a determination's content (:mod:`kuaichu.documents`)."""

    def render_html(self, content: Mapping[str, Any], *, superseded_by: int | None = None) -> str:
        """The document as a web page."""
        ...

    def render_pdf(self, content: Mapping[str, Any], *, superseded_by: int | None = None) -> bytes:
        """The document as PDF bytes (CPU-heavy: called in a thread)."""
        ...


class EvidenceLedger(Protocol):
    """Appends issued files to the case's signed manifest (kuaichu.evidence.manifest)."""

    async def record(self, case_id: str, path: Path, kind: str, sha256: str) -> None:
        """List an issued file in the case's manifest."""
        ...

    async def evidence_list(self, case_id: str) -> Sequence[Mapping[str, Any]]:
        """What a determination lists as evidence: every capture and recording."""
        ...


class LiabilityListener(Protocol):
    """Told, inside the transaction, that a case's liability was set: a determination issued
    (``reason`` ``determination_issued``, ``detail``: version, number) or an agreement
    approved (``agreement_approved``). The insurers' webhooks (kuaichu.api.webhooks, issue
    13) write their "case ready" events here, so they commit with the step or not at all."""

    async def liability_set(
        self,
        conn: AsyncConnection,
        case_id: str,
        form: CaseForm,
        reason: str,
        detail: Mapping[str, Any],
    ) -> None:
        """Write the listener's rows with ``conn``; no network I/O; raising refuses the step."""
        ...


@dataclass(frozen=True)
class CaseWorkConfig:
    """The settings the case work reads: links, the document's header, the SMS signature."""

    base_url: str
    authority: str
    document_prefix: str
    sms_signature: str
    recordings_dir: Path
    zone: tzinfo = CHINA_TIME
