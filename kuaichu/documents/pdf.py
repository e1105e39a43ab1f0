"""The determination as an A4 PDF, for print and for the insurer's file.

fpdf2 embeds a subset of the CJK font with a ToUnicode map, so the Chinese text is selectable
and ``pdftotext`` reads it back. The QR code is drawn as vector rectangles (sharp at any print
resolution, no image codec involved). Hashes and the verify URL use the PDF's built-in Courier,
which every viewer has, so nothing extra is embedded for them.

Rendering is CPU work (~0.2–0.5 s, most of it reading the font): callers on the event loop run
:func:`render_pdf` in a thread.

Same content and font give byte-identical output: the creation date is the issue date, and
the file id derives from the content.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, TextMode, WrapMode, XPos, YPos

from .fonts import CjkFont, latin_fallbacks, resolve_cjk_font
from .linebreak import wrap_lines
from .qr import qr_matrix
from .view import DASH, PARTY_ROWS, DeterminationView, party_cell

log = logging.getLogger(__name__)

CJK: Final = "cjk"
MONO: Final = "Courier"

INK: Final = (27, 31, 36)
MUTED: Final = (91, 100, 112)
ACCENT: Final = (31, 58, 147)
WARN: Final = (179, 38, 30)
BAND: Final = (243, 245, 249)
RULE: Final = (201, 206, 214)

MARGIN: Final = 18.0  # mm
QR_SIZE: Final = 32.0  # mm, quiet zone included; scans from a phone at reading distance
HEAD_QR_SIZE: Final = 22.0  # the small code beside the title on page 1
_LATIN_PROBE: Final = "AZaz09·"
PARTIES_PER_TABLE: Final = 3  # more parties continue in a second table, columns stay readable


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
    _title(pdf, view)
    _facts(pdf, view)
    _parties(pdf, view)
    _determination(pdf, view)
    _legal_basis(pdf, view)
    _evidence(pdf, view)
    _signature(pdf, view)
    _review_notice(pdf, view)
    _verification(pdf, view)
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


# -- building blocks ---------------------------------------------------------------------------


def _ensure_space(pdf: FPDF, height: float) -> None:
    """Start a new page when less than ``height`` mm remain, so a heading or a block that must
    stay together (signature, QR code) is not split from what follows."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def _heading(pdf: FPDF, text: str) -> None:
    _ensure_space(pdf, 18)
    pdf.ln(3)
    y = pdf.get_y()
    pdf.set_fill_color(*ACCENT)
    pdf.rect(MARGIN, y + 1.2, 1.2, 4.6, style="F")
    pdf.set_x(MARGIN + 3)
    pdf.set_font(CJK, size=11.5)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)


