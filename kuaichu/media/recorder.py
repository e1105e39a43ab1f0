"""Record a call by remuxing its encoded frames: one file per call, written live.

The event loop only computes timestamps and hands packets to a bounded queue; one writer
thread owns the container and does all mux and disk work. The live file is Matroska with a
cluster per packet and packet flushing, so a crash (even SIGKILL) loses at most the frames
still queued. On stop the Matroska is remuxed to a faststart MP4 when FFmpeg's mp4 muxer
accepts the codecs (H.264 + Opus), otherwise the Matroska is kept (VP8).

A write error (a full disk, an I/O error) stops the recording at once: the live file is cut
back to the last packet written whole, the failure is logged once and reported through
``on_failure`` on the event loop, and the recording is kept and registered as partial. What is
registered (duration, size, hash) is measured from the finished file, never from the clock.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import errno
import fractions
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import av

from kuaichu.media.bitstream import h264_parameter_sets, is_keyframe, vp8_dimensions
from kuaichu.media.recording_file import finalize_live, probe_duration, sha256_of

logger = logging.getLogger(__name__)

StreamName = Literal["video", "driver_audio", "officer_audio"]
STREAM_ORDER: tuple[StreamName, ...] = ("video", "driver_audio", "officer_audio")
CLOCK_RATE: dict[StreamName, int] = {"video": 90000, "driver_audio": 48000, "officer_audio": 48000}

# live=1: clusters are written as they end, never patched afterwards. A cluster per packet
# plus flush_packets puts every packet on disk as soon as it is muxed; no interleaving delay,
# because an officer audio stream that is still silent would otherwise hold everything back.
LIVE_MKV_OPTIONS = {
    "live": "1",
    "flush_packets": "1",
    "cluster_size_limit": "1",
    "max_interleave_delta": "1",
}
# Re-anchor a stream on wall clock when its RTP timeline and the wall clock disagree by more
# than this (a sender restarted, a long loss): a recording must not drift or jump.
RESYNC_SECONDS = 1.0
# How often the writer thread drains what arrived: the most a crash can lose on top of the
# last unflushed cluster, and the rate of wake-ups per recording.
WRITE_INTERVAL = 0.1
# Errors that mean the disk, not the packet, is at fault: the recording stops at the first.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
WRITE_ERRNOS = DISK_FULL_ERRNOS | {errno.EIO, errno.EROFS, errno.ENXIO}
FailureReason = Literal["disk_full", "io_error"]


@dataclass(frozen=True)
class RecordingInfo:
    path: Path
    sha256: str
    size_bytes: int
    duration_s: float
    started_at: float
    ended_at: float
    streams: list[str] = field(default_factory=list)
    # The recording stopped early (a write error) or could not be finalized: what is on disk
    # is what was written up to ``failure``, and is registered as such.
    partial: bool = False
    failure: str | None = None


class StreamClock:
    """Arrival-anchored presentation timestamps for one recorded stream.

    pts = (wall-clock offset of the anchor packet from the recording start) + (RTP delta
    since the anchor), in ``clock_rate`` units, strictly increasing. Re-anchors when the
    source changes or the RTP timeline departs from the wall clock by > RESYNC_SECONDS.
    """

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        # The least step between two frames: a millisecond, as the Matroska file counts, and
        # MP4 refuses two frames of a stream at the same time.
        self._min_step = max(1, clock_rate // 1000)
        self._source: object = None
        self._anchor_pts = 0
        self._anchor_rtp = 0
        self._last: int | None = None

    def pts(self, rtp_ts: int, arrival: float, origin: float, source: object) -> int:
        wall = round((arrival - origin) * self.clock_rate)
        if self._last is None or source is not self._source:
            self._anchor(rtp_ts, wall, source)
        pts = self._anchor_pts + rtp_ts - self._anchor_rtp
        if abs(pts - wall) > RESYNC_SECONDS * self.clock_rate:
            self._anchor(rtp_ts, wall, source)
            pts = wall
        if self._last is not None and pts <= self._last:
            pts = self._last + self._min_step
        self._last = pts
        return pts

    def _anchor(self, rtp_ts: int, wall: int, source: object) -> None:
        self._source = source
        self._anchor_rtp = rtp_ts
        self._anchor_pts = wall if self._last is None else max(wall, self._last + self._min_step)


@dataclass(slots=True)
class _Item:
    stream: StreamName
    codec: str
    data: bytes
    pts: int
    keyframe: bool


class CallRecorder:
    """One recording per call. ``add()`` is called on the event loop and never blocks."""

    def __init__(
        self,
        call_id: str,
        directory: Path,
        *,
        max_queue: int = 2000,
        max_prebuffer: int = 500,
        on_failure: Callable[[FailureReason], None] | None = None,
    ) -> None:
        """``on_failure(reason)`` is called once, on the event loop that called ``add``, when
        a write error stops the recording (``disk_full`` or ``io_error``)."""
        self.call_id = call_id
        self.directory = Path(directory)
        # A plain deque, drained by the writer every WRITE_INTERVAL: waking the writer for
        # every frame (queue.Queue + Condition.notify) cost more CPU in GIL hand-offs than
        # the muxing itself (py-spy, 5 calls: ~38% of the server's samples).
        self._pending: collections.deque[_Item] = collections.deque()
        self._max_queue = max_queue
        self._stop_requested = threading.Event()
        self._max_prebuffer = max_prebuffer
        self._clocks = {name: StreamClock(CLOCK_RATE[name]) for name in STREAM_ORDER}
        self._thread: threading.Thread | None = None
        self._result: concurrent.futures.Future[RecordingInfo | None] = concurrent.futures.Future()
        self._origin_mono = 0.0
        self.started_at: float | None = None
        self._stopping = False
        self._video_gap = False
        self.dropped = 0
        self._on_failure = on_failure
        self._loop: asyncio.AbstractEventLoop | None = None
        # Set by the writer thread at the first write error; the recording is over then.
        self.failure: FailureReason | None = None
        # writer-thread state
        self._container: Any = None
        self._closed = False
        self._streams: dict[StreamName, Any] = {}
        self._video_codec: str | None = None
        self._prebuffer: collections.deque[_Item] = collections.deque(maxlen=max_prebuffer)
        self._first_pts: dict[StreamName, int] = {}
        self._last_pts: dict[StreamName, int] = {}
        # Size of the live file after the last packet that was written whole.
        self._good_size = 0
        self._bad_packets = 0
        self._mkv_path = self.directory / f"{call_id}.live.mkv"

    @property
    def live_path(self) -> Path:
        return self._mkv_path

    @property
    def started(self) -> bool:
        return self._thread is not None

    def add(
        self,
        stream: StreamName,
        codec: str,
        data: bytes,
        rtp_ts: int,
        *,
        source: object,
        keyframe: bool | None = None,
        arrival: float | None = None,
    ) -> None:
        """Queue one encoded frame. ``source`` identifies the sending stream (e.g. the
        receiver): a new source re-anchors the stream's timeline."""
        if self._stopping or self.failure is not None:
            return
        now = time.monotonic() if arrival is None else arrival
        if self._thread is None:
            self._start(now)
        if keyframe is None:
            keyframe = is_keyframe(codec, data)
        if stream == "video" and self._video_gap:
            if not keyframe:
                self.dropped += 1
                return
            self._video_gap = False
        pts = self._clocks[stream].pts(rtp_ts, now, self._origin_mono, source)
        if len(self._pending) < self._max_queue:
            self._pending.append(_Item(stream, codec, data, pts, keyframe))
        else:
            self.dropped += 1
            if stream == "video":
                # Later P-frames would reference the frame lost here.
                self._video_gap = True
            if self.dropped in (1, 100) or self.dropped % 1000 == 0:
                logger.warning(
                    "call %s: recorder queue full, %d frames dropped", self.call_id, self.dropped
                )

    def video_lost(self) -> None:
        """The source lost video frames: record none until its next keyframe (the ones
        between reference what was lost)."""
        self._video_gap = True

    def _start(self, now: float) -> None:
        self._origin_mono = now
        self.started_at = time.time()
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{self.call_id}", daemon=True
        )
        self._thread.start()
        logger.info("call %s: recording to %s", self.call_id, self._mkv_path)

    async def stop(self) -> RecordingInfo | None:
        """Finish the recording (off the event loop). Idempotent."""
        if self._thread is None:
            self._stopping = True
            return None
        if not self._stopping:
            self._stopping = True
            self._stop_requested.set()
        return await asyncio.wrap_future(self._result)

    # ---- writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                stopping = self._stop_requested.wait(WRITE_INTERVAL)
                while self._pending and self.failure is None:
                    self._handle(self._pending.popleft())
                if self.failure is not None:
                    self._pending.clear()
                if stopping:
                    break
            info = self._finish()
        except BaseException as exc:
            logger.exception("call %s: recorder failed", self.call_id)
            self._close_container()
            self._result.set_exception(exc)
            return
        self._result.set_result(info)

    def _handle(self, item: _Item) -> None:
        if self._container is None:
            if item.stream != "video":
                self._prebuffer.append(item)
                return
            if not item.keyframe or not self._open(item):
                return
            pending = sorted(self._prebuffer, key=lambda i: i.pts)
            self._prebuffer.clear()
            for p in pending:
                self._mux(p)
        self._mux(item)

    def _open(self, first: _Item) -> bool:
        """Open the container once the first video keyframe tells us the picture size."""
        size = _video_size(first.codec, first.data)
        if size is None:
            logger.warning(
                "call %s: cannot read %s keyframe size; waiting for the next",
                self.call_id,
                first.codec,
            )
            return False
        codec_name = {"H264": "h264", "VP8": "vp8"}.get(first.codec.upper())
        if codec_name is None:
            logger.error("call %s: cannot record video codec %s", self.call_id, first.codec)
            return False
        container = av.open(str(self._mkv_path), "w", format="matroska", options=LIVE_MKV_OPTIONS)
        try:
            # No codec context: the packets are muxed as they are. For H.264 PyAV takes the
            # extradata (SPS/PPS) from this first packet, a keyframe, before writing the header.
            video = container.add_mux_stream(codec_name, width=size[0], height=size[1])
            video.time_base = fractions.Fraction(1, 90000)
            self._streams["video"] = video
            for name in ("driver_audio", "officer_audio"):
                # An Opus encoder context (never fed) writes a valid OpusHead as extradata.
                audio = container.add_stream("libopus", rate=48000)
                audio.codec_context.thread_count = 1
                audio.metadata["title"] = name
                self._streams[name] = audio
            video.metadata["title"] = "driver_video"
        except Exception:
            container.close()
            raise
        self._container = container
        self._video_codec = first.codec.upper()
        logger.info("call %s: recording %s %dx%d", self.call_id, codec_name, *size)
        return True

    def _mux(self, item: _Item) -> None:
        if self._container is None or self._closed:
            # Muxing into a closed container segfaults the process.
            return
        if item.stream == "video" and item.codec.upper() != self._video_codec:
            self.dropped += 1
            return
        packet = av.Packet(item.data)
        packet.pts = packet.dts = item.pts
        packet.time_base = fractions.Fraction(1, CLOCK_RATE[item.stream])
        packet.is_keyframe = item.keyframe
        packet.stream = self._streams[item.stream]
        try:
            self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            if _is_write_error(exc):
                self._write_failed(exc)
                return
            # A bad packet, not a bad disk: skip it, and say so without flooding the log.
            self._bad_packets += 1
            if self._bad_packets in (1, 100) or self._bad_packets % 1000 == 0:
                logger.warning(
                    "call %s: %s packet not recorded (%d so far): %s",
                    self.call_id,
                    item.stream,
                    self._bad_packets,
                    exc,
                )
            return
        self._first_pts.setdefault(item.stream, item.pts)
        self._last_pts[item.stream] = item.pts
        with contextlib.suppress(OSError):
            self._good_size = os.stat(self._mkv_path).st_size

    def _write_failed(self, exc: BaseException) -> None:
        """The first write error: stop here, keep what was written whole, tell the call."""
        code = getattr(exc, "errno", None)
        reason: FailureReason = "disk_full" if code in DISK_FULL_ERRNOS else "io_error"
        self.failure = reason
        logger.error(
            "call %s: recording stopped (%s): %s; %d bytes kept in %s",
            self.call_id,
            reason,
            exc,
            self._good_size,
            self._mkv_path,
        )
        # The container's trailer cannot be written either; the live Matroska needs none.
        self._close_container()
        # A cluster cut in the middle would end the file with a broken packet.
        with contextlib.suppress(OSError):
            os.truncate(self._mkv_path, self._good_size)
        if self._on_failure is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
                self._loop.call_soon_threadsafe(self._on_failure, reason)

    def _close_container(self) -> None:
        if self._container is not None and not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._container.close()

    def _finish(self) -> RecordingInfo | None:
        if self._container is None and self._prebuffer:
            # Audio only: no video keyframe ever arrived.
            self._open_audio_only()
            pending = sorted(self._prebuffer, key=lambda i: i.pts)
            self._prebuffer.clear()
            for p in pending:
                self._mux(p)
        if self._container is None:
            logger.info("call %s: nothing recorded", self.call_id)
            return None
        self._close_container()
        ended_at = time.time()
        streams = [
            f"video:{self._video_codec.lower()}"
            if n == "video" and self._video_codec
            else "audio:opus"
            for n in self._streams
        ]
        final, finalized = self._finalize_file()
        if final.stat().st_size == 0:
            # Not even the header reached the disk: there is nothing to register.
            logger.warning("call %s: nothing was written, recording removed", self.call_id)
            final.unlink()
            return None
        # What is registered is what is on disk: measured from the file itself.
        duration = probe_duration(final)
        digest, size = sha256_of(final)
        partial = self.failure is not None or not finalized or duration is None
        info = RecordingInfo(
            path=final,
            sha256=digest,
            size_bytes=size,
            duration_s=round(duration or 0.0, 3),
            started_at=self.started_at or ended_at,
            ended_at=ended_at,
            streams=streams,
            partial=partial,
            failure=self.failure or (None if not partial else "not_finalized"),
        )
        logger.info(
            "call %s: recording finished %s (%.1f s, %d bytes%s)",
            self.call_id,
            final,
            info.duration_s,
            size,
            f", partial: {info.failure}" if partial else "",
        )
        return info

    def _open_audio_only(self) -> None:
        container = av.open(str(self._mkv_path), "w", format="matroska", options=LIVE_MKV_OPTIONS)
        for name in ("driver_audio", "officer_audio"):
            audio = container.add_stream("libopus", rate=48000)
            audio.codec_context.thread_count = 1
            audio.metadata["title"] = name
            self._streams[name] = audio
        self._container = container

    def _finalize_file(self) -> tuple[Path, bool]:
        """The live file to its final container (:func:`finalize_live`)."""
        return finalize_live(self._mkv_path, self.call_id)


def _is_write_error(exc: BaseException) -> bool:
    """Whether a mux failure is the disk's (the recording cannot go on) or the packet's."""
    code = getattr(exc, "errno", None)
    if not isinstance(exc, OSError):
        return False
    return code in WRITE_ERRNOS or not isinstance(exc, av.FFmpegError)


def _video_size(codec: str, data: bytes) -> tuple[int, int] | None:
    name = codec.upper()
    if name == "VP8":
        return vp8_dimensions(data)
    if name == "H264":
        if h264_parameter_sets(data) is None:
            return None
        # Decode just this keyframe: cheaper to write than an SPS parser and always right.
        ctx = av.CodecContext.create("h264", "r")
        ctx.thread_count = 1
        try:
            frames = ctx.decode(av.Packet(data)) + ctx.decode(None)
        except av.FFmpegError:
            return None
        if frames:
            return int(frames[0].width), int(frames[0].height)
        return None
    return None
