"""Ordered, non-blocking delivery of server→client events.

Domain code (dispatcher callbacks) must not await; it hands events here and one owned task
sends them in order, so a driver never sees "in_call" before "connecting".
"""

from __future__ import annotations

from typing import Any

import socketio

from ..drain import OrderedDrain

_Item = tuple[str, Any, str, str | None]


class Emitter(OrderedDrain[_Item]):
    name = "socketio-emitter"

    def __init__(self, sio: socketio.AsyncServer, max_pending: int = 50_000) -> None:
        super().__init__(max_pending)
        self._sio = sio

    def send(self, event: str, data: Any, namespace: str, to: str | None) -> None:
        """Queue an event for a sid or room (``to``) or the whole namespace (None)."""
        self.submit((event, data, namespace, to))

    async def handle(self, item: _Item) -> None:
        event, data, namespace, to = item
        await self._sio.emit(event, data, namespace=namespace, to=to)
