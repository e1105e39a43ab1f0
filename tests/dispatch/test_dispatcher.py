"""Dispatcher policy, in isolation: a recording listener stands in for the sockets and the
event log writes to a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kuaichu.clock import ManualClock
from kuaichu.errors import Conflict, NotFound
from kuaichu.queue import Dispatcher, OfficerStatus, QueuedCall
from kuaichu.queue.eventlog import EventLog
from kuaichu.queue.memory import MemoryCallQueue
from kuaichu.queue.model import QueuePosition
from kuaichu.storage.db import Database, create_schema, make_engine


class Recorder:
    def __init__(self) -> None:
        self.offers: list[tuple[int, str]] = []
        self.withdrawn: list[tuple[int, str, str]] = []
        self.states: list[tuple[int, str]] = []
        self.wrapup_until: dict[int, float | None] = {}
        self.queue_changes = 0

    def officer_state_changed(
        self,
        officer_id: int,
        status: OfficerStatus,
        call_id: str | None,
        wrapup_until: float | None,
        summary: Mapping[str, Any],
    ) -> None:
        self.states.append((officer_id, status.value))
        self.wrapup_until[officer_id] = wrapup_until

    def call_offered(self, officer_id: int, call: QueuedCall, expires_in: float) -> None:
        self.offers.append((officer_id, call.call_id))

    def offer_withdrawn(self, officer_id: int, call_id: str, reason: str) -> None:
        self.withdrawn.append((officer_id, call_id, reason))

    def queue_changed(
        self, positions: Sequence[QueuePosition], summary: Mapping[str, Any]
    ) -> None:
        self.queue_changes += 1


RESERVATION = 30.0
WRAPUP = 20.0
COOLDOWN = 60.0


@dataclass
class Env:
    d: Dispatcher
    rec: Recorder
    db: Database
    events: EventLog
    clock: ManualClock


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'q.sqlite3'}")
    await create_schema(engine)
    db = Database(engine)
    events = EventLog(db)
    events.start()
    rec = Recorder()
    clock = ManualClock()
    d = Dispatcher(
        MemoryCallQueue(),
        events,
        rec,
        reservation_timeout=RESERVATION,
        wrapup_seconds=WRAPUP,
        decline_cooldown=COOLDOWN,
        default_handle_seconds=300,
        clock=clock,
    )
    yield Env(d, rec, db, events, clock)
    d.close()
    await events.close()
    await db.close()


START = ManualClock().now()  # every test's clock starts here


def call(n: int) -> QueuedCall:
    """A call that has waited 100 - n seconds when the test starts."""
    return QueuedCall(f"call-{n:04d}", f"case-{n}", START - 100 + n)


def available(env: Env, *officer_ids: int) -> None:
    """Officers come online and make themselves available, in this order."""
    for oid in officer_ids:
        env.d.officer_online(oid)
        env.d.set_status(oid, OfficerStatus.AVAILABLE)


async def test_fifo_longest_waiting_call_to_longest_available_officer(env: Env) -> None:
    d, rec = env.d, env.rec
    for n in (1, 2, 3):
        d.enqueue(call(n))
    assert [d.position(f"call-{n:04d}") for n in (1, 2, 3)] == [1, 2, 3]
    d.officer_online(7)
    d.officer_online(8)
    d.set_status(8, OfficerStatus.AVAILABLE)
    d.set_status(7, OfficerStatus.AVAILABLE)
    # Officer 8 became available first, so gets the oldest call.
    assert rec.offers == [(8, "call-0001"), (7, "call-0002")]
    d.accept(8, "call-0001")
    assert d.position("call-0002") == 1
    assert d.position("call-0003") == 2


async def test_timeout_reoffers_to_next_officer_without_losing_position(env: Env) -> None:
    d, rec = env.d, env.rec
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
    env.clock.advance(RESERVATION)
    # Officer 1 never answered: the offer went to officer 3, officer 1 is on break.
    assert (1, "call-0001", "timeout") in rec.withdrawn
    assert rec.offers[-1] == (3, "call-0001")
    assert d.presence(1).status is OfficerStatus.BREAK
    assert d.position("call-0001") == 1
    with pytest.raises(Conflict):
        d.accept(1, "call-0001")


async def test_decline_keeps_place_and_skips_that_officer(env: Env) -> None:
    d, rec = env.d, env.rec
    d.enqueue(call(1))
    d.enqueue(call(2))
    d.officer_online(1)
    d.set_status(1, OfficerStatus.AVAILABLE)
    d.decline(1, "call-0001")
    # The declined call keeps position 1; the same officer is offered the next call instead.
    assert d.position("call-0001") == 1
    assert rec.offers == [(1, "call-0001"), (1, "call-0002")]
    d.officer_online(2)
    d.set_status(2, OfficerStatus.AVAILABLE)
    assert rec.offers[-1] == (2, "call-0001")


async def test_requeue_at_head_and_abandon(env: Env) -> None:
    d, db = env.d, env.db
    for n in (1, 2, 3):
        d.enqueue(call(n))
    d.officer_online(1)
    d.set_status(1, OfficerStatus.AVAILABLE)
    c1 = d.accept(1, "call-0001")
    assert d.officer_offline(1) == "call-0001"
    d.enqueue(c1, at_head=True)
    assert d.position("call-0001") == 1
    assert d.abandon("call-0002")
    assert d.position("call-0003") == 2
    assert not d.abandon("call-0002")
    await env.events.flush()
    kinds = [e["kind"] for e in await db.events_since(0)]
    assert "call_abandoned" in kinds and "call_requeued" in kinds


async def test_wrapup_then_available_again(env: Env) -> None:
    d, rec = env.d, env.rec
    d.officer_online(1)
    d.set_status(1, OfficerStatus.AVAILABLE)
    d.enqueue(call(1))
    d.accept(1, "call-0001")
    d.call_finished(1, "call-0001", 120.0)
    assert d.presence(1).status is OfficerStatus.WRAPUP
    d.enqueue(call(2))
    assert rec.offers == [(1, "call-0001")]  # nothing offered during wrap-up
    env.clock.advance(WRAPUP)
    assert rec.offers[-1] == (1, "call-0002")
    assert d.average_handle_seconds() == 120.0
    with pytest.raises(Conflict):
        d.set_status(1, OfficerStatus.BREAK)  # reserved now


# -- policy, step by step on a manual clock ------------------------------------------------------


async def test_officer_back_from_wrapup_queues_behind_those_already_waiting(env: Env) -> None:
    d, rec, clock = env.d, env.rec, env.clock
    available(env, 1)
    d.enqueue(call(1))
    d.accept(1, "call-0001")
    clock.advance(5)
    available(env, 2)  # officer 2 is now the only one free
    clock.advance(5)
    d.call_finished(1, "call-0001", 10.0)
    clock.advance(WRAPUP)
    assert d.presence(1).status is OfficerStatus.AVAILABLE
    # Both free; officer 2 has been free longer, so gets the next call.
    d.enqueue(call(2))
    assert rec.offers[-1] == (2, "call-0002")
    d.enqueue(call(3))
    assert rec.offers[-1] == (1, "call-0003")


async def test_oldest_call_first_whatever_the_order_of_arrival_in_the_queue(env: Env) -> None:
    d, rec = env.d, env.rec
    d.enqueue(call(1))
    d.enqueue(call(2))
    available(env, 1)
    assert rec.offers == [(1, "call-0001")]
    assert [c.call_id for c in d.waiting()] == ["call-0001", "call-0002"]
    assert d.waiting_count() == 2
    first = d.queued("call-0001")
    assert first is not None and first.reserved_by == 1


async def test_reservation_lasts_exactly_the_timeout(env: Env) -> None:
    d, rec, clock = env.d, env.rec, env.clock
    d.enqueue(call(1))
    available(env, 1)
    clock.advance(RESERVATION - 0.1)
    assert d.presence(1).status is OfficerStatus.RESERVED and rec.withdrawn == []
    d.accept(1, "call-0001")  # still in time
    clock.advance(RESERVATION)
    assert d.presence(1).status is OfficerStatus.BUSY and rec.withdrawn == []


async def test_silent_officer_goes_on_break_and_the_call_keeps_its_place(env: Env) -> None:
    d, rec, clock = env.d, env.rec, env.clock
    d.enqueue(call(1))
    available(env, 1)
    d.enqueue(call(2))
    clock.advance(RESERVATION)
    assert rec.withdrawn == [(1, "call-0001", "timeout")]
    assert d.presence(1).status is OfficerStatus.BREAK
    # Nobody is free: both calls wait, the first one still first, unreserved.
    assert [c.call_id for c in d.waiting()] == ["call-0001", "call-0002"]
    missed = d.queued("call-0001")
    assert missed is not None and missed.reserved_by is None
    # The next officer to come free gets the call that was missed, not the newer one.
    available(env, 2)
    assert rec.offers[-1] == (2, "call-0001")
    # The silent officer is not offered anything until they come back from break.
    assert all(oid != 1 for oid, _ in rec.offers[1:])
    d.set_status(1, OfficerStatus.AVAILABLE)
    assert rec.offers[-1] == (1, "call-0002")


async def test_decline_cooldown_keeps_the_call_away_from_that_officer_until_it_ends(
    env: Env,
) -> None:
    d, rec, clock = env.d, env.rec, env.clock
    d.enqueue(call(1))
    available(env, 1)
    d.decline(1, "call-0001")
    assert rec.offers == [(1, "call-0001")]
    assert d.presence(1).status is OfficerStatus.AVAILABLE
    # During the cool-down a break and return does not bring the call back to them.
    clock.advance(COOLDOWN - 1)
    d.set_status(1, OfficerStatus.BREAK)
    d.set_status(1, OfficerStatus.AVAILABLE)
    assert rec.offers == [(1, "call-0001")]
    assert d.position("call-0001") == 1
    # After it, the call is theirs to take again.
    clock.advance(1)
    assert rec.offers == [(1, "call-0001"), (1, "call-0001")]


async def test_when_the_cool_down_ends_the_call_is_offered_again_without_any_other_event(
    env: Env,
) -> None:
    """The only free officer declined: once the cool-down is over the call comes back to
    them by itself, it does not wait for some unrelated change in the queue."""
    d, rec, clock = env.d, env.rec, env.clock
    d.enqueue(call(1))
    available(env, 1)
    d.decline(1, "call-0001")
    clock.advance(COOLDOWN - 0.5)
    assert rec.offers == [(1, "call-0001")]
    clock.advance(0.5)
    assert rec.offers == [(1, "call-0001"), (1, "call-0001")]
    assert d.presence(1).status is OfficerStatus.RESERVED


async def test_decline_of_a_call_not_offered_is_refused(env: Env) -> None:
    d = env.d
    d.enqueue(call(1))
    available(env, 1, 2)
    with pytest.raises(NotFound):
        d.decline(2, "call-0001")
    with pytest.raises(NotFound):
        d.decline(1, "call-9999")


async def test_wrapup_shows_its_end_and_ends_on_time(env: Env) -> None:
    d, rec, clock = env.d, env.rec, env.clock
    available(env, 1)
    d.enqueue(call(1))
    d.accept(1, "call-0001")
    d.enqueue(call(2))
    d.call_finished(1, "call-0001", 60.0)
    assert rec.wrapup_until[1] == clock.now() + WRAPUP
    clock.advance(WRAPUP - 0.1)
    assert d.presence(1).status is OfficerStatus.WRAPUP
    clock.advance(0.1)
    assert rec.offers[-1] == (1, "call-0002")
    assert rec.wrapup_until[1] is None


async def test_officer_may_end_wrapup_early(env: Env) -> None:
    d, rec, clock = env.d, env.rec, env.clock
    available(env, 1)
    d.enqueue(call(1))
    d.accept(1, "call-0001")
    d.call_finished(1, "call-0001", 60.0)
    with pytest.raises(Conflict):
        d.set_status(1, OfficerStatus.WRAPUP)  # only available or break can be chosen
    d.enqueue(call(2))
    d.set_status(1, OfficerStatus.AVAILABLE)
    assert rec.offers[-1] == (1, "call-0002")
    assert clock.pending() == 1  # the reservation; the wrap-up timer was called off


async def test_finishing_a_call_the_officer_no_longer_has_changes_nothing(env: Env) -> None:
    d = env.d
    available(env, 1)
    d.call_finished(1, "call-0001", 30.0)
    assert d.presence(1).status is OfficerStatus.AVAILABLE
    assert d.average_handle_seconds() == 30.0  # the handle time still counts


async def test_officer_vanishing_mid_call_puts_the_call_back_at_the_head(env: Env) -> None:
    d, rec = env.d, env.rec
    available(env, 1)
    d.enqueue(call(1))
    c1 = d.accept(1, "call-0001")
    d.enqueue(call(2))
    d.enqueue(call(3))
    assert d.officer_offline(1) == "call-0001"
    assert d.presence(1).status is OfficerStatus.OFFLINE
    d.enqueue(c1, at_head=True)  # what the call centre does with the returned call
    assert [c.call_id for c in d.waiting()] == ["call-0001", "call-0002", "call-0003"]
    available(env, 2)
    assert rec.offers[-1] == (2, "call-0001")


async def test_officer_vanishing_while_offered_releases_the_call_at_once(env: Env) -> None:
    d, rec, clock = env.d, env.rec, env.clock
    d.enqueue(call(1))
    available(env, 1, 2)
    d.enqueue(call(2))
    assert rec.offers == [(1, "call-0001"), (2, "call-0002")]
    assert d.officer_offline(1) is None  # reserved, not busy: nothing to requeue
    assert d.position("call-0001") == 1
    d.accept(2, "call-0002")
    available(env, 3)
    assert rec.offers[-1] == (3, "call-0001")
    # The vanished officer's reservation timer is gone with the reservation.
    clock.advance(RESERVATION)
    assert (1, "call-0001", "timeout") not in rec.withdrawn
    assert d.presence(1).status is OfficerStatus.OFFLINE


async def test_abandon_while_offered_withdraws_the_offer_and_frees_the_officer(env: Env) -> None:
    d, rec = env.d, env.rec
    d.enqueue(call(1))
    d.enqueue(call(2))
    available(env, 1)
    assert d.abandon("call-0001")
    assert (1, "call-0001", "abandoned") in rec.withdrawn
    assert rec.offers[-1] == (1, "call-0002")
    assert d.position("call-0002") == 1


async def test_summary_and_estimated_wait_read_the_clock(env: Env) -> None:
    d, clock = env.d, env.clock
    d.enqueue(call(1))  # queued 99 s before the start
    d.enqueue(call(2))
    clock.advance(10)
    assert d.summary() == {"waiting": 2, "longest_wait_s": 109, "available": 0}
    # Nobody staffed: still an order of magnitude, from the default handle time.
    assert d.estimated_wait("call-0002") == int(300 * 1.5)
    assert d.estimated_wait("call-9999") is None


async def test_close_cancels_every_timer(env: Env) -> None:
    d, clock = env.d, env.clock
    d.enqueue(call(1))
    available(env, 1, 2)
    d.enqueue(call(2))
    d.accept(2, "call-0002")
    d.call_finished(2, "call-0002", 1.0)
    assert clock.pending() == 2  # one reservation, one wrap-up
    d.close()
    assert clock.pending() == 0


async def test_record_passes_call_events_to_the_event_log(env: Env) -> None:
    env.d.record("driver_media_rejoin", "call-0001", 7, note="x")
    await env.events.flush()
    [event] = await env.db.events_since(0)
    assert event["kind"] == "driver_media_rejoin" and event["officer_id"] == 7


async def test_offers_made_together_time_out_each_for_its_own_officer(env: Env) -> None:
    d, rec, clock = env.d, env.rec, env.clock
    d.enqueue(call(1))
    d.enqueue(call(2))
    available(env, 1, 2)
    d.decline(1, "call-0001")
    clock.advance(1)
    d.decline(2, "call-0002")  # this one dispatch pass swaps both calls
    assert rec.offers[-2:] == [(2, "call-0001"), (1, "call-0002")]
    clock.advance(RESERVATION)
    assert sorted(rec.withdrawn) == [(1, "call-0002", "timeout"), (2, "call-0001", "timeout")]


def callback(n: int, officer_id: int) -> QueuedCall:
    """A photo report's video callback whose link officer ``officer_id`` sent."""
    return QueuedCall(f"cb-{n:04d}", f"case-{n}", START, preferred_officer=officer_id)


