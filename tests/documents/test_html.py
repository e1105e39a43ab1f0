"""The determination page: what it contains, that user text cannot inject markup, and how it
looks on a phone in Chromium (its QR code scanned off the screenshot)."""

from __future__ import annotations

import copy
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from kuaichu.documents import qr_svg, render_html
from kuaichu.documents.qr import ascii_url


class Collect(HTMLParser):
    """Tags and attributes, and the visible text, as a browser parses them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Collect:
    c = Collect()
    c.feed(page)
    return c


def test_page_shows_the_determination(typical_content: dict[str, Any]) -> None:
    page = render_html(typical_content)
    assert page.startswith("<!doctype html>")
    doc = parse(page)
    text = "".join("".join(doc.text).split())
    for expected in (
        "道路交通事故认定书",
        "简易程序",
        "电子版",
        typical_content["number"],
        "张伟",
        "王芳",
        "张伟承担全部责任",
        "王芳无责任",
        "138****5678",
        "京A·12345",
        "PDZA202611000001234567",
        "第1版",
        "李警官",
        "某市公安局交通警察支队",
        "7KQ2MX9D",
        typical_content["verify_url"],
    ):
        assert expected in text, expected
    assert ("html", {"lang": "zh-CN"}) in doc.tags


def test_self_contained_and_no_scripts(typical_content: dict[str, Any]) -> None:
    doc = parse(render_html(typical_content))
    tags = {t for t, _ in doc.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert "style" in tags and "svg" in tags
    links = [a.get("href") for t, a in doc.tags if t == "a"]
    assert links == [typical_content["verify_url"]]


def test_user_text_is_escaped(typical_content: dict[str, Any]) -> None:
    content = copy.deepcopy(typical_content)
    content["accident"]["description"] = '<script>alert("x")</script><img src=x onerror=1>'
    content["parties"][0]["name"] = "<b>张伟</b>"
    content["number"] = "京[2026]<i>1</i>号&"
    page = render_html(content)
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "京[2026]&lt;i&gt;1&lt;/i&gt;号&amp;" in page
    # The text still reads as typed.
    assert '<script>alert("x")</script>' in "".join(parse(page).text)


def test_only_web_urls_are_linked(typical_content: dict[str, Any]) -> None:
    content = copy.deepcopy(typical_content)
    content["verify_url"] = "javascript:alert(1)"
    doc = parse(render_html(content))
    assert not [a for t, a in doc.tags if t == "a"]


def test_qr_is_the_verify_url(typical_content: dict[str, Any]) -> None:
    page = render_html(typical_content)
    assert qr_svg(typical_content["verify_url"]) in page


def test_hashes_are_short_with_the_full_value_at_hand(typical_content: dict[str, Any]) -> None:
    page = render_html(typical_content)
    full = typical_content["evidence"][0]["sha256"]
    assert f'title="{full}"' in page
    assert f"{full[:12]}…{full[-6:]}" in page


def test_versions_and_superseded_banner(typical_content: dict[str, Any]) -> None:
    content = copy.deepcopy(typical_content)
    content["version"] = 2
    content["supersedes"] = {"number": "京公交认字[2026]第KC0000999号", "version": 1}
    current = "".join(parse(render_html(content)).text)
    assert "第2版，取代第1版（京公交认字[2026]第KC0000999号）" in current
    assert "已被" not in current
    old = "".join(parse(render_html(content, superseded_by=3)).text)
    assert "本认定书已被第3版取代" in old


def test_sparse_content_renders() -> None:
    page = render_html({"number": "X-1", "parties": [{"key": "A", "liability": "equal"}]})
    assert "当事人A 承担同等责任" in page
    assert render_html({}).startswith("<!doctype html>")


@pytest.mark.browser
async def test_phone_screen_fits_and_its_qr_scans(
    tmp_path: Path, tools: Any, typical_content: dict[str, Any]
) -> None:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Chromium is missing: install it with `apt-get install chromium`")
    html = tmp_path / "determination.html"
    html.write_text(render_html(typical_content), encoding="utf-8")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, args=["--headless=new", "--no-sandbox", "--disable-gpu"]
        )
        try:
            ctx = await browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
            )
            page = await ctx.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            await page.goto(html.as_uri())
            # Nothing wider than the phone: long numbers, URLs and tables wrap or scroll inside.
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            assert requests == [html.as_uri()]  # self-contained
            qr = page.locator(".verify .qr")
            await qr.scroll_into_view_if_needed()
            shot = tmp_path / "qr.png"
            await qr.screenshot(path=str(shot))
            assert tools.decode_qr(shot) == [ascii_url(typical_content["verify_url"])]
            # And it prints: Chromium's own print to PDF keeps the Chinese text.
            printed = tmp_path / "printed.pdf"
            await page.emulate_media(media="print")
            await page.pdf(path=str(printed), format="A4")
            text = tools.flat(printed)
            assert typical_content["number"] in text and "张伟承担全部责任" in text
            # The full hash is printed (the screen shows it shortened).
            assert typical_content["evidence"][0]["sha256"][:40] in text
        finally:
            await browser.close()
