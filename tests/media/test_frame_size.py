"""The picture size read from encoded keyframes' headers (no decoding), on frames made by
real encoders (PyAV's libx264 in two profiles, libvpx)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from kuaichu.media.bitstream import is_keyframe
from kuaichu.media.frame_size import frame_dimensions, h264_sps_dimensions


def _encode(codec: str, width: int, height: int, **options: str) -> list[bytes]:
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 30)
    ctx.options = options
    out: list[bytes] = []
    for i in range(3):
        img = np.full((height * 3 // 2, width), (i * 40) % 256, np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="yuv420p")
        frame.pts = i
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    return out


@pytest.mark.parametrize("profile", ["baseline", "high"])
@pytest.mark.parametrize("size", [(640, 360), (1280, 720), (1920, 1080), (854, 480), (360, 640)])
def test_h264_keyframe_size(profile: str, size: tuple[int, int]) -> None:
    frames = _encode("libx264", *size, profile=profile, preset="ultrafast")
    assert is_keyframe("H264", frames[0])
    assert frame_dimensions("H264", frames[0]) == size
    # A frame without an SPS says nothing.
    assert [frame_dimensions("H264", f) for f in frames[1:]] == [None] * (len(frames) - 1)


@pytest.mark.parametrize("size", [(640, 360), (1280, 720)])
def test_vp8_keyframe_size(size: tuple[int, int]) -> None:
    frames = _encode("libvpx", *size)
    assert frame_dimensions("VP8", frames[0]) == size
    assert frame_dimensions("VP8", frames[1]) is None


def test_truncated_or_garbage_sps_is_none() -> None:
    sps = next(
        nal
        for nal in _encode("libx264", 1280, 720, preset="ultrafast")[0].split(b"\x00\x00\x01")
        if nal and nal[0] & 0x1F == 7
    )
    assert h264_sps_dimensions(sps) == (1280, 720)
    assert h264_sps_dimensions(sps[:4]) is None
    assert h264_sps_dimensions(b"\x67" + b"\x00" * 12) is None
    assert frame_dimensions("opus", b"\x00\x00\x01\x67") is None
