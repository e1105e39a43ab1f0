"""ManualClock: time moves only when told, timers fire in order at their due time."""

from __future__ import annotations

import asyncio

import pytest

from kuaichu.clock import ManualClock, SystemClock


def test_timers_fire_in_due_order_each_at_its_own_time() -> None:
    clock = ManualClock(start=1000.0)
    seen: list[tuple[str, float, float]] = []
    clock.call_later(2, lambda: seen.append(("b", clock.monotonic(), clock.now())))
    clock.call_later(1, lambda: seen.append(("a", clock.monotonic(), clock.now())))
    clock.call_later(5, lambda: seen.append(("late", clock.monotonic(), clock.now())))
    clock.advance(3)
    assert seen == [("a", 1.0, 1001.0), ("b", 2.0, 1002.0)]
    assert clock.monotonic() == 3.0 and clock.now() == 1003.0
    assert clock.pending() == 1


def test_cancelled_timer_never_fires_and_chained_timers_within_the_window_do() -> None:
    clock = ManualClock()
    seen: list[str] = []
    clock.call_later(1, lambda: seen.append("cancelled")).cancel()
    clock.call_later(1, lambda: clock.call_later(1, lambda: seen.append("chained")))
    clock.advance(2)
    assert seen == ["chained"]
    with pytest.raises(ValueError):
        clock.advance(-1)


async def test_system_clock_schedules_on_the_running_loop() -> None:
    clock = SystemClock()
    fired = asyncio.Event()
    clock.call_later(0, fired.set)
    await asyncio.wait_for(fired.wait(), 2)
    assert clock.now() > 1_600_000_000 and clock.monotonic() > 0
