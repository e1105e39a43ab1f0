"""QR codes scan back to exactly the URL they were made from."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from kuaichu.documents import qr_png, qr_svg
from kuaichu.documents.qr import ascii_url

URLS = [
    "https://kuaichu.example/verify?n=%E4%BA%AC%E5%85%AC%E4%BA%A4%E8%AE%A4%E5%AD%97%5B2026%5D"
    "%E7%AC%ACKC0001234%E5%8F%B7&c=7KQ2MX9D",
    "https://kuaichu.example/verify?n=京公交认字[2026]第1号&c=7KQ2MX9D",
    "http://127.0.0.1:8080/verify",
]


@pytest.mark.parametrize("url", URLS)
def test_png_scans_to_the_url(tmp_path: Path, tools: Any, url: str) -> None:
    png = tmp_path / "qr.png"
    png.write_bytes(qr_png(url))
    assert png.read_bytes().startswith(b"\x89PNG")
    assert tools.decode_qr(png) == [ascii_url(url)]


def test_non_ascii_is_percent_encoded_for_every_scanner() -> None:
    assert ascii_url(URLS[1]) == (
        "https://kuaichu.example/verify?n=%E4%BA%AC%E5%85%AC%E4%BA%A4%E8%AE%A4%E5%AD%97"
        "[2026]%E7%AC%AC1%E5%8F%B7&c=7KQ2MX9D"
    )
    assert ascii_url(URLS[0]) == URLS[0]  # already encoded: untouched, no double encoding


def test_png_scale_sets_pixels_per_module() -> None:
    import io

    from PIL import Image

    small = Image.open(io.BytesIO(qr_png(URLS[0], scale=2)))
    large = Image.open(io.BytesIO(qr_png(URLS[0], scale=6)))
    assert large.width == 3 * small.width


def test_svg_is_one_scalable_element() -> None:
    svg = qr_svg(URLS[0])
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "viewBox" in root.attrib
    assert "width" not in root.attrib  # the page's CSS sizes it
    assert not svg.startswith("<?xml")
