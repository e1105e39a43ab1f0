"""Every page has its <h1> and passes axe-core (no violation of impact moderate or above), in
real Chromium: the public pages, the officer's and the supervisor's (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_console import DESKTOP
from tests.support.axe import check_accessible

pytestmark = pytest.mark.browser


@pytest.fixture
def expected_console_errors() -> list[str]:
    return [
        r"status of 404 \(Not Found\)",  # the invalid links' pages answer 404
        r"status of 401 .*/login'",  # the refused login
    ]


async def heading_and_axe(page: Page, where: str) -> None:
    await expect(page.locator("h1:visible, h1.sr-only").first).to_be_attached()
    await check_accessible(page, where)


async def test_every_page_public_officer_and_supervisor(live_server: Any, new_page: Any) -> None:
    # One server for all of them (each start loads the plate models).
    phone: Page = await new_page(phone=True)
    for path in ("/", "/login", "/driver", "/p/not-a-valid-link-token", "/j/not-a-valid-token-x"):
        await phone.goto(live_server.url + path)
        await heading_and_axe(phone, path)

    # A refused login keeps the typed name: only the password is typed again.
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await page.goto(live_server.url + "/login?next=/console")
    await page.fill("#username", live_server.supervisor_username)
    await page.fill("#password", "not-the-password")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    await expect(page.locator("#username")).to_have_value(live_server.supervisor_username)
    await expect(page.locator("#password")).to_have_value("")
    await expect(page.locator("#password")).to_be_focused()
    await heading_and_axe(page, "the login form after a refusal")
    await page.fill("#password", live_server.supervisor_password)
    await page.click("#login-submit")
    await expect(page).to_have_url(live_server.url + "/console")
    await expect(page.locator("#status-pill")).to_have_attribute("data-status", "break")
    await heading_and_axe(page, "/console")
    for path in ("/cases", "/reviews", "/wallboard"):
        await page.goto(live_server.url + path)
        await page.wait_for_load_state("networkidle")
        await heading_and_axe(page, path)
