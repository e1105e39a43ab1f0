"""User-visible strings of the pages, in Chinese (the default) and English.

The words are data: ``locales/zh-CN.json`` and ``locales/en.json``, flat objects with the same
keys and ``{name}`` placeholders, loaded once at import. Templates get the chosen language's
dict as ``t``; each page's JS gets the part of it that its modules look up
(:mod:`kuaichu.officer_ui.page_strings`), so there is one source for every word a user reads.
The evidence kinds' labels come from their single source, :mod:`kuaichu.evidence.kinds`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from aiohttp import web

from kuaichu.evidence.kinds import labels as kind_labels

DEFAULT_LANG: Final = "zh-CN"
LANGS: Final = ("zh-CN", "en")
LANG_COOKIE: Final = "lang"
LOCALES_DIR: Final = Path(__file__).parent / "locales"


def _load(lang: str) -> dict[str, str]:
    with (LOCALES_DIR / f"{lang}.json").open(encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(f"{lang}.json must be a flat object of strings")
    strings: dict[str, str] = raw
    # The evidence kinds' labels live in their one table, with the kinds themselves.
    return {**strings, **{f"evi_kind_{kind}": label for kind, label in kind_labels(lang).items()}}


STRINGS: Final[dict[str, dict[str, str]]] = {lang: _load(lang) for lang in LANGS}

_ALIASES: Final[dict[str, str]] = {"zh": "zh-CN", "zh-cn": "zh-CN", "en": "en", "en-us": "en"}


def normalize(lang: str | None) -> str | None:
    """Map a requested language tag to a supported one, or None if unsupported."""
    if not lang:
        return None
    return _ALIASES.get(lang.strip().lower())


def choose_lang(request: web.Request) -> str:
    """``?lang=`` wins, then the ``lang`` cookie, then Chinese."""
    return (
        normalize(request.query.get("lang"))
        or normalize(request.cookies.get(LANG_COOKIE))
        or DEFAULT_LANG
    )


def strings(lang: str) -> dict[str, str]:
    """Every string of ``lang`` (Chinese for an unknown language)."""
    return STRINGS.get(lang, STRINGS[DEFAULT_LANG])
