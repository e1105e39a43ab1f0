"""Queries of the case workflow: the form, progress links, verifications (the issued
determinations' are in kuaichu.storage.documents).

Functions that take an ``AsyncConnection`` run inside a case step's transaction (see
``Database.case_event(extra=...)``); the others open their own.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..cases.form import CaseForm
from ..cases.states import CaseEvent, CaseState
from ..errors import Conflict, NotFound
from ..notify.outbox import OutboxStatus
from .caseindex import reindex
from .documents import DeterminationStore
from .rows import (
    AuditRow,
    CallRow,
    CaseRow,
    NotifiedCase,
    RecordingRow,
    ReviewRequest,
    VerificationCheck,
)
from .tables import (
    calls,
    captures,
    case_audit,
    case_files,
    case_index,
    cases,
    outbox,
    party_links,
    recordings,
    verifications,
)


def token_hash(token: str) -> str:
    """What is stored of a progress-link token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StoredForm:
    """The case form as stored, with its revision and last writer."""

    revision: int
    form: CaseForm
    updated_at: float | None
    updated_by: str | None


class CaseStore(DeterminationStore):
    """The case tables' queries (the audit trail itself is :class:`~.db.Database`'s), with
    the issued determinations' (:class:`~.documents.DeterminationStore`)."""

    # -- cases ------------------------------------------------------------------------------

    async def case_row(self, case_id: str) -> CaseRow:
        """The case's row (404 if there is none)."""
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(cases).where(cases.c.id == case_id))).mappings().first()
            )
        if row is None:
            raise NotFound(f"no case {case_id}")
        return cast(CaseRow, dict(row))

    async def case_calls(self, case_id: str) -> list[CallRow]:
        """The case's calls, first queued first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(calls).where(calls.c.case_id == case_id).order_by(calls.c.queued_at)
            )
            return [cast(CallRow, dict(r)) for r in rows.mappings()]

    async def recording(self, call_id: str) -> RecordingRow | None:
        """The call's (last) recording with the case it belongs to now."""
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(recordings, calls.c.case_id)
                        .join(calls, calls.c.id == recordings.c.call_id)
                        .where(recordings.c.call_id == call_id)
                        .order_by(recordings.c.id.desc())
                    )
                )
                .mappings()
                .first()
            )
        return cast(RecordingRow, dict(row)) if row else None

    async def officer_handled(self, case_id: str, officer_id: int) -> bool:
        """Whether the officer answered a call of this case: the officer's right to work on
        it (supervisors may work on any)."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(calls.c.id)
                .where(calls.c.case_id == case_id, calls.c.officer_id == officer_id)
                .limit(1)
            )
            return found.first() is not None

    async def recent_cases(
        self, officer_id: int | None, limit: int = 50, status: Sequence[str] | None = None
    ) -> list[CaseRow]:
        """Newest first, at most ``limit`` (the case list pages); an officer's own cases, or
        every case for ``officer_id=None``. Jobs that must see every case of a status use
        :meth:`notified_cases` / :meth:`review_requests`, which have no cap."""
        query = select(cases).order_by(cases.c.created_at.desc()).limit(limit)
        if officer_id is not None:
            mine = select(calls.c.case_id).where(calls.c.officer_id == officer_id)
            query = query.where(cases.c.id.in_(mine))
        if status:
            query = query.where(cases.c.status.in_(list(status)))
        async with self.engine.connect() as conn:
            return [cast(CaseRow, dict(r)) for r in (await conn.execute(query)).mappings()]

    async def audit_rows(self, case_id: str) -> list[AuditRow]:
        """The case's audit rows as stored, in order."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(case_audit).where(case_audit.c.case_id == case_id).order_by(case_audit.c.seq)
            )
            return [cast(AuditRow, dict(r)) for r in rows.mappings()]

    async def notified_cases(
        self, after: tuple[float, str] | None = None, limit: int = 500
    ) -> list[NotifiedCase]:
        """One page of the notified cases, oldest first (by report time, then id), starting
        after the (created_at, id) of the previous page's last case. Two queries per page,
        none per case: the cases, then their delivery and review-request rows."""
        query = (
            select(cases.c.id, cases.c.created_at)
            .where(cases.c.status == CaseState.NOTIFIED.value)
            .order_by(cases.c.created_at, cases.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                or_(
                    cases.c.created_at > after[0],
                    and_(cases.c.created_at == after[0], cases.c.id > after[1]),
                )
            )
        async with self.engine.connect() as conn:
            page = (await conn.execute(query)).all()
            ids = [str(r[0]) for r in page]
            delivered: dict[str, datetime] = {}
            reviewed: set[str] = set()
            if ids:
                events = await conn.execute(
                    select(case_audit.c.case_id, case_audit.c.what, case_audit.c.when)
                    .where(
                        case_audit.c.case_id.in_(ids),
                        case_audit.c.what.in_(
                            [CaseEvent.NOTIFY.value, CaseEvent.REQUEST_REVIEW.value]
                        ),
                    )
                    .order_by(case_audit.c.case_id, case_audit.c.seq)
                )
                for case_id, what, when in events:
                    if what == CaseEvent.NOTIFY:
                        delivered[case_id] = datetime.fromisoformat(when)  # the latest wins
                    else:
                        reviewed.add(case_id)
        return [
            NotifiedCase(str(r[0]), float(r[1]), delivered.get(str(r[0])), str(r[0]) in reviewed)
            for r in page
        ]

    async def review_requests(self) -> list[ReviewRequest]:
        """Every case waiting for a review decision with its request, oldest request first.
        No cap: the supervisor's queue must not lose the oldest requests."""
        query = (
            select(case_audit.c.case_id, case_audit.c.when, case_audit.c.detail)
            .join(cases, cases.c.id == case_audit.c.case_id)
            .where(
                cases.c.status == CaseState.REVIEW_REQUESTED.value,
                case_audit.c.what == CaseEvent.REQUEST_REVIEW.value,
            )
            .order_by(case_audit.c.case_id, case_audit.c.seq)
        )
        latest: dict[str, ReviewRequest] = {}
        async with self.engine.connect() as conn:
            for case_id, when, detail in await conn.execute(query):
                raw = json.loads(detail)
                latest[case_id] = ReviewRequest(
                    case_id=case_id,
                    party=raw.get("party"),
                    reason=raw.get("reason"),
                    requested_at=datetime.fromisoformat(when),
                )
        return sorted(latest.values(), key=lambda r: (r.requested_at, r.case_id))

    # -- the form -----------------------------------------------------------------------------

    async def form(self, case_id: str, conn: AsyncConnection | None = None) -> StoredForm:
        """The case's current form (revision 0 and empty before the first write)."""
        if conn is None:
            async with self.engine.connect() as own:
                return await self.form(case_id, own)
        row = (
            (await conn.execute(select(case_files).where(case_files.c.case_id == case_id)))
            .mappings()
            .first()
        )
        if row is None:
            return StoredForm(0, CaseForm(), None, None)
        return StoredForm(
            row["revision"],
            CaseForm.parse(json.loads(row["data"])),
            row["updated_at"],
            row["updated_by"],
        )

    async def write_form(
        self,
        conn: AsyncConnection,
        case_id: str,
        base_revision: int,
        form: CaseForm,
        who: str,
    ) -> int:
        """Store ``form`` as the revision after ``base_revision``; a save based on an older
        revision (another tab or officer saved in between) is refused with 409."""
        data = json.dumps(form.to_dict(), ensure_ascii=False, sort_keys=True)
        now = time.time()
        if base_revision == 0:
            exists = await conn.execute(
                select(case_files.c.revision).where(case_files.c.case_id == case_id)
            )
            if exists.first() is None:
                await conn.execute(
                    insert(case_files).values(
                        case_id=case_id, revision=1, data=data, updated_at=now, updated_by=who
                    )
                )
                await reindex(conn, case_id, form)
                return 1
            raise Conflict("the case form was changed meanwhile; reload it", reason="stale_form")
        done = await conn.execute(
            update(case_files)
            .where(case_files.c.case_id == case_id, case_files.c.revision == base_revision)
            .values(revision=base_revision + 1, data=data, updated_at=now, updated_by=who)
        )
        if done.rowcount != 1:
            raise Conflict("the case form was changed meanwhile; reload it", reason="stale_form")
        # The identity index follows the form in the same transaction (the one place a form
        # is written: a report's, a photo report's, a save, a link's merged form).
        await reindex(conn, case_id, form)
        return base_revision + 1

    # -- progress links -----------------------------------------------------------------------

    async def new_link(
        self, conn: AsyncConnection, case_id: str, party: str, phone: str | None
    ) -> str:
        """A new progress-link token for a party (only its hash is stored)."""
        token = secrets.token_urlsafe(18)
        await conn.execute(
            insert(party_links).values(
                token_hash=token_hash(token),
                case_id=case_id,
                party=party,
                phone=phone,
                created_at=time.time(),
            )
        )
        return token

    async def resolve_link(self, token: str) -> tuple[str, str]:
        """The case and party key behind a token (404 if unknown)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        party_links.c.case_id, party_links.c.party, party_links.c.revoked_at
                    ).where(party_links.c.token_hash == token_hash(token))
                )
            ).first()
        if row is None:
            raise NotFound("this link is not valid")
        if row[2] is not None:
            # The party's phone changed: a new link went to the new number.
            raise NotFound("this link was replaced by a newer one", reason="link_replaced")
        return str(row[0]), str(row[1])

    async def move_links(
        self, conn: AsyncConnection, from_case: str, to_case: str, party_map: dict[str, str]
    ) -> None:
        """Move a merged case's progress links to the case it was merged into."""
        for old, new in party_map.items():
            await conn.execute(
                update(party_links)
                .where(party_links.c.case_id == from_case, party_links.c.party == old)
                .values(case_id=to_case, party=new)
            )

    async def move_calls(self, conn: AsyncConnection, from_case: str, to_case: str) -> None:
        """Move a merged case's calls to the case it was merged into."""
        await conn.execute(
            update(calls).where(calls.c.case_id == from_case).values(case_id=to_case)
        )

    async def move_captures(self, conn: AsyncConnection, from_case: str, to_case: str) -> int:
        """Move a merged case's stills (video frames, phone stills, their annotations) to the
        case it was merged into. Only the rows move: each JPEG stays in the folder whose
        signed manifest lists it (its ``path`` names that folder), so both folders still
        verify."""
        moved = await conn.execute(
            update(captures).where(captures.c.case_id == from_case).values(case_id=to_case)
        )
        return int(moved.rowcount or 0)

    async def open_reports_since(
        self, case_id: str, since: float, limit: int = 50
    ) -> list[tuple[CaseRow, set[tuple[str, str]]]]:
        """The other cases still in the queue or on a call reported since ``since`` (newest
        first, at most ``limit``), each with its plate, phone and ID keys from the identity
        index: what a re-report of one accident is looked for among (issue 12)."""
        open_states = [CaseState.QUEUED.value, CaseState.IN_CALL.value]
        async with self.engine.connect() as conn:
            rows = [
                cast(CaseRow, dict(r))
                for r in (
                    await conn.execute(
                        select(cases)
                        .where(
                            cases.c.status.in_(open_states),
                            cases.c.created_at >= since,
                            cases.c.id != case_id,
                        )
                        .order_by(cases.c.created_at.desc())
                        .limit(limit)
                    )
                ).mappings()
            ]
            keys: dict[str, set[tuple[str, str]]] = {r["id"]: set() for r in rows}
            if rows:
                found = await conn.execute(
                    select(case_index.c.case_id, case_index.c.kind, case_index.c.value).where(
                        case_index.c.case_id.in_(list(keys)),
                        case_index.c.kind.in_(["plate", "tel", "id"]),
                    )
                )
                for cid, kind, value in found:
                    keys[cid].add((kind, value))
        return [(r, keys[r["id"]]) for r in rows]

    async def unsent(self, case_id: str, template: str, key: str) -> int:
        """Messages of one step (dedupe keys ``case:template:party:key``) not yet sent."""
        async with self.engine.connect() as conn:
            count = await conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(
                    outbox.c.case_id == case_id,
                    outbox.c.template == template,
                    outbox.c.dedupe_key.like(f"%:{key}"),
                    outbox.c.status != OutboxStatus.SENT.value,
                    # A failed message someone resent counts by its new row.
                    outbox.c.resent_as.is_(None),
                )
            )
            return int(count.scalar() or 0)

    # -- verification -------------------------------------------------------------------------

    async def add_verification(
        self,
        conn: AsyncConnection,
        case_id: str,
        party: str,
        registry: str,
        facts: dict[str, Any],
        result: dict[str, Any],
        who: str,
    ) -> None:
        """Store one registry check of a party."""
        await conn.execute(
            insert(verifications).values(
                case_id=case_id,
                party=party,
                registry=registry,
                facts=json.dumps(facts, ensure_ascii=False, sort_keys=True),
                result=json.dumps(result, ensure_ascii=False, sort_keys=True),
                checked_at=time.time(),
                checked_by=who,
            )
        )

    async def latest_verifications(self, case_id: str) -> dict[str, VerificationCheck]:
        """The newest check per party: {party: {"facts", "result", "checked_at", ...}}."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(verifications)
                .where(verifications.c.case_id == case_id)
                .order_by(verifications.c.id)
            )
            out: dict[str, VerificationCheck] = {}
            for r in rows.mappings():
                out[r["party"]] = {
                    "registry": r["registry"],
                    "facts": json.loads(r["facts"]),
                    "result": json.loads(r["result"]),
                    "checked_at": r["checked_at"],
                    "checked_by": r["checked_by"],
                }
            return out
