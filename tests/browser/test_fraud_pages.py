"""Fraud signals and API reads as the supervisor sees them, in headless Chromium: the /fraud
list names the repeat cases (not the strangers'), its link opens the case page, whose fraud
section lists the flags with the other case linked; the case's trail shows the insurer
system's read; a case without flags has no fraud section."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiohttp
import pytest
from playwright.async_api import expect

from kuaichu.appkeys import api_keys_key
from tests.api.cases import cleared_case, determined_case, id_number, party
from tests.browser.conftest import NewPage
from tests.casework.seed import CST, case_id
from tests.conftest import ServerFactory

pytestmark = pytest.mark.browser

FIRST, REPEAT, PLAIN = case_id(9501), case_id(9502), case_id(9503)


async def test_supervisor_sees_flagged_cases_and_a_case_pages_flags(
    server_factory: ServerFactory, new_page: NewPage
) -> None:
    server = await server_factory()
    app = server.app
    assert app is not None
    now = datetime.now(CST)
    driver = dict(licence=id_number("23010419880808001"), phone="13300000001", liability="full")
    for case, other, n in ((FIRST, "13300000002", 2), (REPEAT, "13300000003", 3)):
        await determined_case(
            app,
            case,
            [
                party("A", "冯一", "黑A·55555", "平安产险", **driver),
                party(
                    "B",
                    "陈二",
                    f"黑A·1000{n}",
                    "人保财险",
                    licence=id_number(f"2301041988080800{n}"),
                    phone=other,
                    liability="none",
                ),
            ],
            at=now - timedelta(days=n),
        )
    await cleared_case(
        app,
        PLAIN,
        [
            party("A", "褚三", "黑E·12121", "人保财险", **{**driver, "phone": "13300000009",
                  "licence": id_number("23010419900101009")}),
            party(
                "B",
                "卫四",
                "黑E·34343",
                "平安产险",
                licence=id_number("23010419900101010"),
                phone="13300000010",
                liability="none",
            ),
        ],
        at=now - timedelta(hours=1),
    )
    key, token = await app[api_keys_key].create("picc")
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{server.url}/api/v1/cases/{REPEAT}", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 200

    page = await new_page()
    await page.goto(server.url + "/fraud")
    await page.fill("#username", server.supervisor_username)
    await page.fill("#password", server.supervisor_password)
    await page.click("#login-submit")
    await expect(page).to_have_url(server.url + "/fraud")
    await expect(page.locator(f'.fraud-item[data-case="{REPEAT}"]')).to_be_visible()
    await expect(page.locator(f'.fraud-item[data-case="{FIRST}"]')).to_be_visible()
    await expect(page.locator(f'.fraud-item[data-case="{PLAIN}"]')).to_have_count(0)
    item = page.locator(f'.fraud-item[data-case="{REPEAT}"]')
    await expect(item.locator('.fraud-flag[data-code="repeat_plate"]')).to_contain_text(
        "同一车辆近期多次出险"
    )
    await item.locator("a.fraud-case").click()

    await expect(page).to_have_url(f"{server.url}/cases/{REPEAT}")
    section = page.locator("#cp-fraud")
    await expect(section).to_be_visible()
    plate = section.locator('.fraud-flag[data-code="repeat_plate"]')
    await expect(plate).to_contain_text("同一车辆近期多次出险")
    await expect(plate.locator(f'a[href="/cases/{FIRST}"]')).to_have_count(1)
    await expect(section.locator('.fraud-flag[data-code="repeat_person"]')).to_have_count(1)
    # The insurer's system's read is in the trail, named as such, with the key.
    await page.click("#cp-trail-summary")
    await expect(page.locator("#cp-trail")).to_contain_text(f"保险公司系统（接口） key {key.id}")

    await page.goto(f"{server.url}/cases/{PLAIN}")
    await expect(page.locator("#cp-status")).not_to_be_empty()
    await page.wait_for_function("() => window.kcCase && window.kcCase.fraudStatus")
    await expect(page.locator("#cp-fraud")).to_be_hidden()
