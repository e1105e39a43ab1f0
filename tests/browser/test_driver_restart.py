"""The driver page across a server restart, in real Chromium: the drain's notice and the ended
screen, then, with the server back on the same address and data, "report again" rejoins the
case instead of opening a second one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from kuaichu.app import create_app
from kuaichu.cli import REQUEST_GRACE
from kuaichu.settings import parse
from sim.client import SimOfficer
from tests.browser.test_driver_page import answer_eligibly
from tests.conftest import LIVE_SETTINGS, close_in_time

pytestmark = pytest.mark.browser


@pytest.fixture
def expected_console_errors() -> list[str]:
    # While the server is down the page's socket.io client keeps trying to reconnect.
    return [r"WebSocket connection to .* failed", r"ERR_CONNECTION_REFUSED", r"Failed to load"]


async def restart_on(server: Any) -> TestServer:
    """The server again, on the same port and data folder (as after a restart)."""
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in LIVE_SETTINGS.items()]
    config = parse(["--port", str(server.port), "--data-dir", str(server.data_dir), *flags])
    again = TestServer(create_app(config), host="127.0.0.1", port=server.port)
    # Closed as server.py closes it (the page's long-poll: REQUEST_GRACE, not aiohttp's 60 s).
    await again.start_server(shutdown_timeout=REQUEST_GRACE)
    return again


async def report_from(page: Page) -> None:
    await page.click("#btn-safety-next")
    await answer_eligibly(page)
    # Nobody is on shift: the camera step offers photos first and the driver chooses video.
    await page.click("#btn-permissions")
    await expect(page.locator("#screen-ready")).to_be_visible()
    await page.click("#btn-report")
    await expect(page.locator("#screen-waiting")).to_be_visible()


async def test_driver_page_is_told_and_rejoins_its_case_after_a_restart(
    server_factory: Any, new_page: Any, tmp_path: Path
) -> None:
    server = await server_factory(**LIVE_SETTINGS)
    page: Page = await new_page(phone=True)
    await page.goto(server.url + "/driver")
    await report_from(page)
    case_id = await page.evaluate("window.kcDriver.caseId")
    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    try:
        await officer.set_available()
        await officer.accept((await officer.wait_offer())["call_id"])
        await expect(page.locator("#screen-in-call")).to_be_visible(timeout=15000)

        # SIGTERM's drain (aiohttp's shutdown runs it): both pages are told, the call ends.
        assert server.test_server is not None
        await server.test_server.close()
        await expect(page.locator("#screen-ended")).to_be_visible()
        await expect(page.locator("#ended-reason")).to_have_text(
            "系统正在重启，通话已结束。重新报警即可回到原案件继续处理。"
        )
        await officer.wait_event("server_restarting")
        ended = await officer.wait_event("call_ended")
        assert ended["reason"] == "server_shutdown"
    finally:
        await officer.close()
    stored = await page.evaluate("sessionStorage.getItem('kc_previous_call')")
    assert stored and case_id

    again = await restart_on(server)
    try:
        # "Report again" is a link to /driver: wait for the new page, or the next clicks land
        # on the old document while it is being replaced.
        async with page.expect_navigation():
            await page.click("#btn-again")
        await report_from(page)
        assert await page.evaluate("window.kcDriver.caseId") == case_id
        assert await page.evaluate("sessionStorage.getItem('kc_previous_call')") is None
    finally:
        await close_in_time(again.close(), "the restarted server")
    assert [r["id"] for r in server.rows("select id from cases")] == [case_id]
    calls = server.rows(
        "select end_reason from calls where case_id = ? order by queued_at", case_id
    )
    assert [r["end_reason"] for r in calls] == ["server_shutdown", "server_shutdown"]
