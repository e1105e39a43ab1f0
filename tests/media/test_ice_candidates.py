"""The server's own ICE candidates (kuaichu.media.aioice_tap.set_candidate_policy): host
sockets bound within --ice-port-range, the --ice-announce-address announced as a
server-reflexive candidate on the same port, and a connection over such candidates works."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest
from aioice import Connection
from aiortc import RTCPeerConnection

from kuaichu.media import aioice_tap


@pytest.fixture
def policy() -> Iterator[None]:
    yield
    aioice_tap.set_candidate_policy(None, None)  # process-wide: leave it as found


def _free_range(size: int) -> tuple[int, int]:
    """``size`` consecutive UDP ports that are free now (ephemeral ports are elsewhere)."""
    for low in range(42000, 60000, 97):
        socks = []
        try:
            for port in range(low, low + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("0.0.0.0", port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return low, low + size - 1
    raise AssertionError("no free port range")


def test_the_pinned_aioice_has_what_the_candidate_policy_patches() -> None:
    aioice_tap.check_candidate_internals()


async def test_host_candidates_in_the_range_and_the_announced_address(policy: None) -> None:
    low, high = _free_range(8)
    aioice_tap.set_candidate_policy((low, high), "203.0.113.7")
    a = Connection(ice_controlling=True)
    b = Connection(ice_controlling=False)
    try:
        await asyncio.gather(a.gather_candidates(), b.gather_candidates())
        hosts = [c for c in a.local_candidates if c.type == "host"]
        assert hosts, a.local_candidates
        assert all(low <= c.port <= high for c in hosts), hosts
        announced = [c for c in a.local_candidates if c.type == "srflx"]
        assert {(c.host, c.port, c.related_address) for c in announced} == {
            ("203.0.113.7", c.port, c.host) for c in hosts if ":" not in c.host
        }
        # The two connect over the ranged host sockets and carry data.
        for mine, theirs in ((a, b), (b, a)):
            mine.remote_username, mine.remote_password = (
                theirs.local_username,
                theirs.local_password,
            )
            for candidate in theirs.local_candidates:
                await mine.add_remote_candidate(candidate)
            await mine.add_remote_candidate(None)
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
        await a.send(b"through the range")
        assert await asyncio.wait_for(b.recv(), 5) == b"through the range"
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_a_full_range_leaves_that_address_without_a_host_candidate(
    policy: None, caplog: pytest.LogCaptureFixture
) -> None:
    low, high = _free_range(1)
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("0.0.0.0", low))
    aioice_tap.set_candidate_policy((low, high), None)
    conn = Connection(ice_controlling=True, use_ipv6=False)
    try:
        with caplog.at_level(logging.WARNING, logger="kuaichu.media.aioice_tap"):
            await conn.gather_candidates()
        assert [c for c in conn.local_candidates if c.type == "host"] == []
        assert f"no free UDP port in {low}-{high}" in caplog.text
    finally:
        taken.close()
        await conn.close()


async def test_an_aiortc_offer_carries_the_ranged_and_announced_candidates(policy: None) -> None:
    low, high = _free_range(16)
    aioice_tap.set_candidate_policy((low, high), "198.51.100.20")
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        lines = [x for x in pc.localDescription.sdp.splitlines() if x.startswith("a=candidate")]
        hosts = [x.split() for x in lines if "typ host" in x]
        assert hosts and all(low <= int(h[5]) <= high for h in hosts), lines
        assert any("198.51.100.20" in x and "typ srflx" in x for x in lines), lines
    finally:
        await pc.close()


def test_no_policy_leaves_aioice_as_it_is(policy: None) -> None:
    aioice_tap.set_candidate_policy(None, None)
    assert not aioice_tap.candidate_policy().active
