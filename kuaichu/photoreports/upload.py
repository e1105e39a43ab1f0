"""A driver's photo upload, checked and made safe to keep: pure and blocking (run it in a
thread), no I/O but the bytes it is given.

In order, each refusal a clear :class:`kuaichu.errors.InvalidMessage` (or
``MessageTooLarge``) before anything is stored:

1. the size: at most :data:`MAX_PHOTO_BYTES` (the edge refuses a longer body while reading it);
2. the type by content (magic bytes: JPEG, PNG or WebP; never the name or Content-Type) and
   the pixel count from the header, before any decoding (a small file may declare a huge
   image: :func:`kuaichu.evidence.stills.check_still_header`, the phone stills' check);
3. a full decode with Pillow: a truncated or corrupt image is refused, not half stored;
4. the EXIF time and GPS read as evidence metadata (:class:`PhotoMeta`);
5. re-encoded: turned upright by its EXIF orientation, downscaled to at most
   :data:`MAX_EDGE` pixels, written as a plain JPEG from the bare pixels, so no tag of the
   phone's (EXIF, GPS, maker notes, XMP, ICC, thumbnails) reaches the file an insurer gets.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageOps

from ..errors import InvalidMessage, MessageTooLarge
from ..evidence.stills import MAX_STILL_BYTES, MAX_STILL_PIXELS, check_still_header

MAX_PHOTO_BYTES: Final = MAX_STILL_BYTES
MAX_PHOTO_PIXELS: Final = MAX_STILL_PIXELS
# The longer edge of a stored photo: a plate or a licence stays readable, a 12 MP phone photo
# shrinks to ~1 MB.
MAX_EDGE: Final = 2560
JPEG_QUALITY: Final = 88

_FORMATS: Final = ["JPEG", "PNG", "WEBP"]
_EXIF_TIME: Final = re.compile(r"^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
_EXIF_OFFSET: Final = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_DATETIME_ORIGINAL: Final = 0x9003
_OFFSET_TIME_ORIGINAL: Final = 0x9011
_DATETIME: Final = 0x0132


@dataclass(frozen=True)
class PhotoMeta:
    """The photo's own evidence metadata, from its EXIF (None when absent or unreadable)."""

    taken_at: float | None  # Unix seconds
    time_text: str | None  # DateTimeOriginal as written, with its offset if any
    lat: float | None
    lng: float | None


@dataclass(frozen=True)
class CheckedPhoto:
    """An accepted photo: the JPEG to store, its pixels (RGB) and its metadata."""

    jpeg: bytes
    rgb: npt.NDArray[np.uint8]
    meta: PhotoMeta
    original_size: tuple[int, int]

    @property
    def size(self) -> tuple[int, int]:
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


def check_photo(data: bytes, zone: tzinfo) -> CheckedPhoto:
    """Check, read and re-encode one uploaded photo (blocking: decodes the image).
    ``zone`` interprets an EXIF time that carries no offset (a phone writes local time)."""
    if not data:
        raise InvalidMessage("the upload is empty", reason="empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise MessageTooLarge(
            f"a photo may have at most {MAX_PHOTO_BYTES} bytes",
            reason="too_large",
            limit=MAX_PHOTO_BYTES,
        )
    try:
        width, height = check_still_header(data)
    except InvalidMessage as exc:
        # The header check's own words, with a code the page can translate.
        reason = "too_many_pixels" if "pixels" in exc.message else "not_image"
        exc.detail.setdefault("reason", reason)
        raise
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
                meta = read_meta(image.getexif(), zone)
                # Decodes the whole image (a truncated or corrupt one raises here), a JPEG at
                # a reduced scale when it is far larger than kept, then downscales in place:
                # the full-size pixels are held once, never copied.
                image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
                upright = ImageOps.exif_transpose(image)  # on the small image: cheap
                rgb_image = upright if upright.mode == "RGB" else upright.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InvalidMessage(
            "the photo is damaged or incomplete; take it again", reason="unreadable"
        ) from None
    rgb: npt.NDArray[np.uint8] = np.ascontiguousarray(np.asarray(rgb_image, dtype=np.uint8))
    # A new image from the bare pixels: nothing of the upload's info (EXIF, ICC, XMP,
    # comments) can ride along into the stored file.
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    return CheckedPhoto(out.getvalue(), rgb, meta, (width, height))


def read_meta(exif: Image.Exif, zone: tzinfo) -> PhotoMeta:
    """The time the photo was taken and where, from its EXIF; anything malformed is None
    (the metadata is evidence to weigh, never a reason to refuse a photo)."""
    sub = _ifd(exif, ExifTags.IFD.Exif)
    text = _text(sub.get(_DATETIME_ORIGINAL)) or _text(exif.get(_DATETIME))
    offset = _text(sub.get(_OFFSET_TIME_ORIGINAL))
    taken_at = None
    time_text = None
    match = _EXIF_TIME.match(text or "")
    if match and text is not None:
        tz: tzinfo = zone
        off = _EXIF_OFFSET.match(offset or "")
        if off:
            minutes = int(off.group(2)) * 60 + int(off.group(3))
            if minutes <= 14 * 60:
                tz = timezone(timedelta(minutes=-minutes if off.group(1) == "-" else minutes))
        try:
            year, month, day, hour, minute, second = (int(g) for g in match.groups())
            taken_at = datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()
            time_text = text + (offset if off and offset else "")
        except ValueError:
            taken_at = None
    gps = _ifd(exif, ExifTags.IFD.GPSInfo)
    lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), 90)
    lng = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), 180)
    if lat is None or lng is None:
        lat = lng = None
    return PhotoMeta(taken_at, time_text, lat, lng)


def _ifd(exif: Image.Exif, which: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(which))
    except Exception:  # a malformed pointer: Pillow raises several kinds
        return {}


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ").strip()
    return value if value and len(value) <= 32 and value.isprintable() else None


def _degrees(value: object, ref: object, limit: float) -> float | None:
    """Degrees, minutes, seconds (three rationals) and N/S/E/W to signed degrees."""
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(v) and v >= 0 for v in (d, m, s)) or m >= 60 or s >= 60:
        return None
    degrees = d + m / 60 + s / 3600
    if degrees > limit:
        return None
    hemisphere = _text(ref)
    if hemisphere in ("S", "W"):
        degrees = -degrees
    elif hemisphere not in ("N", "E"):
        return None
    return round(degrees, 7)
