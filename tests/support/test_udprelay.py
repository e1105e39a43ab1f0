"""The impairing UDP relay forwards both ways, loses what it is told to, delays by what it is
told to, and a cut drops everything until it is restored (tests/support/udprelay.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.eventually import eventually
from tests.support.udprelay import UdpRelay, rewrite_candidate


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(b"echo:" + data, addr)


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[tuple[bytes, float]] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append((data, asyncio.get_running_loop().time()))


async def _endpoints(relay_kwargs: dict[str, Any]) -> tuple[Any, Any, _Client, UdpRelay]:
    loop = asyncio.get_running_loop()
    echo, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
    relay = await UdpRelay.start(echo.get_extra_info("sockname")[:2], **relay_kwargs)
    client = _Client()
    sender, _ = await loop.create_datagram_endpoint(lambda: client, remote_addr=relay.address)
    return echo, sender, client, relay


@pytest.mark.parametrize("in_thread", [False, True])
async def test_forwards_both_ways_and_a_cut_drops_until_restored(in_thread: bool) -> None:
    echo, sender, client, relay = await _endpoints({"in_thread": in_thread})
    try:
        sender.sendto(b"one")
        await eventually(lambda: client.received, message="no echo through the relay")
        assert client.received[0][0] == b"echo:one"

        relay.cut()
        for i in range(20):
            sender.sendto(b"cut-%d" % i)
        await eventually(lambda: relay.stats.up.cut == 20, message=lambda: str(relay.stats))
        # A marker sent after restore comes back; nothing sent during the cut came with it.
        relay.restore()
        sender.sendto(b"after")
        await eventually(lambda: len(client.received) >= 2, message="nothing after restore")
        assert [data for data, _ in client.received] == [b"echo:one", b"echo:after"]
        assert relay.stats.clients == 1
        assert relay.stats.up.forwarded == 2 and relay.stats.down.forwarded == 2
    finally:
        sender.close()
        echo.close()
        await relay.close()


async def test_loss_drops_about_the_configured_share_each_way() -> None:
    # 20 % each way: about 64 % of the round trips survive. The seed makes the draw repeatable;
    # the shares are taken of what reached the relay (a busy machine's socket buffers may drop
    # a few datagrams before it, which is not the relay's loss).
    echo, sender, client, relay = await _endpoints({"loss_percent": 20, "seed": 7})
    up, down = relay.stats.up, relay.stats.down
    try:
        for i in range(1000):
            sender.sendto(b"%d" % i)
            if i % 20 == 19:
                await asyncio.sleep(0.002)  # paced, so the socket buffers are not the bottleneck
        await eventually(
            lambda: up.forwarded + up.lost > 900
            and down.forwarded + down.lost == up.forwarded
            and len(client.received) == down.forwarded,
            message=lambda: f"{relay.stats}, {len(client.received)} echoes",
        )
        assert 0.15 <= up.lost / (up.forwarded + up.lost) <= 0.25, relay.stats
        assert 0.15 <= down.lost / (down.forwarded + down.lost) <= 0.25, relay.stats
        assert 0.55 <= len(client.received) / (up.forwarded + up.lost) <= 0.73
    finally:
        sender.close()
        echo.close()
        await relay.close()


async def test_delay_adds_twice_the_one_way_delay_to_the_round_trip() -> None:
    echo, sender, client, relay = await _endpoints({"delay_ms": 150})
    loop = asyncio.get_running_loop()
    try:
        sent = loop.time()
        sender.sendto(b"slow")
        await eventually(lambda: client.received, message="no echo")
        # A lower bound only: the relay must not deliver early; how late is the machine's.
        assert client.received[0][1] - sent >= 0.3

        relay.impair(delay_ms=0)
        sent = loop.time()
        sender.sendto(b"fast")
        await eventually(lambda: len(client.received) == 2)
        assert client.received[1][1] - sent < 0.3
    finally:
        sender.close()
        echo.close()
        await relay.close()


def test_bad_impairments_are_refused() -> None:
    relay = UdpRelay(("127.0.0.1", 9), None)
    with pytest.raises(ValueError, match="loss_percent"):
        relay.impair(loss_percent=120)
    with pytest.raises(ValueError, match="delay_ms"):
        relay.impair(delay_ms=-1)


def test_rewrite_candidate_swaps_only_the_matching_udp_candidate() -> None:
    sdp = (
        "v=0\r\n"
        "a=candidate:1 1 udp 2130706431 10.0.0.5 40001 typ host\r\n"
        "a=candidate:2 1 udp 1694498815 203.0.113.9 40001 typ srflx raddr 10.0.0.5 rport 40001\r\n"
        "a=candidate:3 1 tcp 1518280447 10.0.0.5 9 typ host tcptype active\r\n"
    )
    out = rewrite_candidate(sdp, ("10.0.0.5", 40001), ("127.0.0.1", 5555))
    assert "a=candidate:1 1 udp 2130706431 127.0.0.1 5555 typ host\r\n" in out
    assert "203.0.113.9 40001 typ srflx raddr 10.0.0.5 rport 40001" in out
    assert "10.0.0.5 9 typ host tcptype active" in out
