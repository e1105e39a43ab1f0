"""One owned task that handles items strictly in order, fed without awaiting.

Domain code that must stay atomic on the event loop (dispatcher transitions) hands work here
instead of awaiting it: queue events for the database, socket.io emits. Bounded, so a stuck
consumer cannot grow memory without limit; what does not fit is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class OrderedDrain(Generic[T]):
    name = "drain"

    def __init__(self, max_pending: int) -> None:
        self._queue: asyncio.Queue[T | None] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    def submit(self, item: T) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            logger.error("%s backlog full, dropping %r", self.name, item)

    async def handle(self, item: T) -> None:
        raise NotImplementedError

    async def flush(self) -> None:
        """Wait until everything submitted so far has been handled."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                await self.handle(item)
            except Exception:
                logger.exception("%s failed on %r", self.name, item)
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        """Handle what is pending, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None
