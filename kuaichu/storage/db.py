"""The async engine, the case audit trail (every case event and action, one transaction per
step) and the calls' own rows."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..cases.actions import AuditAction
from ..cases.states import CHINA_TIME, AuditEntry, CaseEvent, apply, record_action, replay
from ..errors import NotFound
from .caseindex import touch
from .migrations import migrate
from .rows import CallInfo, CallRecording, CaseRow
from .tables import calls, case_audit, cases, queue_events, recordings

if TYPE_CHECKING:
    from ..media.recorder import RecordingInfo

logger = logging.getLogger(__name__)

# Writes more rows inside a case step's transaction; raising rolls the whole step back.
InTransaction = Callable[[AsyncConnection, AuditEntry], Awaitable[None]]
# Writes the row an action's audit entry refers to, before the entry and in its transaction,
# and returns what to add to the entry's detail (the new row's id).
BeforeEntry = Callable[[AsyncConnection], Awaitable[Mapping[str, Any]]]


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    if url.startswith("sqlite"):
        # WAL lets the wallboard read while calls are written; foreign keys are off by
        # default in SQLite.
        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

    return engine


async def create_schema(engine: AsyncEngine) -> None:
    """Create or upgrade the schema (kuaichu.storage.migrations)."""
    await migrate(engine)


class Database:
    """Thin typed wrapper: the queries live here, not in handlers."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def close(self) -> None:
        await self.engine.dispose()

    async def create_case_and_call(
        self,
        case_id: str,
        call_id: str,
        now: float,
        location: Mapping[str, float] | None,
        phone: str | None,
        report: AuditEntry,
        extra: InTransaction | None = None,
    ) -> None:
        """The case, its first audit row (the report, which is also the start of the two
        advertised timings) and the call, in one transaction; ``extra`` adds its own rows
        (the initial case form, the reporter's progress link, the "queued" SMS) to it."""
        loc = location or {}
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(cases).values(
                    id=case_id,
                    created_at=now,
                    status=report.to_state.value,
                    reporter_phone=phone,
                    lat=loc.get("lat"),
                    lng=loc.get("lng"),
                    accuracy=loc.get("accuracy"),
                )
            )
            await self._insert_audit(conn, case_id, 0, report)
            await self.insert_call(conn, call_id, case_id, now, location)
            if extra is not None:
                await extra(conn, report)

    async def case_event(
        self,
        case_id: str,
        event: CaseEvent,
        who: str,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
        *,
        zone: tzinfo = CHINA_TIME,
        extra: InTransaction | None = None,
    ) -> AuditEntry:
        """Apply one state-machine event to a stored case: load and re-check its trail, ask
        :func:`apply`, store the entry and the new status, all in one transaction. ``extra``
        writes what else the step changes (a document, outbox messages) in that transaction.
        A refused event (``IllegalTransition``) or a failing ``extra`` rolls back and leaves
        nothing written."""
        async with self.engine.begin() as conn:
            trail = await self._locked_trail(conn, case_id, zone)
            entry = apply(trail, event, who, _not_before(trail, at), detail, zone=zone)
            await self._insert_audit(conn, case_id, len(trail), entry)
            await conn.execute(
                update(cases).where(cases.c.id == case_id).values(status=entry.to_state.value)
            )
            if extra is not None:
                await extra(conn, entry)
            return entry

    async def case_action(
        self,
        case_id: str,
        action: AuditAction,
        who: str,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
        *,
        zone: tzinfo = CHINA_TIME,
        extra: InTransaction | None = None,
        before: BeforeEntry | None = None,
    ) -> AuditEntry:
        """An officer action that does not move the state (decline, hang-up, a form save)
        into the trail, with whatever ``before`` and ``extra`` write in the same transaction."""
        async with self.engine.begin() as conn:
            trail = await self._locked_trail(conn, case_id, zone)
            if before is not None:
                detail = {**(detail or {}), **await before(conn)}
            entry = record_action(trail, action, who, _not_before(trail, at), detail)
            await self._insert_audit(conn, case_id, len(trail), entry)
            if extra is not None:
                await extra(conn, entry)
            return entry

    async def case_trail(self, case_id: str) -> list[AuditEntry]:
        async with self.engine.connect() as conn:
            return await self._trail(conn, case_id)

    async def _locked_trail(
        self, conn: AsyncConnection, case_id: str, zone: tzinfo
    ) -> list[AuditEntry]:
        # Take the write lock before reading (SQLite: the UPDATE begins the transaction and
        # holds the lock; PostgreSQL: a row lock), so two transitions of one case cannot both
        # read the same trail and append the same seq.
        touched = await conn.execute(
            update(cases).where(cases.c.id == case_id).values(status=cases.c.status)
        )
        if touched.rowcount == 0:
            raise NotFound(f"no case {case_id}")
        trail = await self._trail(conn, case_id)
        replay(trail, zone=zone)  # a tampered or reordered trail refuses every new event
        return trail

    async def _trail(self, conn: AsyncConnection, case_id: str) -> list[AuditEntry]:
        rows = (
            (
                await conn.execute(
                    select(case_audit)
                    .where(case_audit.c.case_id == case_id)
                    .order_by(case_audit.c.seq)
                )
            )
            .mappings()
            .all()
        )
        return [
            AuditEntry.from_dict(
                {
                    "who": r["who"],
                    "when": r["when"],
                    "what": r["what"],
                    "from": r["from_state"],
                    "to": r["to_state"],
                    "detail": json.loads(r["detail"]),
                }
            )
            for r in rows
        ]

    async def _insert_audit(
        self, conn: AsyncConnection, case_id: str, seq: int, entry: AuditEntry
    ) -> None:
        row = entry.to_dict()
        await conn.execute(
            insert(case_audit).values(
                case_id=case_id,
                seq=seq,
                who=row["who"],
                when=row["when"],
                what=row["what"],
                from_state=row["from"],
                to_state=row["to"],
                detail=json.dumps(row["detail"], ensure_ascii=False, sort_keys=True),
            )
        )
        await touch(conn, case_id, entry)  # the change feed's order (kuaichu.storage.caseindex)

    async def insert_call(
        self,
        conn: AsyncConnection,
        call_id: str,
        case_id: str,
        now: float,
        location: Mapping[str, float] | None,
    ) -> None:
        """A new waiting call in an existing case, inside the caller's transaction (a case's
        first call, or a driver rejoining the case after a restart)."""
        loc = location or {}
        await conn.execute(
            insert(calls).values(
                id=call_id,
                case_id=case_id,
                state="waiting",
                queued_at=now,
                lat=loc.get("lat"),
                lng=loc.get("lng"),
                accuracy=loc.get("accuracy"),
            )
        )

    async def update_call(self, call_id: str, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(calls).where(calls.c.id == call_id).values(**values))

    async def add_recording(self, call_id: str, info: RecordingInfo) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(recordings).values(
                    call_id=call_id,
                    path=str(info.path),
                    sha256=info.sha256,
                    size_bytes=info.size_bytes,
                    duration_s=info.duration_s,
                    started_at=info.started_at,
                    ended_at=info.ended_at,
                    streams=json.dumps(info.streams),
                    partial=info.partial,
                    failure=info.failure,
                )
            )

    async def log_event(
        self,
        kind: str,
        call_id: str | None = None,
        officer_id: int | None = None,
        ts: float | None = None,
        **detail: Any,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(queue_events).values(
                    ts=time.time() if ts is None else ts,
                    kind=kind,
                    call_id=call_id,
                    officer_id=officer_id,
                    detail=json.dumps(detail, ensure_ascii=False) if detail else None,
                )
            )

    async def get_call(self, call_id: str) -> CallInfo | None:
        """The call's row, its recordings and its case's row; None if there is no such call."""
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(calls).where(calls.c.id == call_id))).mappings().first()
            )
            if row is None:
                return None
            recs = (
                (
                    await conn.execute(
                        select(recordings)
                        .where(recordings.c.call_id == call_id)
                        .order_by(recordings.c.id)
                    )
                )
                .mappings()
                .all()
            )
            listed = [
                cast(CallRecording, {**dict(r), "streams": json.loads(r["streams"])}) for r in recs
            ]
            case = (
                (await conn.execute(select(cases).where(cases.c.id == row["case_id"])))
                .mappings()
                .first()
            )
            return cast(
                CallInfo,
                {
                    **dict(row),
                    "recordings": listed,
                    "case": cast(CaseRow, dict(case)) if case else None,
                },
            )

    async def events_since(
        self, ts: float, kinds: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Queue events from ``ts`` on, oldest first; ``kinds`` filters in SQL (the wallboard
        asks every few seconds and needs two kinds of a whole day's log)."""
        query = select(queue_events).where(queue_events.c.ts >= ts)
        if kinds is not None:
            query = query.where(queue_events.c.kind.in_(list(kinds)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(queue_events.c.id))).mappings().all()
            return [dict(r) for r in rows]


def _not_before(trail: list[AuditEntry], at: datetime) -> datetime:
    # The wall clock may step back (NTP); the trail's times must not.
    return max(at, trail[-1].when) if trail else at
