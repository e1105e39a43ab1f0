"""The photo check (kuaichu.photoreports.upload) on its own: what is refused and why, what an
accepted photo keeps (EXIF time and GPS as metadata) and what it loses (every tag of the file)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from PIL import Image

from kuaichu.errors import InvalidMessage, MessageTooLarge
from kuaichu.photoreports.upload import MAX_EDGE, MAX_PHOTO_BYTES, check_photo
from tests.photoreports.images import (
    EXIF_TIME,
    GPS_LAT,
    GPS_LNG,
    bomb_header_png,
    bomb_png,
    jpeg,
    not_an_image,
    truncated_jpeg,
)

CHINA = timezone(timedelta(hours=8))


def test_exif_time_and_gps_are_kept_as_metadata_and_stripped_from_the_file() -> None:
    original = jpeg(3000, 2000)
    assert b"SecretPhone" in original and b"SecretComment" in original
    checked = check_photo(original, CHINA)
    meta = checked.meta
    taken = datetime(2026, 11, 30, 18, 2, 11, tzinfo=CHINA).timestamp()
    assert meta.taken_at == taken
    assert meta.time_text == EXIF_TIME + "+08:00"
    assert meta.lat == pytest.approx(GPS_LAT, abs=1e-5)
    assert meta.lng == pytest.approx(GPS_LNG, abs=1e-5)
    # The stored file: a plain JPEG, downscaled, with no tag of the phone's left in it.
    stored = Image.open(io.BytesIO(checked.jpeg))
    assert stored.format == "JPEG"
    assert stored.size == (MAX_EDGE, round(2000 * MAX_EDGE / 3000)) == checked.size
    assert dict(stored.getexif()) == {}
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(stored.info)
    for secret in (b"SecretMaker", b"SecretPhone", b"SecretComment", b"Exif\x00\x00"):
        assert secret not in checked.jpeg
    assert checked.original_size == (3000, 2000)


def test_a_photo_without_exif_has_no_metadata() -> None:
    checked = check_photo(jpeg(800, 600, exif=False), CHINA)
    assert (checked.meta.taken_at, checked.meta.lat, checked.meta.lng) == (None, None, None)
    assert checked.size == (800, 600)


def test_an_exif_time_without_offset_is_read_in_the_servers_zone() -> None:
    image = Image.new("RGB", (64, 64))
    tags = Image.Exif()
    tags[0x8769] = {0x9003: "2026:01:02 03:04:05"}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=tags)
    meta = check_photo(out.getvalue(), UTC).meta
    assert meta.taken_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    assert meta.time_text == "2026:01:02 03:04:05"


def test_garbage_exif_values_are_no_metadata_not_a_refusal() -> None:
    image = Image.new("RGB", (64, 64))
    tags = Image.Exif()
    tags[0x8769] = {0x9003: "yesterday at noon"}
    tags[0x8825] = {1: "Q", 2: (400.0, 0.0, 0.0), 3: "E", 4: (1.0, 2.0, 3.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=tags)
    meta = check_photo(out.getvalue(), CHINA).meta
    assert (meta.taken_at, meta.time_text, meta.lat, meta.lng) == (None, None, None, None)


def _refused(data: bytes) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as info:
        check_photo(data, CHINA)
    return info.value


def test_a_file_that_is_not_an_image_is_refused_by_its_content() -> None:
    err = _refused(not_an_image())
    assert err.message == "the upload must be a JPEG, PNG or WebP photo"
    assert err.detail["reason"] == "not_image"
    # A JPEG's magic bytes in front of text are not a JPEG either.
    err = _refused(b"\xff\xd8\xff\xe0" + b"not really" * 50)
    assert err.detail["reason"] in ("not_image", "unreadable")


def test_an_oversized_file_is_refused() -> None:
    err = _refused(b"\xff\xd8\xff" + b"\x00" * MAX_PHOTO_BYTES)
    assert isinstance(err, MessageTooLarge)
    assert err.detail["reason"] == "too_large"
    assert err.http_status == 413


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = bomb_png()
    assert len(bomb) < 100_000  # small on the wire, 64 megapixels decoded
    err = _refused(bomb)
    assert "too many pixels" in err.message
    assert err.detail["reason"] == "too_many_pixels"


def test_pillows_own_bomb_cap_is_a_clear_refusal_too() -> None:
    err = _refused(bomb_header_png())
    assert err.detail["reason"] == "too_many_pixels"


def test_a_truncated_jpeg_is_refused() -> None:
    err = _refused(truncated_jpeg())
    assert err.detail["reason"] == "unreadable"
    assert "incomplete" in err.message


def test_an_empty_upload_is_refused() -> None:
    assert _refused(b"").detail["reason"] == "empty"


def test_a_png_with_alpha_is_stored_as_an_rgb_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (10, 200, 30, 128)).save(out, "PNG")
    checked = check_photo(out.getvalue(), CHINA)
    assert Image.open(io.BytesIO(checked.jpeg)).mode == "RGB"
    assert checked.rgb.shape == (200, 300, 3)


def test_a_photo_is_stored_upright_by_its_exif_orientation() -> None:
    # A phone held upright writes landscape pixels and "rotate 90° clockwise" (orientation 6).
    image = Image.new("RGB", (300, 200), (200, 0, 0))
    image.paste((0, 0, 200), (0, 0, 60, 200))  # blue on the left edge
    tags = Image.Exif()
    tags[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", exif=tags, quality=95)
    checked = check_photo(out.getvalue(), CHINA)
    assert checked.size == (200, 300)
    top = checked.rgb[5, 100]  # the left edge is now on top
    assert top[2] > 150 and top[0] < 80
    assert dict(Image.open(io.BytesIO(checked.jpeg)).getexif()) == {}
