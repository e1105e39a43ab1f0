"""The self-contained documents under the Content-Security-Policy, in Chromium: the
determination and the verify page keep their inline styles (allowed by hash), and a style
that is not theirs is refused, which the page check sees as a console error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kuaichu.documents import render_html, render_verify_page
from kuaichu.web.headers import setup_security_headers
from tests.documents.conftest import typical

NewPage = Callable[..., Awaitable[Any]]


@pytest.fixture
async def documents() -> AsyncIterator[str]:
    """The two documents and an intruder, served with the server's security headers."""
    pages = {
        "/determination": render_html(typical()),
        "/verify": render_verify_page({}),
        "/intruder": "<!doctype html><style>body { color: red }</style><p>x</p>",
    }

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=pages[request.path], content_type="text/html")

    async def no_icon(_request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    for path in pages:
        app.router.add_get(path, page)
    app.router.add_get("/favicon.ico", no_icon)
    setup_security_headers(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def computed_colour(page: Any, selector: str) -> str:
    return str(await page.eval_on_selector(selector, "e => getComputedStyle(e).color"))


async def test_the_documents_keep_their_styles(documents: str, new_page: NewPage) -> None:
    page = await new_page()
    for path in ("/determination", "/verify"):
        await page.goto(documents + path)
        # The inline style applied (a refused one has no sheet, and is a console error).
        sheets = await page.evaluate("document.styleSheets.length")
        rules = await page.evaluate("document.styleSheets[0].cssRules.length")
        assert sheets >= 1 and rules > 5, path


@pytest.mark.parametrize("expected_console_errors", [["Content Security Policy"]])
async def test_a_style_that_is_not_ours_is_refused(
    documents: str, new_page: NewPage, expected_console_errors: list[str]
) -> None:
    page = await new_page()
    await page.goto(documents + "/intruder")
    assert await computed_colour(page, "p") != "rgb(255, 0, 0)"
    # The intruder is this test's page, not one of ours: not for axe (new_page's teardown).
    await page.close()
