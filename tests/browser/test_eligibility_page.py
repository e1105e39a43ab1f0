"""The driver page's eligibility screens in real Chromium against the real server."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.support.axe import check_accessible

pytestmark = pytest.mark.browser


def cases(server: Any) -> int:
    conn = sqlite3.connect(server.data_dir / "kuaichu.sqlite3")
    try:
        return int(conn.execute("select count(*) from cases").fetchone()[0])
    finally:
        conn.close()


async def test_injuries_send_the_driver_to_120_and_122_eligible_walk_reaches_the_queue(
    live_server: Any, new_page: Any, shoot: Any
) -> None:
    page: Page = await new_page(phone=True)
    await page.goto(live_server.url + "/driver")
    await page.click("#btn-safety-next")

    # The four yes/no conditions on one screen, each "no" at its line's end, one big "all of
    # this is true" below: all of it within the phone's screen, every button a thumb's size.
    check = page.locator("#screen-q-check")
    await expect(check).to_be_visible()
    await expect(check.locator("h1")).to_have_text("下面 4 条都符合吗？")
    await expect(check.locator(".check-text strong")).to_have_text(
        ["没有人受伤", "车辆还能开动", "只是机动车和机动车相撞", "每辆车都有交强险"]
    )
    await expect(page.locator("#q-check-all")).to_have_text("以上都符合")
    viewport = page.viewport_size
    assert viewport is not None
    for button in ("#q-injuries-yes", "#q-movable-no", "#q-v2v-no", "#q-insured-no"):
        box = await page.locator(button).bounding_box()
        assert box is not None and box["height"] >= 56 and box["width"] >= 80, (button, box)
    all_true = await page.locator("#q-check-all").bounding_box()
    assert all_true is not None and all_true["height"] >= 76
    assert all_true["y"] + all_true["height"] <= viewport["height"], all_true
    await check_accessible(page, "the checklist")
    await shoot(page, "driver-q-check")

    # Someone is hurt -> a full-screen call for help, nothing queued.
    await expect(page.locator("#q-injuries-yes")).to_have_text("有人受伤")
    await page.click("#q-injuries-yes")
    await expect(page.locator("#screen-ineligible")).to_be_visible()
    await expect(page.locator("#inelig-heading")).to_have_text("有人受伤，请立即呼救")
    await expect(page.locator("#inelig-text")).to_contain_text("120")
    await expect(page.locator("#btn-call-120")).to_have_attribute("href", "tel:120")
    await expect(page.locator("#btn-call-122")).to_have_attribute("href", "tel:122")
    await expect(page.locator("#btn-call-120")).to_be_visible()
    await shoot(page, "driver-q-injured")
    assert cases(live_server) == 0

    # Start again: an eligible walk-through, one tap per screen, reaches the queue; the last
    # answer's tap asks for the camera (no permission tap of its own).
    await page.click("#btn-inelig-restart")
    await page.click("#btn-safety-next")
    await page.click("#q-check-all")
    await expect(page.locator("#screen-q-cause")).to_be_visible()
    await expect(page.locator("#screen-q-cause .q-step")).to_have_text("第 2 步，共 3 步")
    # "Back" returns to the checklist and the answer can change.
    await page.click("#screen-q-cause [data-back]")
    await expect(page.locator("#screen-q-check")).to_be_visible()
    await page.click("#q-check-all")
    await expect(page.locator("#screen-q-cause .btn-answer")).to_have_count(8)
    await expect(page.locator("#q-cause-lane_change")).to_have_text("变道")
    await shoot(page, "driver-q-cause")
    await page.click("#q-cause-lane_change")
    await page.click("#q-legal-none")
    # Nobody is on shift: the last answer leaves the camera closed and the camera step offers
    # photos first; the driver chooses video.
    await expect(page.locator("#screen-permissions #photo-offer")).to_be_visible()
    assert await page.evaluate("window.kcDriver.stream === null")
    await page.click("#btn-permissions")
    await expect(page.locator("#screen-ready")).to_be_visible()
    await page.wait_for_function("() => document.getElementById('preview-ready').videoWidth > 0")
    await page.click("#btn-report")
    await expect(page.locator("#screen-waiting")).to_be_visible()
    await expect(page.locator("#queue-position")).to_have_text("1")
    assert cases(live_server) == 1


async def test_each_no_on_the_checklist_leads_where_its_question_led(
    live_server: Any, new_page: Any
) -> None:
    page: Page = await new_page(phone=True)
    for button, label, reason in [
        ("#q-movable-no", "不能开动", "车辆无法移动时不能视频快处"),
        ("#q-v2v-no", "不是", "视频快处只受理机动车之间的事故"),
        ("#q-insured-no", "没有或不确定", "您无法确认每辆车都有交强险"),
    ]:
        await page.goto(live_server.url + "/driver")
        await page.click("#btn-safety-next")
        await expect(page.locator(button)).to_have_text(label)
        await page.click(button)
        await expect(page.locator("#screen-ineligible")).to_be_visible()
        await expect(page.locator("#inelig-heading")).to_have_text("不能视频快处")
        await expect(page.locator("#inelig-text")).to_contain_text(reason)
        await expect(page.locator("#btn-call-122")).to_be_visible()
        await expect(page.locator("#btn-call-120")).to_be_hidden()
        # Nothing asked of the camera, nothing reported.
        assert await page.evaluate("window.kcDriver.stream === null")
    assert cases(live_server) == 0


async def test_server_refusal_outside_the_area_is_shown_in_english(
    server_factory: Any, new_page: Any, tmp_path: Any
) -> None:
    import json

    area = tmp_path / "futian.geojson"
    ring = [[113.98, 22.50], [114.10, 22.50], [114.10, 22.59], [113.98, 22.59], [113.98, 22.50]]
    area.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Futian"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    server = await server_factory(service_area=area)
    page: Page = await new_page(phone=True)  # the fake GPS is in Harbin
    await page.goto(server.url + "/driver?lang=en")
    await expect(page.locator("#service-area")).to_have_text("Service area: Futian")
    await page.click("#btn-safety-next")
    for selector in ["#q-check-all", "#q-cause-reversing", "#q-legal-none"]:
        await page.click(selector)
    await page.click("#btn-permissions")  # nobody on shift: the driver chooses video
    await expect(page.locator("#loc-status")).to_contain_text("Location found")
    await page.click("#btn-report")
    await expect(page.locator("#screen-ineligible")).to_be_visible()
    await expect(page.locator("#inelig-text")).to_have_text(
        "This place is outside the video handling service area. Call 122."
    )
    await expect(page.locator("#btn-call-120")).to_be_hidden()
    assert cases(server) == 0
