"""A media leg's health: declared failed when it does not connect in time, or when nothing
arrives on it for a few seconds while its connection still looks up.

aiortc reports a failed connection only once ICE gives up, which with a browser (that never
signals end-of-candidates) is never, and a dead path only when consent expires (30 s). The
watchdog here notices both within seconds, so the call's media session can re-offer the leg.

"Nothing arrives" counts every datagram of the leg's DTLS transport (RTP, RTCP, DTLS): a
browser sends RTCP receiver reports every second even when it sends no media of its own (an
officer without a microphone), so silence means the path is gone, not that the peer is quiet.
A loop that stalled (a tick far later than asked) does not count as silence: the datagrams
are waiting in the socket, and the next ticks judge again.

A leg is "alive" once something arrives *after* its connection came up: the DTLS handshake's
own datagrams do not count, so a first frame slower than the media timeout (ten calls being
set up at once, a phone's camera starting) is judged by the connect timeout, not taken for a
dead path three seconds after the handshake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDtlsTransport, RTCPeerConnection

from kuaichu.clock import Clock, SystemClock
from kuaichu.tasks import TaskOwner

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
MEDIA_TIMEOUT = 3.0
TICK = 0.5


MEDIA_REOFFERS = 2


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """When a leg is declared failed, and how many fresh driver legs a call gets in a row
    (none of them receiving) before it goes back to the head of the queue."""

    connect_timeout: float = CONNECT_TIMEOUT
    media_timeout: float = MEDIA_TIMEOUT
    reoffers: int = MEDIA_REOFFERS

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.media_timeout <= 0 or self.reoffers < 0:
            raise ValueError("leg health: timeouts must be positive, re-offers not negative")


class LegHealthUnavailable(RuntimeError):
    """aiortc's transport no longer exposes the receive counter this module reads."""


def received_packets(pc: RTCPeerConnection) -> int | None:
    """Datagrams received so far on the peer connection's (bundled) DTLS transport, or None
    before it has one."""
    for transceiver in pc.getTransceivers():
        transport: RTCDtlsTransport | None = transceiver.receiver.transport
        if transport is None:
            continue
        # aiortc's own getStats() reads it this way; checked by check_leg_health().
        stats: Any = transport._get_stats()
        for stat in stats.values():
            if getattr(stat, "type", None) == "transport":
                return int(stat.packetsReceived)
    return None


def check_leg_health() -> None:
    """Raise LegHealthUnavailable if aiortc's transport stats moved."""
    if not callable(getattr(RTCDtlsTransport, "_get_stats", None)):
        raise LegHealthUnavailable("RTCDtlsTransport._get_stats is gone")


class LegWatch:
    """Watches one answered leg; calls ``on_dead(reason)`` once ("connect_timeout" or
    "no_media") and ``on_alive()`` once, when the leg first connects and receives."""

    def __init__(
        self,
        label: str,
        pc: RTCPeerConnection,
        *,
        on_dead: Callable[[str], None],
        on_alive: Callable[[], None] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        media_timeout: float = MEDIA_TIMEOUT,
        tick: float = TICK,
        clock: Clock | None = None,
    ) -> None:
        self.label = label
        self.pc = pc
        self.on_dead = on_dead
        self.on_alive = on_alive
        self.connect_timeout = connect_timeout
        self.media_timeout = media_timeout
        self.tick = min(tick, media_timeout / 3)
        self._clock: Clock = clock or SystemClock()
        self._tasks = TaskOwner(f"{label} health")
        self.verdict: str | None = None
        self.alive = False

    def start(self) -> None:
        self._tasks.spawn(self._watch(), f"health:{self.label}")

    async def close(self) -> None:
        await self._tasks.close()

    async def _watch(self) -> None:
        clock = self._clock
        started = last_tick = clock.monotonic()
        last_count: int | None = None
        last_change = started
        handshake: int | None = None  # the count when the connection was first seen up
        while True:
            await asyncio.sleep(self.tick)
            now = clock.monotonic()
            stalled = now - last_tick > self.tick + self.media_timeout / 2
            last_tick = now
            state = self.pc.connectionState
            if state in ("failed", "closed"):
                return  # the connection's own state change reports it
            if stalled:
                # Whatever arrived meanwhile is still unread: judge from here on.
                last_change = now
                continue
            count = received_packets(self.pc) if state == "connected" else None
            if count is None:
                if not self.alive and now - started >= self.connect_timeout:
                    self._dead("connect_timeout", now - started)
                    return
                continue
            if handshake is None:
                handshake = last_count = count
                last_change = now
                continue
            if count != last_count:
                last_count = count
                last_change = now
                if not self.alive and count > handshake:
                    self.alive = True
                    if self.on_alive is not None:
                        self.on_alive()
                continue
            if not self.alive and now - started >= self.connect_timeout:
                self._dead("connect_timeout", now - started)
                return
            if self.alive and now - last_change >= self.media_timeout:
                self._dead("no_media", now - last_change)
                return

    def _dead(self, reason: str, after: float) -> None:
        self.verdict = reason
        logger.warning("%s: leg failed (%s after %.1f s)", self.label, reason, after)
        self.on_dead(reason)
