"""The console at 1920×1080 (issue 12): the whole standard two-car case on one screen, without
scrolling the page, with the step bar in view at every step, the determination previewed
(liability summary and the document's facts) before it is issued, the keyboard shortcuts
(also the capture digits after ticking 请当事人拍照) and their help, axe-core clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import SimDriver
from tests.browser.officer_case import A, Hands, seed_valid_registry, standard_case
from tests.browser.test_console import log_in
from tests.support.axe import check_accessible

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}


@pytest.fixture
def expected_console_errors() -> list[str]:
    return [r"status of 404 .*/recording'"]  # the live call has no recording yet


@pytest.fixture
async def standard_server(server_factory: Any, tmp_path: Path) -> Any:
    server = await server_factory(
        reservation_timeout=10,
        wrapup_seconds=2,
        driver_grace_seconds=1,
        authority="哈尔滨市公安局交通警察支队",
        document_prefix="哈公交认字",
    )
    await seed_valid_registry(server.data_dir, tmp_path / "registry")
    return server


async def console_at_full_hd(server: Any, new_page: Any) -> Page:
    page: Page = await new_page(viewport=FULL_HD, geolocation=False)
    await log_in(page, server, server.officer_username, server.officer_password, "/console")
    await page.click("#btn-available")
    await expect(page.locator("#status-pill")).to_have_attribute("data-status", "available")
    return page


async def one_screen(page: Page, step: str) -> None:
    """No page scrolling, and the case panel's step bar inside the window."""
    sizes = await page.evaluate(
        """() => ({
            scroll: document.scrollingElement.scrollHeight,
            inner: window.innerHeight,
            scrollW: document.scrollingElement.scrollWidth,
            innerW: window.innerWidth,
        })"""
    )
    assert sizes["scroll"] <= sizes["inner"], (step, sizes)
    assert sizes["scrollW"] <= sizes["innerW"], (step, sizes)
    bar = page.locator("#cp-stepbar")
    await expect(bar).to_be_visible()
    box = await bar.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= sizes["inner"], (
        step,
        box,
    )


async def test_standard_case_fits_one_full_hd_screen_and_previews_the_determination(
    standard_server: Any, new_page: Any, shoot: Any
) -> None:
    server = standard_server
    page = await console_at_full_hd(server, new_page)
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424, phone=A["phone"])
        assert ack["ok"], ack
        hands = Hands(page)
        screenshots = {"filled": "console-4-case", "preview": "console-5-preview"}

        async def check(step: str) -> None:
            if step in screenshots:
                await shoot(page, screenshots[step])
            await one_screen(page, step)
            if step == "filled":
                # The whole form of a two-car case is in view without scrolling the panel.
                party_b = await page.locator(".cp-party[data-key=B]").bounding_box()
                assert party_b is not None
                assert party_b["y"] + party_b["height"] <= FULL_HD["height"], party_b
            if step in ("filled", "preview"):
                await check_accessible(page, f"the console at step {step}")
            if step == "determined":
                # The officer is still in the form when hanging up (Alt+H works from there).
                await page.click("#cp-address")

        await standard_case(hands, check, driver_leave=lambda: driver.wait_event("leave_scene"))
        # Issue 12's target, half of the 29 clicks measured before: an officer who clicks
        # instead of every shortcut key stays under it (docs/officer-effort.md).
        done = hands.summary()
        assert done["clicks"] + done["keys"] <= 14, hands.log
        # The wrap-up (2 s here) waits for the open work: the cursor is in the case form.
        await expect(page.locator("#wrapup-held")).to_be_visible(timeout=15000)
        await expect(page.locator("#status-pill")).to_have_attribute("data-status", "wrapup")
        # Leaving the form, everything saved: the wrap-up ends and the next call may come.
        await page.locator("#panel-wrapup h1").click()
        await expect(page.locator("#status-pill")).to_have_attribute(
            "data-status", "available", timeout=10000
        )
    finally:
        await driver.close()


async def test_shortcuts_help_and_capture_digits_after_ticking_ask_the_phone(
    live_server: Any, new_page: Any
) -> None:
    server = live_server
    page = await console_at_full_hd(server, new_page)
    driver = await SimDriver(server.url).connect()
    try:
        await driver.report(lat=45.7567, lng=126.6424)
        await expect(page.locator("#panel-incoming")).to_be_visible()
        await page.keyboard.press("Enter")  # answers the ringing call
        await expect(page.locator("#panel-call")).to_be_visible()
        await expect(page.locator("#case-host")).to_be_visible()

        # ? opens the help, which names the keys.
        await page.locator("body").click(position={"x": 5, "y": 300})
        await page.keyboard.press("Shift+Slash")
        help_box = page.locator("#shortcuts-dialog")
        await expect(help_box).to_be_visible()
        await expect(help_box.locator("kbd", has_text="Alt+I")).to_have_count(1)
        await expect(help_box).to_contain_text("信息采集完成")
        await expect(help_box).to_contain_text("1–5")
        await check_accessible(page, "the shortcuts' help")
        await page.keyboard.press("Escape")
        await expect(help_box).to_be_hidden()

        # Tick 请当事人拍照 (the focus stays on the checkbox), then press 2: the phone is asked.
        await page.click("#chk-ask-phone")
        await expect(page.locator("#chk-ask-phone")).to_be_focused()
        await page.keyboard.press("2")
        request = await driver.wait_event("still_requested")
        assert request["kind"] == "damage", request
        await expect(page.locator("#error-text")).to_have_text("已请当事人拍照：碰撞部位")
        # Alt+K unticks it from the keyboard; 1 then captures from the video: the server takes
        # the frame, finds the simulated phone's 640×480 too small for a plate and asks the
        # phone instead (the console says why).
        await page.keyboard.press("Alt+K")
        await expect(page.locator("#chk-ask-phone")).not_to_be_checked()
        seen = len(driver.events)
        await page.keyboard.press("1")
        await expect(page.locator("#error-text")).to_contain_text("视频只有", timeout=30000)
        plate = await driver.wait_event("still_requested", after=seen)
        assert plate["kind"] == "plate", plate
        # Typing a digit in the form is typing, not a capture.
        seen = len(driver.events)
        await page.click("#cp-A-name")
        await page.keyboard.type("3")
        await expect(page.locator("#cp-A-name")).to_have_value("3")
        with pytest.raises(TimeoutError):
            await driver.wait_event("still_requested", timeout=2, after=seen)
        # Alt+P adds a party from the keyboard, the cursor in its name.
        await page.keyboard.press("Alt+P")
        await expect(page.locator("#cp-B-name")).to_be_focused()
    finally:
        await driver.close()
