"""QR codes for the verify URL: inline SVG for the HTML page, PNG for anyone who wants a
picture, and the module matrix for drawing the code as vectors in the PDF.

Error correction M (15 %): the printed code survives a crease or a smudge, and a verify URL
of ~120 characters still fits a version 5–7 symbol that prints legibly at 30 mm.
"""

from __future__ import annotations

import io
import urllib.parse
from typing import Final

import segno

ERROR_LEVEL: Final = "m"
QUIET_ZONE: Final = 4  # modules of white border the QR spec requires around the symbol
_ASCII_PRINTABLE: Final = "".join(chr(i) for i in range(0x21, 0x7F))


def ascii_url(url: str) -> str:
    """The URL with every non-ASCII character (and space) percent-encoded as UTF-8.

    A QR code's byte mode carries no charset unless an ECI header says so, and scanners guess:
    raw UTF-8 Chinese comes out as Shift-JIS mojibake on some. Percent-encoded, the code is
    plain ASCII and every scanner reads the same URL, which browsers treat as identical."""
    return urllib.parse.quote(url, safe=_ASCII_PRINTABLE)


def _make(url: str) -> segno.QRCode:
    return segno.make_qr(ascii_url(url), error=ERROR_LEVEL)


def qr_svg(url: str) -> str:
    """An ``<svg>`` element (no XML declaration) that scales to its container: no fixed size,
    a viewBox, a white background so it scans in a dark-mode page too."""
    return str(
        _make(url).svg_inline(
            scale=1,
            border=QUIET_ZONE,
            omitsize=True,
            dark="#000",
            light="#fff",
            svgclass="qr-code",
            lineclass=None,
        )
    )


def qr_png(url: str, scale: int = 4) -> bytes:
    """A PNG of the code, ``scale`` pixels per module (segno writes PNG without Pillow)."""
    buf = io.BytesIO()
    _make(url).save(buf, kind="png", scale=scale, border=QUIET_ZONE)
    return buf.getvalue()


def qr_matrix(url: str) -> list[list[bool]]:
    """Rows of modules, True for dark, without the quiet zone."""
    return [[bool(v) for v in row] for row in _make(url).matrix_iter(scale=1, border=0)]
