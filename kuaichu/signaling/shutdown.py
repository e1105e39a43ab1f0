"""SIGTERM: the server drains before it stops (aiohttp's on_shutdown: the listener is
closed, the sockets are still open).

Every page is told ``server_restarting``, new reports are refused, live calls end and their
recordings are finalized and registered; then every socket is closed, so the server stops
within ``--shutdown-timeout``."""

from __future__ import annotations

import asyncio
import logging

import socketio

from ..calls.center import CallCenter
from .emitter import Emitter
from .rooms import DRIVER_NS, OFFICER_NS, SUPERVISOR_NS

logger = logging.getLogger(__name__)

# Of the shutdown bound: kept for what follows the drain (the last events out, the sockets
# and the services closed).
DRAIN_MARGIN = 4.0


async def drain(
    sio: socketio.AsyncServer,
    center: CallCenter | None,
    emitter: Emitter | None,
    shutdown_timeout: float,
) -> None:
    """The drain; ``center`` and ``emitter`` are None if the start-up failed before them."""
    budget = max(1.0, shutdown_timeout - DRAIN_MARGIN)
    notice = {"reason": "shutdown", "within_s": round(shutdown_timeout)}
    if center is not None:
        center.stop_reports()
    for namespace in (DRIVER_NS, OFFICER_NS, SUPERVISOR_NS):
        await sio.emit("server_restarting", notice, namespace=namespace)
    if center is not None:
        await center.drain(budget)
        if emitter is not None:
            try:
                await asyncio.wait_for(emitter.flush(), DRAIN_MARGIN / 2)
            except TimeoutError:
                logger.warning("draining: the last socket events were not all sent")
    # Close every client's transport: aiohttp would otherwise wait for the websockets.
    # engine.io waits until each socket's queue is sent; a long-polling page that is
    # already gone never takes it, and the close hung for ever (seen in the suite), so
    # the wait is bounded: aiohttp's own shutdown closes what is left.
    if sio.eio.sockets:
        try:
            await asyncio.wait_for(sio.eio.disconnect(), DRAIN_MARGIN / 2)
        except TimeoutError:
            logger.warning("draining: some sockets did not take their close in time")
