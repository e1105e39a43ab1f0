"""In-memory call queue: the embedded default, one process.

Order is the order of arrival, except that a call whose officer dropped goes back to the head:
a driver never loses their place because of something they did not do.
"""

from __future__ import annotations

from collections.abc import Iterator

from .model import QueuedCall


class MemoryCallQueue:
    """The :class:`~.ports.CallQueue` of one process: a list in answer order."""

    def __init__(self) -> None:
        self._calls: list[QueuedCall] = []

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[QueuedCall]:
        return iter(list(self._calls))

    def push(self, call: QueuedCall, at_head: bool = False) -> None:
        if any(c.call_id == call.call_id for c in self._calls):
            return
        if at_head:
            self._calls.insert(0, call)
        else:
            self._calls.append(call)

    def remove(self, call_id: str) -> QueuedCall | None:
        for i, call in enumerate(self._calls):
            if call.call_id == call_id:
                return self._calls.pop(i)
        return None

    def get(self, call_id: str) -> QueuedCall | None:
        return next((c for c in self._calls if c.call_id == call_id), None)

    def position(self, call_id: str) -> int | None:
        """1-based position; 1 means next to be answered."""
        for i, call in enumerate(self._calls):
            if call.call_id == call_id:
                return i + 1
        return None
