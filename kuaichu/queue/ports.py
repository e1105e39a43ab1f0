"""What the dispatcher needs from a queue backend and an event log.

The dispatcher depends on these protocols only; :class:`~.memory.MemoryCallQueue` and
:class:`~.eventlog.EventLog` are the embedded implementations, and a Redis backend (the cluster
issue) implements the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from .model import QueuedCall


class CallQueue(Protocol):
    """Waiting calls in answer order: arrival order, except calls put back at the head.

    The dispatcher changes a call's ``reserved_by`` and ``declined_by`` on the object it got
    from the queue; an in-process backend stores those objects, so that is the change."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[QueuedCall]:
        """A snapshot of the waiting calls, next to be answered first."""
        ...

    def push(self, call: QueuedCall, at_head: bool = False) -> None:
        """Add a call at the tail (or the head); a call already queued is left where it is."""
        ...

    def remove(self, call_id: str) -> QueuedCall | None:
        """Take a call out; None if it is not queued."""
        ...

    def get(self, call_id: str) -> QueuedCall | None:
        """The queued call, or None."""
        ...

    def position(self, call_id: str) -> int | None:
        """1-based position; 1 means next to be answered; None if not queued."""
        ...


class EventSink(Protocol):
    """Where the dispatcher's transitions are recorded. Must not block."""

    def record(
        self, kind: str, call_id: str | None = None, officer_id: int | None = None, **detail: Any
    ) -> None: ...
