"""Line breaking for Chinese text in the PDF.

Chinese breaks between any two characters, but not everywhere: a line must not start with
closing punctuation (，。、；：？！）》” …) nor end with opening punctuation (（《“ …) — the
rule of 禁则 (line-start/line-end prohibitions) every Chinese typesetter follows. A run of
Latin letters and digits (a plate, a policy number, a URL) stays on one line when it fits.

Pure: the caller supplies the width function (the PDF's current font metrics).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

NO_LINE_START: Final = frozenset("，。、；：？！）」』】》〉〕”’…‥·%,.;:?!)]}>~—-～・")
NO_LINE_END: Final = frozenset("（「『【《〈〔“‘([{<")

# Unbreakable units: runs of ASCII word characters (with the joiners plates and numbers
# use), runs of spaces, or any single other character.
_TOKEN: Final = re.compile(r"[A-Za-z0-9_@#&*+=/\\.:\-·]+| +|.", re.DOTALL)


def wrap_lines(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """``text`` as lines no wider than ``width`` (by ``measure``), paragraphs kept."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, width, measure))
    return lines


def _wrap_paragraph(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    if not text:
        return [""]
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        # A word longer than a whole line has to break somewhere: by character.
        if len(token) > 1 and measure(token) > width:
            tokens.extend(token)
        else:
            tokens.append(token)
    widths = [measure(t) for t in tokens]

    lines: list[str] = []
    start = 0
    while start < len(tokens):
        end, used = start, 0.0
        while end < len(tokens) and (used + widths[end] <= width or end == start):
            used += widths[end]
            end += 1
        if end < len(tokens):
            end = _adjust_break(tokens, start, end)
        line = "".join(tokens[start:end])
        lines.append(line.rstrip(" ") if end < len(tokens) else line)
        start = end
        while start < len(tokens) and tokens[start].isspace():
            start += 1  # a space at a break is consumed by the break
    return lines


def _adjust_break(tokens: list[str], start: int, end: int) -> int:
    """Move the break left (pulling characters down to the next line) until the next line
    does not start with closing punctuation and this one does not end with opening
    punctuation; give up rather than leave a line empty."""
    cut = end
    while cut - 1 > start and (
        tokens[cut][:1] in NO_LINE_START or tokens[cut - 1][-1:] in NO_LINE_END
    ):
        cut -= 1
    return cut if cut > start else end
