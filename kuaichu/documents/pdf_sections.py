"""The determination's page content, section by section in reading order (:data:`SECTIONS`):
title, facts, parties, liability, legal basis, evidence, signature, review notice and the
authenticity check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TextMode, WrapMode, XPos, YPos

from .pdf_layout import (
    ACCENT,
    BAND,
    CJK,
    INK,
    MARGIN,
    MONO,
    MUTED,
    RULE,
    WARN,
    draw_qr,
    ensure_space,
    font_for,
    heading,
    is_latin1,
    pair,
    paragraph,
    table_style,
    wrapped,
)
from .view import DASH, PARTY_ROWS, DeterminationView, party_cell

QR_SIZE: Final = 32.0  # mm, quiet zone included; scans from a phone at reading distance
HEAD_QR_SIZE: Final = 22.0  # the small code beside the title on page 1
PARTIES_PER_TABLE: Final = 3  # more parties continue in a second table, columns stay readable


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
        draw_qr(pdf, view.verify_url, x, top, HEAD_QR_SIZE)
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
            wrapped(pdf, text, width),
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
    heading(pdf, "事故基本情况")
    pair(pdf, "事故时间", view.occurred_at)
    pair(pdf, "事故地点", view.address)
    if view.coordinates:
        pair(pdf, "定位坐标", view.coordinates)
    pair(pdf, "事故原因", view.cause_text)
    if view.case_id:
        pair(pdf, "案件编号", view.case_id)
    pair(pdf, "事故经过", view.description)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]


def _parties(pdf: FPDF, view: DeterminationView) -> None:
    heading(pdf, "当事人信息")
    if not view.parties:
        paragraph(pdf, DASH)
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
        with pdf.table(col_widths=widths, width=pdf.epw, **table_style(pdf)) as table:
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
    heading(pdf, view.kind.liability_heading)
    if not view.parties:
        paragraph(pdf, DASH)
    for i, party in enumerate(view.parties, start=1):
        ensure_space(pdf, 12)
        pdf.set_text_color(*INK)
        paragraph(pdf, f"{i}. {party.determination}", size=11, height=6.5)
        if party.fault:
            pdf.set_text_color(*MUTED)
            paragraph(pdf, f"过错行为：{party.fault}", size=9, height=5, indent=5)
            pdf.set_text_color(*INK)


def _legal_basis(pdf: FPDF, view: DeterminationView) -> None:
    heading(pdf, "法律依据")
    for line in view.legal_basis or (DASH,):
        paragraph(pdf, line, size=9.5, height=5.4)


def _evidence(pdf: FPDF, view: DeterminationView) -> None:
    heading(pdf, "证据清单")
    if not view.evidence:
        paragraph(pdf, "无")
        return
    hash_style = FontFace(family=MONO, size_pt=7)
    pdf.set_draw_color(*RULE)
    pdf.set_font(CJK, size=8.5)
    pdf.set_text_color(*INK)
    # The hash column holds 32 Courier characters at 7 pt: each hash prints as two aligned
    # halves, easy to compare by eye against a recomputed value.
    widths = (10.0, 20.0, 50.0, 32.0, pdf.epw - 112.0)
    with pdf.table(col_widths=widths, width=pdf.epw, **table_style(pdf)) as table:
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
            if sha and is_latin1(sha):
                row.cell(_split_hash(sha), style=hash_style)
            else:
                row.cell(sha or DASH)


def _split_hash(value: str) -> str:
    half = (len(value) + 1) // 2
    return f"{value[:half]}\n{value[half:]}" if len(value) > 36 else value


def _signature(pdf: FPDF, view: DeterminationView) -> None:
    ensure_space(pdf, 30)
    pdf.ln(6)
    y = pdf.get_y()
    pdf.set_font(CJK, size=10)
    pdf.set_text_color(*INK)
    officer = view.officer_name or DASH
    if view.officer_badge:
        officer += f"（警号 {view.officer_badge}）"
    signed = f"{view.kind.officer_label}：{officer}"
    pdf.cell(pdf.epw / 2, 6, signed, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
    heading(pdf, view.kind.notice_heading)
    pdf.set_fill_color(*BAND)
    pdf.set_font(CJK, size=9.5)
    pdf.multi_cell(
        0,
        5.4,
        wrapped(pdf, view.review_notice, pdf.epw - 6),
        align=Align.L,
        fill=True,
        padding=(2, 3),
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _verification(pdf: FPDF, view: DeterminationView) -> None:
    # The heading, code, QR and URL stay together on one page.
    ensure_space(pdf, QR_SIZE + 34)
    heading(pdf, "真伪核验")
    top = pdf.get_y() + 1
    if view.verify_url:
        draw_qr(pdf, view.verify_url, MARGIN, top, QR_SIZE)
        if view.verify_href:
            pdf.link(MARGIN, top, QR_SIZE, QR_SIZE, view.verify_href)
    text_x = MARGIN + (QR_SIZE + 6 if view.verify_url else 0)
    pdf.set_xy(text_x, top + 3)
    pdf.set_font(CJK, size=10)
    pdf.set_text_color(*MUTED)
    pdf.cell(16, 8, "验证码：")
    code = view.verification_code or DASH
    pdf.set_font(font_for(code, MONO), style="B" if is_latin1(code) else "", size=15)
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
        wrapped(
            pdf,
            f"使用手机扫描左侧二维码，或访问下方地址，可核对本{view.kind.noun}的编号、版本、"
            f"签发机关和是否为现行版本。电子{view.kind.noun}无需当事人签名。",
            pdf.w - MARGIN - text_x,
        ),
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_y(max(pdf.get_y(), top + QR_SIZE) + 1)
    if view.verify_url:
        pdf.set_font(font_for(view.verify_url, MONO), size=8)
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


# In page order; render_pdf draws them one after the other on the flowing page.
SECTIONS: Final[Sequence[Callable[[FPDF, DeterminationView], None]]] = (
    _title,
    _facts,
    _parties,
    _determination,
    _legal_basis,
    _evidence,
    _signature,
    _review_notice,
    _verification,
)
