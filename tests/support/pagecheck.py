"""The rule that fails a browser test whose page went wrong (tests/browser/conftest.py)."""

from __future__ import annotations

import re


def page_problems(entries: list[tuple[str, str, str]], expected: list[str]) -> list[str]:
    """The console entries ``(page, kind, text)`` that fail a test: uncaught exceptions
    (``pageerror``), and console errors other than those the test said it provokes
    (``expected``: regular expressions)."""
    return [
        f"[{page} {kind}] {text}"
        for page, kind, text in entries
        if kind == "pageerror"
        or (kind == "error" and not any(re.search(p, text) for p in expected))
    ]
