"""Ordered, non-blocking delivery of server→client events.

Domain code (dispatcher callbacks) must not await; it hands events here and one owned task
sends them in order, so a driver never sees "in_call" before "connecting".
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio

logger = logging.getLogger(__name__)

_Item = tuple[str, Any, str, str | None]


class Emitter:
    def __init__(self, sio: socketio.AsyncServer, max_pending: int = 50_000) -> None:
        self._sio = sio
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="socketio-emitter")

    def send(self, event: str, data: Any, namespace: str, to: str | None) -> None:
        """Queue an event for a sid or room (``to``) or the whole namespace (None)."""
        try:
            self._queue.put_nowait((event, data, namespace, to))
        except asyncio.QueueFull:
            logger.error("emit backlog full, dropping %s to %s%s", event, namespace, to or "")

    async def drain(self) -> None:
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                event, data, namespace, to = item
                await self._sio.emit(event, data, namespace=namespace, to=to)
            except Exception:
                logger.exception("emit failed")
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None
