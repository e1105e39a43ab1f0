"""Append-only queue event log, written by one owned background task.

Dispatcher transitions must be atomic on the event loop, so they never await the database:
they append here synchronously and the writer drains in order.
"""

from __future__ import annotations

import time
from typing import Any

from ..drain import OrderedDrain
from ..storage.db import Database

_Event = tuple[float, str, str | None, int | None, dict[str, Any]]


class EventLog(OrderedDrain[_Event]):
    name = "queue-event-log"

    def __init__(self, db: Database, max_pending: int = 10_000) -> None:
        super().__init__(max_pending)
        self._db = db

    def record(
        self, kind: str, call_id: str | None = None, officer_id: int | None = None, **detail: Any
    ) -> None:
        self.submit((time.time(), kind, call_id, officer_id, detail))

    async def handle(self, item: _Event) -> None:
        ts, kind, call_id, officer_id, detail = item
        await self._db.log_event(kind, call_id, officer_id, ts=ts, **detail)
