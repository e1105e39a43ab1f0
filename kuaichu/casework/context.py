"""What every step of the case work shares: the stores, the settings, the live calls and the
notifier's doorbell, and the few verbs each step uses to write its one transaction.

A step is one :meth:`CaseContext.event` (a state-machine event) or :meth:`CaseContext.action`
(an audit action) whose ``extra`` callback writes the step's own rows and its SMS
(:meth:`CaseContext.notify`) in the same transaction, so a refused step leaves nothing
written and an accepted one cannot lose its notice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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

logger = logging.getLogger(__name__)

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


class Access(StrEnum):
    """What an officer asks to do to a case, for :meth:`CaseContext.authorize`."""

    VIEW = "view"  # read the case, its documents, its evidence and recordings
    WORK = "work"  # a step of the case work: the form, checks, determination, cancel
    LINK = "link"  # merge further cases into this one
    DECIDE_REVIEW = "decide_review"  # decide a party's review request (supervisors only)


@dataclass(frozen=True)
class PartyLink:
    """A party's standing in a case, proven by the token of their progress link: what the
    case work's party-facing methods take. Only :meth:`CaseWork.resolve_link` makes one
    outside the tests, so a progress route cannot reach a case without a valid token."""

    case_id: str
    party: str


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

    async def authorize(
        self, officer: Officer, case_id: str, *others: str, action: Access = Access.WORK
    ) -> CaseRow:
        """The row of ``case_id`` if this officer may do ``action`` to it and to every case in
        ``others`` (the further cases the action touches); the one check of the case work.

        The rule (docs/cases.md, "Who may act on a case"): a supervisor may do anything but
        decide a review only a supervisor may; an officer may act on a case they hold, one
        they answered a call of. Linking names two cases: the officer must hold the case
        the other is merged into, and the other must be theirs too or still nobody's (a
        report waiting in the queue that no officer has answered yet). Every case is looked
        up before any is judged, so an id that does not exist is 404 and a case someone else
        holds is 403, whichever position it is named in."""
        rows = [await self.store.case_row(c) for c in (case_id, *others)]
        if officer.is_supervisor:
            return rows[0]
        if action is Access.DECIDE_REVIEW:
            raise self._refused(officer, action, case_id, "reviews are decided by a supervisor")
        if not await self._handled(case_id, officer):
            raise self._refused(officer, action, case_id, "another officer handled this case")
        for other in others:
            if other == case_id or await self._handled(other, officer):
                continue
            if action is Access.LINK and not await self._answered(other):
                continue  # waiting in the queue, nobody's yet
            raise self._refused(officer, action, other, f"case {other} is another officer's case")
        return rows[0]

    async def _handled(self, case_id: str, officer: Officer) -> bool:
        """Whether the officer answered a call of this case, or of the case it was merged
        into: linking moves a report's calls to the surviving case (issue 12), and the
        officer who handled either call keeps the linked case and its evidence."""
        seen: set[str] = set()
        target: str | None = case_id
        while target is not None and target not in seen:  # a linked case may be linked on
            if await self.store.officer_handled(target, officer.id):
                return True
            seen.add(target)
            target = await self.merged_into(target)
        return False

    async def merged_into(self, case_id: str) -> str | None:
        """The case this one was linked into (its cancel entry says so), if any. Only a
        cancelled case's trail is read."""
        row = await self.store.case_row(case_id)
        if row["status"] != CaseState.CANCELLED.value:
            return None
        for entry in reversed(await self.db.case_trail(case_id)):
            if entry.what == CaseEvent.CANCEL:
                target = entry.detail.get("merged_into")
                return str(target) if target else None
        return None

    async def _answered(self, case_id: str) -> bool:
        """Whether any officer has answered a call of this case."""
        return any(call["officer_id"] is not None for call in await self.store.case_calls(case_id))

    def _refused(self, officer: Officer, action: Access, case_id: str, why: str) -> Forbidden:
        logger.info("officer %s may not %s case %s", officer.id, action.value, case_id)
        return Forbidden(why)


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
