"""The periodic jobs see every case, however many there are (issue 8: close_expired read the
500 newest notified cases and review_queue the 200 newest requests, so the oldest fell off)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import select

from kuaichu.accounts.model import Officer, Role
from kuaichu.cases.states import CaseState
from kuaichu.storage.tables import cases
from tests.casework.seed import (
    CST,
    Bench,
    case_id,
    insert_cases,
    notified_trail,
    review_requested_trail,
)


async def test_close_expired_closes_the_oldest_among_thousands(bench: Bench) -> None:
    now = datetime.now(CST)
    trails = {}
    # The three oldest were served ten days ago: their review window has passed.
    for n in range(3):
        trails[case_id(n)] = notified_trail(now - timedelta(days=10, minutes=60 - n))
    # 1,500 newer ones were served within the hour: their window is open.
    for n in range(3, 1503):
        trails[case_id(n)] = notified_trail(now - timedelta(minutes=60) + timedelta(seconds=n))
    await insert_cases(bench.engine, trails)

    started = time.monotonic()
    closed = await bench.work.close_expired()
    elapsed = time.monotonic() - started

    assert closed == [case_id(0), case_id(1), case_id(2)]
    async with bench.engine.connect() as conn:
        statuses = dict((await conn.execute(select(cases.c.id, cases.c.status))).all())
    assert [statuses[case_id(n)] for n in range(3)] == ["closed"] * 3
    assert sum(1 for s in statuses.values() if s == CaseState.NOTIFIED) == 1500
    assert [e.what for e in await bench.db.case_trail(case_id(0))][-1] == "close"
    assert elapsed < 30, f"close_expired took {elapsed:.1f} s for 1,503 cases"
    # A second run finds nothing more to close.
    assert await bench.work.close_expired() == []


async def test_close_expired_leaves_a_case_waiting_for_its_review(bench: Bench) -> None:
    now = datetime.now(CST)
    trail = review_requested_trail(now - timedelta(days=2), now - timedelta(days=1))
    await insert_cases(bench.engine, {case_id(0): trail})
    assert await bench.work.close_expired() == []  # review requested, not notified


async def test_review_queue_lists_every_request_oldest_first(bench: Bench) -> None:
    now = datetime.now(CST)
    delivered = now - timedelta(days=1)
    trails = {
        case_id(n): review_requested_trail(delivered, delivered + timedelta(minutes=1, seconds=n))
        for n in range(450)
    }
    await insert_cases(bench.engine, trails)

    chief = Officer(id=7, username="chief", display_name="Chief", role=Role.SUPERVISOR)
    queue = await bench.work.review_queue(chief)

    assert len(queue) == 450
    assert queue[0]["case_id"] == case_id(0)  # the oldest request is not dropped
    assert [r["case_id"] for r in queue] == [case_id(n) for n in range(450)]
    assert queue[0]["party"] == "A"
    assert queue[0]["reason"] == "the other car braked"
    requested = datetime.fromisoformat(queue[0]["requested_at"])
    assert datetime.fromisoformat(queue[0]["decide_by"]) - requested == timedelta(days=5)
