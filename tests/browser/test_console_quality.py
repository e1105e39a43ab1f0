"""The console tells the officer when the driver's picture is too poor for evidence (issue 9):
a driver whose video arrives at 640x360 (an aiortc phone) answered in a real Chromium console.
The quality line over the video shows the size, frame rate and bitrate, and turns into a warning
after 5 s below 720p; a plate capture (key 1) asks the phone for a photo and says so."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import PatternVideoTrack, SimDriver
from tests.support.browser_call import accept, open_console

pytestmark = pytest.mark.browser


async def test_poor_picture_is_flagged_and_a_plate_is_asked_of_the_phone(
    live_server: Any, new_page: Any, shoot: Any
) -> None:
    console: Page = await new_page(viewport={"width": 1440, "height": 900}, geolocation=False)
    await open_console(
        console.context,
        live_server.url,
        live_server.officer_username,
        live_server.officer_password,
        page=console,
    )
    driver = await SimDriver(live_server.url, video=PatternVideoTrack(640, 360)).connect()
    try:
        await driver.report(lat=45.7567, lng=126.6424)
        await accept(console)
        quality = console.locator("#video-quality")
        await expect(quality).to_contain_text("640×360", timeout=15000)
        await expect(quality).to_contain_text("帧/秒")
        # Below 720p for 5 s on end: the line becomes the warning.
        await expect(quality).to_have_class("video-quality video-quality-poor", timeout=15000)
        await expect(quality).to_contain_text("画面不足以取证")
        await shoot(console, "console-video-poor")

        # Key 1 (plate) stores no 640x360 frame: the phone is asked, the console says so.
        await console.locator("body").click(position={"x": 5, "y": 300})
        await console.keyboard.press("1")
        await expect(console.locator("#error-text")).to_have_text(
            "视频只有 640×360，不足以看清号牌：已请当事人用手机拍照"
        )
        request = await driver.wait_event("still_requested")
        assert request["kind"] == "plate"
        assert live_server.rows("select count(*) from captures")[0][0] == 0
    finally:
        await driver.close()
