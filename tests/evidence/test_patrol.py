"""The plate patrol (kuaichu/evidence/call_capture.py): plates read unasked in live calls.
The calls' media is a fake here (the patrol through a real call: tests/e2e/test_capture.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from kuaichu.calls.model import Call, CallState
from kuaichu.evidence.call_capture import CallCapture
from kuaichu.queue.model import QueuedCall

CALLS = 5


class _Media:
    """Counts how many calls' patrol captures run at the same time."""

    def __init__(self, shared: dict[str, int], name: str, enough: asyncio.Event) -> None:
        self.shared, self.name, self.enough = shared, name, enough

    async def capture(self, kind: str, folder: Path) -> Any:
        assert kind == "auto"
        self.shared["now"] += 1
        self.shared["most"] = max(self.shared["most"], self.shared["now"])
        self.shared[self.name] = self.shared.get(self.name, 0) + 1
        if all(self.shared.get(f"c{n}", 0) >= 3 for n in range(CALLS)):
            self.enough.set()
        try:
            await asyncio.sleep(0.02)  # a decoding in its thread
        finally:
            self.shared["now"] -= 1
        return type("Frame", (), {"path": folder / "frame.jpg"})()


class _Desk:
    def read_plate_file(self, path: Path, *, quick: bool = False) -> None:
        return None  # no plate in the picture


async def test_patrols_of_many_calls_take_turns_and_each_call_is_read() -> None:
    """Ten calls accepted in the same second used to start their patrols together: ten
    decodings, then ten readings, beside the event loop at once (the 10-call loop lag p99,
    issue 9). One call's patrol runs at a time, and every call still gets its readings."""
    shared = {"now": 0, "most": 0}
    enough = asyncio.Event()
    patrol = CallCapture(
        cast(Any, None),
        cast(Any, None),
        cast(Any, _Desk()),
        cast(Any, None),
        auto_plate_seconds=0.01,
    )
    calls = []
    for n in range(CALLS):
        call = Call(f"c{n}", f"case{n}", "sid", QueuedCall(f"c{n}", f"case{n}", 0.0), None)
        call.state, call.officer_id = CallState.IN_CALL, 1
        call.media = cast(Any, _Media(shared, call.call_id, enough))
        patrol.start_patrol(call)
        calls.append(call)
    try:
        await asyncio.wait_for(enough.wait(), 30)  # three readings of every call
    finally:
        for call in calls:
            call.state = CallState.ENDED
            await call.tasks.close()
    assert shared["most"] == 1
