"""The officer's to-do list and the offline map in the console (issue 12), in Chromium against
the real server: a determination revised on review is listed for its officer with the parties'
names and plates, and opens in the panel beside the console; the driver's position is shown on
a tile-free sketch with the service area, and the page asks nothing of any host but ours."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import pytest
from playwright.async_api import Page, Route, expect

from sim.client import SimDriver, SimOfficer
from tests.browser.test_case_pages import (
    PARTY_A,
    answered_by_sim_officer,
    api,
    seed_registry,
    to_evidence_collected,
)
from tests.browser.test_console import log_in
from tests.support.axe import check_accessible
from tests.support.eventually import eventually

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}
# Nangang district, roughly: the accident (45.7567, 126.6424) lies inside.
AREA = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "南岗区"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [126.62, 45.74],
                        [126.67, 45.74],
                        [126.67, 45.77],
                        [126.62, 45.77],
                        [126.62, 45.74],
                    ]
                ],
            },
        }
    ],
}


@pytest.fixture
def expected_console_errors() -> list[str]:
    return [r"status of 404 .*/recording'"]


@pytest.fixture
async def area_server(server_factory: Any, tmp_path: Path) -> Any:
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(AREA), encoding="utf-8")
    server = await server_factory(
        reservation_timeout=5,
        wrapup_seconds=2,
        driver_grace_seconds=1,
        authority="哈尔滨市公安局交通警察支队",
        document_prefix="哈公交认字",
        service_area=str(area),
    )
    await seed_registry(server.data_dir, tmp_path / "registry")
    return server


async def revised_on_review(server: Any, officer: SimOfficer) -> str:
    """A case determined by ``officer``, reviewed on a party's request and revised."""
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424, phone=PARTY_A["phone"])
        case_id = str(ack["case_id"])
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await driver.wait_state("in_call")
        await to_evidence_collected(officer, case_id)
        await api(officer, "POST", f"/api/cases/{case_id}/leave-scene", {})
        await api(officer, "POST", f"/api/cases/{case_id}/determinations", {})
        assert (await officer.hangup())["ok"]
    finally:
        await driver.close()
    async def notified() -> bool:
        view = await api(officer, "GET", f"/api/cases/{case_id}")
        return bool(view["case"]["status"] == "notified")

    await eventually(notified, timeout=30, message="the determination's SMS never went out")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            server.url + ack["progress_url"] + "/review",
            json={"reason": "B车当时正在变道，我不应负全部责任。"},
        ) as resp:
            assert resp.status == 200, await resp.text()
    supervisor = SimOfficer(server.url, server.supervisor_username, server.supervisor_password)
    try:
        await api(
            supervisor,
            "POST",
            f"/api/cases/{case_id}/review-decision",
            {"outcome": "revised", "text": "现场视频显示B车变道，责任划分需重新认定。"},
        )
    finally:
        await supervisor.close()
    return case_id


