"""The worker-thread half of an evidence capture: decode a capture's frames as they arrive,
keep the sharpest of its window, and store it as a JPEG.

A capture's thread starts as soon as its first frame is known (the buffered keyframe and the
frames after it, or the keyframe the driver sent on request) and decodes each frame the event
loop hands it while the window is still open, so that when the window closes only its last
frame is left to decode. Only the frames inside the window are scored (variance of a
Laplacian on a downscaled luma plane, ``kuaichu.media.picture``); the ones before it are
decoded because the window's frames depend on them. The chosen picture is stored at full
received resolution (temporary name, fsync, then a no-clobber link) with its SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from kuaichu.errors import MediaError
from kuaichu.media.picture import VIDEO_CLOCK_RATE, encode_jpeg, luma, sharpness

logger = logging.getLogger(__name__)

RTP_MASK = 0xFFFFFFFF
DECODERS = {"H264": "h264", "VP8": "vp8"}


@dataclass(frozen=True)
class Capture:
    """One stored evidence still."""

    path: Path
    sha256: str
    kind: str
    width: int
    height: int
    sharpness: float
    captured_at: float  # epoch seconds of the chosen frame (arrival-based)
    offset_s: float | None  # offset of the chosen frame into the call recording, if known
    frames_considered: int


@dataclass(frozen=True, slots=True)
class Encoded:
    """One encoded video frame as the media path received it."""

    data: bytes
    rtp_timestamp: int


@dataclass(frozen=True)
class Plan:
    """What a capture's thread needs to know, fixed before it starts. Window bounds are RTP
    ticks after the keyframe: frames in ``[first, end)`` are scored."""

    call_id: str
    number: int
    kind: str
    directory: Path
    codec: str
    key_rtp: int
    key_wall: float  # epoch seconds when the keyframe arrived
    key_offset: float | None  # the keyframe's offset into the call recording
    first: int
    end: int


class Aborted(Exception):
    """Nobody wants the capture any more: nothing is stored."""


@dataclass(eq=False)
class Developer:
    """One capture's worker: ``feed()`` and ``close()`` from the event loop, ``run()`` in the
    capture's thread."""

    plan: Plan
    abort: threading.Event = field(default_factory=threading.Event)
    # Read on the loop once the thread has reported back.
    decoded: int = 0
    considered: int = 0
    cpu_s: float = 0.0
    _queue: queue.SimpleQueue[Encoded | None] = field(default_factory=queue.SimpleQueue)

    def feed(self, frame: Encoded) -> None:
        self._queue.put(frame)

    def close(self) -> None:
        """No more frames: develop what came (also wakes a thread told to abort)."""
        self._queue.put(None)

    def run(self) -> Capture:
        """Decode until ``close()``, then store the sharpest picture of the window."""
        plan = self.plan
        decoder_name = DECODERS.get(plan.codec.upper())
        if decoder_name is None:
            raise MediaError(f"cannot capture from {plan.codec} video", call_id=plan.call_id)
        ctx: Any = av.CodecContext.create(decoder_name, "r")
        # PyAV's default starts a thread per CPU for every codec context.
        ctx.thread_count = 1
        best: Any = None
        best_score = -1.0
        fed = 0

        def consider(decoded: list[Any]) -> None:
            nonlocal best, best_score
            for picture in decoded:
                self.decoded += 1
                since_key = self._since_key(picture)
                if not plan.first <= since_key < plan.end:
                    continue  # decoded only because the window's frames refer to it
                self.considered += 1
                score = sharpness(luma(picture))
                if score > best_score:
                    best, best_score = picture, score

        while True:
            encoded = self._queue.get()
            if self.abort.is_set():
                raise Aborted
            if encoded is None:
                break
            fed += 1
            packet = av.Packet(encoded.data)
            packet.pts = encoded.rtp_timestamp
            try:
                consider(ctx.decode(packet))
            except av.FFmpegError as exc:
                # One damaged frame (packet loss) must not spoil the others.
                logger.debug("call %s: capture %d decode: %s", plan.call_id, plan.number, exc)
        try:
            consider(ctx.decode(None))
        except av.FFmpegError as exc:
            logger.debug("call %s: capture %d flush: %s", plan.call_id, plan.number, exc)
        if best is None:
            raise MediaError(
                f"none of {fed} {plan.codec} frames could be decoded", call_id=plan.call_id
            )
        return self._store(best, best_score)

    def _since_key(self, picture: Any) -> int:
        if picture.pts is None:
            return self.plan.first
        return int((picture.pts - self.plan.key_rtp) & RTP_MASK)

    def _store(self, best: Any, score: float) -> Capture:
        plan = self.plan
        delta = self._since_key(best) / VIDEO_CLOCK_RATE
        captured_at = plan.key_wall + delta
        jpeg = encode_jpeg(best)
        digest = hashlib.sha256(jpeg).hexdigest()
        plan.directory.mkdir(parents=True, exist_ok=True)
        stem = f"{plan.kind}-{_stamp(captured_at)}-{plan.number}"
        tmp = plan.directory / f".{stem}.jpg.part"
        try:
            with tmp.open("wb") as fh:
                fh.write(jpeg)
                fh.flush()
                # Evidence is reported stored only once it would survive a power cut.
                os.fsync(fh.fileno())
            if self.abort.is_set():
                raise Aborted
            path = _publish(tmp, plan.directory, stem)
        finally:
            tmp.unlink(missing_ok=True)
        return Capture(
            path=path,
            sha256=digest,
            kind=plan.kind,
            width=int(best.width),
            height=int(best.height),
            sharpness=round(score, 3),
            captured_at=captured_at,
            offset_s=None if plan.key_offset is None else round(plan.key_offset + delta, 3),
            frames_considered=self.considered,
        )


def _stamp(epoch: float) -> str:
    ms = int(epoch * 1000) % 1000
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(epoch)) + f"{ms:03d}Z"


def _publish(tmp: Path, directory: Path, stem: str) -> Path:
    """Give ``tmp`` its final name without ever replacing an existing evidence file."""
    for attempt in range(100):
        final = directory / (f"{stem}.jpg" if attempt == 0 else f"{stem}-{attempt}.jpg")
        try:
            os.link(tmp, final)  # fails if ``final`` exists: a plain rename would overwrite
        except FileExistsError:
            continue
        except OSError:
            # A filesystem without hard links: check, then rename (racy only against
            # ourselves, and every name carries a per-call counter).
            if final.exists():
                continue
            os.replace(tmp, final)
            return final
        tmp.unlink()
        return final
    raise MediaError(f"no free evidence file name for {stem}")
