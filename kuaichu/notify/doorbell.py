"""The doorbell between a step that queued a message and the worker that delivers it.

Made first and handed to both sides' constructors: the case work (or the call centre) rings
it after a step committed an outbox row, the :class:`~kuaichu.notify.outbox.Notifier` waits on
it between passes. Neither side needs the other to exist, which breaks the construction cycle
the notifier's ``on_sent`` callback would otherwise make.
"""

from __future__ import annotations

import asyncio


class Doorbell:
    """An :class:`asyncio.Event` with the two verbs its users mean."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        """Something is waiting to be delivered: wake the worker now, not at its next poll."""
        self._event.set()

    def clear(self) -> None:
        """The worker starts a pass: a ring from now on means another pass after it."""
        self._event.clear()

    @property
    def rung(self) -> bool:
        """Whether the bell rang since the last :meth:`clear`."""
        return self._event.is_set()

    async def wait(self) -> None:
        """Until the bell rings (returns at once if it rang since the last clear)."""
        await self._event.wait()
