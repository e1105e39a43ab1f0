"""One owner for background tasks.

Every task the server starts belongs to a :class:`TaskOwner`: the owner keeps a strong
reference (the event loop only keeps weak ones, so an unowned task can vanish mid-flight),
forgets the task when it finishes, logs the exception of a task that failed (otherwise it
would only surface as "Task exception was never retrieved" at garbage collection), and on
``close()`` cancels and awaits everything it owns. A call owns one for its per-call work;
the app owns one for its loops (aiohttp's cleanup_ctx closes it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long close() waits for cancelled tasks to finish. A task that swallows its
# cancellation must not hold shutdown hostage; it is logged and left behind.
CLOSE_TIMEOUT = 5.0


class TaskOwner:
    """Owns background tasks: keeps them alive, logs their failures, cancels them on close."""

    def __init__(self, name: str = "tasks", *, close_timeout: float = CLOSE_TIMEOUT) -> None:
        self.name = name
        self.close_timeout = close_timeout
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Start ``coro`` as a task owned here. Once the owner is closing, the task is
        cancelled before it runs (and awaited by a ``close()`` still in progress)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        if self._closing:
            task.cancel()
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error(
                "%s: task %s failed", self.name, task.get_name(),
                exc_info=(type(exc), exc, exc.__traceback__),
            )

    @property
    def closing(self) -> bool:
        """True once ``close()`` was called: new tasks are cancelled at once."""
        return self._closing

    def __len__(self) -> int:
        return len(self._tasks)

    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The tasks still running (a snapshot)."""
        return frozenset(self._tasks)

    async def close(self) -> None:
        """Cancel every task (including any spawned while closing) and wait for them,
        at most ``close_timeout`` seconds in all."""
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.close_timeout
        while self._tasks:
            pending = set(self._tasks)
            for task in pending:
                # Cancel once: a second cancel would interrupt a task's own cleanup.
                if not task.cancelling():
                    task.cancel()
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait(pending, timeout=remaining)
        if self._tasks:
            logger.warning(
                "%s: %d task(s) ignored cancellation: %s", self.name, len(self._tasks),
                ", ".join(sorted(t.get_name() for t in self._tasks)),
            )

    async def __aenter__(self) -> TaskOwner:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
