"""The determination as an A4 PDF, for print and for the insurer's file.

fpdf2 embeds a subset of the CJK font with a ToUnicode map, so the Chinese text is selectable
and ``pdftotext`` reads it back. The QR code is drawn as vector rectangles (sharp at any print
resolution, no image codec involved). Hashes and the verify URL use the PDF's built-in Courier,
which every viewer has, so nothing extra is embedded for them.

Rendering is CPU work (~0.2–0.5 s, most of it reading the font): callers on the event loop run
:func:`render_pdf` in a thread.

Same content and font give byte-identical output: the creation date is the issue date, and
the file id derives from the content.

This module is the page frame (fonts, metadata, the banner and footer on every page); the
blocks are :mod:`.pdf_layout`'s and the content is :mod:`.pdf_sections`'.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from fpdf import FPDF
from fpdf.enums import Align

from .fonts import CjkFont, latin_fallbacks, resolve_cjk_font
from .pdf_layout import CJK, MARGIN, MUTED, RULE, WARN
from .pdf_sections import SECTIONS
from .view import DeterminationView

log = logging.getLogger(__name__)

_LATIN_PROBE: Final = "AZaz09·"


class _DeterminationPdf(FPDF):
    def __init__(self, view: DeterminationView) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.view = view
        # False when the CJK font lacks digits (Droid Sans Fallback): the total page count
        # is filled in after layout, past the reach of fallback fonts, so the page label
        # then uses a core font.
        self.cjk_has_latin = True
        self.set_margins(MARGIN, MARGIN + 2, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN)

    def header(self) -> None:
        # A superseded document says so on every page: a single printed page must not pass
        # for the current version.
        if not self.view.banner:
            return
        self.set_xy(MARGIN, 8)
        self.set_font(CJK, size=8.5)
        self.set_text_color(*WARN)
        self.cell(0, 5, self.view.banner, align=Align.C)
        self.set_xy(MARGIN, self.t_margin)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y() - 1, self.w - MARGIN, self.get_y() - 1)
        self.set_font(CJK, size=7.5)
        self.set_text_color(*MUTED)
        room = self.epw - 32  # the page label keeps the right-hand 32 mm
        left = self.view.number
        if self.view.verification_code:
            with_code = f"{left}　验证码 {self.view.verification_code}"
            if self.get_string_width(with_code) <= room:
                left = with_code
        if self.get_string_width(left) > room:
            while left and self.get_string_width(left + "…") > room:
                left = left[:-1]
            left += "…"
        self.cell(room, 5, left, align=Align.L)
        self.set_x(MARGIN)
        if self.cjk_has_latin:
            self.cell(0, 5, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align=Align.R)
        else:
            self.set_font("Helvetica", size=7.5)
            self.cell(0, 5, f"{self.page_no()} / {{nb}}", align=Align.R)


def render_pdf(
    content: Mapping[str, Any],
    *,
    superseded_by: int | None = None,
    font: str | Path | None = None,
) -> bytes:
    """The determination as PDF bytes (A4). ``font`` is the operator's CJK font setting; by
    default the first installed of :data:`~.fonts.DEFAULT_CJK_FONTS`. Raises
    :class:`~.errors.CjkFontNotFound` when there is none."""
    view = DeterminationView.from_content(content, superseded_by=superseded_by)
    cjk = resolve_cjk_font(font)
    pdf = _DeterminationPdf(view)
    _setup(pdf, view, cjk, content.get("issued_at"))
    pdf.add_page()
    for section in SECTIONS:
        section(pdf, view)
    return bytes(pdf.output())


def _setup(pdf: _DeterminationPdf, view: DeterminationView, cjk: CjkFont, issued_at: Any) -> None:
    pdf.add_font(CJK, "", str(cjk.path), collection_font_number=cjk.face_index)
    cmap: Mapping[int, str] = getattr(pdf.fonts[CJK], "cmap", None) or {}
    if not all(ord(ch) in cmap for ch in _LATIN_PROBE):
        pdf.cjk_has_latin = False
        # Droid Sans Fallback has no Latin letters or digits: borrow them. Only then, since
        # reading a font costs ~0.1 s of CPU per document.
        fallbacks: list[str] = []
        for i, path in enumerate(latin_fallbacks()):
            name = f"latin{i}"
            pdf.add_font(name, "", str(path))
            fallbacks.append(name)
        if fallbacks:
            pdf.set_fallback_fonts(fallbacks)
        else:
            log.warning("the PDF font %s lacks Latin glyphs and no fallback is installed", cjk.path)
    pdf.set_title(f"{view.title} {view.number}")
    pdf.set_subject(view.number)
    pdf.set_author(view.authority)
    pdf.set_creator("kuaichu")
    pdf.set_lang("zh-CN")
    pdf.set_creation_date(_creation_date(issued_at))


def _creation_date(issued_at: Any) -> datetime:
    if isinstance(issued_at, str):
        try:
            dt = datetime.fromisoformat(issued_at)
        except ValueError:
            dt = None
        if dt is not None:
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)
