"""Evidence stills from the driver's live video, decoded only when someone asks.

The media layer forwards and records encoded frames and decodes nothing (DESIGN.md, "Media").
A capture is the one exception: it takes a window of the driver's frames, decodes them in a
worker thread with PyAV, keeps the sharpest picture at full received resolution and stores it
as a JPEG with its SHA-256 (``kuaichu.media.still_developer``). Why a window and not one
frame: a phone held in the hand blurs some frames and not others. Why a fresh keyframe in it:
at a call's bitrate the frames long after a keyframe lose detail under the camera's motion,
and a keyframe the driver is asked for is coded afresh; it was the sharpest frame of the
window in 14 of 26 windows measured (docs/benchmarks.md, issue 11's capture re-run), and a
window without one stored plates ~11 % less sharp on average (47 % in the worst case).

Where the window comes from:

- **Up to the click, plus the fresh keyframe**, when the driver's last keyframe is recent:
  the capturer keeps the encoded frames since the last keyframe (references to the bytes the
  media path already holds, nothing decoded) for at most ``chain_s`` seconds / ``max_chain``
  frames after it, then drops them until the next keyframe. A capture then decodes from that
  keyframe on demand, scores the last ``window_s`` of frames received when the click came,
  asks the driver for a keyframe and closes the window when it arrives (or after
  ``keyframe_wait_s`` without it): a round trip to wait for instead of a round trip and the
  whole window. The frames before the click are the ones the officer was looking at when
  clicking: the officer's picture runs behind the server's by the network, the browser's
  jitter buffer and its decoder (~0.1-0.3 s). The chain's frames before the window are decoded
  but not scored (~1.5 ms a 720p frame).
- **From a fresh keyframe** otherwise: the driver is asked for one (RTCP PLI, repeated until
  it comes), and the ``window_s`` window starts at it.

Either way the capture's thread decodes each frame as it arrives, so the window's end leaves
only its last frame to decode before the JPEG is written.

Between captures ``push()`` costs the media path a list append per frame while the chain is
kept, and an attribute check otherwise; with ``chain_s=0`` ``active`` is False between
captures and the caller does not call ``push()`` at all.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kuaichu.errors import Conflict, InvalidMessage, MediaError
from kuaichu.media.picture import VIDEO_CLOCK_RATE
from kuaichu.media.still_developer import (
    RTP_MASK,
    Aborted,
    Capture,
    Developer,
    Encoded,
    Plan,
)
from kuaichu.threadpriority import enter_background

__all__ = [
    "Capture",
    "CaptureBusy",
    "CaptureTimeout",
    "FrameCapturer",
]

logger = logging.getLogger(__name__)

# A kind becomes part of a file name.
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


class CaptureBusy(Conflict):
    """Too many captures are already under way on this call."""

    code = "capture_busy"


class CaptureTimeout(MediaError):
    """The driver's video produced no keyframe in time (no video, or the phone ignores PLI)."""

    code = "capture_timeout"


@dataclass(eq=False)
class _Job:
    number: int
    kind: str
    directory: Path
    future: asyncio.Future[Capture]
    requested: float  # monotonic
    # Set once the window is known (a buffered keyframe, or the one asked for arrived).
    developer: Developer | None = None
    buffered: bool = False  # the window started before the click
    key_age_s: float = 0.0  # how old the keyframe was at the click (buffered) or 0
    counted: int = 0  # frames of the window fed so far
    timer: asyncio.TimerHandle | None = None
    retry: asyncio.TimerHandle | None = None
    thread: threading.Thread | None = None
    finished: asyncio.Future[None] | None = None
    window_closed: float = 0.0  # monotonic


@dataclass
class _Chain:
    """The driver's frames since its last keyframe, kept for a capture around the click."""

    codec: str
    key_wall: float
    key_offset: float | None
    frames: list[Encoded]


