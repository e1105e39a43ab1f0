"""The doorbell between a step that queued a message and the notifier that delivers it."""

from __future__ import annotations

import asyncio

from kuaichu.notify import Doorbell, OutboxStatus


async def test_a_ring_before_the_wait_is_not_lost() -> None:
    bell = Doorbell()
    bell.ring()
    await asyncio.wait_for(bell.wait(), 1)
    assert bell.rung
    bell.clear()
    assert not bell.rung


async def test_a_ring_wakes_a_waiting_worker() -> None:
    bell = Doorbell()
    waiter = asyncio.create_task(bell.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    bell.ring()
    await asyncio.wait_for(waiter, 1)


def test_outbox_status_keeps_the_stored_strings() -> None:
    assert [s.value for s in OutboxStatus] == ["pending", "sent", "failed"]
    assert OutboxStatus("sent") == "sent"
