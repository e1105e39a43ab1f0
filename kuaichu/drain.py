"""One owned task that handles items strictly in order, fed without awaiting.

Domain code that must stay atomic on the event loop (dispatcher transitions) hands work here
instead of awaiting it: queue events for the database, socket.io emits. Bounded, so a stuck
consumer cannot grow memory without limit; what does not fit is logged, counted in
``dropped`` (for tests and the wallboard) and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from .tasks import TaskOwner

logger = logging.getLogger(__name__)

T = TypeVar("T")


class OrderedDrain(ABC, Generic[T]):
    """A bounded queue handled in order by one owned task; subclasses implement ``handle``."""

    name = "drain"

    def __init__(self, max_pending: int) -> None:
        self._queue: asyncio.Queue[T | None] = asyncio.Queue(max_pending)
        self._tasks = TaskOwner(self.name)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0  # items refused because the backlog was full, since start
        self.failed = 0  # items whose handling raised, since start

    def start(self) -> None:
        """Start the task that handles the items."""
        self._task = self._tasks.spawn(self._run(), self.name)

    def submit(self, item: T) -> None:
        """Queue an item without awaiting; when the backlog is full it is dropped."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            logger.error("%s backlog full, dropping %r (%d dropped)", self.name, item, self.dropped)

    @abstractmethod
    async def handle(self, item: T) -> None:
        """Handle one item; an exception is logged and the next item is handled."""

    async def flush(self) -> None:
        """Wait until everything submitted so far has been handled."""
        await self._queue.join()

    async def _run(self) -> None:
        # A consumer that fails for a lasting reason (a full disk under the database) fails on
        # every item: the first failure is logged with its traceback, the run that follows
        # only every 1000th time and when it ends, so the log does not flood.
        failing = 0
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                await self.handle(item)
                if failing:
                    logger.warning("%s works again after %d failed item(s)", self.name, failing)
                    failing = 0
            except Exception as exc:
                failing += 1
                self.failed += 1
                if failing == 1:
                    logger.exception("%s failed on %r", self.name, item)
                elif failing % 1000 == 0:
                    logger.error(
                        "%s still failing (%d items in a row): %s: %s",
                        self.name, failing, type(exc).__name__, exc,
                    )
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        """Handle what is pending, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)
        try:
            await self._task
        finally:
            self._task = None
            await self._tasks.close()
