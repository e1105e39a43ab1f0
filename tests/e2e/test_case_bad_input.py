"""Bad input to the case workflow: each gets a clear error and nothing is half-written."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sim.client import SimDriver, SimOfficer


async def answered(server: Any, phone: str = "13800138000") -> tuple[SimDriver, SimOfficer, str]:
    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    driver = await SimDriver(server.url).connect()
    await officer.set_available()
    ack = await driver.report(phone=phone)
    assert ack["ok"], ack
    offer = await officer.wait_offer()
    assert (await officer.accept(offer["call_id"]))["ok"]
    return driver, officer, ack


async def close_all(*clients: Any) -> None:
    for c in clients:
        await c.close()


async def test_forged_case_ids_and_other_officers_cases(live_server: Any) -> None:
    driver, officer, ack = await answered(live_server)
    case_id = ack["case_id"]
    name2, password2 = live_server.extra_officers[0]
    other = SimOfficer(live_server.url, name2, password2)
    try:
        for forged in ("KC20260101ZZZZZZ", "../../etc/passwd", "KC2026", case_id + "X"):
            status, body = await officer.api("GET", f"/api/cases/{forged}")
            assert status == 404, (forged, body)
        # Another officer (not on this call) can neither read nor change the case.
        status, body = await other.api("GET", f"/api/cases/{case_id}")
        assert status == 403 and body["error"]["code"] == "forbidden"
        status, body = await other.api("POST", f"/api/cases/{case_id}/leave-scene", {})
        assert status == 403
        # Without a session: 401.
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{live_server.url}/api/cases/{case_id}") as resp,
        ):
            assert resp.status == 401
        # A cross-site request with the officer's cookie is refused (CSRF).
        async with (
            aiohttp.ClientSession(
                headers={"Cookie": officer.cookie or "", "Origin": "https://evil.example"}
            ) as http,
            http.post(f"{live_server.url}/api/cases/{case_id}/leave-scene", json={}) as r,
        ):
            assert r.status == 403
        # A form post (not JSON) is refused too.
        async with (
            aiohttp.ClientSession(headers={"Cookie": officer.cookie or ""}) as http,
            http.post(f"{live_server.url}/api/cases/{case_id}/cancel", data={"reason": "x"}) as r,
        ):
            assert r.status == 400
        assert live_server.rows("select status from cases where id = ?", case_id)[0][0] == (
            "in_call"
        )
        # A progress link that does not exist, or is malformed.
        for token in ("A" * 24, "short", "../p"):
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{live_server.url}/p/{token}/status") as resp,
            ):
                assert resp.status == 404
    finally:
        await close_all(driver, officer)


async def test_a_progress_link_shows_only_its_own_case(live_server: Any) -> None:
    driver1, officer, ack1 = await answered(live_server, "13800000001")
    driver2 = await SimDriver(live_server.url).connect()
    try:
        ack2 = await driver2.report(phone="13800000002")
        assert ack2["ok"]
        async with aiohttp.ClientSession() as http:
            async with http.get(live_server.url + ack1["progress_url"] + "/status") as r:
                first = await r.json()
            async with http.get(live_server.url + ack2["progress_url"] + "/status") as r:
                second = await r.json()
        assert first["case_id"] == ack1["case_id"]
        assert second["case_id"] == ack2["case_id"]
        assert "phone" not in json.dumps(first)
    finally:
        await close_all(driver1, driver2, officer)


async def test_inconsistent_liabilities_and_long_description_write_nothing(
    live_server: Any,
) -> None:
    driver, officer, ack = await answered(live_server)
    case_id = ack["case_id"]
    try:
        status, view = await officer.api("GET", f"/api/cases/{case_id}")
        form = dict(view["form"])
        form["description"] = "长" * 2001
        status, body = await officer.api(
            "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 400
        assert body["error"]["detail"]["field"] == "description"
        status, after = await officer.api("GET", f"/api/cases/{case_id}")
        assert after["revision"] == view["revision"] and after["form"] == view["form"]

        # Two parties both with full liability: saved as a draft, refused at issue.
        form = dict(view["form"])
        form["parties"] = [
            {**view["form"]["parties"][0], "liability": "full", "fault": "追尾"},
            {"key": "B", "liability": "full", "fault": "变道"},
        ]
        status, saved = await officer.api(
            "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 200, saved
        status, body = await officer.api("POST", f"/api/cases/{case_id}/determinations", {})
        assert status == 400 and body["error"]["code"] == "inconsistent_liability"
        assert body["error"]["detail"]["reason"] == "full_shared"
        assert live_server.rows("select * from determinations where case_id = ?", case_id) == []
        folder = live_server.data_dir / "recordings" / case_id
        assert not list(folder.glob("determination*")) if folder.exists() else True
        assert (
            live_server.rows(
                "select * from outbox where case_id = ? and template = 'determination_issued'",
                case_id,
            )
            == []
        )
        # A stale revision is refused rather than overwriting the other tab's save.
        status, body = await officer.api(
            "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 409 and body["error"]["detail"]["reason"] == "stale_form"
        # A plate that is not a plate names the field.
        bad = dict(saved["form"])
        bad["parties"] = [*saved["form"]["parties"][:1], {"key": "B", "plate": "ABC"}]
        status, body = await officer.api(
            "PUT", f"/api/cases/{case_id}/form", {"revision": saved["revision"], "form": bad}
        )
        assert status == 400 and body["error"]["detail"]["field"] == "parties[1].plate"
    finally:
        await close_all(driver, officer)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def hanging_registry() -> AsyncIterator[str]:
    """An upstream registry that accepts the connection and never answers."""

    async def hang(_request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    # Do not wait a minute for the hanging handlers at cleanup.
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_hanging_registry_is_reported_unavailable(
    server_factory: Callable[..., Any], hanging_registry: str
) -> None:
    server = await server_factory(registry_url=hanging_registry, registry_timeout=0.5)
    driver, officer, ack = await answered(server)
    case_id = ack["case_id"]
    try:
        started = time.monotonic()
        status, result = await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": "A"})
        assert status == 200, result
        assert {i["status"] for i in result["result"]["items"]} == {"unavailable"}
        assert time.monotonic() - started < 20
        status, view = await officer.api("GET", f"/api/cases/{case_id}")
        assert view["verification"]["A"]["result"]["items"][0]["status"] == "unavailable"
        assert view["case"]["status"] == "in_call"
    finally:
        await close_all(driver, officer)


def shift_case_back(server: Any, case_id: str, days: int) -> None:
    """Make a case look as if everything happened ``days`` earlier: every audit time moves
    together, so the trail stays a valid history."""
    conn = sqlite3.connect(server.data_dir / "kuaichu.sqlite3")
    try:
        rows = conn.execute(
            'select seq, "when" from case_audit where case_id = ?', (case_id,)
        ).fetchall()
        for seq, when in rows:
            moved = datetime.fromisoformat(when) - timedelta(days=days)
            conn.execute(
                'update case_audit set "when" = ? where case_id = ? and seq = ?',
                (moved.isoformat(), case_id, seq),
            )
        conn.commit()
    finally:
        conn.close()


async def test_review_after_the_window_is_refused_and_the_page_says_so(
    case_server: Any, drive_to_notified: Callable[..., Any]
) -> None:
    driver, officer, ack = await answered(case_server)
    case_id = ack["case_id"]
    progress = case_server.url + ack["progress_url"]
    try:
        await drive_to_notified(case_server, officer, case_id)
        # Served five days ago: the window (until the end of the third day) has closed.
        shift_case_back(case_server, case_id, days=5)
        async with aiohttp.ClientSession() as http:
            async with http.post(progress + "/review", json={"reason": "不服"}) as r:
                body = await r.json()
                assert r.status == 409
                assert body["error"]["code"] == "review_window_closed"
            async with http.get(progress + "/status") as r:
                view = await r.json()
        assert view["review"]["open"] is False and view["review"]["requested"] is False
        assert view["review"]["deadline"] is not None
        assert case_server.rows("select status from cases where id = ?", case_id)[0][0] in (
            "notified",
            "closed",
        )
        assert (
            case_server.rows(
                "select count(*) from case_audit where case_id = ? and what = 'request_review'",
                case_id,
            )[0][0]
            == 0
        )
    finally:
        await close_all(driver, officer)
