"""Pure picture helpers of the evidence stills (no I/O): the sharpness score that picks the
crispest frame of a capture window, the luma plane of a decoded frame, and the JPEG encoder."""

from __future__ import annotations

import fractions
from typing import Any

import av
import numpy as np
import numpy.typing as npt

# H.264 and VP8 both carry video on a 90 kHz RTP clock (RFC 6184, RFC 7741).
VIDEO_CLOCK_RATE = 90000
# The sharpness score works on a picture at most this wide: enough detail to tell a sharp frame
# from a motion-blurred one, at ~1 ms of numpy per 720p frame instead of ~4 ms at full size.
SCORE_MAX_WIDTH = 640
# MJPEG quantiser scale (2 best .. 31 worst): 3 keeps plate characters crisp at ~2-3 bits/pixel.
JPEG_QSCALE = 3
_FF_QP2LAMBDA = 118


def downscale(grey: npt.NDArray[Any], max_width: int = SCORE_MAX_WIDTH) -> npt.NDArray[np.float32]:
    """Box-filter ``grey`` (2-D) by the smallest integer factor that brings it to at most
    ``max_width`` pixels wide. A box filter rather than decimation: dropping pixels would
    alias fine texture into fake "sharpness"."""
    height, width = grey.shape
    factor = max(1, -(-width // max_width))
    if factor == 1:
        return grey.astype(np.float32)
    h, w = height - height % factor, width - width % factor
    # f² strided views summed: no 4-D reshape copy, and a float32 accumulator.
    out = grey[0:h:factor, 0:w:factor].astype(np.float32)
    for i in range(factor):
        for j in range(factor):
            if i or j:
                out += grey[i:h:factor, j:w:factor]
    out *= 1.0 / (factor * factor)
    return out


def laplacian_variance(grey: npt.NDArray[Any]) -> float:
    """Variance of the 4-neighbour Laplacian: high for crisp edges, low for blur."""
    g = grey.astype(np.float32, copy=False)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def sharpness(grey: npt.NDArray[Any], max_width: int = SCORE_MAX_WIDTH) -> float:
    """The sharpness score of a luma image, comparable between frames of one capture."""
    return laplacian_variance(downscale(grey, max_width))


def luma(frame: Any) -> npt.NDArray[np.uint8]:
    """The Y plane of a decoded ``av.VideoFrame`` as a 2-D view, without a colour conversion."""
    if frame.format.name in ("yuv420p", "yuvj420p", "nv12", "yuv422p", "yuv444p"):
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        return rows[: plane.height, : plane.width]
    out: npt.NDArray[np.uint8] = frame.to_ndarray(format="gray")
    return out


def encode_jpeg(frame: Any) -> bytes:
    """A baseline JPEG of ``frame`` at its own size."""
    # JPEG is full range; decoded video is usually limited range. yuvj420p makes swscale
    # stretch the levels, otherwise the still looks washed out (and FFmpeg refuses it).
    src_range = "JPEG" if frame.color_range == 2 else "MPEG"
    picture = frame.reformat(format="yuvj420p", src_color_range=src_range, threads=1)
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width = picture.width
    ctx.height = picture.height
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
    ctx.thread_count = 1
    ctx.options = {"flags": "+qscale", "global_quality": str(JPEG_QSCALE * _FF_QP2LAMBDA)}
    packets = ctx.encode(picture) + ctx.encode(None)
    return b"".join(bytes(p) for p in packets)
