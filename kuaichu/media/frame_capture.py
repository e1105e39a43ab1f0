"""Evidence stills from the driver's live video, decoded only when someone asks.

The media layer forwards and records encoded frames and decodes nothing (DESIGN.md, "Media").
A capture is the one exception: it asks the driver for a keyframe, collects the encoded frames
from that keyframe on for a short window, and hands them to a worker thread that decodes them
with PyAV, scores each picture's sharpness (variance of a Laplacian on a downscaled luma
plane), keeps the sharpest at full received resolution and stores it as a JPEG (temporary name,
fsync, then a no-clobber rename) with its SHA-256.

Between captures ``FrameCapturer.active`` is False and the caller does not even call
``push()``: the cost on the media path is one attribute check per frame.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from kuaichu.errors import Conflict, InvalidMessage, MediaError
from kuaichu.media.picture import (
    VIDEO_CLOCK_RATE,
    encode_jpeg,
    luma,
    sharpness,
)
from kuaichu.threadpriority import enter_background

logger = logging.getLogger(__name__)

_RTP_MASK = 0xFFFFFFFF
DECODERS = {"H264": "h264", "VP8": "vp8"}
# A kind becomes part of a file name.
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


class CaptureBusy(Conflict):
    """Too many captures are already under way on this call."""

    code = "capture_busy"


class CaptureTimeout(MediaError):
    """The driver's video produced no keyframe in time (no video, or the phone ignores PLI)."""

    code = "capture_timeout"


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
class _Encoded:
    data: bytes
    rtp_timestamp: int


@dataclass(eq=False)
class _Job:
    number: int
    kind: str
    directory: Path
    future: asyncio.Future[Capture]
    requested: float  # monotonic
    codec: str | None = None  # set once the job's keyframe arrived
    key_rtp: int = 0
    key_wall: float = 0.0
    key_offset: float | None = None
    frames: list[_Encoded] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    retry: asyncio.TimerHandle | None = None
    thread: threading.Thread | None = None
    finished: asyncio.Future[None] | None = None
    # Set from the loop when nobody wants the result any more; read by the worker thread.
    abort: threading.Event = field(default_factory=threading.Event)
    decoded: int = 0  # written by the worker thread, read on the loop after it finished
    cpu_s: float = 0.0


class _Aborted(Exception):
    pass


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


# ---- the capturer ----------------------------------------------------------------------------


