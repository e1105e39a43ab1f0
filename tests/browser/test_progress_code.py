"""The progress link's one-time code in real Chromium: the phone that reported opens its link
directly (the driver page hands its resume token over for a device cookie); another phone is
asked for the code sent to the party's number, enters it and then sees the case."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import SimOfficer
from tests.support.eventually import eventually

pytestmark = pytest.mark.browser

ELIGIBLE_TAPS = [
    "#q-check-all",
    "#q-cause-rear_end",
    "#q-legal-none",
]
PHONE = "13700137000"


async def test_the_reporting_phone_opens_its_link_another_phone_needs_the_code(
    server_factory: Any, new_page: Any
) -> None:
    server = await server_factory(progress_link_code=True)
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    await officer.connect()
    await officer.set_available()
    try:
        page: Page = await new_page(phone=True)
        await page.goto(server.url + "/driver")
        await page.click("#btn-safety-next")
        for selector in ELIGIBLE_TAPS:
            await page.click(selector)
        await expect(page.locator("#screen-ready")).to_be_visible()
        await page.click("#btn-report")
        offer = await officer.wait_offer()
        case_id = offer["case_id"]
        assert (await officer.accept(offer["call_id"]))["ok"]
        await expect(page.locator("#screen-in-call")).to_be_visible()
        href = await page.locator("#progress-link-call").get_attribute("href")
        assert href is not None and href.startswith("/p/")
        await eventually(
            lambda: (
                server.rows("select count(*) from link_devices where case_id = ?", case_id)[0][0]
                == 1
            ),
            10,
            "the driver page did not claim its device",
        )
        # The officer types the party's number: from now on a code is needed elsewhere.
        status, view = await officer.api("GET", f"/api/cases/{case_id}")
        form = dict(view["form"])
        form["parties"] = [{**form["parties"][0], "phone": PHONE}]
        status, body = await officer.api(
            "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 200, body

        # The reporting phone, in another tab: straight to the case.
        tab = await page.context.new_page()
        await tab.goto(server.url + href)
        await expect(tab.locator("#pg-status")).to_be_visible()
        await tab.close()

        # Another phone: the code page, the code by SMS (the log adapter), then the case.
        other: Page = await new_page(phone=True, geolocation=False)
        await other.goto(server.url + href)
        await expect(other.locator("#lc-text")).to_contain_text("137****7000")
        await other.click("#lc-send")
        await expect(other.locator("#lc-message")).to_have_attribute("data-reason", "code_sent")
        found = await eventually(
            lambda: re.findall(r"验证码(\d{6})", server.log()), 10, "no code in the log"
        )
        await other.fill("#lc-code", found[-1])
        await other.click("#lc-submit")
        await expect(other.locator("#pg-status")).to_be_visible()
    finally:
        await officer.close()
