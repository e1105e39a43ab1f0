"""kuaichu.media.aioice_tap: the aioice it was written for, RFC 7675 consent over a path that
is cut and restored, the receive buffer asked for, and `.local` candidates not resolved."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import aioice
import pytest
from aioice import Candidate, Connection
from aiortc import RTCPeerConnection, RTCSessionDescription

from kuaichu.media import aioice_tap
from tests.support.eventually import eventually
from tests.support.udprelay import UdpRelay


def test_aioice_is_the_version_the_tap_was_written_for() -> None:
    # Fails loudly on an aioice upgrade: read aioice_tap's docstring, re-check each patch.
    assert aioice.__version__ == aioice_tap.EXPECTED_AIOICE_VERSION
    aioice_tap.check_aioice_internals()
    aioice_tap.install()
    assert aioice_tap.installed()
    assert Connection.query_consent is aioice_tap._query_consent


def test_sockets_ask_for_the_configured_receive_buffer() -> None:
    aioice_tap.install(receive_buffer=2 * 1024 * 1024)
    try:
        with open("/proc/sys/net/core/rmem_max") as fh:
            cap = int(fh.read())
        # Linux books twice what was asked (its own overhead), up to rmem_max.
        assert aioice_tap.effective_receive_buffer() == 2 * min(2 * 1024 * 1024, cap)
    finally:
        aioice_tap.install()


async def _pair_through() -> tuple[Connection, Connection, UdpRelay]:
    """Two ICE agents whose only path runs through a relay in front of the answerer's one
    host candidate; the offerer knows no other address of it."""
    a = Connection(ice_controlling=True, use_ipv6=False)
    b = Connection(ice_controlling=False, use_ipv6=False)
    await a.gather_candidates()
    await b.gather_candidates()
    target = b.local_candidates[0]
    relay = await UdpRelay.start(target=(target.host, target.port), in_thread=True)
    via = Candidate(
        foundation=target.foundation,
        component=target.component,
        transport="udp",
        priority=target.priority,
        host=relay.address[0],
        port=relay.address[1],
        type="host",
    )
    await a.add_remote_candidate(via)
    await a.add_remote_candidate(None)
    # b learns a from its checks (peer-reflexive): it is told of no candidate at all.
    a.remote_username, a.remote_password = b.local_username, b.local_password
    b.remote_username, b.remote_password = a.local_username, a.local_password
    await asyncio.gather(a.connect(), b.connect())
    return a, b, relay


async def test_consent_survives_a_short_cut_and_expires_after_a_long_one() -> None:
    # Scaled by 1/3 from the defaults (checks every 5 s, expiry 30 s): a 10 s outage must
    # not end a call, a 35 s one must; here 10/3 s and 35/3 s.
    aioice_tap.install(consent_interval=5 / 3, consent_expiry=10.0)
    pairs = [await _pair_through(), await _pair_through()]
    try:
        for _a, _b, relay in pairs:
            relay.cut()
        (short_a, short_b, short_relay), (long_a, _long_b, _long_relay) = pairs
        await asyncio.sleep(10 / 3)
        short_relay.restore()
        await eventually(
            lambda: long_a._query_consent_task is None and long_a._nominated == {},
            15,
            "consent did not expire on the path cut for good",
        )
        # The short outage's connection still carries data after it.
        assert short_a._nominated
        await short_a.send(b"still here")
        assert await asyncio.wait_for(short_b.recv(), 5) == b"still here"
    finally:
        aioice_tap.install()
        for a, b, relay in pairs:
            await a.close()
            await b.close()
            await relay.close()


def _mdns(sdp: str) -> str:
    """The SDP with each host candidate's address replaced by an mDNS name (as Chromium
    does without camera permission)."""
    return re.sub(
        r"^(a=candidate:\S+ \d+ udp \d+ )(\S+)( \d+ typ host)",
        lambda m: f"{m.group(1)}0f2c6a55-8b5e-4d4c-9b1f-0d6b1e7f2a11.local{m.group(3)}",
        sdp,
        flags=re.MULTILINE,
    )


async def test_mdns_candidates_are_not_resolved_and_the_call_connects() -> None:
    aioice_tap.install()
    offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
    try:
        offerer.createDataChannel("x")
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        answer = _mdns(answerer.localDescription.sdp)
        assert ".local" in answer
        # Without end-of-candidates, as Chromium sends it: nothing tells ICE to give up.
        answer = answer.replace("a=end-of-candidates\r\n", "")
        await offerer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        assert offerer.sctp is not None
        connection = offerer.sctp.transport.transport._connection
        assert connection.remote_candidates == []  # dropped, never looked up
        assert getattr(aioice.ice._mdns, "protocol", None) is None  # no mDNS socket either
        # The answerer's checks reach the offerer from its real address (peer-reflexive).
        await eventually(
            lambda: offerer.connectionState == "connected", 10, "no connection via prflx"
        )
    finally:
        await offerer.close()
        await answerer.close()


def test_bad_consent_numbers_are_refused() -> None:
    with pytest.raises(ValueError):
        aioice_tap.install(consent_interval=5, consent_expiry=4)
    with pytest.raises(ValueError):
        aioice_tap.install(receive_buffer=1000)


async def test_a_busy_loop_drains_a_socket_in_batches() -> None:
    # asyncio alone reads one datagram per loop turn: a driver leg's ~250 datagrams/s then
    # outgrow a loop whose turns take several ms, and the kernel drops them.
    aioice_tap.install()
    conn = Connection(ice_controlling=True, use_ipv6=False)
    await conn.gather_candidates()
    await asyncio.sleep(0)
    protocol = conn._protocols[0]
    got: list[bytes] = []
    protocol.datagram_received = lambda data, addr: got.append(data)  # type: ignore[method-assign]
    address = (protocol.local_candidate.host, protocol.local_candidate.port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(200):
            sender.sendto(b"rtp %d" % i, address)
    time.sleep(0.05)  # noqa: ASYNC251 - they are all waiting in the socket, the loop busy
    try:
        await asyncio.sleep(0)  # this task's turn comes before the reader's in that pass
        await asyncio.sleep(0)
        assert len(got) >= aioice_tap.READ_BATCH  # one turn read a batch, not one datagram
        await eventually(lambda: len(got) == 200, 5, "datagrams lost")
        assert got[:3] == [b"rtp 0", b"rtp 1", b"rtp 2"]  # in order
    finally:
        await conn.close()
