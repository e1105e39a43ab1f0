"""The pages over plain HTTP: languages, redirects, vendored assets, nothing from a CDN."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp

PAGES = ["/", "/driver", "/login"]


async def test_pages_default_to_chinese_and_switch_to_english(live_server: Any) -> None:
    # unsafe=True: aiohttp's jar otherwise drops cookies from an IP address like 127.0.0.1.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for path in PAGES:
            http.cookie_jar.clear()
            async with http.get(live_server.url + path) as r:
                assert r.status == 200, path
                body = await r.text()
            assert '<html lang="zh-CN">' in body
            async with http.get(live_server.url + path + "?lang=en") as r:
                body = await r.text()
            assert '<html lang="en">' in body
        # The choice sticks through the cookie.
        async with http.get(live_server.url + "/driver") as r:
            body = await r.text()
        assert '<html lang="en">' in body
        assert "Video report now" in body


async def test_strings_reach_the_scripts_as_json(live_server: Any) -> None:
    async with aiohttp.ClientSession() as http, http.get(live_server.url + "/driver") as r:
        body = await r.text()
    blob = re.search(r'<script type="application/json" id="kc-strings">(.*?)</script>', body, re.S)
    assert blob is not None
    assert json.loads(blob.group(1))["report_button"] == "一键视频报警"


async def test_console_and_wallboard_need_a_login(live_server: Any) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/console", "/wallboard"):
            async with http.get(live_server.url + path, allow_redirects=False) as r:
                assert r.status == 302
                assert r.headers["Location"] == f"/login?next={path}"


async def test_no_cdn_and_the_vendored_client_is_served(live_server: Any) -> None:
    async with aiohttp.ClientSession() as http:
        for path in PAGES:
            async with http.get(live_server.url + path) as r:
                body = await r.text()
            for src in re.findall(r'(?:src|href)="([^"]+)"', body):
                assert not src.startswith(("http:", "https:", "//")), (path, src)
        async with http.get(live_server.url + "/static/vendor/socket.io.min.js") as r:
            assert r.status == 200
            assert (await r.text()).startswith("/*!\n * Socket.IO v4.")
        for module in ("driver.js", "console.js", "wallboard.js", "rtc.js", "common.js", "app.css"):
            async with http.get(live_server.url + "/static/" + module) as r:
                assert r.status == 200, module