class FrameCapturer:
    """Evidence captures of one call's driver video.

    The owner calls ``push()`` with every encoded driver video frame, on the event loop, but
    only while ``active`` is True (it is False whenever no capture waits for frames).
    """

    def __init__(
        self,
        call_id: str,
        directory: Path,
        *,
        request_keyframe: Callable[[], object],
        recording_offset: Callable[[], float | None] | None = None,
        window_s: float = 0.6,
        max_frames: int = 24,
        keyframe_timeout: float = 3.0,
        keyframe_retry: float = 1.0,
        max_pending: int = 2,
    ) -> None:
        if window_s <= 0 or max_frames < 1 or keyframe_timeout <= 0 or max_pending < 1:
            raise ValueError("window_s, max_frames, keyframe_timeout and max_pending must be > 0")
        self.call_id = call_id
        self.directory = Path(directory)
        self.window_s = window_s
        self.max_frames = max_frames
        self.keyframe_timeout = keyframe_timeout
        self.keyframe_retry = keyframe_retry
        self.max_pending = max_pending
        self._request_keyframe = request_keyframe
        self._recording_offset = recording_offset
        self._window_ticks = round(window_s * VIDEO_CLOCK_RATE)
        self.active = False  # the one thing the media path looks at per frame
        self._collecting: list[_Job] = []  # waiting for a keyframe, or inside their window
        self._jobs: set[_Job] = set()  # every unresolved job, including those in a thread
        self._count = 0
        self._closed = False
        # statistics (tests, benchmarks)
        self.pushed = 0
        self.decoded = 0
        self.cpu_seconds = 0.0

    @property
    def pending(self) -> int:
        return len(self._jobs)

    # ---- event loop side ---------------------------------------------------------------

    def capture(self, kind: str, directory: Path | None = None) -> asyncio.Future[Capture]:
        """Start a capture; the future resolves with the stored :class:`Capture`.

        Raises at once: InvalidMessage for a bad kind, CaptureBusy when ``max_pending``
        captures are under way, MediaError once closed. The future fails with
        CaptureTimeout when no keyframe arrives within ``keyframe_timeout``. Cancelling it
        abandons the capture (nothing is stored)."""
        if self._closed:
            raise MediaError("call media is closed", call_id=self.call_id)
        if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind):
            raise InvalidMessage(f"bad capture kind {kind!r}", call_id=self.call_id)
        if len(self._jobs) >= self.max_pending:
            raise CaptureBusy(
                f"{len(self._jobs)} captures already under way",
                call_id=self.call_id,
                limit=self.max_pending,
            )
        loop = asyncio.get_running_loop()
        self._count += 1
        job = _Job(
            number=self._count,
            kind=kind,
            directory=Path(directory) if directory is not None else self.directory,
            future=loop.create_future(),
            requested=time.monotonic(),
        )
        self._jobs.add(job)
        self._collecting.append(job)
        self.active = True
        job.timer = loop.call_later(self.keyframe_timeout, self._keyframe_timed_out, job)
        job.future.add_done_callback(lambda _f: self._on_future_done(job))
        logger.info("call %s: capture %d (%s) requested", self.call_id, job.number, kind)
        self._ask_keyframe(job)
        return job.future

    def push(self, codec: str, data: bytes, rtp_timestamp: int, keyframe: bool) -> None:
        """One encoded driver video frame (on the event loop). Cheap when nothing waits."""
        self.pushed += 1
        done: list[_Job] = []
        for job in self._collecting:
            if job.codec is None:
                if not keyframe:
                    continue
                self._open_window(job, codec, data, rtp_timestamp)
            elif (
                codec != job.codec
                or (rtp_timestamp - job.key_rtp) & _RTP_MASK >= self._window_ticks
            ):
                # Past the window, or a rejoined driver with a new codec/timeline.
                done.append(job)
                continue
            else:
                job.frames.append(_Encoded(data, rtp_timestamp))
            if len(job.frames) >= self.max_frames:
                done.append(job)
        for job in done:
            self._develop(job)

    async def close(self) -> None:
        """Fail captures still waiting for a keyframe; develop those that already have
        frames (the officer asked for them, the call ending must not lose them); wait for
        every worker thread. Idempotent."""
        self._closed = True
        for job in list(self._collecting):
            if job.codec is None:
                self._drop(job)
                if not job.future.done():
                    job.future.set_exception(
                        MediaError("call media closed during capture", call_id=self.call_id)
                    )
            else:
                self._develop(job)
        working = [job for job in self._jobs if job.finished is not None]
        waits = [job.finished for job in working if job.finished is not None]
        await asyncio.gather(*waits, return_exceptions=True)
        for job in working:
            if job.thread is not None:
                # It already reported back, which is its last statement: this join is brief.
                job.thread.join()

    # ---- internals (event loop) --------------------------------------------------------

    def _ask_keyframe(self, job: _Job) -> None:
        job.retry = None
        if job.codec is not None or job.future.done():
            return
        try:
            self._request_keyframe()
        except Exception:
            logger.exception("call %s: keyframe request for capture failed", self.call_id)
        # An RTCP PLI can be lost like any packet: ask again until the keyframe comes.
        if self.keyframe_retry > 0:
            job.retry = asyncio.get_running_loop().call_later(
                self.keyframe_retry, self._ask_keyframe, job
            )

    def _open_window(self, job: _Job, codec: str, data: bytes, rtp_timestamp: int) -> None:
        job.codec = codec
        job.key_rtp = rtp_timestamp
        job.key_wall = time.time()
        job.key_offset = self._offset()
        job.frames.append(_Encoded(data, rtp_timestamp))
        self._cancel_timers(job)
        # If the driver's video stops inside the window, develop what arrived.
        job.timer = asyncio.get_running_loop().call_later(
            self.window_s + 0.5, self._window_timed_out, job
        )
        logger.debug(
            "call %s: capture %d keyframe after %.0f ms",
            self.call_id,
            job.number,
            (time.monotonic() - job.requested) * 1000,
        )

    def _offset(self) -> float | None:
        if self._recording_offset is None:
            return None
        try:
            return self._recording_offset()
        except Exception:
            logger.exception("call %s: recording offset callback failed", self.call_id)
            return None

    def _cancel_timers(self, job: _Job) -> None:
        for handle in (job.timer, job.retry):
            if handle is not None:
                handle.cancel()
        job.timer = job.retry = None

    def _drop(self, job: _Job) -> None:
        """Forget a job that has no thread."""
        self._cancel_timers(job)
        if job in self._collecting:
            self._collecting.remove(job)
        self.active = bool(self._collecting)
        if job.thread is None:
            self._jobs.discard(job)

    def _keyframe_timed_out(self, job: _Job) -> None:
        job.timer = None
        if job.codec is not None or job.future.done():
            return
        self._drop(job)
        logger.warning(
            "call %s: capture %d (%s): no keyframe within %.1f s",
            self.call_id,
            job.number,
            job.kind,
            self.keyframe_timeout,
        )
        job.future.set_exception(
            CaptureTimeout(
                f"no keyframe from the driver within {self.keyframe_timeout:g} s",
                call_id=self.call_id,
                kind=job.kind,
            )
        )

    def _window_timed_out(self, job: _Job) -> None:
        job.timer = None
        if job in self._collecting:
            self._develop(job)

    def _on_future_done(self, job: _Job) -> None:
        if job.future.cancelled():
            # The requester gave up: stop collecting, and tell a running thread not to store.
            job.abort.set()
            if job in self._collecting:
                self._drop(job)
            logger.info("call %s: capture %d cancelled", self.call_id, job.number)

    def _develop(self, job: _Job) -> None:
        """The window is complete: hand the frames to a worker thread."""
        self._cancel_timers(job)
        if job in self._collecting:
            self._collecting.remove(job)
        self.active = bool(self._collecting)
        if job.future.done():  # cancelled meanwhile
            self._jobs.discard(job)
            return
        loop = asyncio.get_running_loop()
        job.finished = loop.create_future()
        frames, job.frames = job.frames, []
        # A thread per capture rather than a pool: captures are rare, and a pool would keep an
        # idle thread per call alive for the whole call.
        job.thread = threading.Thread(
            target=self._work,
            args=(loop, job, frames),
            name=f"evidence-{self.call_id}-{job.number}",
            daemon=True,
        )
        job.thread.start()

    def _finish(self, job: _Job, result: Capture | None, error: BaseException | None) -> None:
        self._jobs.discard(job)
        self.decoded += job.decoded
        self.cpu_seconds += job.cpu_s
        if job.finished is not None and not job.finished.done():
            job.finished.set_result(None)
        if job.future.done():
            if result is not None:
                logger.warning(
                    "call %s: capture %d stored after it was cancelled: %s",
                    self.call_id,
                    job.number,
                    result.path,
                )
            return
        if result is not None:
            job.future.set_result(result)
        elif isinstance(error, _Aborted):
            job.future.cancel()
        else:
            job.future.set_exception(error or MediaError("capture failed"))

    # ---- worker thread -----------------------------------------------------------------

    def _work(self, loop: asyncio.AbstractEventLoop, job: _Job, frames: list[_Encoded]) -> None:
        # Below the loop at once: this thread lives ~0.1-0.3 s, less than the priority scan's
        # period, and at the loop's priority it took half of a busy core from the media.
        enter_background()
        started = time.thread_time()
        result: Capture | None = None
        error: BaseException | None = None
        try:
            result = self._decode_and_store(job, frames)
        except _Aborted as exc:
            error = exc
        except Exception as exc:
            logger.exception("call %s: capture %d failed", self.call_id, job.number)
            error = (
                exc
                if isinstance(exc, MediaError)
                else MediaError(f"capture failed: {exc}", call_id=self.call_id)
            )
        job.cpu_s = time.thread_time() - started
        if result is not None:
            logger.info(
                "call %s: capture %d (%s) stored %s %dx%d sharpness %.1f, %d frames, %.1f ms CPU",
                self.call_id,
                job.number,
                job.kind,
                result.path.name,
                result.width,
                result.height,
                result.sharpness,
                result.frames_considered,
                job.cpu_s * 1000,
            )
        try:
            loop.call_soon_threadsafe(self._finish, job, result, error)
        except RuntimeError:
            pass  # the loop is gone (interpreter shutdown): nobody is waiting any more

    def _decode_and_store(self, job: _Job, frames: list[_Encoded]) -> Capture:
        assert job.codec is not None
        decoder_name = DECODERS.get(job.codec.upper())
        if decoder_name is None:
            raise MediaError(f"cannot capture from {job.codec} video", call_id=self.call_id)
        ctx: Any = av.CodecContext.create(decoder_name, "r")
        # PyAV's default starts a thread per CPU for every codec context.
        ctx.thread_count = 1
        best: Any = None
        best_score = -1.0
        considered = 0

        def consider(decoded: list[Any]) -> None:
            nonlocal best, best_score, considered
            for picture in decoded:
                considered += 1
                score = sharpness(luma(picture))
                if score > best_score:
                    best, best_score = picture, score

        for encoded in frames:
            if job.abort.is_set():
                raise _Aborted
            packet = av.Packet(encoded.data)
            packet.pts = encoded.rtp_timestamp
            try:
                consider(ctx.decode(packet))
            except av.FFmpegError as exc:
                # One damaged frame (packet loss) must not spoil the others.
                logger.debug("call %s: capture %d decode: %s", self.call_id, job.number, exc)
        try:
            consider(ctx.decode(None))
        except av.FFmpegError as exc:
            logger.debug("call %s: capture %d flush: %s", self.call_id, job.number, exc)
        job.decoded = considered
        if best is None:
            raise MediaError(
                f"none of {len(frames)} {job.codec} frames could be decoded", call_id=self.call_id
            )

        since_key = ((best.pts - job.key_rtp) & _RTP_MASK) if best.pts is not None else 0
        delta = since_key / VIDEO_CLOCK_RATE
        captured_at = job.key_wall + delta
        jpeg = encode_jpeg(best)
        digest = hashlib.sha256(jpeg).hexdigest()

        job.directory.mkdir(parents=True, exist_ok=True)
        stem = f"{job.kind}-{_stamp(captured_at)}-{job.number}"
        tmp = job.directory / f".{stem}.jpg.part"
        try:
            with tmp.open("wb") as fh:
                fh.write(jpeg)
                fh.flush()
                # Evidence is reported stored only once it would survive a power cut.
                os.fsync(fh.fileno())
            if job.abort.is_set():
                raise _Aborted
            path = _publish(tmp, job.directory, stem)
        finally:
            tmp.unlink(missing_ok=True)
        return Capture(
            path=path,
            sha256=digest,
            kind=job.kind,
            width=int(best.width),
            height=int(best.height),
            sharpness=round(best_score, 3),
            captured_at=captured_at,
            offset_s=None if job.key_offset is None else round(job.key_offset + delta, 3),
            frames_considered=considered,
        )
