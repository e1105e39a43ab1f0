"""The call recording: remuxed encoded frames, crash-safe while live, finalized on stop."""

from __future__ import annotations

import asyncio
import fractions
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import numpy as np

from kuaichu.media.recorder import CallRecorder, RecordingInfo, StreamClock
from kuaichu.media.recording_file import finalize_live

# Feeds a CallRecorder in real time with H.264 (keyframe every 30) and Opus, as the bridge
# does, printing how far it got; the test kills it with SIGKILL.
FEEDER = textwrap.dedent(
    """
    import asyncio, fractions, sys, time
    import av, numpy as np
    from pathlib import Path
    from kuaichu.media.recorder import CallRecorder

    async def main():
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = 320, 240, "yuv420p"
        enc.time_base = fractions.Fraction(1, 30)
        enc.thread_count = 1
        enc.options = {"tune": "zerolatency", "preset": "ultrafast", "g": "30"}
        aenc = av.CodecContext.create("libopus", "w")
        aenc.sample_rate, aenc.layout, aenc.format = 48000, "stereo", "s16"
        aenc.time_base = fractions.Fraction(1, 48000)
        rec = CallRecorder("crash", Path(sys.argv[1]))
        t0 = time.monotonic()
        apts = 0
        for i in range(100000):
            img = np.zeros((240, 320, 3), np.uint8)
            img[:, (i * 4) % 320:(i * 4) % 320 + 16] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for p in enc.encode(frame):
                rec.add("video", "H264", bytes(p), i * 3000, source="v")
            samples = np.zeros((1, 1600 * 2), np.int16)
            af = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
            af.sample_rate, af.pts = 48000, apts
            apts += 1600
            for p in aenc.encode(af):
                rec.add("driver_audio", "opus", bytes(p), p.pts, source="a")
            print(i, time.monotonic() - t0, flush=True)
            await asyncio.sleep(max(0, t0 + (i + 1) / 30 - time.monotonic()))

    asyncio.run(main())
    """
)


def test_sigkill_mid_call_leaves_a_decodable_recording(tmp_path: Path) -> None:
    script = tmp_path / "feeder.py"
    script.write_text(FEEDER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "rec")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    fed_seconds = 0.0
    for line in proc.stdout:
        frame_index, elapsed = line.split()
        if int(frame_index) >= 90:  # 3 s of call
            fed_seconds = float(elapsed)
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    live = tmp_path / "rec" / "crash.live.mkv"
    video_frames = 0
    last_video = 0.0
    audio_packets = 0
    with av.open(str(live)) as c:
        assert [s.type for s in c.streams] == ["video", "audio", "audio"]
        try:
            for packet in c.demux():
                if packet.stream.type == "video":
                    for frame in packet.decode():
                        video_frames += 1
                        last_video = float(frame.time)
                elif packet.size:
                    audio_packets += 1
        except av.FFmpegError:
            pass  # the cut-off tail
    assert video_frames >= 60
    assert fed_seconds - last_video < 1.0, (fed_seconds, last_video, video_frames)
    assert audio_packets > 50


def _h264_packets(n: int) -> list[bytes]:
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = 160, 120, "yuv420p"
    enc.time_base = fractions.Fraction(1, 30)
    enc.thread_count = 1
    enc.options = {"tune": "zerolatency", "preset": "ultrafast", "g": "30"}
    out: list[bytes] = []
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(
            np.full((120, 160, 3), i * 8 % 255, np.uint8), format="rgb24"
        ).reformat(format="yuv420p")
        frame.pts = i
        out += [bytes(p) for p in enc.encode(frame)]
    return out


async def test_audio_before_first_keyframe_is_kept_and_video_starts_at_keyframe(
    tmp_path: Path,
) -> None:
    rec = CallRecorder("early-audio", tmp_path)
    packets = _h264_packets(45)  # keyframes at 0 and 30
    t0 = time.monotonic()
    # 0.5 s of driver audio before any video, then video joining mid-GOP
    for i in range(25):
        rec.add("driver_audio", "opus", b"\xfc\xff\xfe", i * 960, source="a", arrival=t0 + i * 0.02)
    for i in range(15, 45):
        rec.add("video", "H264", packets[i], i * 3000, source="v", arrival=t0 + 0.5 + i / 30)
    info = await rec.stop()
    assert info is not None and info.path.suffix == ".mp4"
    with av.open(str(info.path)) as c:
        audio = [p for p in c.demux(c.streams.audio[0]) if p.size]
    with av.open(str(info.path)) as c:
        video = [p for p in c.demux(c.streams.video[0]) if p.size]
        assert video[0].is_keyframe
        assert len(video) == 15  # frames 30..44
        frames = [f for p in video for f in p.decode()]
        assert len(frames) == 15
    assert len(audio) == 25
    assert float(audio[0].pts * audio[0].time_base) < 0.05


