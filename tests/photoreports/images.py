"""Photos for the photo channel's tests, made here: JPEGs with EXIF time and GPS, a plate
scene from sim/plates.py, a truncated JPEG, a decompression bomb PNG, a file that is no image."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache

import numpy as np
from PIL import ExifTags, Image

from sim.plates import render_scene

# Harbin, Nangang district (the browser tests' accident), as a camera writes it.
GPS_LAT = 45.7567
GPS_LNG = 126.6424
EXIF_TIME = "2026:11:30 18:02:11"


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    s = round((value - d - m / 60) * 3600, 4)
    return (float(d), float(m), s)


def jpeg(
    width: int = 1600,
    height: int = 1200,
    *,
    exif: bool = True,
    colour: tuple[int, int, int] = (180, 40, 40),
    rgb: np.ndarray | None = None,
) -> bytes:
    """A JPEG as a phone writes it: with EXIF (time, offset, GPS, the phone's make and model,
    a maker note) and a comment, unless ``exif`` is False."""
    if rgb is not None:
        image = Image.fromarray(rgb, "RGB")
    else:
        image = Image.new("RGB", (width, height), colour)
        # Something to look at (and to compress like a photo, not like a flat colour).
        pixels = np.asarray(image).copy()
        pixels[::40, :, :] = 250
        pixels[:, ::40, 1] = 200
        image = Image.fromarray(pixels, "RGB")
    out = io.BytesIO()
    if not exif:
        image.save(out, "JPEG", quality=90)
        return out.getvalue()
    tags = Image.Exif()
    tags[0x010F] = "SecretMaker"
    tags[0x0110] = "SecretPhone 15"
    tags[ExifTags.IFD.Exif] = {0x9003: EXIF_TIME, 0x9011: "+08:00", 0x927C: b"SecretMakerNote"}
    tags[ExifTags.IFD.GPSInfo] = {
        1: "N",
        2: _dms(GPS_LAT),
        3: "E",
        4: _dms(GPS_LNG),
    }
    image.save(out, "JPEG", quality=90, exif=tags, comment=b"SecretComment")
    return out.getvalue()


@cache
def plate_jpeg(text: str = "黑A12345", colour: str = "blue") -> bytes:
    """A phone photo of a plate on a car (sim/plates.py), with EXIF."""
    rng = np.random.default_rng(5)
    frame = render_scene(text, colour, rng, size=(1280, 720), difficulty="easy")
    return jpeg(rgb=np.ascontiguousarray(frame))


def truncated_jpeg() -> bytes:
    data = jpeg(exif=False)
    return data[: len(data) // 2]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@cache
def bomb_png(side: int = 8000) -> bytes:
    """A PNG that declares side x side pixels (64 MP at 8000) in about sixty kilobytes:
    every row is zeros, which deflate squeezes ~1000:1."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    raw = zlib.compressobj(9)
    block = b"\x00" * ((side + 1) * 100)  # a hundred rows at a time
    body = b"".join(raw.compress(block) for _ in range(side // 100)) + raw.flush()
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def bomb_header_png(side: int = 20000) -> bytes:
    """A PNG header declaring side x side pixels (400 MP at 20000: past Pillow's own cap)
    with an empty image body: what is refused must be refused before any decoding."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"") + _chunk(b"IEND", b"")


def not_an_image() -> bytes:
    return b"%PDF-1.4\n" + b"this is a document, not a photo\n" * 100
