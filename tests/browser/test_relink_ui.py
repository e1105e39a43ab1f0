"""Re-reports proposed for linking in real Chromium (issue 12): while the officer works the
first driver's case, the other driver of the accident calls from the same place; the case
panel shows the proposal, one click and a confirmation merge it, and the second caller is a
party the officer can remove (the case's own caller cannot be)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import SimDriver, SimOfficer
from tests.browser.test_console import DESKTOP, log_in
from tests.support.axe import check_accessible

pytestmark = pytest.mark.browser


@pytest.fixture
def expected_console_errors() -> list[str]:
    return [r"status of 404 .*/recording'"]  # the live call has no recording yet


async def test_a_second_report_from_the_same_place_is_proposed_and_merged(
    live_server: Any, new_page: Any
) -> None:
    server = live_server
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    await officer.connect()
    first = await SimDriver(server.url).connect()
    second = await SimDriver(server.url).connect()
    try:
        await officer.set_available()
        ack = await first.report(phone="13800000011", lat=45.7567, lng=126.6424)
        await officer.accept((await officer.wait_offer())["call_id"])
        case_id = ack["case_id"]

        page: Page = await new_page(viewport=DESKTOP, geolocation=False)
        await log_in(page, server, server.officer_username, server.officer_password, "/cases")
        await page.goto(f"{server.url}/cases/{case_id}")
        await expect(page.locator("#cp-case-id")).to_have_text(case_id)
        await expect(page.locator("#cp-relink")).to_be_hidden()

        # The other driver calls from a few metres away, and waits in the queue.
        ack2 = await second.report(phone="13900000022", lat=45.7568, lng=126.6425)
        notice = page.locator(f'.cp-relink-item[data-case-id="{ack2["case_id"]}"]')
        await expect(notice).to_contain_text("位置相近", timeout=15000)
        await check_accessible(page, "the case panel proposing a re-report")
        await notice.locator("button").click()
        await expect(page.locator("#cp-dialog")).to_be_visible()
        await expect(page.locator("#cp-dialog-title")).to_contain_text(ack2["case_id"])
        await page.click("#cp-dialog-yes")

        # Merged: party B is the second caller, removable; party A, the case's caller, not.
        await expect(page.locator("#cp-B-phone")).to_have_value("13900000022")
        await expect(page.locator("#cp-relink")).to_be_hidden()
        party_a = page.locator('.cp-party[data-key="A"] [data-action=remove-party]')
        party_b = page.locator('.cp-party[data-key="B"] [data-action=remove-party]')
        await expect(party_a).to_be_hidden()
        await expect(party_b).to_be_visible()
        status, view = await officer.api("GET", f"/api/cases/{ack2['case_id']}")
        assert status == 200 and view["case"]["status"] == "cancelled"
        assert view["merged_into"] == case_id
        # The merged report is one click away, and its page points back here.
        merged = page.locator("#cp-relink-merged")
        await expect(merged).to_contain_text(f"已合并的报警： {ack2['case_id']}")
        await merged.get_by_role("link", name=ack2["case_id"]).click()
        await expect(page.locator("#cp-case-id")).to_have_text(ack2["case_id"])
        await expect(merged).to_contain_text(f"本报警已合并到案件 {case_id}")
        await check_accessible(page, "a report merged into another case")
    finally:
        for c in (first, second, officer):
            await c.close()
