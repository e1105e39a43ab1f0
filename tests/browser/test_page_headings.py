"""Every page has its <h1> and passes axe-core (no violation of impact moderate or above), in
real Chromium: the public pages, the officer's and the supervisor's (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_console import DESKTOP, log_in
from tests.support.axe import check_accessible

pytestmark = pytest.mark.browser


@pytest.fixture
def expected_console_errors() -> list[str]:
    return [r"status of 404 \(Not Found\)"]  # the invalid link's page answers 404


async def heading_and_axe(page: Page, where: str) -> None:
    await expect(page.locator("h1:visible, h1.sr-only").first).to_be_attached()
    await check_accessible(page, where)


async def test_public_pages(live_server: Any, new_page: Any) -> None:
    page: Page = await new_page(phone=True)
    for path in ("/", "/login", "/driver", "/p/not-a-valid-link-token", "/j/not-a-valid-token-x"):
        await page.goto(live_server.url + path)
        await heading_and_axe(page, path)


async def test_officer_and_supervisor_pages(live_server: Any, new_page: Any) -> None:
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(
        page, live_server, live_server.supervisor_username, live_server.supervisor_password,
        "/console",
    )
    await expect(page.locator("#status-pill")).to_have_attribute("data-status", "break")
    await heading_and_axe(page, "/console")
    for path in ("/cases", "/reviews", "/wallboard"):
        await page.goto(live_server.url + path)
        await page.wait_for_load_state("networkidle")
        await heading_and_axe(page, path)
