"""Small things a user notices (issue 12), in real Chromium against the real server: waiting
figures that move, a cancelled driver not told to leave the scene, a call's warning that does
not greet the next call, a closed case's form read-only."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import Page, Route, expect

from sim.client import SimDriver
from tests.browser.test_case_pages import (
    PARTY_A,
    answered_by_sim_officer,
    api,
    case_server,  # noqa: F401 (a fixture)
    to_evidence_collected,
)
from tests.browser.test_console import DESKTOP, log_in
from tests.browser.test_driver_page import answer_eligibly
from tests.support.axe import check_accessible

pytestmark = pytest.mark.browser


@pytest.fixture
def expected_console_errors() -> list[str]:
    return [r"status of 404 .*/recording'"]  # the abandoned call has no recording


async def test_waiting_figures_move_and_a_cancelled_driver_is_not_sent_away(
    live_server: Any, new_page: Any
) -> None:
    server = live_server
    # The only officer is busy with another call: the page's call waits.
    console: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(console, server, server.officer_username, server.officer_password, "/console")
    await console.click("#btn-available")
    other = await SimDriver(server.url).connect()
    try:
        await waiting_and_cancelled(server, console, other, new_page)
    finally:
        await other.close()


async def waiting_and_cancelled(
    server: Any, console: Page, other: SimDriver, new_page: Any
) -> None:
    await other.report()
    await console.click("#btn-accept")
    await other.wait_state("in_call")

    phone: Page = await new_page(phone=True)
    await phone.goto(server.url + "/driver")
    await phone.click("#btn-safety-next")
    await answer_eligibly(phone)
    await phone.click("#btn-report")
    await expect(phone.locator("#screen-waiting")).to_be_visible()
    case_id = await phone.evaluate("window.kcDriver.caseId")

    # Both figures move on their own, between the server's pushes.
    await expect(console.locator("#qs-waiting")).to_have_text("1")
    # (Compared as numbers, not as one expected text: on a loaded machine a second's text
    # can come and go between two looks.)
    await expect(console.locator("#qs-longest")).to_have_text(re.compile(r"^\d+ 秒$"))
    seen = int((await console.inner_text("#qs-longest")).split()[0])
    await console.wait_for_function(
        "(n) => parseInt(document.getElementById('qs-longest').textContent, 10) >= n + 2",
        arg=seen,
        timeout=10000,
    )
    estimate = phone.locator("#queue-estimate")
    await expect(estimate).to_contain_text("预计等待约")
    first = await estimate.inner_text()
    await expect(estimate).not_to_have_text(first, timeout=8000)
    await check_accessible(phone, "the waiting screen")

    # Cancelled while waiting: nobody handled it, so nobody says "leave the scene".
    await phone.click("#btn-cancel")
    await expect(phone.locator("#screen-ended")).to_be_visible()
    await expect(phone.locator("#ended-text")).to_have_text(
        "报警已取消，没有民警处理此事故。如仍需处理，请重新报警或拨打122。"
    )
    await expect(phone.locator("#screen-ended")).not_to_contain_text("撤离")

    # The abandoned case (a supervisor sees every case): its form is read-only.
    boss: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(boss, server, server.supervisor_username, server.supervisor_password, "/cases")
    await boss.goto(f"{server.url}/cases/{case_id}")
    await expect(boss.locator("#cp-status")).to_have_text("已放弃")
    await expect(boss.locator("#cp-readonly")).to_be_visible()
    await expect(boss.locator("#cp-address")).to_be_disabled()
    await expect(boss.locator("#cp-A-name")).to_be_disabled()
    await expect(boss.locator("#cp-save")).to_be_disabled()


async def test_a_calls_warning_ends_with_the_call(live_server: Any, new_page: Any) -> None:
    server = live_server
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(page, server, server.officer_username, server.officer_password, "/console")
    await page.click("#btn-available")
    first = await SimDriver(server.url).connect()
    second = await SimDriver(server.url).connect()
    try:
        await first.report()
        await page.click("#btn-accept")
        await first.wait_state("in_call")
        await first.wait_for(lambda: first.pc is not None and first.frames("audio") > 10)

        async def ignore(_offer: Any) -> None:
            """The phone's media is gone and stays gone."""

        first._answer = ignore  # type: ignore[method-assign]
        await first._close_pc()
        banner = page.locator("#error-banner")
        await expect(banner).to_be_visible()
        await expect(page.locator("#error-text")).to_contain_text("重新连接")
        await first.hangup()
        await expect(page.locator("#panel-wrapup")).to_be_visible()
        await expect(banner).to_be_hidden()

        await second.report()
        await expect(page.locator("#panel-incoming")).to_be_visible(timeout=15000)
        await page.click("#btn-accept")
        await second.wait_state("in_call")
        await expect(page.locator("#panel-call")).to_be_visible()
        await expect(banner).to_be_hidden()
    finally:
        await first.close()
        await second.close()


async def test_an_unanswered_offer_goes_back_to_the_queue(live_server: Any, new_page: Any) -> None:
    # The only officer lets the offer run out (5 s in the test server): the call is not
    # "with another officer" (there is none), it is back in the queue.
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(
        page, live_server, live_server.officer_username, live_server.officer_password, "/console"
    )
    await page.click("#btn-available")
    driver = await SimDriver(live_server.url).connect()
    try:
        await driver.report()
        await expect(page.locator("#panel-incoming")).to_be_visible()
        await expect(page.locator("#error-text")).to_have_text(
            "来电超时未接，已退回队列，将转给下一位空闲坐席。", timeout=15000
        )
        await expect(page.locator("#qs-waiting")).to_have_text("1")
    finally:
        await driver.close()


async def test_i_agree_shows_that_it_is_being_sent(
    case_server: Any,  # noqa: F811 (the fixture imported above)
    new_page: Any,
) -> None:
    server = case_server
    officer = await answered_by_sim_officer(server)
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424, phone=PARTY_A["phone"])
        case_id = ack["case_id"]
        assert (await officer.accept((await officer.wait_offer())["call_id"]))["ok"]
        await driver.wait_state("in_call")
        await to_evidence_collected(officer, case_id)
        await api(officer, "POST", f"/api/cases/{case_id}/leave-scene", {})
        assert (await officer.hangup())["ok"]
        await api(officer, "POST", f"/api/cases/{case_id}/agreement", {})

        phone: Page = await new_page(phone=True, geolocation=False)
        gate = asyncio.Event()

        async def slow(route: Route) -> None:
            await gate.wait()  # a slow roadside network
            await route.continue_()

        await phone.route("**/agreement", slow)
        await phone.goto(server.url + ack["progress_url"])
        agree = phone.locator("#pg-agree-confirm")
        await expect(agree).to_have_text("我同意")
        await agree.click()
        await expect(agree).to_be_disabled()
        await expect(agree).to_have_attribute("aria-busy", "true")
        await expect(agree).to_have_text("正在提交…")
        await expect(phone.locator("#pg-agree-withdraw")).to_be_disabled()
        await check_accessible(phone, "the progress page while 我同意 is sent")
        gate.set()
        await expect(phone.locator("#pg-agree-list li").nth(0)).to_have_attribute(
            "data-confirmed", "true"
        )
        await expect(agree).to_be_hidden()
    finally:
        await driver.close()
        await officer.close()
