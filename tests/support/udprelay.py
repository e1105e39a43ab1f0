"""A user-space UDP relay that impairs the path: loss, delay, and a cut that can be restored.

This machine has no netem, so tests that need a bad or dying network path put this relay
between two peers. It forwards datagrams both ways between whoever sends to its listening
socket ("clients") and one fixed ``target`` address; each client gets its own upstream socket,
so the target sees one distinct source address per client and its replies find their way back.

API (everything runs on the asyncio loop that started the relay; the control methods are plain
attribute writes, so calling them from another thread is safe as well)::

    relay = await UdpRelay.start(target=("127.0.0.1", 3478))   # listens on 127.0.0.1:<free port>
    relay.address                 # ("127.0.0.1", port): point the peer here instead of target
    relay.impair(loss_percent=20, delay_ms=150)  # each way: 20 % loss, +150 ms (RTT +300 ms)
    relay.cut()                   # drop everything, both directions ("the path died")
    relay.restore()               # forward again with the current loss/delay
    relay.stats                   # RelayStats: forwarded / lost / cut counts per direction
    await relay.close()

Impairment applies to each direction independently: ``loss_percent`` is the chance a datagram
is dropped (drawn from ``random.Random(seed)``, so a test can make it repeatable) and
``delay_ms`` is added one way, so the round trip grows by twice that. Delayed datagrams keep
their order (all of them get the same delay). Datagrams already in flight when :meth:`cut` is
called are still delivered; everything that arrives afterwards is dropped until :meth:`restore`.

Where to put it:

* **In front of a TURN server** (simplest for browsers): start the relay with
  ``target=(coturn host, coturn port)`` and give the peer ``turn:<relay address>?transport=udp``;
  all of that peer's media then crosses the relay (force it with ``iceTransportPolicy: "relay"``
  in a page, or run the peer in a namespace that cannot reach the server directly,
  tests/support/netns.py).
* **In front of one ICE candidate**: start the relay with ``target=`` the candidate's address and
  rewrite that candidate in the SDP the other peer receives with :func:`rewrite_candidate`. The
  side behind the target then sees the relay's upstream socket as a peer-reflexive candidate.

``UdpRelay.start(..., in_thread=True)`` runs the relay on its own event loop in a daemon thread,
so that a stalled loop under test does not also stall (and so distort) the network path.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

Address = tuple[str, int]


@dataclass
class DirectionStats:
    forwarded: int = 0
    lost: int = 0  # dropped by the configured loss
    cut: int = 0  # dropped because the path was cut


@dataclass
class RelayStats:
    # "up": client -> target; "down": target -> client.
    up: DirectionStats = field(default_factory=DirectionStats)
    down: DirectionStats = field(default_factory=DirectionStats)
    clients: int = 0


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpRelay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay._from_client(data, (addr[0], addr[1]))


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpRelay, client: Address) -> None:
        self.relay = relay
        self.client = client

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay._from_target(data, self.client)


class UdpRelay:
    """See the module docstring. Build with :meth:`start`, not the constructor."""

    def __init__(self, target: Address, seed: int | None) -> None:
        self.target = target
        self.loss_percent = 0.0
        self.delay_ms = 0.0
        self.is_cut = False
        self.stats = RelayStats()
        self.address: Address = ("", 0)
        self._random = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.DatagramTransport | None = None
        self._upstreams: dict[Address, asyncio.DatagramTransport] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        target: Address,
        listen: Address = ("127.0.0.1", 0),
        *,
        loss_percent: float = 0.0,
        delay_ms: float = 0.0,
        seed: int | None = None,
        in_thread: bool = False,
    ) -> UdpRelay:
        relay = cls(target, seed)
        relay.impair(loss_percent=loss_percent, delay_ms=delay_ms)
        if not in_thread:
            await relay._open(listen)
            return relay
        # A private loop in a daemon thread; wait (without blocking ours) until it listens.
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        caller = asyncio.get_running_loop()

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(relay._open(listen))
            except BaseException as exc:  # handed to the caller
                caller.call_soon_threadsafe(ready.set_exception, exc)
                loop.close()
                return
            caller.call_soon_threadsafe(ready.set_result, None)
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        relay._thread = threading.Thread(target=run, name="udprelay", daemon=True)
        relay._thread.start()
        await ready
        return relay

    async def _open(self, listen: Address) -> None:
        self._loop = asyncio.get_running_loop()
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _Listener(self), local_addr=listen
        )
        self._listener = transport
        host, port = transport.get_extra_info("sockname")[:2]
        self.address = (host, port)

    async def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._thread is None:
            self._close_transports()
            return
        loop.call_soon_threadsafe(self._close_transports)
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(self._thread.join, 5)

    def _close_transports(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for transport in self._upstreams.values():
            transport.close()
        self._upstreams.clear()

    async def __aenter__(self) -> UdpRelay:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- control -------------------------------------------------------------------------------

    def impair(self, *, loss_percent: float | None = None, delay_ms: float | None = None) -> None:
        """Set the loss (0–100 %) and the one-way delay (ms) of each direction; None keeps it."""
        if loss_percent is not None:
            if not 0 <= loss_percent <= 100:
                raise ValueError(f"loss_percent must be within 0..100, not {loss_percent}")
            self.loss_percent = float(loss_percent)
        if delay_ms is not None:
            if delay_ms < 0:
                raise ValueError(f"delay_ms must not be negative, not {delay_ms}")
            self.delay_ms = float(delay_ms)

    def cut(self) -> None:
        """Drop every datagram in both directions until :meth:`restore`."""
        self.is_cut = True

    def restore(self) -> None:
        self.is_cut = False

    # --- forwarding ------------------------------------------------------------------------

    def _verdict(self, stats: DirectionStats) -> bool:
        if self.is_cut:
            stats.cut += 1
            return False
        if self.loss_percent and self._random.random() * 100 < self.loss_percent:
            stats.lost += 1
            return False
        stats.forwarded += 1
        return True

    def _later(self, send: Any, *args: Any) -> None:
        assert self._loop is not None
        if self.delay_ms:
            self._loop.call_later(self.delay_ms / 1000, send, *args)
        else:
            send(*args)

    def _from_client(self, data: bytes, client: Address) -> None:
        if not self._verdict(self.stats.up):
            return
        upstream = self._upstreams.get(client)
        if upstream is not None:
            self._later(self._send_up, upstream, data)
            return
        pending = self._pending.get(client)
        if pending is not None:  # its upstream socket is being opened
            pending.append(data)
            return
        self._pending[client] = [data]
        assert self._loop is not None
        self._loop.create_task(self._open_upstream(client))

    async def _open_upstream(self, client: Address) -> None:
        assert self._loop is not None
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _Upstream(self, client), remote_addr=self.target, family=family
        )
        self._upstreams[client] = transport
        self.stats.clients += 1
        for data in self._pending.pop(client, []):
            self._later(self._send_up, transport, data)

    def _send_up(self, transport: asyncio.DatagramTransport, data: bytes) -> None:
        if not transport.is_closing():
            with contextlib.suppress(OSError):
                transport.sendto(data)

    def _from_target(self, data: bytes, client: Address) -> None:
        if self._verdict(self.stats.down):
            self._later(self._send_down, client, data)

    def _send_down(self, client: Address, data: bytes) -> None:
        if self._listener is not None and not self._listener.is_closing():
            with contextlib.suppress(OSError):
                self._listener.sendto(data, client)


_CANDIDATE = re.compile(
    r"^(a=candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ .*)$", re.IGNORECASE | re.MULTILINE
)


def rewrite_candidate(sdp: str, original: Address, replacement: Address) -> str:
    """Return ``sdp`` with each UDP candidate at ``original`` pointing at ``replacement``.

    For putting a :class:`UdpRelay` in front of one candidate: the peer that receives the
    rewritten SDP sends to the relay, which forwards to the original address."""

    def swap(match: re.Match[str]) -> str:
        if (match.group(2), int(match.group(3))) != original:
            return match.group(0)
        return f"{match.group(1)}{replacement[0]} {replacement[1]}{match.group(4)}"

    return _CANDIDATE.sub(swap, sdp)