async def test_a_callback_goes_first_to_the_officer_who_sent_it(env: Env) -> None:
    d, rec = env.d, env.rec
    available(env, 1, 2)  # 1 has been available longest: any other call would be theirs
    d.enqueue(callback(1, 2), at_head=True)
    assert rec.offers == [(2, "cb-0001")]
    # 2 lets it pass (timeout): then it is anyone's, at once.
    env.clock.advance(RESERVATION)
    assert rec.offers == [(2, "cb-0001"), (1, "cb-0001")]


async def test_a_declined_callback_goes_to_the_shared_queue(env: Env) -> None:
    d, rec = env.d, env.rec
    available(env, 1, 2)
    d.enqueue(callback(1, 2), at_head=True)
    d.decline(2, "cb-0001")
    assert rec.offers == [(2, "cb-0001"), (1, "cb-0001")]


async def test_a_callback_waits_one_reservation_timeout_for_its_busy_officer(env: Env) -> None:
    d, rec = env.d, env.rec
    available(env, 2)
    d.enqueue(call(1))
    d.accept(2, "call-0001")  # 2 is busy with another call
    available(env, 1)
    d.enqueue(callback(2, 2), at_head=True)
    assert rec.offers == [(2, "call-0001")]  # 1 is free, but the callback waits for 2
    d.call_finished(2, "call-0001", 60)
    env.clock.advance(WRAPUP)  # 2 free again within the time: theirs
    assert rec.offers[-1] == (2, "cb-0002")
    # Its preference is spent: a later callback of an officer who stays busy goes to 1
    # after one reservation timeout.
    d.accept(2, "cb-0002")
    d.enqueue(callback(3, 2), at_head=True)
    env.clock.advance(RESERVATION - 1)
    assert rec.offers[-1] == (2, "cb-0002")
    env.clock.advance(1)
    assert rec.offers[-1] == (1, "cb-0003")


async def test_a_callback_of_an_officer_not_in_the_console_is_anyones_at_once(env: Env) -> None:
    d, rec = env.d, env.rec
    available(env, 1)
    d.enqueue(callback(1, 9), at_head=True)  # officer 9 is offline
    assert rec.offers == [(1, "cb-0001")]
