"""Which strings a page's scripts use, so a page embeds those and not the whole dictionary.

The driver's phone page should not download the console's and the case panel's words. A page's
key set is read from its JS module and everything that module imports (relative ``import …
from "./x.js"`` or a bare ``import "./x.js"``), once per process:

- ``t.name`` (also ``this.t.name``) and any string literal that is a key (``t[key]`` with
  ``key = cond ? "a" : "b"``) name one key;
- a literal ending in ``_`` followed by ``+`` (``t["err_" + code]``) names every key with
  that prefix, since the rest comes from the server (an error code, a state, a kind).

A test checks that every key looked up this way exists in both languages.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kuaichu.officer_ui.i18n import STRINGS, strings

STATIC_DIR: Final = Path(__file__).parent / "static"

# ``import … from "./x.js"`` and the bare ``import "./x.js"`` (a module run for its listeners).
_IMPORT: Final = re.compile(r"""\bimport\b(?:[^;'"]*?\bfrom)?\s*["'](\.{1,2}/[^"']+\.js)["']""")
_DOT: Final = re.compile(r"\bt\.([a-z][a-z0-9_]*)\b")
_LITERAL: Final = re.compile(r"""["']([a-z][a-z0-9_]*)["']""")
_PREFIX: Final = re.compile(r"""["']([a-z][a-z0-9_]*_)["']\s*\+""")


@dataclass(frozen=True)
class Lookups:
    """What some JS modules look up: exact keys and key prefixes."""

    dotted: frozenset[str]  # t.name: must exist
    literals: frozenset[str]  # string literals (only those that are keys count)
    prefixes: frozenset[str]  # "err_" + …

    def keys(self, known: Iterable[str]) -> frozenset[str]:
        """The known keys these lookups reach."""
        return frozenset(
            key
            for key in known
            if key in self.dotted or key in self.literals or key.startswith(tuple(self.prefixes))
        )


def module_graph(entry: str) -> tuple[Path, ...]:
    """``entry`` (a path under ``static/``) and every module it imports, transitively."""
    seen: dict[Path, None] = {}
    todo = [(STATIC_DIR / entry).resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        text = path.read_text(encoding="utf-8")
        todo.extend((path.parent / m).resolve() for m in _IMPORT.findall(text))
    return tuple(seen)


@functools.cache
def lookups(entry: str) -> Lookups:
    """The lookups of ``entry`` and its imports."""
    dotted: set[str] = set()
    literals: set[str] = set()
    prefixes: set[str] = set()
    for path in module_graph(entry):
        text = path.read_text(encoding="utf-8")
        dotted.update(_DOT.findall(text))
        literals.update(_LITERAL.findall(text))
        prefixes.update(_PREFIX.findall(text))
    return Lookups(frozenset(dotted), frozenset(literals), frozenset(prefixes))


@functools.cache
def _keys(entry: str) -> frozenset[str]:
    known = set().union(*STRINGS.values())
    return lookups(entry).keys(known)


def page_strings(lang: str, entry: str | None) -> dict[str, str]:
    """The strings of ``lang`` that the page script ``entry`` uses (none without a script)."""
    if entry is None:
        return {}
    wanted = _keys(entry)
    return {key: text for key, text in strings(lang).items() if key in wanted}
