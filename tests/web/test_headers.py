"""Security headers on every answer of the real server (issue 10, Low): a strict
Content-Security-Policy on the pages, nothing may frame them, no type is guessed, no address
leaves in a Referer. That the pages still work under the policy is the browser tests' part
(any CSP violation is a console error, which fails them)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from kuaichu.documents import render_verify_page
from kuaichu.web.headers import content_security_policy, inline_style_hashes

PAGES = ["/", "/login", "/driver", "/verify", "/no-such-page"]
OTHERS = ["/api/config", "/static/app.css", "/api/keys/evidence.pem", "/api/cases"]


async def test_every_answer_has_the_headers_and_pages_the_policy(live_server: Any) -> None:
    async with aiohttp.ClientSession() as http:
        for path in PAGES + OTHERS:
            async with http.get(live_server.url + path, allow_redirects=False) as r:
                assert r.headers["X-Content-Type-Options"] == "nosniff", path
                assert r.headers["X-Frame-Options"] == "DENY", path
                assert r.headers["Referrer-Policy"] == "no-referrer", path
                if r.content_type == "text/html":
                    csp = r.headers["Content-Security-Policy"]
                    assert "frame-ancestors 'none'" in csp, path
                    assert "script-src 'self';" in csp and "unsafe" not in csp, path
                else:
                    assert "Content-Security-Policy" not in r.headers, path
        # The pages carry no inline code a strict policy would block.
        for path in PAGES[:3]:
            async with http.get(live_server.url + path) as r:
                html = await r.text()
            scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
            for attrs, body in scripts:
                assert 'type="application/json"' in attrs or not body.strip(), (path, attrs)
            assert not re.search(r"\son[a-z]+\s*=", html), path
            assert "style=" not in html and "<style" not in html, path


def test_the_documents_inline_styles_are_allowed_by_their_hash() -> None:
    page = render_verify_page({})
    hashes = inline_style_hashes([page])
    assert hashes
    policy = content_security_policy("127.0.0.1:8080")
    style_src = next(d for d in policy.split("; ") if d.startswith("style-src"))
    assert all(h in style_src for h in hashes)
    assert "'unsafe-inline'" not in style_src


def test_only_a_page_our_pages_frame_may_be_framed_and_only_by_them() -> None:
    assert "frame-ancestors 'none'" in content_security_policy("h")
    assert "frame-ancestors 'self'" in content_security_policy("h", framed_by_own_pages=True)