async def test_revised_review_in_the_todo_list_and_the_map_offline(
    area_server: Any, new_page: Any, shoot: Any, expected_console_errors: list[str]
) -> None:
    # The simulated officer shares this console's account (below): its call's events reach
    # this tab too, and the tab's look at that call, on another socket's session, is refused.
    expected_console_errors.append(r"status of 403 .*/api/calls/")
    server = area_server
    page: Page = await new_page(viewport=FULL_HD, geolocation=False)
    outside: list[str] = []

    async def only_ours(route: Route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.context.route("**/*", only_ours)
    await log_in(page, server, server.officer_username, server.officer_password, "/console")
    await expect(page.locator("#todo-empty")).to_be_visible()
    await expect(page.locator("#todo-count")).to_have_text("0")

    officer = await answered_by_sim_officer(server)
    try:
        case_id = await revised_on_review(server, officer)
    finally:
        await officer.close()

    # The console's list refreshes on the case's news (or every 30 s, or on coming back).
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    item = page.locator(f"#todo-list .todo-item[data-case={case_id}]")
    await expect(item).to_be_visible()
    await expect(item).to_have_attribute("data-kind", "new_version")
    await expect(item).to_contain_text("复核改判，需出具新版本")
    await expect(item).to_contain_text("李明")
    await expect(item).to_contain_text("黑A·12345")
    await expect(page.locator("#todo-count")).to_have_text("1")
    await check_accessible(page, "the console with a to-do item")

    # Opened beside the console (the console stays): the new version is one step away.
    await item.locator("button").click()
    await expect(page).to_have_url(server.url + "/console")
    await expect(page.locator("#cp-case-id")).to_have_text(case_id)
    await expect(page.locator("#cp-status")).to_have_text("复核已决定")
    await expect(page.locator("#cp-btn-determine")).to_have_text("出具认定书")

    if await page.locator("#error-banner").is_visible():
        # The simulated officer shares this account: its call's offer reached this tab too.
        await page.click("#error-close")
    # The position on a sketch: the point, the service area, a scale; no internet map.
    await page.locator("#cp-gps .map-open").click()
    sketch = page.locator("#map-dialog svg.map-sketch")
    await expect(sketch).to_be_visible()
    await expect(sketch.locator(".map-point")).to_have_count(1)
    await expect(sketch.locator("polygon.map-area title")).to_have_text("服务区域: 南岗区")
    await expect(sketch.locator(".map-scale")).to_have_count(1)
    await expect(sketch).to_have_attribute("aria-label", "事故位置 45.75670, 126.64240")
    await check_accessible(page, "the console's map sketch")
    await shoot(page, "console-6-map")
    await page.click("#map-close")

    # 我的案件 (a window of its own: the console keeps its call): names, plates, the flag and
    # a search that finds a plate however it is typed. The page scrolls (only the console
    # is held to one screen).
    cases = await page.context.new_page()
    await cases.goto(server.url + "/cases")
    row = cases.locator(f"#cases-body tr[data-case={case_id}]")
    await expect(row.locator(".cases-names")).to_have_text("A 李明、B 王芳")
    await expect(row.locator(".cases-plates")).to_have_text("黑A·12345、黑A·D12345")
    await expect(row.locator(".cases-action")).to_have_text("需处理 复核改判，需出具新版本")
    await check_accessible(cases, "我的案件")
    await cases.fill("#cases-q", "黑a d12345")
    await expect(cases.locator("#cases-body tr[data-case]")).to_have_count(1)
    await cases.fill("#cases-q", "赵")
    await expect(cases.locator("#cases-body tr.empty")).to_have_text("没有符合条件的案件。")
    await cases.fill("#cases-q", "")
    await cases.check("#cases-action")
    await expect(cases.locator("#cases-body tr[data-case]")).to_have_count(1)
    assert await cases.evaluate("getComputedStyle(document.body).overflow") != "hidden"
    # The case page scrolls, its step bar stays in view below the panel's head.
    await cases.set_viewport_size({"width": 1280, "height": 720})
    await cases.locator(f"#cases-body tr[data-case={case_id}] a").click()
    await expect(cases.locator("#cp-btn-determine")).to_be_visible()
    await cases.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
    await cases.wait_for_function("window.scrollY > 200")
    head = await cases.locator(".cp-head").bounding_box()
    bar = await cases.locator("#cp-stepbar").bounding_box()
    assert head is not None and bar is not None
    assert bar["y"] >= head["y"] + head["height"] - 1 and bar["y"] < 200, (head, bar)
    await cases.evaluate("window.scrollTo(0, 0)")
    # The case page has the same sketch, with the service area.
    await cases.locator("#cp-gps .map-open").click()
    await expect(cases.locator("#map-dialog polygon.map-area")).to_have_count(1)
    assert outside == [], outside


async def test_the_centres_own_tile_server_when_configured(
    server_factory: Any, new_page: Any
) -> None:
    """--map-tiles: the tiles around the point come from the path on our own origin (the
    reverse proxy's, here answered by the test), nothing from elsewhere."""
    server = await server_factory(map_tiles="/tiles/{z}/{x}/{y}.png", reservation_timeout=10)
    page: Page = await new_page(viewport=FULL_HD, geolocation=False)
    tiles: list[str] = []
    outside: list[str] = []
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f0005000201a5d3a6a80000000049454e44ae426082"
    )

    async def only_ours(route: Route) -> None:
        url = urlparse(route.request.url)
        if url.hostname not in ("127.0.0.1", "localhost"):
            outside.append(route.request.url)
            await route.abort()
        elif url.path.startswith("/tiles/"):
            tiles.append(url.path)
            await route.fulfill(status=200, content_type="image/png", body=png)
        else:
            await route.continue_()

    await page.context.route("**/*", only_ours)
    await log_in(page, server, server.officer_username, server.officer_password, "/console")
    await page.click("#btn-available")
    driver = await SimDriver(server.url).connect()
    try:
        await driver.report(lat=45.7567, lng=126.6424)
        await expect(page.locator("#panel-incoming")).to_be_visible()
        await page.keyboard.press("Enter")
        await expect(page.locator("#call-gps #btn-map")).to_be_visible()
        await page.keyboard.press("Alt+M")  # the map of the driver's position
        view = page.locator("#map-dialog .map-tiles")
        await expect(view).to_be_visible()
        await expect(view.locator("img.map-tile")).to_have_count(9)
        await expect(view).to_have_attribute("aria-label", "事故位置 45.75670, 126.64240")
    finally:
        await driver.close()
    # Zoom 17 around (45.7567, 126.6424): the tile holding the point and its 8 neighbours.
    n = 2**17
    x = int((126.6424 + 180) / 360 * n)
    lat = math.radians(45.7567)
    y = int((1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n)
    await eventually(lambda: len(set(tiles)) == 9, message=lambda: str(tiles))
    assert set(tiles) == {f"/tiles/17/{x + i}/{y + j}.png" for i in (-1, 0, 1) for j in (-1, 0, 1)}
    assert outside == [], outside
