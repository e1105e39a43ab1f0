"""Which font the PDF embeds, and the error an operator sees when there is none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kuaichu.documents import (
    DEFAULT_CJK_FONTS,
    CjkFontNotFound,
    FontCandidate,
    find_cjk_font,
    render_pdf,
)
from kuaichu.documents.fonts import choose_face
from kuaichu.errors import KuaichuError

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def test_default_search_finds_the_installed_font() -> None:
    found = find_cjk_font()
    assert found in [c.path for c in DEFAULT_CJK_FONTS]
    assert found.is_file()


def test_no_font_anywhere_names_the_package_to_install(tmp_path: Path) -> None:
    missing = [FontCandidate(tmp_path / "a.ttc", "fonts-a"), tmp_path / "b.ttf"]
    with pytest.raises(CjkFontNotFound) as info:
        find_cjk_font(candidates=missing)
    err = info.value
    assert isinstance(err, KuaichuError)
    assert err.code == "cjk_font_not_found"
    assert "apt-get install fonts-wqy-microhei" in err.message
    assert err.detail["searched"] == [str(tmp_path / "a.ttc"), str(tmp_path / "b.ttf")]
    assert err.as_dict()["detail"]["package"] == "fonts-wqy-microhei"


def test_a_configured_font_that_is_missing_is_an_error_not_a_silent_fallback(
    tmp_path: Path, typical_content: dict[str, Any]
) -> None:
    configured = tmp_path / "fonts" / "SourceHanSans.otf"
    with pytest.raises(CjkFontNotFound, match=r"SourceHanSans\.otf"):
        find_cjk_font(configured)
    with pytest.raises(CjkFontNotFound):
        render_pdf(typical_content, font=configured)


def test_a_configured_font_is_used(
    tmp_path: Path, tools: Any, typical_content: dict[str, Any]
) -> None:
    # The Mono face is the second of the collection: a copy under another name is still
    # read by its face names, and the proportional face is chosen.
    copy = tmp_path / "my-font.ttc"
    copy.write_bytes(WQY.read_bytes())
    assert find_cjk_font(str(copy)) == copy
    assert choose_face(copy) == 0
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(render_pdf(typical_content, font=copy))
    assert "WenQuanYiMicroHei " in tools.fonts(pdf) + " "
    assert "张伟" in tools.text(pdf)


def test_an_unreadable_collection_falls_back_to_the_first_face(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttc"
    broken.write_bytes(b"not a font")
    assert choose_face(broken) == 0
