"""A finished recording file: remuxed to its final container, measured and hashed.

Blocking (PyAV and file reads): the recorder's writer thread calls these.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

import av

logger = logging.getLogger(__name__)


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
            # MP4 refuses a stream whose decoding times do not strictly increase; a Matroska
            # file counts in milliseconds, so two frames less than 1 ms apart (a stream
            # re-anchored after a rejoin or a stall) share one. Such a frame is moved one
            # tick later: a millisecond, where dropping it would break the decoding after it.
            last_dts: dict[int, int] = {}
            for packet in inp.demux(*streams):
                if packet.dts is None:
                    continue
                index = packet.stream.index
                previous = last_dts.get(index)
                if previous is not None and packet.dts <= previous:
                    packet.dts = previous + 1
                    if packet.pts is not None and packet.pts < packet.dts:
                        packet.pts = packet.dts
                last_dts[index] = packet.dts
                packet.stream = mapping[index]
                out.mux(packet)
        finally:
            out.close()


def finalize_live(live: Path, call_id: str) -> tuple[Path, bool]:
    """Remux a live Matroska (``<call_id>.live.mkv``) to a faststart MP4 when MP4 holds the
    codecs (H.264 + Opus), else to a Matroska with cues and duration; temporary name, then
    rename. If even that fails (a full disk has no room for the copy) the live file is renamed
    as it is, to the final Matroska name: decodable up to its last packet, but not finalized.
    Returns the file and whether it was remuxed. The recorder calls it on stop, and start-up
    recovery (kuaichu.calls.recovery) for a live file a killed process left behind."""
    directory = live.parent
    for fmt, suffix, options in (
        ("mp4", ".mp4", {"movflags": "+faststart"}),
        ("matroska", ".mkv", {}),
    ):
        final = directory / f"{call_id}{suffix}"
        tmp = directory / f".{final.name}.part"
        try:
            remux(live, tmp, fmt, options)
        except (av.FFmpegError, ValueError, OSError) as exc:
            logger.info("call %s: not remuxed to %s (%s)", call_id, fmt, exc)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            continue
        os.replace(tmp, final)
        live.unlink()
        return final, True
    # A rename needs no free space; the name says it is no longer being written, so an
    # unlisted copy is not overlooked by ``evidence verify``.
    final = directory / f"{call_id}.mkv"
    try:
        os.replace(live, final)
    except OSError as exc:
        logger.error("call %s: live recording not renamed: %s", call_id, exc)
        return live, False
    return final, False


def probe_duration(path: Path) -> float | None:
    """Seconds of media in a recording, read from its packets (first start to last end over
    every stream); None when the file cannot be read. Blocking: call it in a thread."""
    start: float | None = None
    end: float | None = None
    try:
        with av.open(str(path)) as inp:
            streams = [s for s in inp.streams if s.type in ("video", "audio")]
            for packet in inp.demux(*streams):
                if packet.pts is None or packet.time_base is None:
                    continue
                t0 = float(packet.pts * packet.time_base)
                t1 = t0 + float((packet.duration or 0) * packet.time_base)
                start = t0 if start is None else min(start, t0)
                end = t1 if end is None else max(end, t1)
    except (av.FFmpegError, OSError, ValueError) as exc:
        logger.warning("cannot read the recording %s: %s", path, exc)
        return None
    if start is None or end is None:
        return 0.0
    return max(0.0, end - min(start, 0.0))


def sha256_of(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a finished recording, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
