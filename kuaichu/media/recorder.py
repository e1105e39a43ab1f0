"""Record a call by remuxing its encoded frames: one file per call, written live.

The event loop only computes timestamps and hands packets to a bounded queue; one writer
thread owns the container and does all mux and disk work. The live file is Matroska with a
cluster per packet and packet flushing, so a crash (even SIGKILL) loses at most the frames
still queued. On stop the Matroska is remuxed to a faststart MP4 when FFmpeg's mp4 muxer
accepts the codecs (H.264 + Opus), otherwise the Matroska is kept (VP8).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import fractions
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import av

from kuaichu.media.bitstream import h264_parameter_sets, is_keyframe, vp8_dimensions

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


@dataclass(frozen=True)
class RecordingInfo:
    path: Path
    sha256: str
    size_bytes: int
    duration_s: float
    started_at: float
    ended_at: float
    streams: list[str] = field(default_factory=list)


class StreamClock:
    """Arrival-anchored presentation timestamps for one recorded stream.

    pts = (wall-clock offset of the anchor packet from the recording start) + (RTP delta
    since the anchor), in ``clock_rate`` units, strictly increasing. Re-anchors when the
    source changes or the RTP timeline departs from the wall clock by > RESYNC_SECONDS.
    """

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
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
            pts = self._last + 1
        self._last = pts
        return pts

    def _anchor(self, rtp_ts: int, wall: int, source: object) -> None:
        self._source = source
        self._anchor_rtp = rtp_ts
        self._anchor_pts = wall if self._last is None else max(wall, self._last + 1)


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
    ) -> None:
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
        # writer-thread state
        self._container: Any = None
        self._closed = False
        self._streams: dict[StreamName, Any] = {}
        self._video_codec: str | None = None
        self._prebuffer: collections.deque[_Item] = collections.deque(maxlen=max_prebuffer)
        self._first_pts: dict[StreamName, int] = {}
        self._last_pts: dict[StreamName, int] = {}
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
        if self._stopping:
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

    def _start(self, now: float) -> None:
        self._origin_mono = now
        self.started_at = time.time()
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
                while self._pending:
                    self._handle(self._pending.popleft())
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
        except av.FFmpegError as exc:
            logger.warning("call %s: %s packet not recorded: %s", self.call_id, item.stream, exc)
            return
        self._first_pts.setdefault(item.stream, item.pts)
        self._last_pts[item.stream] = item.pts

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
        duration = 0.0
        for name, last in self._last_pts.items():
            duration = max(duration, last / CLOCK_RATE[name])
        if "video" in self._last_pts:
            duration += 1 / 30  # the last frame's own duration
        streams = [
            f"video:{self._video_codec.lower()}"
            if n == "video" and self._video_codec
            else "audio:opus"
            for n in self._streams
        ]
        final = self._finalize_file()
        digest, size = _sha256(final)
        info = RecordingInfo(
            path=final,
            sha256=digest,
            size_bytes=size,
            duration_s=round(duration, 3),
            started_at=self.started_at or ended_at,
            ended_at=ended_at,
            streams=streams,
        )
        logger.info(
            "call %s: recording finished %s (%.1f s, %d bytes)",
            self.call_id,
            final,
            info.duration_s,
            size,
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

    def _finalize_file(self) -> Path:
        """Remux the live file to a faststart MP4 when MP4 holds the codecs (H.264 + Opus),
        else to a Matroska with cues and duration; temporary name, then rename. If even that
        fails the live file is kept as it is: it is complete and decodable."""
        for fmt, suffix, options in (
            ("mp4", ".mp4", {"movflags": "+faststart"}),
            ("matroska", ".mkv", {}),
        ):
            final = self.directory / f"{self.call_id}{suffix}"
            tmp = self.directory / f".{final.name}.part"
            try:
                remux(self._mkv_path, tmp, fmt, options)
            except (av.FFmpegError, ValueError, OSError) as exc:
                logger.info("call %s: not remuxed to %s (%s)", self.call_id, fmt, exc)
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                continue
            os.replace(tmp, final)
            self._mkv_path.unlink()
            return final
        return self._mkv_path


MP4_CODECS = frozenset({"h264", "opus"})


def remux(src: Path, dst: Path, fmt: str, options: dict[str, str]) -> None:
    """Copy every audio/video packet of ``src`` into ``dst``. Raises ValueError or
    av.FFmpegError when the format cannot hold the codecs."""
    with av.open(str(src)) as inp:
        streams = [s for s in inp.streams if s.type in ("video", "audio")]
        if fmt == "mp4":
            for s in streams:
                if s.codec_context.name not in MP4_CODECS:
                    raise ValueError(f"mp4 is not used for {s.codec_context.name}")
        out = av.open(str(dst), "w", format=fmt, options=options)
        try:
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            for s in streams:
                title = s.metadata.get("title")
                if title:
                    mapping[s.index].metadata["title"] = title
            for packet in inp.demux(*streams):
                if packet.dts is None:
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
        finally:
            out.close()


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


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
