"""The case's state machine and audit trail in the database, through the real server."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kuaichu.cases.states import AuditEntry, CaseEvent, apply, case_timings, replay
from kuaichu.errors import KuaichuError
from kuaichu.storage.db import Database, create_schema, make_engine
from sim.client import SimDriver, SimOfficer


def trail(server: Any, case_id: str) -> list[sqlite3.Row]:
    return server.rows("select * from case_audit where case_id = ? order by seq", case_id)


def officer_id(server: Any, username: str) -> int:
    return int(server.rows("select id from officers where username = ?", username)[0][0])


async def wait_rows(server: Any, case_id: str, n: int, timeout: float = 10) -> list[sqlite3.Row]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = trail(server, case_id)
        if len(rows) >= n:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"expected {n} audit rows, got {[tuple(r) for r in trail(server, case_id)]}"
    )


async def test_whole_call_leaves_reported_queued_in_call_with_the_officers(
    live_server: Any,
) -> None:
    first = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    name2, password2 = live_server.extra_officers[0]
    second = await SimOfficer(live_server.url, name2, password2).connect()
    driver = await SimDriver(live_server.url).connect()
    try:
        await first.set_available()
        ack = await driver.report(lat=45.7567, lng=126.6424)
        assert ack["ok"], ack
        case_id, call_id = ack["case_id"], ack["call_id"]
        offer = await first.wait_offer()
        assert (await first.decline(call_id))["ok"]
        await second.set_available()
        offer = await second.wait_offer()
        assert offer["call_id"] == call_id
        assert (await second.accept(call_id))["ok"]
        await driver.wait_state("in_call")
        await second.wait_for(lambda: second.frames("video") >= 10, timeout=15)
        assert (await second.hangup(call_id))["ok"]
        await driver.wait_state("ended")
        rows = await wait_rows(live_server, case_id, 5)
    finally:
        for c in (driver, first, second):
            await c.close()

    first_who = f"officer:{officer_id(live_server, live_server.officer_username)}"
    second_who = f"officer:{officer_id(live_server, name2)}"
    assert [(r["seq"], r["what"], r["from_state"], r["to_state"], r["who"]) for r in rows] == [
        (0, "report", None, "reported", "driver"),
        (1, "queue", "reported", "queued", "system"),
        (2, "decline", "queued", "queued", first_who),
        (3, "answer", "queued", "in_call", second_who),
        (4, "hangup", "in_call", "in_call", second_who),
    ]
    assert json.loads(rows[0]["detail"])["eligibility"]["cause"] == "rear_end"
    assert json.loads(rows[3]["detail"]) == {"call_id": call_id, "officer": name2}
    assert json.loads(rows[4]["detail"])["reason"] == "officer_hangup"
    # Times are aware, in China time, and in order.
    whens = [datetime.fromisoformat(r["when"]) for r in rows]
    assert all(w.utcoffset() == timedelta(hours=8) for w in whens)
    assert whens == sorted(whens)
    # The case row is the state machine's current state; after answer it stays in_call
    # until the evidence step exists.
    (case,) = live_server.rows("select status from cases where id = ?", case_id)
    assert case["status"] == "in_call"

    # The stored trail replays through the domain checks, and the report time is there
    # for the two advertised timings.
    entries = [
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
    assert replay(entries) == "in_call"
    timings = case_timings(entries)
    assert timings.reported_at == whens[0]
    assert timings.to_information is None and timings.to_determination is None


async def test_hanging_up_while_waiting_abandons_the_case(live_server: Any) -> None:
    driver = await SimDriver(live_server.url).connect()
    try:
        ack = await driver.report()
        assert ack["ok"], ack
        assert (await driver.hangup())["ok"]
        rows = await wait_rows(live_server, ack["case_id"], 3)
    finally:
        await driver.close()
    assert [(r["what"], r["from_state"], r["to_state"], r["who"]) for r in rows] == [
        ("report", None, "reported", "driver"),
        ("queue", "reported", "queued", "system"),
        ("abandon", "queued", "abandoned", "driver"),
    ]
    (case,) = live_server.rows("select status from cases where id = ?", ack["case_id"])
    assert case["status"] == "abandoned"


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
