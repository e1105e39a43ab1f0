"""One leg of a call's media: its peer connection, the transceivers and the tracks that carry
the other leg's encoded frames out, and the keyframe requests towards its remote sender.

:func:`new_leg` builds one; kuaichu.media.call_media.CallMedia owns the driver's leg and the
officer's and forwards between them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpTransceiver,
)

from kuaichu.clock import Clock, SystemClock
from kuaichu.media.aiortc_tap import send_pli
from kuaichu.media.bitstream import audio_codec_preferences
from kuaichu.media.forward import EncodedTrack
from kuaichu.media.leg_health import LegWatch
from kuaichu.tasks import TaskOwner

logger = logging.getLogger(__name__)

KEYFRAME_MIN_INTERVAL = 0.5


class KeyframeRequester:
    """Rate-limited RTCP PLI towards one remote sender. Owns the tasks that send them."""

    def __init__(
        self,
        call_id: str,
        leg: str,
        min_interval: float = KEYFRAME_MIN_INTERVAL,
        clock: Clock | None = None,
    ) -> None:
        self.call_id = call_id
        self.leg = leg
        self.min_interval = min_interval
        self.receiver: RTCRtpReceiver | None = None
        self.asked = 0  # requests, including those the rate limit refused
        self.sent = 0
        self._clock: Clock = clock or SystemClock()
        self._last = -math.inf
        self._tasks = TaskOwner(f"call {call_id} {leg} keyframes")
        self._closed = False

    def request(self, reason: str, *, force: bool = False) -> bool:
        """Ask for a keyframe unless one was asked for less than ``min_interval`` ago
        (``force`` skips that check). Returns whether a PLI went out."""
        self.asked += 1
        if self._closed or self.receiver is None:
            return False
        now = self._clock.monotonic()
        if not force and now - self._last < self.min_interval:
            return False
        coro = send_pli(self.receiver)
        if coro is None:
            # No media from that side yet: its first frame is a keyframe anyway.
            return False
        self._last = now
        self.sent += 1
        logger.debug("call %s: keyframe request to %s (%s)", self.call_id, self.leg, reason)
        self._tasks.spawn(coro, f"pli:{self.call_id}:{self.leg}")
        return True

    async def close(self) -> None:
        """Stop asking; cancel the PLIs still being sent."""
        self._closed = True
        await self._tasks.close()


@dataclass(eq=False)
class Leg:
    """One peer connection of a call (the driver's or an officer's) and what goes with it."""

    name: str
    pc: RTCPeerConnection
    audio: RTCRtpTransceiver
    video: RTCRtpTransceiver | None
    audio_out: EncodedTrack
    video_out: EncodedTrack | None
    keyframes: KeyframeRequester
    answered: bool = False
    closing: bool = False
    reported: bool = False
    watch: LegWatch | None = None  # from the answer on (kuaichu.media.leg_health)

    async def close(self) -> None:
        self.closing = True
        if self.watch is not None:
            await self.watch.close()
        await self.keyframes.close()
        # Shielded: when aiortc is already closing the connection itself (all its DTLS
        # transports closed), pc.close() awaits aiortc's own "closed" future, and a caller
        # cancelled there (a drain's time limit) would cancel that future; aiortc's close
        # then fails setting it ("Task exception was never retrieved", seen in a loaded
        # suite run). The close goes on to its end either way.
        await asyncio.shield(self.pc.close())


def new_leg(
    call_id: str,
    name: str,
    ice_servers: list[RTCIceServer],
    video_prefs: list[Any] | None,
    *,
    to_kind_keyframe: Callable[[str], None],
    keyframe_min_interval: float = KEYFRAME_MIN_INTERVAL,
    clock: Clock | None = None,
) -> Leg:
    """A new leg ``name`` of call ``call_id``: audio both ways, and video both ways unless
    ``video_prefs`` is None. ``to_kind_keyframe(reason)`` asks the other leg's sender for a
    keyframe when this leg's video queue needs one."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers))
    label = f"call {call_id} {name}"
    audio_out = EncodedTrack("audio", maxsize=25, label=label)
    audio = pc.addTransceiver(audio_out, direction="sendrecv")
    audio.setCodecPreferences(audio_codec_preferences())
    video: RTCRtpTransceiver | None = None
    video_out: EncodedTrack | None = None
    if video_prefs is not None:
        video_out = EncodedTrack(
            "video",
            maxsize=30,
            label=label,
            request_keyframe=lambda: to_kind_keyframe(f"{name} queue"),
        )
        video = pc.addTransceiver(video_out, direction="sendrecv")
        video.setCodecPreferences(video_prefs)
    keyframes = KeyframeRequester(call_id, name, keyframe_min_interval, clock=clock)
    if video is not None:
        keyframes.receiver = video.receiver
    return Leg(name, pc, audio, video, audio_out, video_out, keyframes)
