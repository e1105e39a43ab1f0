"""kuaichu.media.leg_health: a leg whose path dies is declared failed within the media timeout,
one that never connects within the connect timeout, and a stalled loop is not silence.
Real aiortc peers over loopback; the path runs through a UDP relay that the test cuts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription

from kuaichu.media.call_media import CallMedia
from kuaichu.media.leg_health import HealthPolicy, LegWatch, check_leg_health, received_packets
from tests.support.cutpath import relay_offer, without_candidates
from tests.support.eventually import eventually
from tests.support.udprelay import UdpRelay


@dataclass
class Path_:
    server: RTCPeerConnection
    phone: RTCPeerConnection
    relay: UdpRelay
    verdicts: list[str] = field(default_factory=list)
    alive: list[bool] = field(default_factory=list)


@pytest.fixture
async def path() -> AsyncIterator[Path_]:
    """The server offers to receive audio; the phone sends a tone through the relay."""
    server, phone = RTCPeerConnection(), RTCPeerConnection()
    server.addTransceiver("audio", direction="recvonly")
    await server.setLocalDescription(await server.createOffer())
    offer, relay = await relay_offer(server.localDescription.sdp)
    phone.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await phone.setRemoteDescription(RTCSessionDescription(offer, "offer"))
    await phone.setLocalDescription(await phone.createAnswer())
    p = Path_(server, phone, relay)
    yield p
    await phone.close()
    await server.close()
    await relay.close()


async def _answer(p: Path_) -> None:
    answer = without_candidates(p.phone.localDescription.sdp)
    await p.server.setRemoteDescription(RTCSessionDescription(answer, "answer"))


def _watch(p: Path_, **kw: Any) -> LegWatch:
    watch = LegWatch(
        "test leg", p.server, on_dead=p.verdicts.append, on_alive=lambda: p.alive.append(True), **kw
    )
    watch.start()
    return watch


def test_aiortc_still_exposes_the_receive_counter() -> None:
    check_leg_health()


async def test_a_path_that_dies_mid_call_is_declared_failed(path: Path_) -> None:
    await _answer(path)
    watch = _watch(path, connect_timeout=10, media_timeout=1.5)
    try:
        await eventually(lambda: path.alive, 10, "the leg never came up")
        count = received_packets(path.server)
        assert count is not None and count > 0
        await asyncio.sleep(2)  # healthy: packets keep coming, no verdict
        assert path.verdicts == []
        path.relay.cut()
        await eventually(lambda: path.verdicts, 5, "a dead path was not noticed")
        assert path.verdicts == ["no_media"]
        # aiortc itself still thinks it is connected: only the watchdog knows.
        assert path.server.connectionState == "connected"
    finally:
        await watch.close()


async def test_a_path_that_never_connects_times_out(path: Path_) -> None:
    path.relay.cut()
    await _answer(path)
    watch = _watch(path, connect_timeout=1.5, media_timeout=1)
    try:
        await eventually(lambda: path.verdicts, 6, "no connect timeout")
        assert path.verdicts == ["connect_timeout"]
        assert path.alive == []
        assert path.server.connectionState != "connected"
    finally:
        await watch.close()


async def test_a_first_media_slower_than_the_media_timeout_is_not_a_dead_path(
    path: Path_,
) -> None:
    # The handshake gets through, then nothing for twice the media timeout (ten calls being
    # set up at once, a camera starting): that is judged by the connect timeout, and the leg
    # comes up when its media does. (Counting the handshake as life declared it dead.)
    await _answer(path)
    watch = _watch(path, connect_timeout=10, media_timeout=1.0)
    try:
        await eventually(lambda: path.server.connectionState == "connected", 10)
        path.relay.cut()
        await asyncio.sleep(2.0)
        assert path.verdicts == []
        path.relay.restore()
        await eventually(lambda: path.alive, 10, lambda: f"never came up: {path.verdicts}")
        assert path.verdicts == []
    finally:
        await watch.close()


async def test_a_stalled_loop_is_not_a_dead_path(path: Path_) -> None:
    await _answer(path)
    watch = _watch(path, connect_timeout=10, media_timeout=1.0)
    try:
        await eventually(lambda: path.alive, 10, "the leg never came up")
        # The whole loop blocks (a slow callback) longer than the media timeout; the path
        # is fine, its datagrams wait in the socket.
        time.sleep(2.0)  # noqa: ASYNC251 - the stall under test
        await asyncio.sleep(2.0)
        assert path.verdicts == []
    finally:
        await watch.close()


async def test_call_media_reports_a_dead_driver_leg(tmp_path: Path, answer_as: Any) -> None:
    failures: list[tuple[str, str]] = []
    ups: list[str] = []
    policy = HealthPolicy(connect_timeout=10, media_timeout=1.5)
    media = CallMedia(
        "health-call",
        tmp_path,
        on_failed=lambda leg, why: failures.append((leg, why)),
        on_leg_up=ups.append,
        connect_timeout=policy.connect_timeout,
        media_timeout=policy.media_timeout,
    )
    offer = await media.driver_offer()
    sdp, relay = await relay_offer(offer["sdp"])
    phone, answer = await answer_as("driver", {"type": "offer", "sdp": sdp}, send_video=True)
    try:
        await media.driver_answer(without_candidates(answer))
        await eventually(lambda: ups == ["driver"], 10, "the driver leg never came up")
        relay.cut()
        await eventually(lambda: failures, 5, "the dead driver leg was not reported")
        assert failures == [("driver", "no_media")]
        # A page that says its connection failed is heard once per leg, not twice.
        assert media.fail_leg("driver", "page_failed") is False
    finally:
        await phone.close()
        await media.close()
        await relay.close()
