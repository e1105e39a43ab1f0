"""What every step of the case work shares: the stores, the settings, the live calls and the
notifier's doorbell, and the few verbs each step uses to write its one transaction.

A step is one :meth:`CaseContext.event` (a state-machine event) or :meth:`CaseContext.action`
(an audit action) whose ``extra`` callback writes the step's own rows and its SMS
(:meth:`CaseContext.notify`) in the same transaction, so a refused step leaves nothing
written and an accepted one cannot lose its notice.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.form import Party
from ..cases.states import AuditEntry, CaseEvent, CaseState
from ..errors import Forbidden, InvalidMessage
from ..notify import Doorbell, Template, enqueue
from ..notify.messages import required_params
from ..storage.casefiles import CaseStore
from ..storage.db import Database, InTransaction
from ..storage.rows import CaseRow
from .ports import CaseWorkConfig, LiveCalls

MAX_REASON: Final = 1000
# States from which the case has a determination the parties can read.
HAS_DOCUMENT: Final = frozenset(
    {
        CaseState.DETERMINED,
        CaseState.NOTIFIED,
        CaseState.REVIEW_REQUESTED,
        CaseState.REVIEW_DECIDED,
        CaseState.CLOSED,
    }
)


class CaseContext:
    """The shared collaborators of the case work's steps, and the verbs of a step."""

    def __init__(
        self,
        db: Database,
        store: CaseStore,
        config: CaseWorkConfig,
        *,
        live: LiveCalls,
        doorbell: Doorbell,
    ) -> None:
        self.db = db
        self.store = store
        self.config = config
        self.live = live
        self.doorbell = doorbell

    def now(self) -> datetime:
        """The wall clock in the configured zone (the trail's times are aware)."""
        return datetime.now(self.config.zone)

    def link_url(self, token: str) -> str:
        """A party's progress page for a link token."""
        return f"{self.config.base_url}/p/{token}"

    async def event(
        self,
        case_id: str,
        event: CaseEvent,
        who: str,
        detail: dict[str, Any] | None = None,
        extra: InTransaction | None = None,
    ) -> AuditEntry:
        """Apply a state-machine event as one transaction, then tell the live pages."""
        entry = await self.db.case_event(
            case_id, event, who, self.now(), detail, zone=self.config.zone, extra=extra
        )
        self.changed(case_id, entry.to_state)
        return entry

    async def action(
        self,
        case_id: str,
        action: AuditAction,
        who: str,
        detail: dict[str, Any] | None = None,
        extra: InTransaction | None = None,
    ) -> AuditEntry:
        """Record an audit action (the state does not move) as one transaction."""
        return await self.db.case_action(
            case_id, action, who, self.now(), detail, zone=self.config.zone, extra=extra
        )

    def changed(self, case_id: str, state: CaseState) -> None:
        """After a committed event: the live pages follow the state, and the notifier goes
        through the outbox now (the step may have queued an SMS)."""
        self.live.case_state_changed(case_id, state)
        self.live.push_to_case(case_id, "case_status", {"case_id": case_id, "status": state})
        self.doorbell.ring()

    async def notify(
        self,
        conn: AsyncConnection,
        case_id: str,
        party: Party,
        template: Template,
        key: str,
        **params: Any,
    ) -> None:
        """One SMS to one party, with a fresh progress link, inside the step's transaction."""
        if not party.phone:
            return
        wanted = required_params(template)
        offered: dict[str, Any] = {"case_id": case_id, **params}
        if "link" in wanted:
            token = await self.store.new_link(conn, case_id, party.key, party.phone)
            offered["link"] = self.link_url(token)
        await enqueue(
            conn,
            case_id=case_id,
            party=party.key,
            phone=party.phone,
            template=template,
            params={k: v for k, v in offered.items() if k in wanted},
            dedupe_key=f"{case_id}:{template}:{party.key}:{key}",
            now=time.time(),
            signature=self.config.sms_signature,
        )

    async def state(self, case_id: str) -> CaseState:
        """The case's current state (``cases.status``)."""
        row = await self.store.case_row(case_id)
        return CaseState(row["status"])

    async def authorize(self, officer: Officer, case_id: str) -> CaseRow:
        """The case row, if this officer may work on it: one who answered one of its calls,
        or a supervisor. A case id that does not exist is 404, another officer's case 403."""
        row = await self.store.case_row(case_id)
        if officer.is_supervisor or await self.store.officer_handled(case_id, officer.id):
            return row
        raise Forbidden("this case was handled by another officer")


def written_reason(text: object, field: str) -> str:
    """A required free text (a reason, a review decision): stripped, not empty, bounded."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidMessage(f"{field} must be a written text", field=field)
    text = text.strip()
    if len(text) > MAX_REASON:
        raise InvalidMessage(
            f"{field} is too long ({len(text)} characters, at most {MAX_REASON})",
            field=field,
            limit=MAX_REASON,
        )
    return text
