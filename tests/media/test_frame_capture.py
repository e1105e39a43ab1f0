"""Evidence stills from the driver's live video: real aiortc peers on loopback, PyAV encoders."""

from __future__ import annotations

import asyncio
import fractions
import hashlib
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from kuaichu.errors import InvalidMessage, MediaError
from kuaichu.media.aiortc_tap import send_pli
from kuaichu.media.bitstream import is_keyframe
from kuaichu.media.call_media import CallMedia
from kuaichu.media.frame_capture import Capture, CaptureBusy, CaptureTimeout, FrameCapturer
from kuaichu.media.picture import downscale, sharpness

WIDTH, HEIGHT = 320, 240  # conftest.PatternVideoTrack
TICKS_PER_FRAME = 3000  # 30 fps on the 90 kHz RTP clock


def decode_jpeg(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert container.streams.video[0].codec_context.name == "mjpeg"
        return frame.to_ndarray(format="gray")


def assert_stored(capture: Capture, directory: Path, width: int, height: int) -> np.ndarray:
    assert capture.path.parent == directory
    assert capture.path.suffix == ".jpg"
    assert capture.path.name.startswith(f"{capture.kind}-")
    assert hashlib.sha256(capture.path.read_bytes()).hexdigest() == capture.sha256
    assert not list(directory.glob(".*.part")), "temporary file left behind"
    grey = decode_jpeg(capture.path)
    assert grey.shape == (height, width)
    assert (capture.width, capture.height) == (width, height)
    assert capture.sharpness > 0
    assert capture.frames_considered >= 1
    return grey


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# ---- the sharpness score -------------------------------------------------------------------


def box_blur(img: np.ndarray, radius: int) -> np.ndarray:
    padded = np.pad(img.astype(np.float32), radius, mode="edge")
    out = np.zeros(img.shape, np.float32)
    size = 2 * radius + 1
    for dy in range(size):
        for dx in range(size):
            out += padded[dy : dy + img.shape[0], dx : dx + img.shape[1]]
    return (out / size**2).astype(np.uint8)


def texture(height: int, width: int, seed: int = 1) -> np.ndarray:
    """Blocks and fine noise: something with edges at several scales, like a plate."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    blocks = ((yy // 12 + xx // 12) % 2) * 140 + 50
    return np.clip(blocks + rng.normal(0, 25, (height, width)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [(240, 320), (720, 1280), (1080, 1920)])
def test_sharp_scores_above_blurred(size: tuple[int, int]) -> None:
    sharp = texture(*size)
    slightly, very = box_blur(sharp, 1), box_blur(sharp, 4)
    scores = [sharpness(img) for img in (sharp, slightly, very)]
    assert scores[0] > scores[1] > scores[2] > 0
    assert scores[0] > 5 * scores[2]
    assert sharpness(np.full(size, 128, np.uint8)) == 0.0


def test_downscale_to_score_width() -> None:
    assert downscale(np.zeros((720, 1280), np.uint8)).shape == (360, 640)
    assert downscale(np.zeros((1080, 1920), np.uint8)).shape == (360, 640)
    assert downscale(np.zeros((240, 320), np.uint8)).shape == (240, 320)
    # a box filter keeps the mean level
    assert float(downscale(np.full((720, 1280), 200, np.uint8)).mean()) == pytest.approx(200)
    assert sharpness(np.zeros((2, 2), np.uint8)) == 0.0


# ---- FrameCapturer fed with frames from PyAV encoders --------------------------------------


def encode(codec: str, images: list[np.ndarray]) -> list[bytes]:
    """One encoded frame per image, the first a keyframe, as aiortc would hand them over
    (H.264 Annex-B access units, VP8 frames)."""
    height, width = images[0].shape
    if codec == "H264":
        ctx = av.CodecContext.create("libx264", "w")
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "qp": "18"}
    else:
        ctx = av.CodecContext.create("libvpx", "w")
        ctx.options = {"lag-in-frames": "0", "deadline": "realtime", "auto-alt-ref": "0"}
        ctx.bit_rate = 6_000_000
    ctx.width, ctx.height = width, height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = fractions.Fraction(1, 30)
    ctx.gop_size = 300
    ctx.thread_count = 1
    chroma = np.full((height // 2, width), 128, np.uint8)
    packets = []
    for i, img in enumerate(images):
        frame = av.VideoFrame.from_ndarray(np.concatenate([img, chroma]), format="yuv420p")
        frame.pts = i
        packets += ctx.encode(frame)
    packets += ctx.encode(None)
    data = [bytes(p) for p in packets]
    assert len(data) == len(images)
    assert is_keyframe(codec, data[0]) and not any(is_keyframe(codec, d) for d in data[1:])
    return data


def capturer(tmp_path: Path, **kwargs: Any) -> tuple[FrameCapturer, list[float]]:
    asked: list[float] = []
    kwargs.setdefault("recording_offset", lambda: 10.0)
    fc = FrameCapturer(
        "unit", tmp_path, request_keyframe=lambda: asked.append(time.monotonic()), **kwargs
    )
    return fc, asked


SHARP_AT = 7


@pytest.fixture(scope="module", params=["H264", "VP8"])
def blurred_then_sharp(request: pytest.FixtureRequest) -> tuple[str, list[bytes]]:
    """12 frames of one scene, all motion-blurred but frame SHARP_AT."""
    sharp = texture(HEIGHT, WIDTH)
    blurred = box_blur(sharp, 3)
    images = [sharp if i == SHARP_AT else np.roll(blurred, i, axis=1) for i in range(12)]
    return request.param, encode(request.param, images)


async def test_capture_keeps_the_sharpest_frame_of_the_window(
    tmp_path: Path, blurred_then_sharp: tuple[str, list[bytes]]
) -> None:
    codec, frames = blurred_then_sharp
    fc, asked = capturer(tmp_path, window_s=1.0, max_frames=len(frames))
    future = fc.capture("plate")  # no keyframe received yet: one is asked for
    assert fc.active and len(asked) == 1
    # frames from before the keyframe cannot be decoded: ignored
    fc.push(codec, frames[3], 0, False)
    fc.push(codec, frames[4], 3000, False)
    for i, data in enumerate(frames):
        fc.push(codec, data, 90000 + i * TICKS_PER_FRAME, is_keyframe(codec, data))
    # the window is full: what comes after it is not decoded
    fc.push(codec, frames[1], 90000 + len(frames) * TICKS_PER_FRAME, False)
    capture = await asyncio.wait_for(future, 5)
    assert len(asked) == 1 and fc.from_buffer == 0

    grey = assert_stored(capture, tmp_path, WIDTH, HEIGHT)
    assert capture.kind == "plate"
    assert capture.frames_considered == len(frames) == fc.decoded
    # the chosen frame is the sharp one: its time into the recording says so...
    assert capture.offset_s == pytest.approx(10.0 + SHARP_AT * TICKS_PER_FRAME / 90000, abs=1e-3)
    assert abs(capture.captured_at - time.time()) < 5
    # ...and so does the stored picture
    assert sharpness(grey) > 3 * sharpness(box_blur(texture(HEIGHT, WIDTH), 3))
    assert fc.pending == 0 and fc.cpu_seconds > 0
    await fc.close()


async def test_two_concurrent_captures_third_is_busy(
    tmp_path: Path, blurred_then_sharp: tuple[str, list[bytes]]
) -> None:
    codec, frames = blurred_then_sharp
    fc, _ = capturer(tmp_path, window_s=1.0, max_frames=len(frames))
    first, second = fc.capture("plate"), fc.capture("damage")
    with pytest.raises(CaptureBusy) as busy:
        fc.capture("scene")
    assert busy.value.code == "capture_busy" and busy.value.http_status == 409
    for i, data in enumerate(frames):
        fc.push(codec, data, i * TICKS_PER_FRAME, is_keyframe(codec, data))
    results = await asyncio.wait_for(asyncio.gather(first, second), 5)
    # both were served from the same keyframe, neither file overwrote the other
    assert {c.kind for c in results} == {"plate", "damage"}
    assert len({c.path for c in results}) == 2
    for c in results:
        assert_stored(c, tmp_path, WIDTH, HEIGHT)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.path.name for c in results)
    # the limit is on captures under way, not a quota; the third starts from the frames
    # already received since their keyframe, and closing develops what it holds
    third = fc.capture("scene")
    await fc.close()
    assert (await third).frames_considered == len(frames) and fc.from_buffer == 1


async def test_no_keyframe_times_out(tmp_path: Path) -> None:
    fc, asked = capturer(tmp_path, keyframe_timeout=0.35, keyframe_retry=0.1)
    future = fc.capture("plate")
    # P-frames keep arriving, but no keyframe
    fc.push("VP8", b"\x01\x00\x00\x00", 0, False)
    with pytest.raises(CaptureTimeout) as timeout:
        await future
    assert timeout.value.code == "capture_timeout"
    assert isinstance(timeout.value, MediaError)
    assert len(asked) >= 3, "the keyframe request is repeated (a PLI can be lost)"
    assert fc.pending == 0 and fc.decoded == 0
    assert list(tmp_path.iterdir()) == []
    await fc.close()


async def test_cancelled_capture_stores_nothing(
    tmp_path: Path, blurred_then_sharp: tuple[str, list[bytes]]
) -> None:
    codec, frames = blurred_then_sharp
    fc, _ = capturer(tmp_path)
    future = fc.capture("plate")
    for i, data in enumerate(frames[:3]):
        fc.push(codec, data, i * TICKS_PER_FRAME, is_keyframe(codec, data))
    future.cancel()  # the officer's request went away mid-window
    await asyncio.sleep(0)
    for i, data in enumerate(frames[3:], 3):
        fc.push(codec, data, i * TICKS_PER_FRAME, False)
    await fc.close()
    assert fc.pending == 0
    assert list(tmp_path.iterdir()) == [] and fc.decoded <= 3


async def test_bad_kind_and_closed(tmp_path: Path) -> None:
    fc, _ = capturer(tmp_path)
    for bad in ["", "../plate", "Plate", "plate.jpg", "x" * 40]:
        with pytest.raises(InvalidMessage):
            fc.capture(bad)
    waiting = fc.capture("plate")
    await fc.close()
    with pytest.raises(MediaError, match="closed"):
        await waiting
    with pytest.raises(MediaError, match="closed"):
        fc.capture("plate")
    assert fc.pending == 0 and list(tmp_path.iterdir()) == []


async def test_window_up_to_the_click_and_the_fresh_keyframe(
    tmp_path: Path, blurred_then_sharp: tuple[str, list[bytes]]
) -> None:
    """The officer clicks just after the sharp frame went by: with the driver's keyframe
    recent, the window is the frames received up to the click and the keyframe asked for at
    the click; it closes as soon as that keyframe is in."""
    codec, frames = blurred_then_sharp
    fc, asked = capturer(tmp_path, window_s=0.3)  # 9 frames at 30 fps
    for i, data in enumerate(frames):
        fc.push(codec, data, i * TICKS_PER_FRAME, is_keyframe(codec, data))
    assert fc.decoded == 0  # kept, not decoded
    future = fc.capture("plate")
    assert len(asked) == 1 and fc.from_buffer == 1
    await asyncio.sleep(0.05)
    assert not future.done()  # waiting for the keyframe
    fc.push(codec, frames[0], 12 * TICKS_PER_FRAME, True)  # the fresh keyframe
    capture = await asyncio.wait_for(future, 5)
    assert_stored(capture, tmp_path, WIDTH, HEIGHT)
    # frames 3-11 before the click and the keyframe after it; 0-2 decoded for references
    assert capture.frames_considered == 10 and fc.decoded == 13
    assert capture.offset_s == pytest.approx(10.0 + SHARP_AT * TICKS_PER_FRAME / 90000, abs=1e-3)
    assert len(asked) == 1, "asked once: the wait is bounded by keyframe_wait_s, not retried"
    await fc.close()


async def test_a_driver_that_sends_no_keyframe_gets_the_frames_before_the_click(
    tmp_path: Path, blurred_then_sharp: tuple[str, list[bytes]]
) -> None:
    codec, frames = blurred_then_sharp
    fc, asked = capturer(tmp_path, window_s=0.3, keyframe_wait_s=0.1)
    for i, data in enumerate(frames):
        fc.push(codec, data, i * TICKS_PER_FRAME, is_keyframe(codec, data))
    capture = await asyncio.wait_for(fc.capture("plate"), 5)
    assert len(asked) == 1 and capture.frames_considered == 9  # frames 3-11
    assert capture.offset_s == pytest.approx(10.0 + SHARP_AT * TICKS_PER_FRAME / 90000, abs=1e-3)
    await fc.close()


async def test_an_old_keyframe_is_not_decoded_for_a_click(
    tmp_path: Path, blurred_then_sharp: tuple[str, list[bytes]]
) -> None:
    """Past ``chain_s`` (or ``max_chain`` frames) after the keyframe the frames are let go:
    a capture asks the driver for a fresh keyframe and waits for it, as without the buffer."""
    codec, frames = blurred_then_sharp
    for limits in ({"chain_s": 0.2}, {"max_chain": 5}):
        fc, asked = capturer(tmp_path / str(len(limits)), window_s=1.0, **limits)
        for i, data in enumerate(frames):
            fc.push(codec, data, i * TICKS_PER_FRAME, is_keyframe(codec, data))
        future = fc.capture("plate")
        assert len(asked) == 1 and fc.from_buffer == 0
        for i, data in enumerate(frames):
            fc.push(codec, data, (20 + i) * TICKS_PER_FRAME, is_keyframe(codec, data))
        await fc.close()
        capture = await future
        assert capture.frames_considered == len(frames) == fc.decoded
    # A frame lost since the keyframe: the kept ones are let go too.
    fc, asked = capturer(tmp_path / "lost")
    for i, data in enumerate(frames):
        fc.push(codec, data, i * TICKS_PER_FRAME, is_keyframe(codec, data))
    fc.frames_lost()
    future = fc.capture("plate")
    assert len(asked) == 1 and fc.from_buffer == 0
    future.cancel()
    await fc.close()
    # Without a buffer the media path is not even asked for frames between captures.
    fc, asked = capturer(tmp_path, chain_s=0)
    assert not fc.active
    future = fc.capture("plate")
    assert fc.active and len(asked) == 1
    for i, data in enumerate(frames):
        fc.push(codec, data, i * TICKS_PER_FRAME, is_keyframe(codec, data))
    await fc.close()
    assert (await future).frames_considered == len(frames)
    assert not fc.active


# ---- through CallMedia, with a real driver peer --------------------------------------------


@pytest.mark.parametrize("codec", ["H264", "VP8"])
async def test_capture_from_live_driver_video(media: CallMedia, answer_as: Any, codec: str) -> None:
    driver, sdp = await answer_as(
        "driver", await media.driver_offer(), send_video=True, video_codec=codec
    )
    await media.driver_answer(sdp)
    try:
        requested = time.time()
        first = asyncio.create_task(media.capture("plate"))
        second = asyncio.create_task(media.capture("damage"))
        await asyncio.sleep(0)
        with pytest.raises(CaptureBusy):
            await media.capture("scene")
        plate, damage = await asyncio.wait_for(asyncio.gather(first, second), 10)
    finally:
        await driver.close()
        await media.close()
    for capture in (plate, damage):
        grey = assert_stored(capture, media.recording_dir, WIDTH, HEIGHT)
        # the driver's picture, levels right: PatternVideoTrack's gradient plus a white bar
        columns = grey.mean(axis=0)
        source = np.linspace(0, 255, WIDTH)
        expected = np.clip((source - 16) * 255 / 219, 0, 255)  # limited range -> JPEG's full
        bar = columns > expected + 40
        assert bar.sum() <= 20
        assert np.abs(columns - expected)[~bar].max() < 12
        assert capture.frames_considered >= 5  # a window of frames, not just the keyframe
        assert requested <= capture.captured_at <= time.time()
        assert capture.offset_s is not None and 0 <= capture.offset_s < 10
    assert media.capturer.decoded == plate.frames_considered + damage.frames_considered


async def test_nothing_is_decoded_while_nobody_captures(media: CallMedia, answer_as: Any) -> None:
    # Count the driver's video frames where the recorder takes them, past the capture hook.
    video_frames: list[float] = []
    record = media.recorder.add

    def counting_add(stream: str, *args: Any, **kwargs: Any) -> None:
        if stream == "video":
            video_frames.append(time.monotonic())
        record(stream, *args, **kwargs)  # type: ignore[arg-type]

    media.recorder.add = counting_add  # type: ignore[method-assign]
    driver, sdp = await answer_as("driver", await media.driver_offer(), send_video=True)
    await media.driver_answer(sdp)
    try:
        await wait_until(lambda: len(video_frames) >= 20)
        assert media.capturer.decoded == 0

        keyframes = media.driver_keyframes
        assert keyframes is not None
        asked = keyframes.sent
        capture = await asyncio.wait_for(media.capture("vehicle"), 10)
        # The driver's first keyframe came less than a second ago: the capture decodes from
        # it and the window starts before the click (and ends with a fresh keyframe).
        assert media.capturer.from_buffer == 1 and keyframes.sent > asked
        assert capture.frames_considered >= 5
        decoded = media.capturer.decoded
        assert decoded >= capture.frames_considered
        seen = len(video_frames)
        await wait_until(lambda: len(video_frames) >= seen + 10)  # the video still flows
        assert media.capturer.decoded == decoded, "frames were decoded after the capture ended"
    finally:
        await driver.close()
        info = await media.close()
    assert info is not None
    assert sorted(p.suffix for p in media.recording_dir.iterdir()) == [".jpg", ".mp4"]


async def test_a_keyframe_request_lets_the_kept_frames_go(
    media: CallMedia, answer_as: Any, tmp_path: Path
) -> None:
    """aiortc asks the driver for a keyframe when a frame is lost: the frames kept since the
    last keyframe would decode with smears from there on, so a click then waits for the
    fresh keyframe instead of decoding them."""
    driver, sdp = await answer_as("driver", await media.driver_offer(), send_video=True)
    await media.driver_answer(sdp)
    try:
        await wait_until(lambda: media.capturer.pushed >= 10)
        keyframes = media.driver_keyframes
        assert keyframes is not None and keyframes.receiver is not None
        lost = send_pli(keyframes.receiver)  # what aiortc's receiver sends on a lost frame
        assert lost is not None
        sending = asyncio.ensure_future(lost)
        await asyncio.sleep(0)  # the request is on its way; its keyframe cannot be back yet
        future = media.capturer.capture("plate", tmp_path)
        assert media.capturer.from_buffer == 0  # not decoded from the kept frames
        await sending
        capture = await asyncio.wait_for(future, 10)
        assert capture.frames_considered >= 1
    finally:
        await driver.close()
        await media.close()


async def test_capture_needs_the_driver_leg(media: CallMedia, answer_as: Any) -> None:
    with pytest.raises(MediaError, match="driver leg is not up"):
        await media.capture("plate")
    offer = await media.driver_offer()
    with pytest.raises(MediaError, match="driver leg is not up"):
        await media.capture("plate")
    assert media.capturer.pending == 0
    driver, sdp = await answer_as("driver", offer, send_video=True)
    await media.driver_answer(sdp)
    await driver.close()
    await media.close()
    with pytest.raises(MediaError, match="closed"):
        await media.capture("plate")


async def test_driver_without_video_times_out(media: CallMedia, answer_as: Any) -> None:
    driver, sdp = await answer_as("driver", await media.driver_offer(), send_video=False)
    await media.driver_answer(sdp)
    media.capturer.keyframe_timeout = 0.5
    try:
        with pytest.raises(CaptureTimeout):
            await media.capture("plate")
    finally:
        await driver.close()
        await media.close()
    assert not list(media.recording_dir.glob("*.jpg"))
