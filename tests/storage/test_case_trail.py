"""The case's audit trail in the database: one transaction per event, a refused event writes
nothing, a tampered trail refuses every new event (moved from tests/e2e/test_case_audit.py)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kuaichu.cases.states import CaseEvent, apply
from kuaichu.errors import KuaichuError
from kuaichu.storage.db import Database, create_schema, make_engine


async def test_illegal_transition_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cases.sqlite3'}")
    await create_schema(engine)
    db = Database(engine)
    try:
        at = datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
        report = apply([], CaseEvent.REPORT, "driver", at)
        await db.create_case_and_call(
            "KC20240501ABCDEF", "call-0001-abcd", at.timestamp(), None, None, report
        )
        with pytest.raises(KuaichuError) as refused:
            await db.case_event("KC20240501ABCDEF", CaseEvent.ANSWER, "officer:1", at)
        assert refused.value.code == "illegal_transition"
        assert refused.value.detail == {"state": "reported", "event": "answer"}
        with pytest.raises(KuaichuError) as missing:
            await db.case_event("KC20240501NOSUCH", CaseEvent.QUEUE, "system", at)
        assert missing.value.code == "not_found"
        assert [e.what for e in await db.case_trail("KC20240501ABCDEF")] == ["report"]

        # A legal path, then an event from a terminal state.
        await db.case_event("KC20240501ABCDEF", CaseEvent.QUEUE, "system", at)
        await db.case_event("KC20240501ABCDEF", CaseEvent.ABANDON, "driver", at)
        with pytest.raises(KuaichuError) as terminal:
            await db.case_event("KC20240501ABCDEF", CaseEvent.ANSWER, "officer:1", at)
        assert terminal.value.code == "illegal_transition"
        stored = await db.case_trail("KC20240501ABCDEF")
        assert [e.to_state for e in stored] == ["reported", "queued", "abandoned"]
    finally:
        await db.close()
    conn = sqlite3.connect(tmp_path / "cases.sqlite3")
    try:
        assert conn.execute("select status from cases").fetchone()[0] == "abandoned"
        assert conn.execute("select count(*) from case_audit").fetchone()[0] == 3
    finally:
        conn.close()


async def test_a_tampered_trail_refuses_new_events(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    db = Database(engine)
    try:
        at = datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
        report = apply([], CaseEvent.REPORT, "driver", at)
        await db.create_case_and_call(
            "KC20240501ABCDEF", "call-0001-abcd", at.timestamp(), None, None, report
        )
        await db.case_event("KC20240501ABCDEF", CaseEvent.QUEUE, "system", at)
        conn = sqlite3.connect(path)
        conn.execute("update case_audit set to_state = 'in_call' where seq = 1")
        conn.commit()
        conn.close()
        with pytest.raises(KuaichuError) as refused:
            await db.case_event("KC20240501ABCDEF", CaseEvent.ABANDON, "driver", at)
        assert refused.value.code == "illegal_transition"
        assert refused.value.detail["reason"] == "trail_mismatch"
        assert len(await db.case_trail("KC20240501ABCDEF")) == 2
    finally:
        await db.close()
