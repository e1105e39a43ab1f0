"""A full disk during a recording: stopped once and cleanly, what was written kept and
decodable, the failure reported, and what is registered measured from the file."""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from pathlib import Path

import av
import numpy as np
import pytest

from kuaichu.media.recorder import CallRecorder
from tests.support.tmpfs import small_tmpfs


def _noisy_h264(n: int) -> list[bytes]:
    """Incompressible frames (noise), so a 1 MiB disk fills within a second of video."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = 320, 240, "yuv420p"
    enc.time_base = fractions.Fraction(1, 30)
    enc.thread_count = 1
    enc.options = {"tune": "zerolatency", "preset": "ultrafast", "g": "30"}
    rng = np.random.default_rng(7)
    out: list[bytes] = []
    for i in range(n):
        img = rng.integers(0, 255, (240, 320, 3), np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out += [bytes(p) for p in enc.encode(frame)]
    return out


def _decoded_seconds(path: Path) -> tuple[int, float]:
    """Video frames PyAV decodes from the file, and the end of the last one."""
    frames = 0
    end = 0.0
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for packet in c.demux(stream):
            for frame in packet.decode():
                frames += 1
                assert frame.time is not None
                end = max(end, float(frame.time) + 1 / 30)
    return frames, end


async def test_a_full_disk_stops_the_recording_once_and_keeps_what_was_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    packets = _noisy_h264(150)
    failures: list[str] = []
    loop = asyncio.get_running_loop()

    def failed(why: str) -> None:
        assert asyncio.get_running_loop() is loop  # handed over, not called on the thread
        failures.append(why)

    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        rec = CallRecorder("full", disk / "case", on_failure=failed)
        caplog.set_level(logging.INFO, logger="kuaichu.media.recorder")
        t0 = time.monotonic()
        for i, data in enumerate(packets):
            rec.add("video", "H264", data, i * 3000, source="v", arrival=t0 + i / 30)
            rec.add(
                "driver_audio", "opus", b"\xfc\xff\xfe", i * 1600, source="a", arrival=t0 + i / 30
            )
            await asyncio.sleep(0.01)
        info = await asyncio.wait_for(rec.stop(), 30)

        assert failures == ["disk_full"]  # once, on the event loop
        assert rec.failure == "disk_full"
        errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(errors) == 1, [r.getMessage() for r in errors]  # no line per packet
        assert "disk_full" in errors[0].getMessage()

        assert info is not None and info.partial and info.failure == "disk_full"
        assert info.path.is_file() and info.path.name == "full.mkv"  # not left as .live.mkv
        assert info.size_bytes == info.path.stat().st_size
        frames, decoded = _decoded_seconds(info.path)
        assert 5 <= frames < 150
        # Registered is what was written: the decodable length, not the time fed.
        assert abs(info.duration_s - decoded) < 0.1, (info.duration_s, decoded)
        assert info.duration_s < 150 / 30 - 1
