"""A real Chromium page whose media path dies asks the server for a new leg itself (rtc.js: its
connection stays "disconnected"), and the call goes on: the driver's page with media_restart,
the console by taking its held call back. The server's own watchdog is slowed here so that only
the page's request can bring the leg back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from kuaichu.appkeys import center_key
from sim.client import SimDriver
from tests.browser.test_console import DESKTOP, log_in
from tests.browser.test_driver_page import answer_eligibly
from tests.browser.test_keep_call import frames_decoded
from tests.support.eventually import eventually

pytestmark = pytest.mark.browser


def _silence_server_side(server: Any, call_id: str, leg_name: str = "driver") -> int:
    """The server's sockets of one leg stop sending (its media, its ICE answers): the page
    hears nothing any more, while the server still hears the page."""
    assert server.app is not None
    call = server.app[center_key].sessions.get(call_id)
    assert call is not None and call.media is not None
    leg = call.media._driver if leg_name == "driver" else call.media._officer
    assert leg is not None
    silenced = 0
    for transceiver in leg.pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        for protocol in ice._connection._protocols:
            protocol.transport.sendto = lambda *_a, **_k: None
            silenced += 1
    return silenced


async def record_banner(page: Page) -> None:
    """From now on, window.kcSeen lists every message the page's banner shows (some are
    brief: the new leg may be up within a second)."""
    await page.evaluate(
        """() => {
          const el = document.getElementById("error-text");
          window.kcSeen = [];
          new MutationObserver(() => window.kcSeen.push(el.textContent))
            .observe(el, { childList: true, characterData: true, subtree: true });
        }"""
    )


async def test_a_driver_page_whose_path_dies_asks_for_a_new_leg(
    server_factory: Any, new_page: Any
) -> None:
    server = await server_factory(
        reservation_timeout=10, leg_media_timeout=300, leg_connect_timeout=300
    )
    console: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(console, server, server.officer_username, server.officer_password, "/console")
    await console.click("#btn-available")
    await expect(console.locator("#status-pill")).to_have_attribute("data-status", "available")

    phone: Page = await new_page(phone=True)
    await phone.goto(server.url + "/driver")
    await phone.click("#btn-safety-next")
    await answer_eligibly(phone)
    await phone.fill("#report-phone", "138 0013 8000")
    await phone.click("#btn-report")
    await expect(phone.locator("#screen-waiting")).to_be_visible()
    call_id = await phone.evaluate("window.kcDriver.callId")
    await expect(console.locator("#panel-incoming")).to_be_visible()
    await console.click("#btn-accept")
    await frames_decoded(console, "driver-video", 15)
    await phone.wait_for_function("() => window.kcDriver.pc.connectionState === 'connected'")
    await phone.evaluate("window.kcDriver.pc.kcFirst = true")
    await record_banner(phone)

    assert _silence_server_side(server, call_id) > 0
    # The page sees its connection go quiet and asks for a fresh leg.
    await eventually(
        lambda: "driver leg failed (page_" in server.log(),
        30,
        lambda: f"the page never asked for a new leg:\n{server.log()[-3000:]}",
    )
    # A new peer connection on the phone, connected; the console is told the video is back.
    await phone.wait_for_function(
        "() => { const pc = window.kcDriver.pc;"
        " return pc && !pc.kcFirst && pc.connectionState === 'connected'; }",
        timeout=30000,
    )
    await expect(console.locator("#error-text")).to_contain_text("当事人视频已恢复", timeout=15000)
    await expect(phone.locator("#error-text")).to_contain_text("连接已恢复")
    seen = await phone.evaluate("window.kcSeen")
    assert any("连接中断，正在重连" in text for text in seen), seen  # said while it asked
    n = await frames_decoded(console, "driver-video", 0)
    await frames_decoded(console, "driver-video", n + 30)


async def test_a_console_whose_path_dies_takes_its_call_back(
    server_factory: Any, new_page: Any
) -> None:
    server = await server_factory(
        reservation_timeout=10,
        officer_grace_seconds=30,
        leg_media_timeout=300,
        leg_connect_timeout=300,
    )
    driver = await SimDriver(server.url).connect()
    console: Page = await new_page(viewport=DESKTOP, geolocation=False)
    try:
        await log_in(console, server, server.officer_username, server.officer_password, "/console")
        await console.click("#btn-available")
        await expect(console.locator("#status-pill")).to_have_attribute("data-status", "available")
        await driver.report()
        await expect(console.locator("#panel-incoming")).to_be_visible()
        await console.click("#btn-accept")
        await frames_decoded(console, "driver-video", 15)
        assert driver.call_id is not None
        offers = sum(1 for ev, _ in driver.events if ev == "sdp_offer")

        await record_banner(console)
        assert _silence_server_side(server, driver.call_id, "officer") > 0
        # The console's picture freezes; it says so and takes its call back (resume).
        await eventually(
            lambda: re.search(rf"call {driver.call_id}: officer \S+ resumed", server.log()),
            30,
            lambda: f"the console did not take its call back:\n{server.log()[-3000:]}",
        )
        await expect(console.locator("#error-text")).to_contain_text("连接已恢复", timeout=30000)
        seen = await console.evaluate("window.kcSeen")
        assert any("连接中断，正在重连" in text for text in seen), seen
        n = await frames_decoded(console, "driver-video", 0)
        await frames_decoded(console, "driver-video", n + 30)
        # Only the console's leg was redone; the driver's was never touched.
        assert sum(1 for ev, _ in driver.events if ev == "sdp_offer") == offers
        assert driver.state() == "in_call"
    finally:
        await driver.close()
