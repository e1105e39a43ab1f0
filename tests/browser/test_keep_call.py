"""Never lose a call to the interface, in real Chromium against the real server: the console
reloaded, switched to English, opening 我的案件 and asked before signing out mid-call keeps
its call with video; the driver's page reloaded or switched to English mid-call keeps it too.
The other side is an aiortc client (sim/), whose frame counts show the media flows again."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Dialog, Page, expect

from sim.client import SimDriver, SimOfficer
from tests.browser.test_console import DESKTOP, log_in
from tests.browser.test_driver_page import answer_eligibly
from tests.support.axe import check_accessible

pytestmark = pytest.mark.browser

# Long enough for a reload on a busy machine; a reload that loses the call shows in the
# driver's state (back to the queue) and in the console's panel, not in a timing.
GRACE = dict(
    reservation_timeout=5,
    wrapup_seconds=2,
    decline_cooldown=30,
    driver_grace_seconds=15,
    officer_grace_seconds=15,
)

DECODED = "document.getElementById('{id}').getVideoPlaybackQuality().totalVideoFrames"


async def frames_decoded(page: Page, video_id: str, more_than: int) -> int:
    """Wait until the <video> has decoded more than ``more_than`` frames; returns the count."""
    await page.wait_for_function(
        f"() => {DECODED.format(id=video_id)} > {more_than}", timeout=20000
    )
    return int(await page.evaluate(DECODED.format(id=video_id)))


async def test_console_keeps_its_call_through_reload_language_lists_and_sign_out(
    server_factory: Any, new_page: Any
) -> None:
    server = await server_factory(**GRACE)
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    dialogs: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        await dialog.accept()  # "leave": the reload goes ahead

    page.on("dialog", on_dialog)
    await log_in(page, server, server.officer_username, server.officer_password, "/console")
    await page.click("#btn-available")
    pill = page.locator("#status-pill")
    await expect(pill).to_have_attribute("data-status", "available")
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424)
        call_id = ack["call_id"]
        await expect(page.locator("#panel-incoming")).to_be_visible()
        await page.click("#btn-accept")
        await frames_decoded(page, "driver-video", 15)
        await driver.wait_state("in_call")
        await expect(page.locator("#cp-case-id")).to_have_text(ack["case_id"])
        await check_accessible(page, "the console in a call")

        queued = [e for e, d in driver.events if e == "queue"]
        # 1. A reload: the browser asks first (the guard); then the same call comes back with
        # a fresh media leg: frames decode again in the new page's <video>.
        await page.reload()
        assert dialogs == ["beforeunload"]
        await expect(page.locator("#panel-call")).to_be_visible()
        await expect(pill).to_have_attribute("data-status", "busy")
        await frames_decoded(page, "driver-video", 15)
        await driver.wait_state("in_call")
        await expect(page.locator("#call-case")).to_have_text(ack["case_id"])
        await expect(page.locator("#cp-case-id")).to_have_text(ack["case_id"])
        heard = driver.frames("audio")
        await driver.wait_for(lambda: driver.frames("audio") > heard + 25)  # the officer's mic
        # The driver was never sent back to the queue.
        assert [e for e, d in driver.events if e == "queue"] == queued
        assert driver.call_id == call_id

        # 2. English: the switch reloads in place without asking, and keeps the call.
        await page.click("a.lang-switch")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator("#panel-call")).to_be_visible()
        await frames_decoded(page, "driver-video", 15)
        assert dialogs == ["beforeunload"]

        # 3. My cases opens beside the call, in a window of its own.
        async with page.expect_popup() as popup_info:
            await page.click("#link-my-cases")
        cases = await popup_info.value
        await expect(cases.locator(f"tr[data-case='{ack['case_id']}']")).to_be_visible()
        await check_accessible(cases, "my cases")
        before = int(await page.evaluate(DECODED.format(id="driver-video")))
        await frames_decoded(page, "driver-video", before + 15)
        await expect(pill).to_have_attribute("data-status", "busy")
        await cases.close()

        # 4. Signing out is asked in the page; "stay" keeps the call.
        await page.click("#btn-logout")
        await expect(page.locator("#leave-dialog")).to_be_visible()
        await check_accessible(page, "the sign-out question")
        await page.click("#leave-dialog-no")
        await expect(page.locator("#leave-dialog")).to_be_hidden()
        assert page.url.startswith(server.url + "/console")
        assert driver.state() == "in_call"
        await page.click("#btn-hangup")
        ended = await driver.wait_state("ended")
        assert ended["reason"] == "officer_hangup"
    finally:
        await driver.close()


async def test_driver_page_keeps_its_call_through_reload_and_language_switch(
    server_factory: Any, new_page: Any
) -> None:
    server = await server_factory(**GRACE)
    # An officer on shift first (with nobody on shift the page offers the photo report).
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    await officer.connect()
    try:
        await officer.set_available()
        page: Page = await new_page(phone=True)
        await page.goto(server.url + "/driver")
        await page.click("#btn-safety-next")
        await answer_eligibly(page)
        await page.click("#btn-report")
        await expect(page.locator("#screen-waiting")).to_be_visible()
        call_id = await page.evaluate("window.kcDriver.callId")
        await officer.accept((await officer.wait_offer())["call_id"])
        await expect(page.locator("#screen-in-call")).to_be_visible(timeout=15000)
        await officer.wait_for(lambda: officer.frames("video") > 10)
        await check_accessible(page, "the driver page in a call")

        for step in ("reload", "english"):
            seen = officer.frames("video")
            if step == "reload":
                await page.reload()
            else:
                await page.click("a.lang-switch")
                await expect(page.locator("html")).to_have_attribute("lang", "en")
            # The same call, its officer still on it: the camera reaches the officer again,
            # and the officer's voice reaches the page.
            await expect(page.locator("#screen-in-call")).to_be_visible(timeout=15000)
            assert await page.evaluate("window.kcDriver.callId") == call_id
            await officer.wait_for(lambda n=seen + 30: officer.frames("video") > n, timeout=20)
            await page.wait_for_function(
                "() => document.getElementById('remote-audio').srcObject !== null"
            )
            ended = [e for e, d in officer.events if e == "call_ended"]
            assert not ended
        await expect(page.locator("#btn-hangup")).to_have_text("Hang up")
        await page.click("#btn-hangup")
        await expect(page.locator("#screen-ended")).to_be_visible()
        assert await page.evaluate("sessionStorage.getItem('kc_live_call')") is None
    finally:
        await officer.close()
