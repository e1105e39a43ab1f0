"""The electronic determination (电子事故认定书, 简易程序) as HTML and PDF, its QR code, and
the public authenticity page. Pure rendering: the content dict is built and stored elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import CjkFontNotFound, DocumentError
from .fonts import DEFAULT_CJK_FONTS, FontCandidate, find_cjk_font
from .qr import qr_png, qr_svg
from .render import render_html, render_verify_page

__all__ = [
    "DEFAULT_CJK_FONTS",
    "CjkFontNotFound",
    "DocumentError",
    "FontCandidate",
    "Renderer",
    "find_cjk_font",
    "qr_png",
    "qr_svg",
    "render_html",
    "render_pdf",
    "render_verify_page",
]


def render_pdf(
    content: Mapping[str, Any],
    *,
    superseded_by: int | None = None,
    font: str | Path | None = None,
) -> bytes:
    """:func:`kuaichu.documents.pdf.render_pdf`. fpdf2 is imported with the first document,
    not with the package: it cost every start of the server and every command ~0.4 s."""
    from .pdf import render_pdf as render

    return render(content, superseded_by=superseded_by, font=font)


class Renderer:
    """The determination's renderers with the configured font (``--pdf-font``) bound, as
    :class:`kuaichu.casework.DocumentRenderer`."""

    def __init__(self, font: Path | None = None) -> None:
        # Found once at start-up: a server that cannot print Chinese must say so before it
        # takes calls, not when the first determination is issued.
        self.font = find_cjk_font(font)

    def render_html(self, content: Mapping[str, Any], *, superseded_by: int | None = None) -> str:
        return render_html(content, superseded_by=superseded_by)

    def render_pdf(self, content: Mapping[str, Any], *, superseded_by: int | None = None) -> bytes:
        return render_pdf(content, superseded_by=superseded_by, font=self.font)
