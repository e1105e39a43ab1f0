"""A TURN test building and removing its network namespaces (tests/support/netns.py) while
another test's page is loading: the page must not notice. An address added to the host's own
interfaces is a network change to Chromium, which aborts its requests in flight
(``net::ERR_NETWORK_CHANGED``); other workers' page tests failed that way."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Page

from tests.support.netns import turn_network

pytestmark = pytest.mark.browser

# Eight requests always on their way, each on a new connection (as a page's first load).
LOOP = """async () => {
  window.kcFailures = [];
  window.kcDone = 0;
  window.kcStop = false;
  window.kcActive = 8;
  const one = async () => {
    while (!window.kcStop) {
      try {
        const res = await fetch("/slow?" + Math.random(), { cache: "no-store" });
        await res.text();
        window.kcDone += 1;
      } catch (err) {
        window.kcFailures.push(String(err));
      }
    }
    window.kcActive -= 1;
  };
  for (let i = 0; i < 8; i++) one();
}"""


async def test_a_page_loading_while_a_test_network_comes_and_goes(
    new_page: Any, tmp_path: Path
) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)  # always a request in flight
        response = web.Response(text="ok")
        response.force_close()  # and a new connection for each, as a page's first load
        return response

    async def index(_request: web.Request) -> web.Response:
        return web.Response(
            text='<!doctype html><html lang="en"><title>probe</title><main><h1>probe</h1></main>',
            content_type="text/html",
        )

    async def favicon(_request: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="image/x-icon")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/slow", slow)
    app.router.add_get("/favicon.ico", favicon)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        page: Page = await new_page()
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.evaluate(f"() => {{ ({LOOP})(); }}")
        for round_ in range(3):
            async with turn_network(tmp_path / f"net{round_}"):
                await asyncio.sleep(0.3)
            await asyncio.sleep(0.3)
        await page.evaluate("() => { window.kcStop = true; }")
        await page.wait_for_function("() => window.kcActive === 0")
        done = await page.evaluate("window.kcDone")
        failures = await page.evaluate("window.kcFailures")
        assert done > 10, done
        assert failures == [], failures
    finally:
        await runner.cleanup()
