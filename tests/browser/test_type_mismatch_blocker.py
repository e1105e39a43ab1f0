"""A declared vehicle type unlike the registered one holds "information complete" (issue 12):
the case panel lists it among what is missing, in words, with a decision on the vehicle row;
accepting it with a reason takes it off the list, in real Chromium."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_minor_items2 import PARTY, answered_case, api, log_in, seed

pytestmark = pytest.mark.browser

LINE = "当事人 A：申报车型为小型轿车，登记为大型客车，请改正车型或作出决定"


async def test_the_missing_list_names_a_type_mismatch_until_it_is_decided(
    server_factory: Callable[..., Any],
    new_page: Any,
    tmp_path: Path,
    expected_console_errors: list[str],
) -> None:
    # The call had no media (a simulated driver), so it has no recording to list.
    expected_console_errors.append(r"status of 404 .*/api/calls/[\w-]+/recording'")
    server = await server_factory(reservation_timeout=5, wrapup_seconds=2)
    await seed(server.data_dir, tmp_path / "registry")
    officer, case_id = await answered_case(server)
    try:
        view = await api(officer, "GET", f"/api/cases/{case_id}")
        form = dict(view["form"])
        parties = [dict(p) for p in form["parties"]]
        parties[0].update(
            name=PARTY["name"],
            licence_no=PARTY["licence_no"],
            plate=PARTY["plate"],
            vehicle_type="small_car",
        )
        form["parties"] = parties
        await api(
            officer,
            "PUT",
            f"/api/cases/{case_id}/form",
            {"revision": view["revision"], "form": form},
        )
        await api(officer, "POST", f"/api/cases/{case_id}/verify", {"party": "A"})
    finally:
        await officer.close()

    page: Page = await new_page(viewport={"width": 1600, "height": 1000}, geolocation=False)
    await log_in(page, server, f"/cases/{case_id}")
    missing = page.locator("#cp-missing-list li")
    await expect(missing.filter(has_text=LINE)).to_have_count(1)
    vehicle = page.locator('.cp-party[data-key="A"] .cp-item[data-item="vehicle"]')
    await expect(vehicle).to_have_attribute("data-status", "mismatch")
    await vehicle.locator(".cp-decision-reason").fill("登记信息未更新，行驶证已当场核对")
    await vehicle.get_by_role("button", name="接受", exact=True).click()
    await expect(vehicle.locator(".cp-decided-accept")).to_contain_text("登记信息未更新")
    await expect(missing.filter(has_text="申报车型")).to_have_count(0)
    # The policy that ended in 2019 still needs its own decision: the list is not empty.
    await expect(missing.filter(has_text="当事人 A：交强险")).to_have_count(1)
