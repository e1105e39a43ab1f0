"""The PDF as a person sees it: rendered to pictures by poppler, read back by pdftotext,
its QR code scanned by zbar."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

from kuaichu.documents import render_pdf

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_typical_document_reads_back_in_chinese(
    tmp_path: Path, tools: Any, typical_content: dict[str, Any]
) -> None:
    pdf = write(tmp_path, render_pdf(typical_content))
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = tools.flat(pdf)
    for expected in (
        "道路交通事故认定书（简易程序）",
        "电子版",
        typical_content["number"],
        "张伟",
        "王芳",
        "全部责任",
        "无责任",
        "承担全部责任",
        "未与前车保持安全距离",
        "京A·12345",
        "北京市朝阳区建国路88号附近",
        "2026年11月22日09时58分",
        "《中华人民共和国道路交通安全法》第四十三条",
        "李警官",
        "010123",
        "某市公安局交通警察支队",
        "书面申请复核",
        "7KQ2MX9D",
        "第1版",
    ):
        assert "".join(expected.split()) in text, expected
    # The CJK font travels inside the file as a subset with a Unicode map: it prints and
    # searches the same on a machine without Chinese fonts.
    fonts = tools.fonts(pdf)
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line or "CJK" in line]
    assert cjk, fonts
    assert all(line.split()[-5:-2] == ["yes", "yes", "yes"] for line in cjk), fonts
    pages = tools.to_png(pdf, tmp_path / "png")
    assert len(pages) == tools.pages(pdf)
    assert all(tools.ink(p) > 0.005 for p in pages)
    assert "595.28 x 841.89 pts (A4)" in tools.run("pdfinfo", pdf)


def test_long_document_spans_pages_with_numbers(
    tmp_path: Path, tools: Any, long_content: dict[str, Any]
) -> None:
    pdf = write(tmp_path, render_pdf(long_content))
    n = tools.pages(pdf)
    assert n >= 3
    for page in range(1, n + 1):
        footer = tools.flat(pdf, page)
        assert f"第{page}页/共{n}页" in footer
        assert long_content["number"] in footer  # every printed page names its document
    footer = re.escape(long_content["number"]) + r"验证码\w+第\d+页/共\d+页"
    text = re.sub(footer, "", tools.flat(pdf))
    # Nothing of the 2,000 characters is lost at the page breaks.
    assert "".join(long_content["accident"]["description"].split()) in text
    for item in long_content["evidence"]:
        assert item["name"] in text
        # Full hashes, printed as two halves.
        assert item["sha256"][:32] in text and item["sha256"][32:] in text
    pngs = tools.to_png(pdf, tmp_path / "png")
    assert len(pngs) == n
    assert all(tools.ink(p) > 0.005 for p in pngs)


def test_chinese_lines_never_start_with_closing_punctuation(
    tmp_path: Path, tools: Any, long_content: dict[str, Any]
) -> None:
    pdf = write(tmp_path, render_pdf(long_content))
    lines = [ln.strip() for ln in tools.run("pdftotext", pdf, "-").splitlines()]
    offenders = [ln for ln in lines if ln[:1] in set("，。、；：？！）》”")]
    assert not offenders, offenders[:3]


def test_qr_code_scans_to_the_verify_url(
    tmp_path: Path, tools: Any, typical_content: dict[str, Any]
) -> None:
    pdf = write(tmp_path, render_pdf(typical_content))
    last = tools.pages(pdf)
    png = tools.to_png(pdf, tmp_path / "png", dpi=150, first=last)
    assert tools.decode_qr(png[0]) == [typical_content["verify_url"]]
    # And the URL is printed for whoever cannot scan.
    assert typical_content["verify_url"] in tools.flat(pdf)


def test_superseded_version_says_so_on_every_page(
    tmp_path: Path, tools: Any, long_content: dict[str, Any]
) -> None:
    pdf = write(tmp_path, render_pdf(long_content, superseded_by=2))
    for page in range(1, tools.pages(pdf) + 1):
        assert "已被第2版取代" in tools.flat(pdf, page)


def test_version_line_names_the_replaced_version(
    tmp_path: Path, tools: Any, typical_content: dict[str, Any]
) -> None:
    content = copy.deepcopy(typical_content)
    content["version"] = 2
    content["supersedes"] = {"number": content["number"], "version": 1}
    text = tools.flat(write(tmp_path, render_pdf(content)))
    assert "第2版，取代第1版" in text
    assert "已被" not in text


def test_same_content_gives_the_same_bytes(typical_content: dict[str, Any]) -> None:
    # The lead stores the PDF's SHA-256 for the verify page: re-rendering must not change it.
    assert render_pdf(typical_content) == render_pdf(copy.deepcopy(typical_content))


def test_many_parties_and_sparse_content_still_render(tmp_path: Path, tools: Any) -> None:
    names = ["赵一", "钱二", "孙三", "李四", "周五"]
    liabilities = ["major", "minor", "minor", "none", "none"]
    content: dict[str, Any] = {
        "number": "测试[2026]第1号",
        "verify_url": "https://kuaichu.example/verify?n=测试&c=ABC",  # raw Chinese in a URL
        "parties": [
            {"key": k, "name": n, "liability": lia}
            for k, n, lia in zip("ABCDE", names, liabilities, strict=True)
        ],
        "evidence": [{"name": "x.jpg"}],
        "accident": None,
    }
    pdf = write(tmp_path, render_pdf(content))
    text = tools.flat(pdf)
    for name in names:
        assert name in text
    assert "赵一承担主要责任" in text
    assert "李四无责任" in text
    png = tools.to_png(pdf, tmp_path / "png", dpi=150, first=tools.pages(pdf))
    assert tools.decode_qr(png[0]) == ["https://kuaichu.example/verify?n=%E6%B5%8B%E8%AF%95&c=ABC"]
    assert render_pdf({}).startswith(b"%PDF-")


def test_sample_page_for_the_readme(
    tmp_path: Path, tools: Any, typical_content: dict[str, Any]
) -> None:
    """With KUAICHU_SCREENSHOTS=1 the first page goes to docs/determination-sample.png."""
    pdf = write(tmp_path, render_pdf(typical_content))
    png = tools.to_png(pdf, tmp_path / "png", dpi=100, first=1)[0]
    assert tools.ink(png) > 0.005
    # Page 1 carries a small code beside the title: a photo of that page alone verifies.
    assert tools.decode_qr(png) == [typical_content["verify_url"]]
    if os.environ.get("KUAICHU_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "determination-sample.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png.read_bytes())


def test_a_long_number_wraps_in_the_title_and_is_cut_in_the_footer(
    tmp_path: Path, tools: Any, typical_content: dict[str, Any]
) -> None:
    content = copy.deepcopy(typical_content)
    content["number"] = (
        "某某省某某市公安局交通警察支队道路交通事故认定书[2026]第" + "1234567890" * 5 + "号"
    )
    pdf = write(tmp_path, render_pdf(content))
    # Whole in the title (the small QR beside it does not cut into it).
    title = tools.flat(pdf, 1).split("第1版")[0]
    assert content["number"] in title.replace("扫码核验", "")
    footer = tools.text(pdf, 1).strip().splitlines()[-1]
    assert "…" in footer and "第1页/共" in "".join(footer.split())
