"""OrderedDrain: strict order, bounded, drops counted, close handles what is pending."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kuaichu.drain import OrderedDrain


class Collect(OrderedDrain[int]):
    name = "collect"

    def __init__(self, max_pending: int, gate: asyncio.Event | None = None) -> None:
        super().__init__(max_pending)
        self.seen: list[int] = []
        self.gate = gate

    async def handle(self, item: int) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if item < 0:
            raise ValueError(item)
        self.seen.append(item)


def test_handle_is_abstract() -> None:
    class NoHandle(OrderedDrain[int]):
        pass

    with pytest.raises(TypeError):
        NoHandle(1)  # type: ignore[abstract]


async def test_items_are_handled_in_order_and_a_failure_does_not_stop_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    drain = Collect(10)
    drain.start()
    for item in (1, 2, -3, 4):
        drain.submit(item)
    with caplog.at_level(logging.ERROR, logger="kuaichu.drain"):
        await drain.flush()
    assert drain.seen == [1, 2, 4]
    assert "collect failed on -3" in caplog.text
    await drain.close()


async def test_a_full_backlog_drops_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    gate = asyncio.Event()
    drain = Collect(2, gate)
    drain.start()
    with caplog.at_level(logging.ERROR, logger="kuaichu.drain"):
        for item in range(5):
            drain.submit(item)
    assert drain.dropped == 3
    assert caplog.text.count("backlog full") == 3
    gate.set()
    await drain.close()  # handles what was accepted, then stops
    assert drain.seen == [0, 1]
