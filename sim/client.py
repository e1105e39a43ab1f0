"""Simulated driver and officer clients: real socket.io and real aiortc peers.

Used by the end-to-end tests and the benchmarks, and handy for an operator who wants to check
a deployment from the command line. They speak exactly the protocol in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import av
import numpy as np
import socketio
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

logger = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000

# The answers of an accident the video channel takes (docs/protocol.md, `report`).
ELIGIBLE_ANSWERS: dict[str, Any] = {
    "injuries": False,
    "vehicles_movable": True,
    "vehicle_to_vehicle": True,
    "all_insured": True,
    "cause": "rear_end",
    "unlicensed": False,
    "drunk_driving": False,
    "hit_and_run": False,
}


class PatternVideoTrack(MediaStreamTrack):
    """Moving colour bars with a frame counter block: frames differ, so codecs do real work.

    The default is a phone on a poor network (320x240 at 15 fps): the scenarios that use it
    need video to flow, not a size, and every frame is encoded and decoded in the test's own
    process (640x480 at 30 fps cost the suite a third of its CPU in these scenarios). A test or
    benchmark that cares about the picture says its size."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._start: float | None = None
        self._count = 0
        x = np.arange(width, dtype=np.uint16)
        self._base = np.zeros((height, width, 3), np.uint8)
        for c in range(3):
            self._base[:, :, c] = ((x * (c + 1) * 255 // width) % 256).astype(np.uint8)

    @property
    def frames(self) -> int:
        """Frames handed to the sender so far. Their timestamps run at ``fps`` from the first;
        a sender that cannot keep up (a loaded machine) takes them late, so they lag the wall
        clock: what was sent is this count, not the time elapsed."""
        return self._count

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._count / self.fps
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        shift = (self._count * 8) % self.width
        img = np.roll(self._base, shift, axis=1)
        y = (self._count * 4) % (self.height - 40)
        img[y : y + 40, 20:60] = 255
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = self._count * (VIDEO_CLOCK // self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


class LoopVideoTrack(MediaStreamTrack):
    """Plays prepared RGB frames in a loop (a synthetic scene filmed hand-held, e.g. a car
    with a rendered plate from :mod:`sim.plates`)."""

    kind = "video"

    def __init__(self, frames: list[np.ndarray[Any, Any]], fps: int = 15) -> None:
        super().__init__()
        self._frames = frames
        self.fps = fps
        self._start: float | None = None
        self._count = 0

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._count / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame.from_ndarray(
            self._frames[self._count % len(self._frames)], format="rgb24"
        )
        frame.pts = self._count * (VIDEO_CLOCK // self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A sine tone in 20 ms frames: audible proof that audio crossed the bridge."""

    kind = "audio"

    def __init__(self, freq: float = 440.0) -> None:
        super().__init__()
        self.freq = freq
        self._start: float | None = None
        self._samples = 0

    async def recv(self) -> av.AudioFrame:
        n = AUDIO_RATE // 50
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._samples / AUDIO_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (np.arange(n) + self._samples) / AUDIO_RATE
        pcm = (np.sin(2 * math.pi * self.freq * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += n
        return frame


class _Sink:
    """Consumes a received track, counting frames (and decoding them, as a phone would)."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.track = track
        self.frames = 0
        self.first_at: float | None = None
        self.last_size: tuple[int, int] | None = None
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await self.track.recv()
                if self.first_at is None:
                    self.first_at = time.monotonic()
                self.frames += 1
                if isinstance(frame, av.VideoFrame):
                    self.last_size = (frame.width, frame.height)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class _Client:
    namespace = "/"

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.events: list[tuple[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.pc: RTCPeerConnection | None = None
        self.sinks: dict[str, _Sink] = {}
        self._changed = asyncio.Condition()
        self.sio = self._new_socket()

    def _new_socket(self) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("*", self._on_any, namespace=self.namespace)
        return sio

    async def _on_any(self, event: str, data: Any = None) -> None:
        if event == "kc_error":
            self.errors.append(data)
        if event == "sdp_offer":
            await self._answer(data)
        self.events.append((event, data))
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        async def _wait() -> Any:
            async with self._changed:
                while True:
                    value = predicate()
                    if value:
                        return value
                    try:
                        await asyncio.wait_for(self._changed.wait(), 0.25)
                    except TimeoutError:
                        pass

        return await asyncio.wait_for(_wait(), timeout)

    async def wait_event(
        self,
        name: str,
        timeout: float = 15.0,
        where: Callable[[Any], bool] = lambda _d: True,
        after: int = 0,
    ) -> Any:
        def find() -> Any:
            for ev, data in self.events[after:]:
                if ev == name and where(data):
                    return data or {"_": True}
            return None

        return await self.wait_for(find, timeout)

    async def call(self, event: str, data: Any = None, timeout: float = 10.0) -> Any:
        return await self.sio.call(
            event, data if data is not None else {}, namespace=self.namespace, timeout=timeout
        )

    def local_tracks(self) -> list[MediaStreamTrack]:
        return []

    def answer_extra(self) -> dict[str, Any]:
        return {}

    def prepare_peer(self, pc: RTCPeerConnection) -> None:
        """Hook between the remote offer and our answer (benchmarks tap receivers here)."""

    async def _answer(self, offer: dict[str, Any]) -> None:
        if self.pc is not None:
            await self._close_pc()
        pc = self.pc = RTCPeerConnection()

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            self.sinks[track.kind] = _Sink(track)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        for track in self.local_tracks():
            pc.addTrack(track)
        self.prepare_peer(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        try:
            await self.sio.emit(
                "sdp_answer",
                {"type": "answer", "sdp": pc.localDescription.sdp, **self.answer_extra()},
                namespace=self.namespace,
            )
        except socketio.exceptions.BadNamespaceError:
            # The client hung up while it made its answer (a test closing its driver as an
            # offer arrives): like a page that was closed, it answers nobody.
            return

    def frames(self, kind: str) -> int:
        sink = self.sinks.get(kind)
        return sink.frames if sink else 0

    async def _close_pc(self) -> None:
        for sink in self.sinks.values():
            await sink.stop()
        self.sinks.clear()
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    async def close(self) -> None:
        await self._close_pc()
        if self.sio.connected:
            await self.sio.disconnect()


class SimDriver(_Client):
    namespace = "/driver"

    def __init__(
        self,
        url: str,
        *,
        video: MediaStreamTrack | None = None,
        audio: MediaStreamTrack | None = None,
    ) -> None:
        super().__init__(url)
        self.video = video
        self.audio = audio
        self.call_id: str | None = None
        self.case_id: str | None = None
        self.resume_token: str | None = None

    async def connect(self) -> SimDriver:
        await self.sio.connect(self.url, namespaces=[self.namespace], transports=["websocket"])
        return self

    def local_tracks(self) -> list[MediaStreamTrack]:
        if self.video is None:
            self.video = PatternVideoTrack()
        if self.audio is None:
            self.audio = ToneAudioTrack(440)
        return [self.audio, self.video]

    async def report(
        self,
        lat: float | None = 45.75,
        lng: float | None = 126.65,
        phone: str | None = None,
        eligibility: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Report with ``eligibility`` answers (default: an eligible accident)."""
        payload: dict[str, Any] = {"eligibility": dict(eligibility or ELIGIBLE_ANSWERS)}
        if lat is not None and lng is not None:
            payload["location"] = {"lat": lat, "lng": lng, "accuracy": 10.0}
        if phone:
            payload["phone"] = phone
        ack = await self.call("report", payload)
        if ack.get("ok"):
            self.call_id, self.case_id = ack["call_id"], ack["case_id"]
            self.resume_token = ack["resume_token"]
        return dict(ack)

    async def drop_connection(self) -> None:
        """Lose the socket as a phone does when the network changes; media stays up."""
        await self.sio.eio.disconnect(abort=True)

    async def resume(self, token: str | None = None) -> dict[str, Any]:
        """A new socket takes the call back, as the driver page does after reconnecting."""
        if self.sio.connected:
            await self.sio.disconnect()
        self.sio = self._new_socket()
        await self.connect()
        return dict(
            await self.call(
                "resume", {"call_id": self.call_id, "resume_token": token or self.resume_token}
            )
        )

    def state(self) -> str | None:
        for ev, data in reversed(self.events):
            if ev == "call_state":
                return str(data["state"])
        return None

    async def wait_state(self, state: str, timeout: float = 15.0) -> dict[str, Any]:
        return dict(
            await self.wait_event("call_state", timeout, where=lambda d: d.get("state") == state)
        )

    def last_queue(self) -> dict[str, Any] | None:
        for ev, data in reversed(self.events):
            if ev == "queue":
                return dict(data)
        return None

    async def hangup(self) -> dict[str, Any]:
        return dict(await self.call("hangup", {}))


class SimOfficer(_Client):
    namespace = "/officer"

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        audio: MediaStreamTrack | None = None,
        send_video: bool = False,
    ) -> None:
        super().__init__(url)
        self.username = username
        self.password = password
        self.audio = audio
        self.send_video = send_video
        self.cookie: str | None = None
        self.current_call: str | None = None
        self.accepted_at: float | None = None

    async def login(self) -> str:
        async with aiohttp.ClientSession() as http:
            resp = await http.post(
                f"{self.url}/login",
                allow_redirects=False,
                data={"username": self.username, "password": self.password},
            )
            if resp.status != 303:
                raise PermissionError(f"login failed with HTTP {resp.status}")
            morsel = resp.cookies.get("kuaichu_session")
            assert morsel is not None
            self.cookie = f"kuaichu_session={morsel.value}"
            return self.cookie

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the case API as the console does (session cookie, JSON)."""
        if self.cookie is None:
            await self.login()
        assert self.cookie is not None
        async with (
            aiohttp.ClientSession(headers={"Cookie": self.cookie}) as http,
            http.request(
                method, self.url + path, json=body if method != "GET" else None
            ) as resp,
        ):
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.read()

    async def connect(self) -> SimOfficer:
        if self.cookie is None:
            await self.login()
        await self.sio.connect(
            self.url,
            namespaces=[self.namespace],
            transports=["websocket"],
            headers={"Cookie": self.cookie or ""},
        )
        return self

    def local_tracks(self) -> list[MediaStreamTrack]:
        if self.audio is None:
            self.audio = ToneAudioTrack(660)
        tracks: list[MediaStreamTrack] = [self.audio]
        if self.send_video:
            tracks.append(PatternVideoTrack(320, 240, 15))
        return tracks

    def answer_extra(self) -> dict[str, Any]:
        return {"call_id": self.current_call}

    def status(self) -> str | None:
        for ev, data in reversed(self.events):
            if ev == "officer_state":
                return str(data["status"])
        return None

    async def wait_status(self, status: str, timeout: float = 15.0) -> None:
        await self.wait_for(lambda: self.status() == status, timeout)

    async def set_available(self) -> dict[str, Any]:
        ack = dict(await self.call("set_status", {"status": "available"}))
        if ack.get("ok"):
            await self.wait_status("available")
        return ack

    async def wait_offer(self, timeout: float = 15.0, after: int = 0) -> dict[str, Any]:
        return dict(await self.wait_event("call_offered", timeout, after=after))

    async def accept(self, call_id: str) -> dict[str, Any]:
        self.current_call = call_id
        self.accepted_at = time.monotonic()
        return dict(await self.call("accept", {"call_id": call_id}))

    async def decline(self, call_id: str) -> dict[str, Any]:
        return dict(await self.call("decline", {"call_id": call_id}))

    async def hangup(self, call_id: str | None = None) -> dict[str, Any]:
        return dict(await self.call("hangup", {"call_id": call_id or self.current_call}))

    def first_video_delay(self) -> float | None:
        sink = self.sinks.get("video")
        if sink is None or sink.first_at is None or self.accepted_at is None:
            return None
        return sink.first_at - self.accepted_at