def _paragraph(
    pdf: FPDF, text: str, *, size: float = 10, height: float = 5.6, indent: float = 0
) -> None:
    pdf.set_font(CJK, size=size)
    pdf.set_x(MARGIN + indent)
    pdf.multi_cell(
        pdf.epw - indent,
        height,
        _wrapped(pdf, text, pdf.epw - indent),
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _pair(pdf: FPDF, label: str, value: str, *, value_font: str = CJK) -> None:
    label_w = 22.0
    pdf.set_font(CJK, size=10)
    pdf.set_text_color(*MUTED)
    y = pdf.get_y()
    pdf.cell(label_w, 6, label)
    pdf.set_text_color(*INK)
    pdf.set_font(_font_for(value, value_font), size=10)
    pdf.set_xy(MARGIN + label_w, y)
    pdf.multi_cell(
        pdf.epw - label_w,
        6,
        _wrapped(pdf, value or DASH, pdf.epw - label_w),
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _wrapped(pdf: FPDF, text: str, cell_width: float) -> str:
    """``text`` with its line breaks chosen by the Chinese rules of :mod:`.linebreak`, for a
    multi_cell of ``cell_width`` in the current font. A little slack keeps fpdf2 from
    breaking a line again over a rounding difference."""
    usable = cell_width - 2 * pdf.c_margin - 0.3
    return "\n".join(wrap_lines(text, usable, pdf.get_string_width))


def _font_for(text: str, preferred: str) -> str:
    """Courier is a core font with Latin-1 only: anything else goes to the CJK font."""
    if preferred == MONO and not _latin1(text):
        return CJK
    return preferred


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


# -- sections ----------------------------------------------------------------------------------


def _title(pdf: FPDF, view: DeterminationView) -> None:
    if view.banner:
        pdf.set_draw_color(*WARN)
        pdf.set_text_color(*WARN)
        pdf.set_font(CJK, size=11)
        pdf.set_line_width(0.6)
        pdf.multi_cell(
            0, 9, view.banner, border=1, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.set_line_width(0.2)
        pdf.ln(3)
    top = pdf.get_y()
    inset = 0.0
    if view.verify_url:
        # A small code beside the title too: page 1 alone, photographed or faxed, still
        # leads to the authenticity page. The title block keeps clear of it on both sides,
        # so it stays centred.
        inset = HEAD_QR_SIZE + 2
        x = pdf.w - MARGIN - HEAD_QR_SIZE
        _draw_qr(pdf, view.verify_url, x, top, HEAD_QR_SIZE)
        if view.verify_href:
            pdf.link(x, top, HEAD_QR_SIZE, HEAD_QR_SIZE, view.verify_href)
        pdf.set_xy(x, top + HEAD_QR_SIZE - 1)
        pdf.set_font(CJK, size=6.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(HEAD_QR_SIZE, 3, "扫码核验", align=Align.C)
        pdf.set_xy(MARGIN, top)
    width = pdf.epw - 2 * inset

    def centred(text: str, height: float) -> None:
        pdf.set_x(MARGIN + inset)
        pdf.multi_cell(
            width,
            height,
            _wrapped(pdf, text, width),
            align=Align.C,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    pdf.set_text_color(*ACCENT)
    pdf.set_font(CJK, size=19)
    # The font has no bold face: a thin outline on the fill thickens the title instead.
    pdf.text_mode = TextMode.FILL_STROKE
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.25)
    centred(view.title, 10)
    pdf.text_mode = TextMode.FILL
    pdf.set_line_width(0.2)
    pdf.set_text_color(*MUTED)
    pdf.set_font(CJK, size=10.5)
    pdf.set_char_spacing(3)
    centred(view.subtitle, 6)
    pdf.set_char_spacing(0)
    pdf.set_text_color(*INK)
    pdf.set_font(CJK, size=11)
    centred(view.number or DASH, 6)
    if view.version_line:
        pdf.set_font(CJK, size=8.5)
        pdf.set_text_color(*MUTED)
        centred(view.version_line, 5)
    if view.verify_url:
        pdf.set_y(max(pdf.get_y(), top + HEAD_QR_SIZE + 2))
    pdf.ln(1.5)
    pdf.set_draw_color(*ACCENT)
    y = pdf.get_y()
    pdf.set_line_width(0.5)
    pdf.line(MARGIN, y, pdf.w - MARGIN, y)
    pdf.set_line_width(0.2)
    pdf.line(MARGIN, y + 1, pdf.w - MARGIN, y + 1)
    pdf.set_y(y + 2)
    pdf.set_text_color(*INK)


def _facts(pdf: FPDF, view: DeterminationView) -> None:
    _heading(pdf, "事故基本情况")
    _pair(pdf, "事故时间", view.occurred_at)
    _pair(pdf, "事故地点", view.address)
    if view.coordinates:
        _pair(pdf, "定位坐标", view.coordinates)
    _pair(pdf, "事故原因", view.cause_text)
    if view.case_id:
        _pair(pdf, "案件编号", view.case_id)
    _pair(pdf, "事故经过", view.description)


def _table_style(pdf: FPDF) -> dict[str, Any]:
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


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]


def _parties(pdf: FPDF, view: DeterminationView) -> None:
    _heading(pdf, "当事人信息")
    if not view.parties:
        _paragraph(pdf, DASH)
        return
    label_style = FontFace(color=MUTED, fill_color=BAND)
    for n, group in enumerate(_chunks(view.parties, PARTIES_PER_TABLE)):
        if n:
            pdf.ln(2)
        pdf.set_draw_color(*RULE)
        pdf.set_font(CJK, size=9)
        pdf.set_text_color(*INK)
        widths = (22.0, *([(pdf.epw - 22.0) / len(group)] * len(group)))
        # Parties are columns: a row per fact reads like the paper form, and two or three
        # parties fit the page width without squeezing any value.
        with pdf.table(col_widths=widths, width=pdf.epw, **_table_style(pdf)) as table:
            head = table.row()
            head.cell("项目")
            for party in group:
                head.cell(party.label)
            for label, attr in PARTY_ROWS:
                row = table.row()
                row.cell(label, style=label_style)
                for party in group:
                    row.cell(party_cell(party, attr))


def _determination(pdf: FPDF, view: DeterminationView) -> None:
    _heading(pdf, "责任认定")
    if not view.parties:
        _paragraph(pdf, DASH)
    for i, party in enumerate(view.parties, start=1):
        _ensure_space(pdf, 12)
        pdf.set_text_color(*INK)
        _paragraph(pdf, f"{i}. {party.determination}", size=11, height=6.5)
        if party.fault:
            pdf.set_text_color(*MUTED)
            _paragraph(pdf, f"过错行为：{party.fault}", size=9, height=5, indent=5)
            pdf.set_text_color(*INK)


def _legal_basis(pdf: FPDF, view: DeterminationView) -> None:
    _heading(pdf, "法律依据")
    for line in view.legal_basis or (DASH,):
        _paragraph(pdf, line, size=9.5, height=5.4)


def _evidence(pdf: FPDF, view: DeterminationView) -> None:
    _heading(pdf, "证据清单")
    if not view.evidence:
        _paragraph(pdf, "无")
        return
    hash_style = FontFace(family=MONO, size_pt=7)
    pdf.set_draw_color(*RULE)
    pdf.set_font(CJK, size=8.5)
    pdf.set_text_color(*INK)
    # The hash column holds 32 Courier characters at 7 pt: each hash prints as two aligned
    # halves, easy to compare by eye against a recomputed value.
    widths = (10.0, 20.0, 50.0, 32.0, pdf.epw - 112.0)
    with pdf.table(col_widths=widths, width=pdf.epw, **_table_style(pdf)) as table:
        head = table.row()
        for title in ("序号", "类型", "文件", "采集时间", "SHA-256"):
            head.cell(title)
        for item in view.evidence:
            row = table.row()
            row.cell(str(item.index))
            row.cell(item.kind_text or DASH)
            row.cell(item.name or DASH)
            row.cell(item.taken_at or DASH)
            sha = item.sha256
            if sha and _latin1(sha):
                row.cell(_split_hash(sha), style=hash_style)
            else:
                row.cell(sha or DASH)


def _split_hash(value: str) -> str:
    half = (len(value) + 1) // 2
    return f"{value[:half]}\n{value[half:]}" if len(value) > 36 else value


def _signature(pdf: FPDF, view: DeterminationView) -> None:
    _ensure_space(pdf, 30)
    pdf.ln(6)
    y = pdf.get_y()
    pdf.set_font(CJK, size=10)
    pdf.set_text_color(*INK)
    officer = view.officer_name or DASH
    if view.officer_badge:
        officer += f"（警号 {view.officer_badge}）"
    pdf.cell(pdf.epw / 2, 6, f"办案民警：{officer}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*MUTED)
    pdf.set_font(CJK, size=9)
    pdf.cell(pdf.epw / 2, 6, f"签发时间：{view.issued_at or DASH}")
    pdf.set_text_color(*INK)
    pdf.set_font(CJK, size=11)
    pdf.set_xy(MARGIN + pdf.epw / 2, y)
    pdf.multi_cell(
        pdf.epw / 2, 6, view.authority or DASH, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_x(MARGIN + pdf.epw / 2)
    pdf.cell(pdf.epw / 2, 6, view.issued_date, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), y + 12))


def _review_notice(pdf: FPDF, view: DeterminationView) -> None:
    if not view.review_notice:
        return
    _heading(pdf, "复核告知")
    pdf.set_fill_color(*BAND)
    pdf.set_font(CJK, size=9.5)
    pdf.multi_cell(
        0,
        5.4,
        _wrapped(pdf, view.review_notice, pdf.epw - 6),
        align=Align.L,
        fill=True,
        padding=(2, 3),
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _verification(pdf: FPDF, view: DeterminationView) -> None:
    # The heading, code, QR and URL stay together on one page.
    _ensure_space(pdf, QR_SIZE + 34)
    _heading(pdf, "真伪核验")
    top = pdf.get_y() + 1
    if view.verify_url:
        _draw_qr(pdf, view.verify_url, MARGIN, top, QR_SIZE)
        if view.verify_href:
            pdf.link(MARGIN, top, QR_SIZE, QR_SIZE, view.verify_href)
    text_x = MARGIN + (QR_SIZE + 6 if view.verify_url else 0)
    pdf.set_xy(text_x, top + 3)
    pdf.set_font(CJK, size=10)
    pdf.set_text_color(*MUTED)
    pdf.cell(16, 8, "验证码：")
    code = view.verification_code or DASH
    pdf.set_font(_font_for(code, MONO), style="B" if _latin1(code) else "", size=15)
    pdf.set_text_color(*INK)
    pdf.set_char_spacing(1.5)
    pdf.cell(0, 8, code, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_char_spacing(0)
    pdf.set_xy(text_x, pdf.get_y() + 1)
    pdf.set_font(CJK, size=9)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(
        pdf.w - MARGIN - text_x,
        5,
        _wrapped(
            pdf,
            "使用手机扫描左侧二维码，或访问下方地址，可核对本认定书的编号、版本、签发机关和"
            "是否为现行版本。电子认定书无需当事人签名。",
            pdf.w - MARGIN - text_x,
        ),
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_y(max(pdf.get_y(), top + QR_SIZE) + 1)
    if view.verify_url:
        pdf.set_font(_font_for(view.verify_url, MONO), size=8)
        pdf.set_text_color(*INK)
        pdf.multi_cell(
            0,
            4,
            view.verify_url,
            align=Align.L,
            wrapmode=WrapMode.CHAR,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.set_text_color(*INK)


def _draw_qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
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
