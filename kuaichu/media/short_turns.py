"""Short loop turns: aiortc's DTLS transports let the event loop run between bursts.

aiortc's DTLS transport handles every datagram already queued, and a sender sends every
packet of a frame, in one step of their task (a 720p keyframe is ~225 packets, ~10 ms of
CPU), so one loop turn could run tens of ms and every timer (consent checks, RTCP, the
loop-lag sampler) waited for it. Once the loop was behind (its core taken, a collection), all
sockets of ten calls were ready in every turn and a turn ran 50-170 ms of the loop's own CPU
(docs/benchmarks.md, issue 2's second-session re-run). Each transport here lets the loop run
other callbacks after every few packets it receives or sends.

It wraps two of aiortc's methods (aiortc is pinned exactly): :func:`problems` says what it
relies on, and ``kuaichu.media.aiortc_tap.check_aiortc_internals`` fails loudly when that moved.
"""

from __future__ import annotations

import asyncio
import inspect

from aiortc import RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport

# Packets a DTLS transport receives, and sends, in one step of its task before it lets the
# loop run its other callbacks (kuaichu.media.aioice_tap reads as many per socket per turn).
# 8 was shorter still, but a starved loop then let the kernel drop datagrams on the server's
# sockets; 64 made long turns again.
RECEIVE_BURST = 16
SEND_BURST = 16

# aiortc's own methods, before install() wraps them.
_RECV_NEXT = RTCDtlsTransport._recv_next
_SEND_RTP = RTCDtlsTransport._send_rtp
_installed = False


def problems() -> list[str]:
    """What :func:`install` relies on in aiortc; empty when all is where it was."""
    found: list[str] = []
    run = inspect.getsource(getattr(RTCDtlsTransport, "_RTCDtlsTransport__run"))  # noqa: B009
    if "await self._recv_next()" not in run:
        found.append("RTCDtlsTransport's run loop no longer awaits self._recv_next()")
    if list(inspect.signature(_RECV_NEXT).parameters) != ["self"]:
        found.append("RTCDtlsTransport._recv_next signature changed")
    if list(inspect.signature(_SEND_RTP).parameters) != ["self", "data"]:
        found.append("RTCDtlsTransport._send_rtp signature changed")
    if "await self.transport._send_rtp(packet_bytes)" not in inspect.getsource(
        RTCRtpSender._run_rtp
    ):
        found.append("RTCRtpSender._run_rtp no longer sends through transport._send_rtp")
    return found


async def _recv_next_in_bursts(self: RTCDtlsTransport) -> None:
    count = getattr(self, "_kuaichu_received", 0) + 1
    if count >= RECEIVE_BURST:
        count = 0
        await asyncio.sleep(0)
    self._kuaichu_received = count  # type: ignore[attr-defined]
    await _RECV_NEXT(self)


async def _send_rtp_in_bursts(self: RTCDtlsTransport, data: bytes) -> None:
    await _SEND_RTP(self, data)
    count = getattr(self, "_kuaichu_sent", 0) + 1
    if count >= SEND_BURST:
        count = 0
        await asyncio.sleep(0)
    self._kuaichu_sent = count  # type: ignore[attr-defined]


def install() -> None:
    """Every DTLS transport of the process yields to the loop after each ``RECEIVE_BURST``
    datagrams it handles and each ``SEND_BURST`` packets it sends. Idempotent; check
    :func:`problems` (``check_aiortc_internals``) first.

    Only where the task would otherwise go on without suspending does this change the
    order of anything: a frame's packets still leave in order (one sender task sends
    them), other tasks' callbacks may run between them. Costs one task step per burst."""
    global _installed
    if _installed:
        return
    RTCDtlsTransport._recv_next = _recv_next_in_bursts  # type: ignore[method-assign]
    RTCDtlsTransport._send_rtp = _send_rtp_in_bursts  # type: ignore[method-assign]
    _installed = True