class FrameCapturer:
    """Evidence captures of one call's driver video.

    The owner calls ``push()`` with every encoded driver video frame, on the event loop, but
    only while ``active`` is True."""

    def __init__(
        self,
        call_id: str,
        directory: Path,
        *,
        request_keyframe: Callable[[], object],
        recording_offset: Callable[[], float | None] | None = None,
        window_s: float = 0.6,
        keyframe_wait_s: float = 0.6,
        chain_s: float = 2.0,
        max_chain: int = 90,
        max_frames: int = 24,
        keyframe_timeout: float = 3.0,
        keyframe_retry: float = 1.0,
        max_pending: int = 2,
    ) -> None:
        if window_s <= 0 or max_frames < 1 or keyframe_timeout <= 0 or max_pending < 1:
            raise ValueError("window_s, max_frames, keyframe_timeout and max_pending must be > 0")
        if keyframe_wait_s <= 0 or chain_s < 0 or max_chain < 1:
            raise ValueError("need keyframe_wait_s > 0, chain_s >= 0, max_chain >= 1")
        self.call_id = call_id
        self.directory = Path(directory)
        self.window_s = window_s
        self.keyframe_wait_s = keyframe_wait_s
        self.chain_s = chain_s
        self.max_chain = max_chain
        self.max_frames = max_frames
        self.keyframe_timeout = keyframe_timeout
        self.keyframe_retry = keyframe_retry
        self.max_pending = max_pending
        self._request_keyframe = request_keyframe
        self._recording_offset = recording_offset
        self._window_ticks = round(window_s * VIDEO_CLOCK_RATE)
        self._wait_ticks = round(keyframe_wait_s * VIDEO_CLOCK_RATE)
        self._chain_ticks = round(chain_s * VIDEO_CLOCK_RATE)
        self._chain: _Chain | None = None
        # The one thing the media path looks at per frame: always True while a chain may be
        # kept (the next keyframe must be seen), else only while a capture waits for frames.
        self.active = chain_s > 0
        self._collecting: list[_Job] = []  # waiting for a keyframe, or inside their window
        self._jobs: set[_Job] = set()  # every unresolved job, including those in a thread
        self._count = 0
        self._closed = False
        # statistics (tests, benchmarks)
        self.pushed = 0
        self.decoded = 0
        self.cpu_seconds = 0.0
        self.from_buffer = 0  # captures whose window started before the click

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
        job.future.add_done_callback(lambda _f: self._on_future_done(job))
        chain = self._chain
        if chain is not None:
            self._window_around_click(job, chain)
            logger.info(
                "call %s: capture %d (%s) requested: from the keyframe of %.2f s ago",
                self.call_id, job.number, kind, job.key_age_s,
            )
        else:
            job.timer = loop.call_later(self.keyframe_timeout, self._keyframe_timed_out, job)
            logger.info("call %s: capture %d (%s) requested", self.call_id, job.number, kind)
            self._ask_keyframe(job)
        return job.future

    def push(self, codec: str, data: bytes, rtp_timestamp: int, keyframe: bool) -> None:
        """One encoded driver video frame (on the event loop). Cheap when nothing waits."""
        self.pushed += 1
        frame = Encoded(data, rtp_timestamp)
        if self.chain_s > 0:
            self._keep(codec, frame, keyframe)
        done: list[_Job] = []
        for job in self._collecting:
            developer = job.developer
            if developer is None:
                if keyframe:
                    self._window_from_keyframe(job, codec, frame)
                    if job.counted >= self.max_frames:
                        done.append(job)
                continue
            plan = developer.plan
            since_key = (rtp_timestamp - plan.key_rtp) & RTP_MASK
            if codec != plan.codec or since_key >= plan.end:
                # Past the window, or a rejoined driver with a new codec/timeline.
                done.append(job)
                continue
            developer.feed(frame)
            if since_key >= plan.first:
                job.counted += 1
                if job.counted >= self.max_frames or (keyframe and job.buffered):
                    done.append(job)  # full, or the fresh keyframe a buffered window waits for
        for job in done:
            self._develop(job)

    def frames_lost(self) -> None:
        """The driver's video lost a frame (the receiver asked the driver for a keyframe):
        the frames kept since the last keyframe would decode with smears from here on, so
        a capture asks for a fresh keyframe until the next one arrives."""
        self._chain = None

    async def close(self) -> None:
        """Fail captures still waiting for a keyframe; develop those that already have
        frames (the officer asked for them, the call ending must not lose them); wait for
        every worker thread. Idempotent."""
        self._closed = True
        self._chain = None
        self.active = False
        for job in list(self._collecting):
            if job.developer is None:
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

    def _keep(self, codec: str, frame: Encoded, keyframe: bool) -> None:
        """The chain since the last keyframe, while it is short enough to decode on demand."""
        if keyframe:
            self._chain = _Chain(codec, time.time(), self._offset(), [frame])
            return
        chain = self._chain
        if chain is None:
            return
        since_key = (frame.rtp_timestamp - chain.frames[0].rtp_timestamp) & RTP_MASK
        if (
            codec != chain.codec
            or len(chain.frames) >= self.max_chain
            or since_key >= self._chain_ticks
        ):
            self._chain = None  # too long to decode for a click: wait for the next keyframe
        else:
            chain.frames.append(frame)

    def _window_around_click(self, job: _Job, chain: _Chain) -> None:
        """The ``window_s`` up to the click (the last frame received, included), decoded from
        the buffered keyframe, and the frames up to the fresh keyframe asked for now."""
        key_rtp = chain.frames[0].rtp_timestamp
        click = (chain.frames[-1].rtp_timestamp - key_rtp) & RTP_MASK
        first = max(0, click + 1 - self._window_ticks)
        end = click + 1 + self._wait_ticks
        job.buffered = True
        job.key_age_s = time.time() - chain.key_wall
        self.from_buffer += 1
        plan = self._plan(job, chain.codec, key_rtp, chain.key_wall, chain.key_offset, first, end)
        self._start(job, plan, chain.frames)
        self._call_for_keyframe()
        # The keyframe closes the window (push); a driver that ignores the request, or whose
        # video stops, does not hold the capture longer than this.
        job.timer = asyncio.get_running_loop().call_later(
            self.keyframe_wait_s, self._window_timed_out, job
        )

    def _window_from_keyframe(self, job: _Job, codec: str, frame: Encoded) -> None:
        self._cancel_timers(job)
        plan = self._plan(
            job, codec, frame.rtp_timestamp, time.time(), self._offset(), 0, self._window_ticks
        )
        self._start(job, plan, [frame])
        job.timer = asyncio.get_running_loop().call_later(
            self.window_s + 0.5, self._window_timed_out, job
        )
        logger.debug(
            "call %s: capture %d keyframe after %.0f ms",
            self.call_id,
            job.number,
            (time.monotonic() - job.requested) * 1000,
        )

    def _plan(
        self,
        job: _Job,
        codec: str,
        key_rtp: int,
        key_wall: float,
        key_offset: float | None,
        first: int,
        end: int,
    ) -> Plan:
        return Plan(
            call_id=self.call_id,
            number=job.number,
            kind=job.kind,
            directory=job.directory,
            codec=codec,
            key_rtp=key_rtp,
            key_wall=key_wall,
            key_offset=key_offset,
            first=first,
            end=end,
        )

    def _start(self, job: _Job, plan: Plan, frames: list[Encoded]) -> None:
        """Start the capture's thread: it decodes the frames it is fed as they come."""
        developer = job.developer = Developer(plan)
        for frame in frames:
            developer.feed(frame)
            if plan.first <= (frame.rtp_timestamp - plan.key_rtp) & RTP_MASK < plan.end:
                job.counted += 1
        loop = asyncio.get_running_loop()
        job.finished = loop.create_future()
        # A thread per capture rather than a pool: captures are rare, and a pool would keep an
        # idle thread per call alive for the whole call.
        job.thread = threading.Thread(
            target=self._work,
            args=(loop, job, developer),
            name=f"evidence-{self.call_id}-{job.number}",
            daemon=True,
        )
        job.thread.start()

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

    def _stop_collecting(self, job: _Job) -> None:
        self._cancel_timers(job)
        if job in self._collecting:
            self._collecting.remove(job)
        self.active = bool(self._collecting) or (self.chain_s > 0 and not self._closed)

    def _drop(self, job: _Job) -> None:
        """Forget a job that has no thread."""
        self._stop_collecting(job)
        if job.thread is None:
            self._jobs.discard(job)

    def _call_for_keyframe(self) -> None:
        try:
            self._request_keyframe()
        except Exception:
            logger.exception("call %s: keyframe request for capture failed", self.call_id)

    def _ask_keyframe(self, job: _Job) -> None:
        job.retry = None
        if job.developer is not None or job.future.done():
            return
        self._call_for_keyframe()
        # An RTCP PLI can be lost like any packet: ask again until the keyframe comes.
        if self.keyframe_retry > 0:
            job.retry = asyncio.get_running_loop().call_later(
                self.keyframe_retry, self._ask_keyframe, job
            )

    def _keyframe_timed_out(self, job: _Job) -> None:
        job.timer = None
        if job.developer is not None or job.future.done():
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
            if job.developer is not None:
                job.developer.abort.set()
                job.developer.close()  # wakes the thread if it waits for frames
            if job in self._collecting:
                self._drop(job)
            logger.info("call %s: capture %d cancelled", self.call_id, job.number)

    def _develop(self, job: _Job) -> None:
        """The window is complete: the thread finishes decoding and stores the still."""
        self._stop_collecting(job)
        job.window_closed = time.monotonic()
        if job.developer is not None:
            job.developer.close()

    def _finish(
        self, job: _Job, developer: Developer, result: Capture | None, error: BaseException | None
    ) -> None:
        self._jobs.discard(job)
        self.decoded += developer.decoded
        self.cpu_seconds += developer.cpu_s
        if job.finished is not None and not job.finished.done():
            job.finished.set_result(None)
        if result is not None:
            now = time.monotonic()
            logger.info(
                "call %s: capture %d (%s) stored %s %dx%d sharpness %.1f, %d frames scored of "
                "%d decoded, %s, %.0f ms after the request (%.0f after the window), "
                "%.1f ms CPU",
                self.call_id,
                job.number,
                job.kind,
                result.path.name,
                result.width,
                result.height,
                result.sharpness,
                result.frames_considered,
                developer.decoded,
                f"keyframe buffered {job.key_age_s:.2f} s before" if job.buffered
                else "keyframe asked for",
                (now - job.requested) * 1000,
                (now - job.window_closed) * 1000,
                developer.cpu_s * 1000,
            )
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
        elif isinstance(error, Aborted):
            job.future.cancel()
        else:
            job.future.set_exception(error or MediaError("capture failed"))

    # ---- worker thread -----------------------------------------------------------------

    def _work(
        self, loop: asyncio.AbstractEventLoop, job: _Job, developer: Developer
    ) -> None:
        # Below the loop at once: this thread lives less than a second, less than the priority
        # scan's period, and at the loop's priority it took half of a busy core from the media.
        enter_background()
        started = time.thread_time()
        result: Capture | None = None
        error: BaseException | None = None
        try:
            result = developer.run()
        except Aborted as exc:
            error = exc
        except Exception as exc:
            logger.exception("call %s: capture %d failed", self.call_id, job.number)
            error = (
                exc
                if isinstance(exc, MediaError)
                else MediaError(f"capture failed: {exc}", call_id=self.call_id)
            )
        developer.cpu_s = time.thread_time() - started
        try:
            loop.call_soon_threadsafe(self._finish, job, developer, result, error)
        except RuntimeError:
            pass  # the loop is gone (interpreter shutdown): nobody is waiting any more
