"""The async engine and the few queries the call slice needs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .tables import calls, cases, metadata, queue_events, recordings

logger = logging.getLogger(__name__)


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
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


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
    ) -> None:
        loc = location or {}
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(cases).values(
                    id=case_id,
                    created_at=now,
                    status="queued",
                    reporter_phone=phone,
                    lat=loc.get("lat"),
                    lng=loc.get("lng"),
                    accuracy=loc.get("accuracy"),
                )
            )
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

    async def update_case_status(self, case_id: str, status: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(cases).where(cases.c.id == case_id).values(status=status))

    async def add_recording(self, call_id: str, info: Any) -> None:
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

    async def get_call(self, call_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(calls).where(calls.c.id == call_id))).mappings().first()
            )
            if row is None:
                return None
            out = dict(row)
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
            out["recordings"] = [{**dict(r), "streams": json.loads(r["streams"])} for r in recs]
            case = (
                (await conn.execute(select(cases).where(cases.c.id == row["case_id"])))
                .mappings()
                .first()
            )
            out["case"] = dict(case) if case else None
            return out

    async def events_since(self, ts: float) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(queue_events)
                        .where(queue_events.c.ts >= ts)
                        .order_by(queue_events.c.id)
                    )
                )
                .mappings()
                .all()
            )
            return [dict(r) for r in rows]
