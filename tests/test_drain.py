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


async def test_a_lasting_failure_is_logged_once_then_counted_not_flooded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database on a full disk fails every event: one traceback, not one per item."""
    drain = Collect(3000)
    drain.start()
    with caplog.at_level(logging.WARNING, logger="kuaichu.drain"):
        for item in range(-2500, 0):
            drain.submit(item)
        drain.submit(5)
        await drain.flush()
    await drain.close()
    assert drain.failed == 2500
    assert drain.seen == [5]
    lines = [r for r in caplog.records if r.name == "kuaichu.drain"]
    assert len(lines) == 4  # the first failure, the 1000th, the 2000th, and the recovery
    assert lines[0].exc_info is not None
    assert "works again after 2500 failed item(s)" in lines[-1].getMessage()
