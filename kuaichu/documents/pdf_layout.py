"""The PDF's layout primitives: the palette, the fonts' names, the page margin, and the
blocks every section is drawn from (heading, paragraph, label and value, table style, QR code).

Chinese text is wrapped by the rules of :mod:`.linebreak` before fpdf2 sees it.
"""

from __future__ import annotations

from typing import Any, Final

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, WrapMode, XPos, YPos

from .linebreak import wrap_lines
from .qr import qr_matrix
from .view import DASH

CJK: Final = "cjk"
MONO: Final = "Courier"

INK: Final = (27, 31, 36)
MUTED: Final = (91, 100, 112)
ACCENT: Final = (31, 58, 147)
WARN: Final = (179, 38, 30)
BAND: Final = (243, 245, 249)
RULE: Final = (201, 206, 214)

MARGIN: Final = 18.0  # mm


def ensure_space(pdf: FPDF, height: float) -> None:
    """Start a new page when less than ``height`` mm remain, so a heading or a block that must
    stay together (signature, QR code) is not split from what follows."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def heading(pdf: FPDF, text: str) -> None:
    """A section title with the accent bar, kept on a page with the start of its section."""
    ensure_space(pdf, 18)
    pdf.ln(3)
    y = pdf.get_y()
    pdf.set_fill_color(*ACCENT)
    pdf.rect(MARGIN, y + 1.2, 1.2, 4.6, style="F")
    pdf.set_x(MARGIN + 3)
    pdf.set_font(CJK, size=11.5)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)


def paragraph(
    pdf: FPDF, text: str, *, size: float = 10, height: float = 5.6, indent: float = 0
) -> None:
    """Wrapped body text across the page width (less ``indent``)."""
    pdf.set_font(CJK, size=size)
    pdf.set_x(MARGIN + indent)
    pdf.multi_cell(
        pdf.epw - indent,
        height,
        wrapped(pdf, text, pdf.epw - indent),
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def pair(pdf: FPDF, label: str, value: str, *, value_font: str = CJK) -> None:
    """A muted label and its value beside it (a dash when empty), as on the paper form."""
    label_w = 22.0
    pdf.set_font(CJK, size=10)
    pdf.set_text_color(*MUTED)
    y = pdf.get_y()
    pdf.cell(label_w, 6, label)
    pdf.set_text_color(*INK)
    pdf.set_font(font_for(value, value_font), size=10)
    pdf.set_xy(MARGIN + label_w, y)
    pdf.multi_cell(
        pdf.epw - label_w,
        6,
        wrapped(pdf, value or DASH, pdf.epw - label_w),
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def wrapped(pdf: FPDF, text: str, cell_width: float) -> str:
    """``text`` with its line breaks chosen by the Chinese rules of :mod:`.linebreak`, for a
    multi_cell of ``cell_width`` in the current font. A little slack keeps fpdf2 from
    breaking a line again over a rounding difference."""
    usable = cell_width - 2 * pdf.c_margin - 0.3
    return "\n".join(wrap_lines(text, usable, pdf.get_string_width))


def font_for(text: str, preferred: str) -> str:
    """Courier is a core font with Latin-1 only: anything else goes to the CJK font."""
    if preferred == MONO and not is_latin1(text):
        return CJK
    return preferred


def is_latin1(text: str) -> bool:
    """Whether the core fonts (Courier) can print ``text``."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def table_style(pdf: FPDF) -> dict[str, Any]:
    """The keyword arguments of ``pdf.table()`` that every table of the document shares."""
    # Cells inherit the current fill colour when a style turns filling on: reset it so body
    # cells stay white whatever was drawn before.
    pdf.set_fill_color(255, 255, 255)
    return {
        "borders_layout": TableBordersLayout.ALL,
        "headings_style": FontFace(emphasis="", color=ACCENT, fill_color=BAND),
        "text_align": "LEFT",
        "v_align": "TOP",
        "wrapmode": WrapMode.CHAR,
        "padding": (1.2, 1.5),
        "line_height": 4.6,
    }


def draw_qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """Dark modules as filled rectangles, one per horizontal run, inside a white quiet zone."""
    matrix = qr_matrix(url)
    quiet = 4
    modules = len(matrix) + 2 * quiet
    unit = size / modules
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            # A hair of overlap closes the hairline gaps some rasterisers leave between runs.
            pdf.rect(
                x + (quiet + start) * unit,
                y + (quiet + r) * unit,
                (c - start) * unit + 0.01,
                unit + 0.01,
                style="F",
            )
