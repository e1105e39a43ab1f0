"""Chinese line breaking rules, with one unit of width per character."""

from __future__ import annotations

from kuaichu.documents.linebreak import NO_LINE_END, NO_LINE_START, wrap_lines


def width(s: str) -> float:
    return float(len(s))


def test_no_line_starts_with_closing_or_ends_with_opening_punctuation() -> None:
    text = "甲车未与前车保持安全距离，追尾。乙车（停车等候）无过错。" * 12
    for w in range(5, 20):
        lines = wrap_lines(text, w, width)
        assert "".join(lines) == text
        for line in lines:
            assert len(line) <= w
        for line in lines[1:]:
            assert line[0] not in NO_LINE_START, (w, line)
        for line in lines[:-1]:
            assert line[-1] not in NO_LINE_END, (w, line)


def test_latin_runs_stay_whole_when_they_fit() -> None:
    lines = wrap_lines("号牌京A·12345与保单PDZA2026000123追尾", 12, width)
    assert "PDZA2026000123"[:12] not in lines[0] or "PDZA2026000123" in "".join(lines)
    assert any("A·12345" in line for line in lines)
    assert all(len(line) <= 12 for line in lines)


def test_a_run_longer_than_the_line_breaks_by_character() -> None:
    digest = "ab" * 32
    lines = wrap_lines(digest, 20, width)
    assert lines == [digest[i : i + 20] for i in range(0, 64, 20)]


def test_paragraphs_and_spaces() -> None:
    assert wrap_lines("第一段\n\n第二段", 10, width) == ["第一段", "", "第二段"]
    assert wrap_lines("alpha beta gamma", 11, width) == ["alpha beta", "gamma"]
