"""Forward encoded frames from one leg to the other without decoding them."""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
from collections.abc import Callable
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

logger = logging.getLogger(__name__)

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)
# Nominal frame spacing used to keep the outgoing timeline continuous when the source changes.
_VIDEO_STEP = 3000
_AUDIO_STEP = 960
# RTP timestamps are 32-bit and start at a random value, so a stream wraps around within a
# call about one time in a hundred; differences are taken modulo 2**32.
_RTP_MODULO = 1 << 32
_RTP_HALF = 1 << 31
# A step between two frames of one stream beyond this (or backwards) is not a gap the
# sender meant: the stream restarted (a new leg, a new encoder). Ten seconds of media.
_MAX_GAP_SECONDS = 10


class EncodedTrack(MediaStreamTrack):
    """A track whose ``recv()`` returns ``av.Packet`` s that aiortc's sender packetizes as-is.

    Fed by ``push()`` from the event loop through a bounded queue. When the consumer falls
    behind and the queue is full, video drops everything queued and every frame up to the
    next keyframe, and asks the source for one (``request_keyframe``); audio drops the oldest
    frame. Memory never grows with time.
    """

    def __init__(
        self,
        kind: str,
        *,
        maxsize: int = 60,
        request_keyframe: Callable[[], None] | None = None,
        label: str = "",
    ) -> None:
        super().__init__()
        if kind not in ("audio", "video"):
            raise ValueError(f"bad kind {kind!r}")
        self.kind = kind
        self.label = label
        self.request_keyframe = request_keyframe
        self._maxsize = maxsize
        self._queue: collections.deque[tuple[bytes, int]] = collections.deque()
        self._ready = asyncio.Event()
        self._time_base = VIDEO_TIME_BASE if kind == "video" else AUDIO_TIME_BASE
        self._step = _VIDEO_STEP if kind == "video" else _AUDIO_STEP
        # A fresh decoder on the far side can only start from a keyframe.
        self._need_keyframe = kind == "video"
        self._max_gap = _MAX_GAP_SECONDS * (90000 if kind == "video" else 48000)
        # The last input timestamp placed on the outgoing timeline, and where it went.
        self._last_in: int | None = None
        self._last_out: int | None = None
        self.frames_in = 0
        self.frames_out = 0
        self.frames_dropped = 0
        self.max_depth = 0

    @property
    def depth(self) -> int:
        return len(self._queue)

    def new_source(self) -> None:
        """The frames that follow come from another stream (a new leg): their timestamps
        restart, so re-anchor the outgoing timeline and wait for a keyframe."""
        self._last_in = None
        self.frames_lost()

    def frames_lost(self) -> None:
        """The source lost frames: forward nothing more of a video until its next keyframe."""
        if self.kind == "video":
            self._need_keyframe = True

    def push(self, data: bytes, timestamp: int, keyframe: bool = True) -> None:
        if self.readyState != "live":
            return
        self.frames_in += 1
        if self._need_keyframe:
            if not keyframe:
                self.frames_dropped += 1
                self._ask_keyframe()
                return
            self._need_keyframe = False
        if len(self._queue) >= self._maxsize:
            if self.kind == "video":
                self.frames_dropped += len(self._queue)
                self._queue.clear()
                if not keyframe:
                    self.frames_dropped += 1
                    self._need_keyframe = True
                    logger.info("%s: consumer slow, dropping video to next keyframe", self.label)
                    self._ask_keyframe()
                    return
            else:
                self._queue.popleft()
                self.frames_dropped += 1
        out = self._place(timestamp)
        self._queue.append((data, out))
        self.max_depth = max(self.max_depth, len(self._queue))
        self._ready.set()

    def _place(self, timestamp: int) -> int:
        """Where a frame with this RTP timestamp goes on the outgoing timeline, which never
        goes backwards: the input's own spacing (across a 32-bit wrap), or one nominal step
        after the last frame when the input restarted."""
        if self._last_in is None or self._last_out is None:
            out = 0 if self._last_out is None else self._last_out + self._step
        else:
            step = (timestamp - self._last_in + _RTP_HALF) % _RTP_MODULO - _RTP_HALF
            if not 0 <= step <= self._max_gap:
                logger.debug("%s: input timestamps jumped by %d, re-anchored", self.label, step)
                step = self._step
            out = self._last_out + step
        self._last_in = timestamp
        self._last_out = out
        return out

    def _ask_keyframe(self) -> None:
        if self.request_keyframe is not None:
            self.request_keyframe()

    async def recv(self) -> av.Packet[Any]:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        data, pts = self._queue.popleft()
        packet = av.Packet(data)
        packet.pts = pts
        packet.dts = pts
        packet.time_base = self._time_base
        self.frames_out += 1
        return packet

    def stop(self) -> None:
        super().stop()
        self._queue.clear()
        # Wake a pending recv() so the sender's RTP task exits.
        self._ready.set()
