"""Issue 12's minor items that a user sees in a page, in real Chromium (the rest have unit tests):
the registry check says when a policy ended and shows a declared vehicle type that differs from
the registration as a mismatch; the driver's photo toast covers no button, a cancelled case says
why, a report again in the same tab takes 3 taps; the progress page states the party's outcome
and that a later document replaced an earlier version."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import SimDriver, SimOfficer
from tests.browser.officer_case import id_number
from tests.browser.test_case_pages import PARTY_A as CASE_PARTY_A
from tests.browser.test_case_pages import (
    answered_by_sim_officer,
    case_server,  # noqa: F401 (a fixture: a server whose registry knows both parties)
    to_evidence_collected,
)
from tests.support.registry import import_registry

pytestmark = pytest.mark.browser

# The car is registered as a 大型客车 and its 交强险 ended on 2019-12-31; the driver declares a
# 小型轿车.
PARTY = {
    "name": "赵强",
    "licence_no": id_number("23010319800101003"),
    "plate": "黑A·B1234",
    "policy_no": "PDZA201923010000009",
    "insurer": "中国人民财产保险股份有限公司哈尔滨市分公司",
}


async def seed(data_dir: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    def csv(name: str, *lines: str) -> Path:
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return folder / name

    p = PARTY
    await import_registry(
        data_dir,
        {
            "licences": csv(
                "licences.csv",
                "licence_no,name,licence_class,first_issued,valid_from,valid_until,status",
                f"{p['licence_no']},{p['name']},A1,2005-06-01,2016-06-01,2040-06-01,normal",
            ),
            "vehicles": csv(
                "vehicles.csv",
                "plate,plate_colour,vehicle_type,brand_model,body_colour,owner_name,vin,"
                "registered_on,inspection_valid_until,status",
                f"{p['plate']},yellow,大型客车,宇通牌ZK6122,白,{p['name']},LZYTBTD6XK1000003,"
                "2018-05-01,2040-05-01,normal",
            ),
            "policies": csv(
                "policies.csv",
                "policy_no,plate,insurer,kind,valid_from,valid_until",
                f"{p['policy_no']},{p['plate']},{p['insurer']},compulsory,2019-01-01,2019-12-31",
            ),
        },
    )


async def answered_case(server: Any) -> tuple[SimOfficer, str]:
    """A case the server's officer answered and hung up (the case page is theirs)."""
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    await officer.connect()
    driver = await SimDriver(server.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report(phone="13800138000")
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await driver.wait_state("in_call")
        assert (await officer.hangup(offer["call_id"]))["ok"]
    finally:
        await driver.close()
    return officer, str(ack["case_id"])


async def api(officer: SimOfficer, method: str, path: str, body: Any = None) -> Any:
    status, data = await officer.api(method, path, body)
    assert 200 <= status < 300, (method, path, status, data)
    return data


async def log_in(page: Page, server: Any, target: str) -> None:
    await page.goto(server.url + target)
    await page.fill("#username", server.officer_username)
    await page.fill("#password", server.officer_password)
    await page.click("#login-submit")


async def test_registry_check_names_the_policy_end_and_a_declared_type_mismatch(
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
        body = {"revision": view["revision"], "form": form}
        await api(officer, "PUT", f"/api/cases/{case_id}/form", body)
        key = parties[0]["key"]
        await api(officer, "POST", f"/api/cases/{case_id}/verify", {"party": key})
    finally:
        await officer.close()

    page: Page = await new_page(viewport={"width": 1600, "height": 1000}, geolocation=False)
    await log_in(page, server, f"/cases/{case_id}")
    card = page.locator(f'.cp-party[data-key="{key}"]')
    vehicle = card.locator('.cp-item[data-item="vehicle"]')
    insurance = card.locator('.cp-item[data-item="insurance"]')
    # Before: the vehicle row was green ("车辆 有效") and the policy row said only "交强险已过期".
    await expect(vehicle).to_have_attribute("data-status", "mismatch")
    await expect(vehicle.locator(".cp-vbadge")).to_have_text("车辆 不符")
    await expect(vehicle.locator(".cp-vreason")).to_have_text(
        "车型不符：申报为小型轿车，登记为大型客车"
    )
    await expect(insurance.locator(".cp-vreason")).to_have_text("交强险已于 2019-12-31 到期")
    # The mismatch holds "information complete" (issue 12): the missing list says so in words
    # until the officer decides on the vehicle (accepts it here: the registry is out of date).
    line = page.locator("#cp-missing-list li").filter(
        has_text=f"当事人 {key}：申报车型为小型轿车，登记为大型客车，请改正车型或作出决定"
    )
    await expect(line).to_have_count(1)
    await vehicle.locator(".cp-decision-reason").fill("登记信息未更新，行驶证已当场核对")
    await vehicle.get_by_role("button", name="接受", exact=True).click()
    await expect(vehicle.locator(".cp-decided-accept")).to_contain_text("登记信息未更新")
    await expect(line).to_have_count(0)
    # Taking the registry's type into the form ends the mismatch.
    await vehicle.get_by_role("button", name="采用").click()
    await expect(vehicle).to_have_attribute("data-status", "valid")
    await expect(vehicle.locator(".cp-vreason")).to_have_count(0)


# From the first screen to the report (issue 12: counted in docs/driver-effort.md; was 9).
# The four yes/no conditions are one checklist; the last answer asks for the camera.
DRIVER_TAPS = (
    "#btn-safety-next",
    "#q-check-all",
    "#q-cause-rear_end",
    "#q-legal-none",
    "#btn-report",
)


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


async def test_the_photo_toast_covers_no_button_and_a_cancelled_case_says_why(
    live_server: Any, new_page: Any
) -> None:
    server = live_server
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    await officer.connect()
    try:
        await officer.set_available()
        phone: Page = await new_page(phone=True)
        await phone.goto(server.url + "/driver")
        await expect(phone.locator("#btn-safety-same")).to_be_hidden()  # nothing answered yet
        for selector in DRIVER_TAPS:
            await phone.click(selector)
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await expect(phone.locator("#screen-in-call")).to_be_visible(timeout=20000)

        # The toast as the page shows it after a photo went out (still.js), over the call.
        await phone.evaluate("document.getElementById('still-toast').hidden = false")
        toast = await phone.locator("#still-toast").bounding_box()
        assert toast is not None
        for button in ("#btn-switch-camera", "#btn-mute", "#btn-hangup"):
            box = await phone.locator(button).bounding_box()
            assert box is not None and not overlaps(toast, box), (button, toast, box)
        await phone.evaluate("document.getElementById('still-toast').hidden = true")

        # The officer cancels the case during the call, then hangs up: the driver reads why.
        case_id = offer["case_id"]
        reason = "有人员受伤，转现场处理"
        await api(officer, "POST", f"/api/cases/{case_id}/cancel", {"reason": reason})
        line = phone.locator(".call-case .case-cancel-line")
        await expect(line).to_have_text(f"民警已撤销本案：{reason}")
        assert (await officer.hangup())["ok"]
        await expect(phone.locator("#screen-ended")).to_be_visible()
        await expect(phone.locator("#ended-cancel")).to_have_text(f"民警已撤销本案：{reason}")

        # Reporting again in the same tab: the safety screen offers the answers just given,
        # and two taps reach the queue (keeping the answers asks for the camera).
        await phone.click("#btn-again")
        again = ("#btn-safety-same", "#btn-report")
        for selector in again:
            await phone.click(selector)
        await expect(phone.locator("#driver-app")).to_have_attribute(
            "data-screen", re.compile("^(waiting|connecting|in_call)$")
        )
    finally:
        await officer.close()


async def test_the_progress_page_names_the_new_version_and_the_partys_outcome(
    case_server: Any,  # noqa: F811 (the fixture imported above)
    new_page: Any,
) -> None:
    server = case_server
    officer = await answered_by_sim_officer(server)
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424, phone=CASE_PARTY_A["phone"])
        case_id = ack["case_id"]
        assert (await officer.accept((await officer.wait_offer())["call_id"]))["ok"]
        await driver.wait_state("in_call")
        await to_evidence_collected(officer, case_id)  # A full liability, B none
        await api(officer, "POST", f"/api/cases/{case_id}/leave-scene", {})
        assert (await officer.hangup())["ok"]
        await api(officer, "POST", f"/api/cases/{case_id}/determinations", {})

        phone: Page = await new_page(phone=True, geolocation=False)
        await phone.goto(server.url + ack["progress_url"])
        await expect(phone.locator("#pg-outcome")).to_have_text("您承担全部责任")
        await expect(phone.locator("#pg-doc-version")).to_be_hidden()

        body = {"correction_reason": "更正事故地点的笔误"}
        second = await api(officer, "POST", f"/api/cases/{case_id}/determinations", body)
        assert second["version"] == 2
        await phone.reload()
        await expect(phone.locator("#pg-doc-version")).to_have_text(
            "这是重新出具的第 2 版认定书，已取代第 1 版，以本版为准。"
        )
        await expect(phone.locator("#pg-outcome")).to_have_text("您承担全部责任")
    finally:
        await driver.close()
        await officer.close()

