"""LoopLag: a stalled loop shows in the figures, a window keeps only its own samples."""

from __future__ import annotations

import asyncio
import gc
import time

from kuaichu.looplag import GcPauses, LoopLag


def test_percentiles_over_a_window() -> None:
    lag = LoopLag(interval=0.05)
    for i in range(100):
        lag.add(1000.0 + i * 0.05, 0.001)
    lag.add(1005.0, 0.250)  # one stall
    stats = lag.stats(window=10, now=1005.0)
    assert stats.samples == 101
    assert stats.p50_ms == 1.0
    assert stats.max_ms == 250.0
    # An older window does not see what happened before it.
    assert lag.stats(window=1, now=1010.0).samples == 0


async def test_a_blocked_loop_is_measured() -> None:
    lag = LoopLag(interval=0.01)
    task = asyncio.create_task(lag.run())
    await asyncio.sleep(0.05)
    time.sleep(0.2)  # noqa: ASYNC251 - the point: the event loop is blocked for 200 ms
    await asyncio.sleep(0.05)
    task.cancel()
    stats = lag.stats(window=5)
    assert stats.max_ms >= 150
    assert stats.p50_ms < 100


def test_collections_are_timed_per_generation_while_installed() -> None:
    pauses = GcPauses()
    pauses.install()
    try:
        garbage = []
        for _ in range(50_000):  # cycles, so the collector has work
            a: list[object] = []
            a.append(a)
            garbage.append(a)
        del garbage
        gc.collect(2)
    finally:
        pauses.remove()
    stats = pauses.stats(window=60)
    assert stats.counts[2] >= 1
    assert stats.max_ms[2] > 0
    assert stats.as_dict()["collections"] == list(stats.counts)
    # Removed: later collections are not counted.
    gc.collect(2)
    assert pauses.stats(window=60).counts[2] == stats.counts[2]
