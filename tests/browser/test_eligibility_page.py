"""The driver page's eligibility screens in real Chromium against the real server."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from playwright.async_api import Page, expect

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

    # Question 1: someone is hurt -> a full-screen call for help, nothing queued.
    await expect(page.locator("#screen-q-injuries")).to_be_visible()
    await expect(page.locator("#screen-q-injuries h1")).to_have_text("有人受伤吗？")
    await shoot(page, "driver-q-injuries")
    await page.click("#q-injuries-yes")
    await expect(page.locator("#screen-ineligible")).to_be_visible()
    await expect(page.locator("#inelig-heading")).to_have_text("有人受伤，请立即呼救")
    await expect(page.locator("#inelig-text")).to_contain_text("120")
    await expect(page.locator("#btn-call-120")).to_have_attribute("href", "tel:120")
    await expect(page.locator("#btn-call-122")).to_have_attribute("href", "tel:122")
    await expect(page.locator("#btn-call-120")).to_be_visible()
    await shoot(page, "driver-q-injured")
    assert cases(live_server) == 0

    # Start again: an eligible walk-through, one tap per screen, reaches the queue.
    await page.click("#btn-inelig-restart")
    await page.click("#btn-safety-next")
    await page.click("#q-injuries-no")
    await expect(page.locator("#screen-q-movable")).to_be_visible()
    # "Back" returns to the previous question and the answer can change.
    await page.click("#screen-q-movable [data-back]")
    await expect(page.locator("#screen-q-injuries")).to_be_visible()
    await page.click("#q-injuries-no")
    await page.click("#q-movable-yes")
    await page.click("#q-v2v-yes")
    await page.click("#q-insured-yes")
    await expect(page.locator("#screen-q-cause .btn-answer")).to_have_count(8)
    await expect(page.locator("#q-cause-lane_change")).to_have_text("变道")
    await shoot(page, "driver-q-cause")
    await page.click("#q-cause-lane_change")
    await page.click("#q-legal-none")
    await expect(page.locator("#screen-permissions")).to_be_visible()
    await page.click("#btn-permissions")
    await expect(page.locator("#screen-ready")).to_be_visible()
    await page.click("#btn-report")
    await expect(page.locator("#screen-waiting")).to_be_visible()
    await expect(page.locator("#queue-position")).to_have_text("1")
    assert cases(live_server) == 1


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
    for selector in [
        "#q-injuries-no",
        "#q-movable-yes",
        "#q-v2v-yes",
        "#q-insured-yes",
        "#q-cause-reversing",
        "#q-legal-none",
    ]:
        await page.click(selector)
    await page.click("#btn-permissions")
    await expect(page.locator("#loc-status")).to_contain_text("Location found")
    await page.click("#btn-report")
    await expect(page.locator("#screen-ineligible")).to_be_visible()
    await expect(page.locator("#inelig-text")).to_have_text(
        "This place is outside the video handling service area. Call 122."
    )
    await expect(page.locator("#btn-call-120")).to_be_hidden()
    assert cases(server) == 0
