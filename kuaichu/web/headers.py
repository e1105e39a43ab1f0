"""Security headers on every answer: what a browser may load into our pages, that nothing may
frame them, that no type is guessed, and that no address (a progress link carries its token)
leaves in a ``Referer``.

Set on ``on_response_prepare``, so every response has them: handlers', static files, the
aiohttp error pages and socket.io's. The Content-Security-Policy goes on HTML only; the other
headers on everything.

The pages load only same-origin scripts (ES modules and the vendored socket.io client) and
embed their data as ``<script type="application/json">``, which a CSP does not run: no inline
code needs allowing. The determination and verify pages are self-contained documents with one
inline ``<style>`` each (documents/render.py); those exact blocks are allowed by their hashes,
so no other inline style is.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from functools import cache
from typing import Final

from aiohttp import web

from ..documents.render import TEMPLATES

_STYLE_BLOCK: Final = re.compile(r"<style>(.*?)</style>", re.S)

# Headers every answer carries.
COMMON: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

# What a response that our own pages frame (the determination inside the progress page)
# adds to its headers; no other site may frame it either.
FRAMED_BY_OWN_PAGES: Final = {"X-Frame-Options": "SAMEORIGIN"}


def style_hash(css: str) -> str:
    """The CSP source that allows exactly this inline ``<style>`` content."""
    digest = hashlib.sha256(css.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def inline_style_hashes(html: Iterable[str]) -> list[str]:
    """The hashes of every ``<style>`` block in these page sources."""
    return sorted({style_hash(css) for text in html for css in _STYLE_BLOCK.findall(text)})


@cache
def _document_styles() -> str:
    # The blocks hold no template code, so the source is what the page serves.
    sources = (path.read_text(encoding="utf-8") for path in sorted(TEMPLATES.glob("*.html")))
    return " ".join(inline_style_hashes(sources))


def content_security_policy(host: str, framed_by_own_pages: bool = False) -> str:
    """The policy of our HTML pages. ``connect-src`` names the page's own host for the
    socket.io WebSocket, which older browsers do not count as ``'self'``; only a page marked
    :data:`FRAMED_BY_OWN_PAGES` may be framed, and only by our own."""
    sockets = f" ws://{host} wss://{host}" if host else ""
    ancestors = "'self'" if framed_by_own_pages else "'none'"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            f"style-src 'self' {_document_styles()}".rstrip(),
            "img-src 'self' data:",
            "media-src 'self' blob:",
            f"connect-src 'self'{sockets}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        )
    )


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in COMMON.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        host = re.sub(r"[^A-Za-z0-9.:\[\]-]", "", request.host)
        framed = response.headers["X-Frame-Options"] == FRAMED_BY_OWN_PAGES["X-Frame-Options"]
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(host, framed)
        )


def setup_security_headers(app: web.Application) -> None:
    """Send the security headers with every response of ``app``."""
    app.on_response_prepare.append(_add_headers)
