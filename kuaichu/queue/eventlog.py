"""Append-only queue event log, written by one owned background task.

Dispatcher transitions must be atomic on the event loop, so they never await the database:
they append here synchronously and the writer drains in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..storage.db import Database

logger = logging.getLogger(__name__)


class EventLog:
    def __init__(self, db: Database, max_pending: int = 10_000) -> None:
        self._db = db
        self._queue: asyncio.Queue[tuple[float, str, str | None, int | None, dict[str, Any]] | None]
        self._queue = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="queue-event-log")

    def record(
        self, kind: str, call_id: str | None = None, officer_id: int | None = None, **detail: Any
    ) -> None:
        try:
            self._queue.put_nowait((time.time(), kind, call_id, officer_id, detail))
        except asyncio.QueueFull:
            logger.error("event log backlog full, dropping %s for call %s", kind, call_id)

    async def flush(self) -> None:
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                ts, kind, call_id, officer_id, detail = item
                await self._db.log_event(kind, call_id, officer_id, ts=ts, **detail)
            except Exception:
                logger.exception("could not write queue event")
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None
