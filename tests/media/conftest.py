"""Real aiortc peers over loopback playing the driver's phone and the officer's console."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError

from kuaichu.media.call_media import CallMedia

WIDTH, HEIGHT = 320, 240


class PatternVideoTrack(VideoStreamTrack):
    """A bar moving across a gradient: real frames a real encoder has to work on."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._base = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        img = self._base.copy()
        x = (self.count * 4) % self.width
        img[:, x : x + 16] = 255
        yuv = np.concatenate([img, np.full((self.height // 2, self.width), 128, np.uint8)], axis=0)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.count += 1
        return frame


@dataclass
class Peer:
    """A client peer: answers the server's offer, collects what it receives."""

    name: str
    pc: RTCPeerConnection
    tracks: dict[str, MediaStreamTrack] = field(default_factory=dict)
    frames: dict[str, list[Any]] = field(default_factory=lambda: {"audio": [], "video": []})
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def start_reading(self, keep: int = 5) -> None:
        for kind, track in self.tracks.items():
            self.readers.append(asyncio.create_task(self._read(kind, track, keep)))

    async def _read(self, kind: str, track: MediaStreamTrack, keep: int) -> None:
        frames = self.frames[kind]
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                frames.append(frame if len(frames) < keep else None)
                self.arrived.set()

    async def wait_frames(self, kind: str, n: int, timeout: float = 10.0) -> None:
        async def _wait() -> None:
            while len(self.frames[kind]) < n:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(_wait(), timeout)

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await self.pc.close()


async def answer(
    name: str,
    offer: dict[str, str],
    *,
    send_video: bool,
    video_codec: str | None = None,
) -> tuple[Peer, str]:
    pc = RTCPeerConnection()
    peer = Peer(name, pc)

    @pc.on("track")  # type: ignore[misc]
    def _on_track(track: MediaStreamTrack) -> None:
        peer.tracks[track.kind] = track

    # Transceivers made before the offer is applied take its m-lines, with our preferences.
    pc.addTransceiver(AudioStreamTrack(), direction="sendrecv")
    if send_video:
        video = pc.addTransceiver(PatternVideoTrack(), direction="sendrecv")
        if video_codec is not None:
            caps = RTCRtpSender.getCapabilities("video").codecs
            prefs = [c for c in caps if c.name.upper() == video_codec.upper()]
            video.setCodecPreferences(prefs + [c for c in caps if c.name == "rtx"])
    await pc.setRemoteDescription(RTCSessionDescription(**offer))
    await pc.setLocalDescription(await pc.createAnswer())
    return peer, pc.localDescription.sdp


@pytest.fixture
async def media(tmp_path: Path) -> AsyncIterator[CallMedia]:
    cm = CallMedia("test-call", tmp_path / "recordings")
    yield cm
    await cm.close()


@pytest.fixture
def answer_as() -> Any:
    """``await answer_as(name, offer, send_video=..., video_codec=...) -> (Peer, sdp)``"""
    return answer
