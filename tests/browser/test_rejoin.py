"""Every party reachable, in real Chromium against the real server: the driver page asks for
the mobile number (checked on the page and by the server); when the driver's page is gone
the console offers a callback on that number and a rejoin SMS; the link from the outbox
brings a new page back into the same call, with video, once."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from kuaichu.notify import sms_segments
from tests.browser.test_console import DESKTOP, log_in
from tests.browser.test_driver_page import answer_eligibly
from tests.browser.test_keep_call import frames_decoded
from tests.support.axe import check_accessible
from tests.support.eventually import eventually

pytestmark = pytest.mark.browser


@pytest.fixture
def expected_console_errors() -> list[str]:
    # The spent link, opened a second time, answers 404 (the "link not valid" page).
    return [r"status of 404 \(Not Found\)"]


async def test_a_dropped_driver_comes_back_through_the_rejoin_sms(
    server_factory: Any, new_page: Any, shoot: Any
) -> None:
    server = await server_factory(
        reservation_timeout=5, wrapup_seconds=2, driver_grace_seconds=6, officer_grace_seconds=15
    )
    console: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(console, server, server.officer_username, server.officer_password, "/console")
    await console.click("#btn-available")
    await expect(console.locator("#status-pill")).to_have_attribute("data-status", "available")

    phone: Page = await new_page(phone=True)
    await phone.goto(server.url + "/driver")
    await phone.click("#btn-safety-next")
    await answer_eligibly(phone)
    await expect(phone.locator("#report-phone")).to_be_visible()
    await shoot(phone, "driver-2-ready")  # the README's picture of the ready screen
    # A number that is not a mainland mobile is refused on the page, nothing reported.
    await phone.fill("#report-phone", "12345")
    await phone.click("#btn-report")
    await expect(phone.locator("#report-phone-error")).to_be_visible()
    await expect(phone.locator("#screen-ready")).to_be_visible()
    await check_accessible(phone, "the ready screen with its phone field")
    await phone.fill("#report-phone", "138 0013 8000")
    await phone.click("#btn-report")
    await expect(phone.locator("#screen-waiting")).to_be_visible()
    case_id = await phone.evaluate("window.kcDriver.caseId")
    call_id = await phone.evaluate("window.kcDriver.callId")
    row = server.rows("select reporter_phone from cases where id = ?", case_id)[0]
    assert row["reporter_phone"] == "13800138000"

    await expect(console.locator("#panel-incoming")).to_be_visible()
    await console.click("#btn-accept")
    await frames_decoded(console, "driver-video", 15)
    await expect(phone.locator("#screen-in-call")).to_be_visible()

    # The driver's phone drops the page altogether.
    await phone.close()
    lost = console.locator("#driver-lost")
    await expect(lost).to_be_visible()
    await expect(console.locator("#driver-callback")).to_have_text("回拨 13800138000")
    await expect(console.locator("#driver-callback")).to_have_attribute("href", "tel:13800138000")
    # A reload of the console meanwhile keeps the call and the news.
    console.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await console.reload()
    await expect(lost).to_be_visible()
    await expect(console.locator("#driver-callback")).to_have_text("回拨 13800138000")
    await shoot(console, "console-driver-dropped")
    await console.click("#btn-rejoin-sms")
    await expect(console.locator("#rejoin-sms-status")).to_have_text(
        "已发送至 138****8000，链接10分钟内有效。"
    )
    await check_accessible(console, "the console with the driver dropped")
    sms = await eventually(
        lambda: server.rows(
            "select phone, body from outbox where case_id = ? and template = 'rejoin'", case_id
        )
    )
    assert sms[0]["phone"] == "13800138000"
    body = sms[0]["body"]
    assert sms_segments(body) == 1, body
    link = re.search(r"https?://\S+/j/[A-Za-z0-9_-]{16,64}$", body)
    assert link is not None, body
    # Longer than the ordinary reconnection grace (6 s here: room for the console's reload
    # and the click on a loaded machine; 2 s was not): the link keeps the call waiting.
    await asyncio.sleep(6.5)
    assert server.rows("select state from calls where id = ?", call_id)[0]["state"] != "ended"

    again: Page = await new_page(phone=True)
    await again.goto(link.group(0))
    await expect(again.locator("#screen-rejoin")).to_be_visible()
    await check_accessible(again, "the rejoin link's page")
    before = int(await console.evaluate(
        "document.getElementById('driver-video').getVideoPlaybackQuality().totalVideoFrames"
    ))
    await again.click("#btn-rejoin")
    await expect(again.locator("#screen-in-call")).to_be_visible(timeout=15000)
    assert await again.evaluate("window.kcDriver.callId") == call_id
    await expect(lost).to_be_hidden()
    # The same call on the console: the new phone's camera decodes there.
    await frames_decoded(console, "driver-video", before + 30)
    assert again.url == server.url + "/driver"

    # The link worked once.
    spent: Page = await new_page(phone=True)
    answer = await spent.goto(link.group(0))
    assert answer is not None and answer.status == 404
    await console.click("#btn-hangup")
    await expect(again.locator("#screen-ended")).to_be_visible()
