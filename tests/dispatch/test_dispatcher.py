"""Dispatcher policy, in isolation: a recording listener stands in for the sockets and the
event log writes to a real SQLite database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kuaichu.errors import Conflict
from kuaichu.queue import Dispatcher, OfficerStatus, QueuedCall
from kuaichu.queue.eventlog import EventLog
from kuaichu.queue.memory import MemoryCallQueue
from kuaichu.storage.db import Database, create_schema, make_engine


class Recorder:
    def __init__(self) -> None:
        self.offers: list[tuple[int, str]] = []
        self.withdrawn: list[tuple[int, str, str]] = []
        self.states: list[tuple[int, str]] = []

    def officer_state_changed(
        self,
        officer_id: int,
        status: OfficerStatus,
        call_id: str | None,
        wrapup_until: float | None,
    ) -> None:
        self.states.append((officer_id, status.value))

    def call_offered(self, officer_id: int, call: QueuedCall, expires_in: float) -> None:
        self.offers.append((officer_id, call.call_id))

    def offer_withdrawn(self, officer_id: int, call_id: str, reason: str) -> None:
        self.withdrawn.append((officer_id, call_id, reason))

    def queue_changed(self) -> None:
        pass


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[Dispatcher, Recorder, Database]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'q.sqlite3'}")
    await create_schema(engine)
    db = Database(engine)
    events = EventLog(db)
    events.start()
    rec = Recorder()
    d = Dispatcher(
        MemoryCallQueue(),
        events,
        rec,
        reservation_timeout=0.3,
        wrapup_seconds=0.3,
        decline_cooldown=60,
        default_handle_seconds=300,
    )
    yield d, rec, db
    d.close()
    await events.close()
    await db.close()


def call(n: int) -> QueuedCall:
    return QueuedCall(f"call-{n:04d}", f"case-{n}", time.time() - 100 + n)


async def test_fifo_longest_waiting_call_to_longest_available_officer(env: Any) -> None:
    d, rec, _ = env
    for n in (1, 2, 3):
        d.enqueue(call(n))
    assert [d.queue.position(f"call-{n:04d}") for n in (1, 2, 3)] == [1, 2, 3]
    d.officer_online(7)
    d.officer_online(8)
    d.set_status(8, OfficerStatus.AVAILABLE)
    d.set_status(7, OfficerStatus.AVAILABLE)
    # Officer 8 became available first, so gets the oldest call.
    assert rec.offers == [(8, "call-0001"), (7, "call-0002")]
    d.accept(8, "call-0001")
    assert d.queue.position("call-0002") == 1
    assert d.queue.position("call-0003") == 2


async def test_timeout_reoffers_to_next_officer_without_losing_position(env: Any) -> None:
    d, rec, _ = env
    d.enqueue(call(1))
    d.enqueue(call(2))
    d.officer_online(1)
    d.set_status(1, OfficerStatus.AVAILABLE)
    assert rec.offers == [(1, "call-0001")]
    d.officer_online(2)
    d.set_status(2, OfficerStatus.AVAILABLE)
    assert rec.offers[-1] == (2, "call-0002")
    d.accept(2, "call-0002")
    d.officer_online(3)
    d.set_status(3, OfficerStatus.AVAILABLE)
    await asyncio.sleep(0.5)
    # Officer 1 never answered: the offer went to officer 3, officer 1 is on break.
    assert (1, "call-0001", "timeout") in rec.withdrawn
    assert rec.offers[-1] == (3, "call-0001")
    assert d.presence(1).status is OfficerStatus.BREAK
    assert d.queue.position("call-0001") == 1
    with pytest.raises(Conflict):
        d.accept(1, "call-0001")


async def test_decline_keeps_place_and_skips_that_officer(env: Any) -> None:
    d, rec, _ = env
    d.enqueue(call(1))
    d.enqueue(call(2))
    d.officer_online(1)
    d.set_status(1, OfficerStatus.AVAILABLE)
    d.decline(1, "call-0001")
    # The declined call keeps position 1; the same officer is offered the next call instead.
    assert d.queue.position("call-0001") == 1
    assert rec.offers == [(1, "call-0001"), (1, "call-0002")]
    d.officer_online(2)
    d.set_status(2, OfficerStatus.AVAILABLE)
    assert rec.offers[-1] == (2, "call-0001")


async def test_requeue_at_head_and_abandon(env: Any) -> None:
    d, _rec, db = env
    for n in (1, 2, 3):
        d.enqueue(call(n))
    d.officer_online(1)
    d.set_status(1, OfficerStatus.AVAILABLE)
    c1 = d.accept(1, "call-0001")
    assert d.officer_offline(1) == "call-0001"
    d.enqueue(c1, at_head=True)
    assert d.queue.position("call-0001") == 1
    assert d.abandon("call-0002")
    assert d.queue.position("call-0003") == 2
    assert not d.abandon("call-0002")
    await d.events.flush()
    kinds = [e["kind"] for e in await db.events_since(0)]
    assert "call_abandoned" in kinds and "call_requeued" in kinds


async def test_wrapup_then_available_again(env: Any) -> None:
    d, rec, _ = env
    d.officer_online(1)
    d.set_status(1, OfficerStatus.AVAILABLE)
    d.enqueue(call(1))
    d.accept(1, "call-0001")
    d.call_finished(1, "call-0001", 120.0)
    assert d.presence(1).status is OfficerStatus.WRAPUP
    d.enqueue(call(2))
    assert rec.offers == [(1, "call-0001")]  # nothing offered during wrap-up
    await asyncio.sleep(0.5)
    assert rec.offers[-1] == (1, "call-0002")
    assert d.average_handle_seconds() == 120.0
    with pytest.raises(Conflict):
        d.set_status(1, OfficerStatus.BREAK)  # reserved now