async def test_stop_without_media_and_twice(tmp_path: Path) -> None:
    rec = CallRecorder("empty", tmp_path)
    assert await rec.stop() is None
    assert await rec.stop() is None
    assert list(tmp_path.iterdir()) == []


async def test_recorder_work_is_off_the_event_loop(tmp_path: Path) -> None:
    """add() only queues: a flood of frames does not block the loop."""
    rec = CallRecorder("flood", tmp_path, max_queue=100)
    packets = _h264_packets(31)
    start = time.perf_counter()
    for i in range(2000):
        rec.add("video", "H264", packets[i % 30], i * 3000, source="v")
    assert time.perf_counter() - start < 1.0
    assert rec.dropped > 0  # bounded: the queue did not grow
    info = await asyncio.wait_for(rec.stop(), 20)
    assert info is not None


def test_stream_clock_is_arrival_anchored_and_monotonic() -> None:
    clock = StreamClock(90000)
    origin = 100.0
    # first packet 2 s into the recording, then RTP drives the spacing
    assert clock.pts(0, 102.0, origin, "a") == 180000
    assert clock.pts(3000, 102.05, origin, "a") == 183000
    # a new source (driver rejoined) restarts RTP at 0: re-anchored on the wall clock
    assert clock.pts(0, 110.0, origin, "b") == 900000
    # a timestamp going backwards never yields a non-increasing pts, and the next one is a
    # millisecond on (the live Matroska file counts in milliseconds)
    assert clock.pts(0, 110.01, origin, "b") == 900090
    # an RTP jump far from the wall clock re-anchors instead of leaping ahead
    assert clock.pts(90000 * 60, 110.1, origin, "b") == 909000


def test_frames_less_than_a_millisecond_apart_still_make_an_mp4(tmp_path: Path) -> None:
    # A live file with two frames in one millisecond (written before the clock kept them a
    # millisecond apart, or re-anchored in a stall): MP4 refuses equal decoding times, so the
    # finished recording used to stay the live Matroska. Every frame reaches the MP4.
    live = tmp_path / "c1.live.mkv"
    packets = _h264_packets(10)
    out = av.open(str(live), "w", format="matroska")
    stream = out.add_stream("h264")
    stream.width, stream.height = 160, 120
    stream.time_base = fractions.Fraction(1, 90000)
    times = [0, 3000, 3001, 3002, 9000, 12000, 15000, 18000, 21000, 24000]
    for data, pts in zip(packets, times, strict=True):
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = fractions.Fraction(1, 90000)
        packet.stream = stream
        out.mux(packet)
    out.close()
    final, remuxed = finalize_live(live, "c1")
    assert remuxed and final.suffix == ".mp4"
    with av.open(str(final)) as inp:
        frames = list(inp.decode(video=0))
    assert len(frames) == 10


async def test_calls_recorded_at_once_each_keep_every_frame(tmp_path: Path) -> None:
    """Several calls recorded at the same time (one writer thread serves them all): each
    recording holds every frame and audio packet of its own call, a recording stopped while
    the others go on is finished meanwhile, and the others are not held up by it."""
    packets = _h264_packets(90)  # keyframes at 0, 30 and 60
    t0 = time.monotonic()
    recorders = [CallRecorder(f"call{n}", tmp_path / f"case{n}") for n in range(4)]
    results: dict[int, object] = {}
    for i, data in enumerate(packets):
        for n, rec in enumerate(recorders):
            if n == 0 and i >= 45:
                continue  # the first call ended half way
            rec.add("video", "H264", data, i * 3000, source="v", arrival=t0 + i / 30)
            rec.add("driver_audio", "opus", b"\xfc\xff\xfe", i * 1600, source="a")
        if i == 45:
            results[0] = await asyncio.wait_for(recorders[0].stop(), 20)
        await asyncio.sleep(0.002)
    for n, rec in enumerate(recorders[1:], start=1):
        results[n] = await asyncio.wait_for(rec.stop(), 20)
    for n, info in results.items():
        assert isinstance(info, RecordingInfo) and info.path.suffix == ".mp4", info
        assert not info.partial
        with av.open(str(info.path)) as c:
            frames = list(c.decode(video=0))
        with av.open(str(info.path)) as c:
            audio = [p for p in c.demux(c.streams.audio[0]) if p.size]
        expected = 45 if n == 0 else 90
        assert (len(frames), len(audio)) == (expected, expected), n
