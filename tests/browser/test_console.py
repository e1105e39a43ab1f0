"""The officer console in real Chromium (fake microphone) against the real server and an aiortc
driver: log in through the form, go available, answer an offered call, see the driver, hang up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import PatternVideoTrack, SimDriver, SimOfficer

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1440, "height": 900}


async def log_in(page: Page, server: Any, username: str, password: str, target: str) -> None:
    await page.goto(server.url + target)
    # Not logged in: the page sends us to the form, which sends us back after.
    await expect(page).to_have_url(f"{server.url}/login?next={target}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await expect(page).to_have_url(server.url + target)


async def test_login_rejects_a_wrong_password(
    live_server: Any, new_page: Any, expected_console_errors: list[str]
) -> None:
    expected_console_errors.append(r"status of 401 .*/login'")  # the refused attempt
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await page.goto(live_server.url + "/login?next=/console")
    await page.fill("#username", live_server.officer_username)
    await page.fill("#password", "not-the-password")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    # Still on the form, still heading for the console after a good attempt.
    await expect(page.locator("input[name=next]")).to_have_value("/console")


async def test_officer_answers_a_call_sees_the_driver_and_wraps_up(
    live_server: Any, new_page: Any, shoot: Any
) -> None:
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(
        page, live_server, live_server.officer_username, live_server.officer_password, "/console"
    )
    pill = page.locator("#status-pill")
    await expect(pill).to_have_attribute("data-status", "break")
    await expect(pill).to_have_text("小休")
    await expect(page.locator(".who")).to_have_text("张警官")

    await page.click("#btn-available")
    await expect(pill).to_have_attribute("data-status", "available")
    await expect(page.locator("#idle-text")).to_have_text("已示闲，来电会在这里弹出。")
    await shoot(page, "console-1-idle")

    # The driver's own size reaches the console (and its screenshots show a full picture).
    driver = await SimDriver(live_server.url, video=PatternVideoTrack(640, 480, 30)).connect()
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424)
        assert ack["ok"], ack

        # The offer pops up with a countdown (the fixture's reservation lasts 5 s).
        card = page.locator("#panel-incoming")
        await expect(card).to_be_visible()
        await expect(page.locator("#incoming-case")).to_have_text(ack["case_id"])
        await expect(page.locator("#incoming-location")).to_contain_text("45.75670, 126.64240")
        seconds = int(await page.locator("#incoming-countdown").inner_text())
        assert 0 < seconds <= 5
        await expect(pill).to_have_attribute("data-status", "reserved")
        await shoot(page, "console-2-incoming")
        await page.click("#btn-accept")

        # The driver's video plays in the console's big <video>.
        await expect(page.locator("#panel-call")).to_be_visible()
        await expect(pill).to_have_attribute("data-status", "busy")
        await page.wait_for_function(
            "() => document.getElementById('driver-video').videoWidth > 0", timeout=15000
        )
        size = await page.evaluate(
            "[document.getElementById('driver-video').videoWidth,"
            " document.getElementById('driver-video').videoHeight]"
        )
        assert size == [640, 480]
        t1 = await page.evaluate("document.getElementById('driver-video').currentTime")
        await asyncio.sleep(1.5)
        t2 = await page.evaluate("document.getElementById('driver-video').currentTime")
        assert t2 > t1
        await expect(page.locator("#video-waiting")).to_be_hidden()
        await expect(page.locator("#call-case")).to_have_text(ack["case_id"])
        await expect(page.locator("#call-gps")).to_contain_text("45.75670, 126.64240")
        # issue 12: no internet map link (closed networks): a sketch on this page.
        await expect(page.locator("#call-gps a")).to_have_count(0)
        await expect(page.locator("#call-gps #btn-map")).to_have_text("位置草图")
        # The officer's (fake) microphone reaches the driver.
        await driver.wait_for(lambda: driver.frames("audio") >= 50, timeout=15)
        await expect(page.locator("#call-timer")).not_to_have_text("00:00")
        await shoot(page, "console-3-in-call")

        await page.click("#btn-hangup")
        await expect(page.locator("#panel-wrapup")).to_be_visible()
        await expect(page.locator("#wrapup-reason")).to_contain_text("民警已结束通话")
        ended = await driver.wait_state("ended")
        assert ended["reason"] == "officer_hangup"
        # Wrap-up ends by itself (2 s in the fixture) and the officer is available again.
        await expect(pill).to_have_attribute("data-status", "available", timeout=10000)
    finally:
        await driver.close()


async def test_console_offer_keyboard_decline(live_server: Any, new_page: Any) -> None:
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(
        page, live_server, live_server.officer_username, live_server.officer_password, "/console"
    )
    await page.click("#btn-available")
    await expect(page.locator("#status-pill")).to_have_attribute("data-status", "available")
    driver = await SimDriver(live_server.url).connect()
    other: SimOfficer | None = None
    try:
        assert (await driver.report())["ok"]
        await expect(page.locator("#panel-incoming")).to_be_visible()
        await page.keyboard.press("Escape")
        await expect(page.locator("#panel-incoming")).to_be_hidden()
        await expect(page.locator("#panel-idle")).to_be_visible()
        # The call is not ended: it is still queued, first, and the next officer gets it.
        # (That a declined call keeps its place ahead of later calls is proven with two
        # calls in tests/e2e/test_call.py::test_decline_and_timeout_reoffer_without_losing_place.)
        other = await SimOfficer(live_server.url, *live_server.extra_officers[0]).connect()
        await other.set_available()
        offer = await other.wait_offer()
        assert offer["call_id"] == driver.call_id
        assert driver.state() != "ended"
        assert (driver.last_queue() or {}).get("position") == 1
    finally:
        await driver.close()
        if other is not None:
            await other.close()
    await page.click("#btn-logout")
    await expect(page).to_have_url(live_server.url + "/login")
    await page.goto(live_server.url + "/console")
    await expect(page).to_have_url(live_server.url + "/login?next=/console")


async def test_wallboard_for_supervisors_only(live_server: Any, new_page: Any, shoot: Any) -> None:
    officer_page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(
        officer_page,
        live_server,
        live_server.officer_username,
        live_server.officer_password,
        "/console",
    )
    await officer_page.click("#btn-available")
    forbidden = await officer_page.request.get(live_server.url + "/wallboard")
    assert forbidden.status == 403
    assert "无权访问" in await forbidden.text()

    drivers = [await SimDriver(live_server.url).connect() for _ in range(2)]
    try:
        for d in drivers:
            assert (await d.report())["ok"]
        page: Page = await new_page(viewport={"width": 1600, "height": 900}, geolocation=False)
        await log_in(
            page,
            live_server,
            live_server.supervisor_username,
            live_server.supervisor_password,
            "/wallboard",
        )
        await expect(page.locator("#wb-conn")).to_have_text("实时")
        await expect(page.locator("#wb-calls tr")).to_have_count(2, timeout=10000)
        await expect(page.locator("#wb-officers")).to_contain_text("张警官")
        await page.wait_for_timeout(1200)
        await shoot(page, "wallboard")
    finally:
        for d in drivers:
            await d.close()
