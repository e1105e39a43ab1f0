"""The public authenticity page: says whether a document is genuine and current, and never
shows personal data whatever the lookup hands it."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from kuaichu.documents import render_verify_page

NUMBER = "京公交认字[2026]第KC0001234号"
SHA = "9f" * 32


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> tuple[str, list[tuple[str, dict[str, str | None]]]]:
    c = Collect()
    c.feed(page)
    return "".join("".join(c.text).split()), c.tags


def found(**over: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "found": True,
        "number": NUMBER,
        "version": 1,
        "issued_at": "2026-11-22T10:31:05+08:00",
        "authority": "某市公安局交通警察支队",
        "status": "current",
        "superseded_by_version": None,
        "sha256": SHA,
    }
    result.update(over)
    return result


def form_of(tags: list[tuple[str, dict[str, str | None]]]) -> dict[str, Any]:
    forms = [a for t, a in tags if t == "form"]
    assert len(forms) == 1
    inputs = {a["name"]: a for t, a in tags if t == "input"}
    return {"form": forms[0], "inputs": inputs}


def test_nothing_asked_shows_the_form() -> None:
    for result in (None, {}):
        text, tags = parse(render_verify_page(result))
        form = form_of(tags)
        assert form["form"]["method"] == "get" and form["form"]["action"] == "/verify"
        assert set(form["inputs"]) == {"n", "c"}
        assert "核验通过" not in text and "未找到" not in text


def test_current_document() -> None:
    text, tags = parse(render_verify_page(found()))
    assert "核验通过" in text and "现行有效" in text
    for expected in (NUMBER, "第1版", "2026年11月22日10时31分", "某市公安局交通警察支队", SHA):
        assert expected in text
    assert form_of(tags)["inputs"]["n"].get("value") == ""


def test_superseded_document_points_to_the_new_version() -> None:
    text, _ = parse(render_verify_page(found(status="superseded", superseded_by_version=2)))
    assert "已被第2版取代" in text
    assert "现行有效" not in text


def test_no_personal_data_even_if_the_lookup_passes_it() -> None:
    leaky = found(
        name="张伟",
        phone="13812345678",
        plate="京A·12345",
        parties=[{"name": "王芳", "plate": "京N·D12345"}],
        content={"parties": [{"name": "张伟"}]},
        verification_code="7KQ2MX9D",
    )
    page = render_verify_page(leaky)
    for secret in ("张伟", "王芳", "13812345678", "138", "京A", "12345", "京N", "7KQ2MX9D"):
        assert secret not in page.replace(NUMBER, ""), secret


def test_not_found_keeps_the_number_for_correction_and_escapes_it() -> None:
    asked = '京公交认字[2026]第X号"><script>'
    page = render_verify_page({"found": False, "number": asked})
    text, tags = parse(page)
    assert "未找到相符的认定书" in text
    assert "<script>" not in page
    assert form_of(tags)["inputs"]["n"]["value"] == asked
