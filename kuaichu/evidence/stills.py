"""A still photo as uploaded (a phone's full-resolution still, a photo report's shot): checked
by its header before anything is decoded (type by magic bytes, pixel count), decoded with
PyAV, re-encoded as a plain JPEG. Pure functions; the callers run the decoding in threads."""

from __future__ import annotations

import io
import warnings
from typing import Final

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from ..errors import InvalidMessage

MAX_STILL_BYTES: Final = 8 * 1024 * 1024
# A phone camera's photo is 12 MP, a few give 24; decoding costs ~4.5 bytes a pixel.
MAX_STILL_PIXELS: Final = 24_000_000
# Phone stills decoded at once: with the pixel cap, bounds the memory uploads can take.
STILL_DECODES: Final = 2
# What the first bytes of an accepted photo are, and the one format each may be opened as.
_MAGIC: Final = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))


def sniff(data: bytes) -> str:
    """The photo's format by its magic bytes: JPEG, PNG or WebP, else refused."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise InvalidMessage("the upload must be a JPEG, PNG or WebP photo")


def check_still_header(data: bytes) -> tuple[int, int]:
    """The photo's size from its header, before anything is decoded: the type by magic
    bytes, the pixel count at most ``MAX_STILL_PIXELS`` (a small compressed file can hold a
    huge image). Pillow's ``open`` reads only the header; nothing here calls ``load()``."""
    name = sniff(data)
    too_many = f"the photo has too many pixels (at most {MAX_STILL_PIXELS})"
    try:
        with warnings.catch_warnings():
            # Pillow warns below its cap; ours, lower, refuses such a photo just after.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[name]) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own cap, far above ours
        raise InvalidMessage(too_many, limit=MAX_STILL_PIXELS) from None
    except (OSError, ValueError, SyntaxError):
        raise InvalidMessage("the upload is not a readable image") from None
    if width * height > MAX_STILL_PIXELS:
        raise InvalidMessage(too_many, width=width, height=height, limit=MAX_STILL_PIXELS)
    return width, height


def decode_rgb(data: bytes) -> npt.NDArray[np.uint8]:
    """Decode one still (JPEG, PNG, WebP) with PyAV; anything else is not an image. The
    caller has checked an upload's header (:func:`check_still_header`)."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            if stream.codec_context.name not in ("mjpeg", "png", "webp"):
                raise InvalidMessage("the upload must be a JPEG, PNG or WebP photo")
            for frame in container.decode(stream):
                if frame.width * frame.height > MAX_STILL_PIXELS:
                    raise InvalidMessage("the photo has too many pixels")
                rgb: npt.NDArray[np.uint8] = np.asarray(frame.to_ndarray(format="rgb24"))
                return rgb
    except (av.error.FFmpegError, IndexError, ValueError):
        pass
    raise InvalidMessage("the upload is not a readable image")


def jpeg_bytes(rgb: npt.NDArray[np.uint8]) -> bytes:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = frame.width, frame.height
    codec.pix_fmt = "yuvj420p"
    codec.options = {"q:v": "2"}
    packets = codec.encode(frame.reformat(format="yuvj420p")) + codec.encode(None)
    return b"".join(bytes(p) for p in packets)
