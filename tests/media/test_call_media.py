"""A driver and an officer bridged through CallMedia, with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest

from kuaichu.clock import ManualClock
from kuaichu.errors import MediaError, NoCommonCodec
from kuaichu.media.call_media import CallMedia

WIDTH, HEIGHT = 320, 240  # conftest.PatternVideoTrack


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (checked every 20 ms), or fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("codec", ["H264", "VP8"])
async def test_bridge_forwards_and_records(media: CallMedia, answer_as: Any, codec: str) -> None:
    started = time.monotonic()
    driver, sdp = await answer_as(
        "driver", await media.driver_offer(), send_video=True, video_codec=codec
    )
    await media.driver_answer(sdp)
    assert media.video_codec == codec

    officer, sdp = await answer_as("officer", await media.officer_offer(), send_video=False)
    await media.officer_answer(sdp)
    try:
        # the tracks exist once the answer is applied
        driver.start_reading()
        officer.start_reading()
        await officer.wait_frames("video", 30)
        await officer.wait_frames("audio", 20)
        await driver.wait_frames("audio", 20)
        frame = officer.frames["video"][0]
        assert (frame.width, frame.height) == (WIDTH, HEIGHT)
        # the officer's decoder got a clean start: no decode errors means no grey frames
        assert media.officer_video_track is not None
        assert media.officer_video_track.frames_out >= 30
        await asyncio.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
    finally:
        await officer.close()
        call_length = time.monotonic() - started
        info = await media.close()
        await driver.close()

    assert info is not None
    assert info.streams == [f"video:{codec.lower()}", "audio:opus", "audio:opus"]
    assert info.path.suffix == (".mp4" if codec == "H264" else ".mkv")
    assert info.path.exists() and info.size_bytes == info.path.stat().st_size
    assert len(info.sha256) == 64
    with av.open(str(info.path)) as c:
        assert [s.type for s in c.streams] == ["video", "audio", "audio"]
        assert c.streams.video[0].codec_context.name == codec.lower()
        last = {0: 0.0, 1: 0.0, 2: 0.0}
        decoded = 0
        for packet in c.demux():
            if packet.pts is not None:
                last[packet.stream.index] = max(
                    last[packet.stream.index], float(packet.pts * packet.time_base)
                )
            if packet.stream.type == "video":
                for f in packet.decode():
                    decoded += 1
                    assert (f.width, f.height) == (WIDTH, HEIGHT)
    assert decoded >= 30
    assert last[2] > 0, "officer audio recorded"
    assert abs(max(last.values()) - call_length) < 1.0
    assert abs(info.duration_s - call_length) < 1.0


async def test_officer_pli_reaches_driver(tmp_path: Path, answer_as: Any) -> None:
    # The rate limit runs on a clock that stands still unless the test moves it.
    clock = ManualClock()
    media = CallMedia("test-call", tmp_path / "recordings", keyframe_min_interval=2, clock=clock)
    driver, sdp = await answer_as("driver", await media.driver_offer(), send_video=True)
    await media.driver_answer(sdp)
    officer, sdp = await answer_as("officer", await media.officer_offer(), send_video=False)
    await media.officer_answer(sdp)
    try:
        officer.start_reading()
        await officer.wait_frames("video", 5)
        kf = media.driver_keyframes
        assert kf is not None
        assert kf.min_interval == 2
        clock.advance(2)  # past the rate limit
        before = kf.sent
        # the officer's receiver reports picture loss to the server's sender
        video_rx = next(t.receiver for t in officer.pc.getTransceivers() if t.kind == "video")
        ssrc = video_rx.getSynchronizationSources()[0].source
        await video_rx._send_rtcp_pli(ssrc)
        await until(lambda: kf.sent > before)
        assert kf.sent == before + 1
        # a burst of PLIs is rate limited: all five reach the server, none goes out
        asked = kf.asked
        for _ in range(5):
            await video_rx._send_rtcp_pli(ssrc)
        await until(lambda: kf.asked >= asked + 5)
        assert kf.sent == before + 1
    finally:
        await officer.close()
        await media.close()
        await driver.close()


async def test_officer_detach_and_rejoin_keeps_one_recording(
    media: CallMedia, answer_as: Any
) -> None:
    driver, sdp = await answer_as("driver", await media.driver_offer(), send_video=True)
    await media.driver_answer(sdp)
    first, sdp = await answer_as("officer1", await media.officer_offer(), send_video=False)
    await media.officer_answer(sdp)
    first.start_reading()
    await first.wait_frames("video", 5)
    await media.detach_officer()
    await first.close()
    second, sdp = await answer_as("officer2", await media.officer_offer(), send_video=False)
    await media.officer_answer(sdp)
    second.start_reading()
    await second.wait_frames("video", 5)
    await second.close()
    info = await media.close()
    assert await media.close() is info  # idempotent
    await driver.close()
    assert info is not None
    assert list(info.path.parent.iterdir()) == [info.path]


@pytest.mark.parametrize(
    "bad",
    ["", "hello", "v=0\r\nm=garbage\r\n", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"],
)
async def test_malformed_driver_sdp(media: CallMedia, answer_as: Any, bad: str) -> None:
    await media.driver_offer()
    with pytest.raises(MediaError):
        await media.driver_answer(bad)


async def test_answer_without_offer_is_media_error(media: CallMedia, answer_as: Any) -> None:
    with pytest.raises(MediaError):
        await media.driver_answer("v=0\r\n")
    with pytest.raises(MediaError):
        await media.officer_offer()


async def test_officer_without_driver_codec(media: CallMedia, answer_as: Any) -> None:
    driver, sdp = await answer_as(
        "driver", await media.driver_offer(), send_video=True, video_codec="VP8"
    )
    await media.driver_answer(sdp)
    offer = await media.officer_offer()
    assert "VP8/90000" in offer["sdp"] and "H264" not in offer["sdp"]
    # an officer whose console only decodes H.264 answers with it anyway
    with pytest.raises(NoCommonCodec):
        await media.officer_answer(offer["sdp"].replace("VP8/90000", "H264/90000"))
    await media.close()
    await driver.close()


async def test_driver_dropping_is_reported_and_officer_first_frame_is_fast(
    tmp_path: Any, answer_as: Any
) -> None:
    failed: list[tuple[str, str]] = []
    media = CallMedia("drop", tmp_path, on_failed=lambda leg, why: failed.append((leg, why)))
    driver, sdp = await answer_as("driver", await media.driver_offer(), send_video=True)
    await media.driver_answer(sdp)
    # The driver's encoder is mid-GOP when the officer accepts: its first frames have arrived
    # (the recording started with them) and a few more since.
    await until(lambda: media.recorder.started)
    await asyncio.sleep(0.3)
    officer, sdp = await answer_as("officer", await media.officer_offer(), send_video=False)
    accepted = time.monotonic()
    await media.officer_answer(sdp)
    officer.start_reading()
    await officer.wait_frames("video", 1)
    first_frame = time.monotonic() - accepted
    await officer.close()
    await driver.close()  # the phone goes away without a word on signaling
    for _ in range(100):
        if {leg for leg, _ in failed} == {"officer", "driver"}:
            break
        await asyncio.sleep(0.05)
    info = await media.close()
    # both peers hung up without detach_officer()/close(): both reported, once each
    assert sorted(leg for leg, _ in failed) == ["driver", "officer"]
    print(f"officer first frame {first_frame * 1000:.0f} ms after accept")
    assert first_frame < 2.0, first_frame  # the keyframe was asked for, not waited for
    assert info is not None
