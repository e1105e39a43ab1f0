"""The pages of the case workflow in real Chromium against the real server: the case panel in
the console during a call, the driver's full-screen leave-the-scene notice, the parties'
progress page with the determination and the review request, the supervisor's review queue.

The steps that are not under test here are taken through the JSON API with an officer's
session, as the console would (tests/e2e cover the API itself)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Locator, Page, expect

from sim.client import SimDriver, SimOfficer
from tests.support.registry import import_registry

pytestmark = pytest.mark.browser


DESKTOP = {"width": 1600, "height": 1000}
ELIGIBLE_TAPS = [
    "#q-check-all",
    "#q-cause-rear_end",
    "#q-legal-none",
]


# -- a server whose local registry knows the two parties ----------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str) -> str:
    """A resident ID number (GB 11643) with its check character."""
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


# Party A's papers are all in order; party B's 交强险 lapsed years ago, so the officer has to
# decide on it (and the registry offers B's insurer and policy number to fill in).
PARTY_A: dict[str, str] = {
    "name": "李明",
    "phone": "13800138000",
    "licence_no": id_number("23010319880512001"),
    "plate": "黑A·12345",
    "insurer": "中国人民财产保险股份有限公司哈尔滨市分公司",
    "policy_no": "PDZA202423010000001",
}
PARTY_B: dict[str, str] = {
    "name": "王芳",
    "phone": "13900139000",
    "licence_no": id_number("23010219900303002"),
    "plate": "黑A·D12345",
    "insurer": "中国平安财产保险股份有限公司黑龙江分公司",
    "policy_no": "PDZA201923010000002",
}


def _write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


async def seed_registry(data_dir: Path, folder: Path) -> None:
    """Load the two parties into the server's local registry with ``registry import``'s code."""
    folder.mkdir(parents=True, exist_ok=True)
    a, b = PARTY_A, PARTY_B
    files = {
        "licences": _write_csv(
            folder / "licences.csv",
            "licence_no,name,licence_class,first_issued,valid_from,valid_until,status",
            f"{a['licence_no']},{a['name']},C1,2010-06-01,2016-06-01,2040-06-01,normal",
            f"{b['licence_no']},{b['name']},C1,2012-03-01,2018-03-01,2040-03-01,normal",
        ),
        "vehicles": _write_csv(
            folder / "vehicles.csv",
            "plate,plate_colour,vehicle_type,brand_model,body_colour,owner_name,vin,"
            "registered_on,inspection_valid_until,status",
            f"{a['plate']},blue,小型轿车,大众牌FV7152,白,{a['name']},LFV2A21K6A3000001,"
            "2018-05-01,2040-05-01,normal",
            f"{b['plate']},green,小型轿车,比亚迪牌BYD7005,蓝,{b['name']},LGXC16DF9K0000002,"
            "2019-08-01,2040-08-01,normal",
        ),
        "policies": _write_csv(
            folder / "policies.csv",
            "policy_no,plate,insurer,kind,valid_from,valid_until",
            f"{a['policy_no']},{a['plate']},{a['insurer']},compulsory,2020-01-01,2040-12-31",
            f"{b['policy_no']},{b['plate']},{b['insurer']},compulsory,2019-01-01,2019-12-31",
        ),
    }
    await import_registry(data_dir, files)


@pytest.fixture
async def case_server(server_factory: Callable[..., Any], tmp_path: Path) -> Any:
    """A live server for the case pages: quick reservations and wrap-up, a document
    authority, and a registry that knows both parties."""
    server = await server_factory(
        reservation_timeout=5,
        wrapup_seconds=2,
        driver_grace_seconds=1,
        authority="哈尔滨市公安局交通警察支队",
        document_prefix="哈公交认字",
    )
    await seed_registry(server.data_dir, tmp_path / "registry")
    return server


async def log_in(page: Page, server: Any, username: str, password: str, target: str) -> None:
    await page.goto(server.url + target)
    await expect(page).to_have_url(f"{server.url}/login?next={target}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await expect(page).to_have_url(server.url + target)


def party(data: dict[str, str], key: str, **more: Any) -> dict[str, Any]:
    return {
        "key": key,
        "reporter": key == "A",
        "name": data["name"],
        "phone": data["phone"],
        "licence_no": data["licence_no"],
        "plate": data["plate"],
        "vehicle_type": "small_car",
        **more,
    }


async def api(officer: SimOfficer, method: str, path: str, body: Any = None) -> Any:
    status, data = await officer.api(method, path, body)
    assert 200 <= status < 300, (method, path, status, data)
    return data


async def to_evidence_collected(officer: SimOfficer, case_id: str) -> None:
    """Form complete, both parties verified, B's lapsed policy accepted, information done:
    what the officer does in the panel, taken through the API."""
    view = await api(officer, "GET", f"/api/cases/{case_id}")
    form = dict(view["form"])
    form.update(
        address="哈尔滨市南岗区红军街15号附近",
        description="A车在红军街由南向北行驶时追尾前方等红灯的B车。",
        parties=[
            party(PARTY_A, "A", liability="full", fault="未与前车保持安全距离"),
            party(PARTY_B, "B", liability="none"),
        ],
    )
    await api(
        officer, "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    for key in ("A", "B"):
        await api(officer, "POST", f"/api/cases/{case_id}/verify", {"party": key})
    await api(
        officer,
        "POST",
        f"/api/cases/{case_id}/decisions",
        {
            "party": "B",
            "item": "insurance",
            "decision": "accept",
            "reason": "当事人出示了续保的电子保单",
        },
    )
    await api(officer, "POST", f"/api/cases/{case_id}/information", {})


async def answered_by_sim_officer(server: Any) -> SimOfficer:
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    await officer.connect()
    await officer.set_available()
    return officer


# -- (a) the case panel in the console during a call ------------------------------------


@dataclass
class PanelCall:
    """The console logged in, available, and the call answered: the case panel is open."""

    server: Any
    page: Page
    driver: SimDriver
    other: SimOfficer  # the same officer's second session: "someone else saved meanwhile"
    case_id: str

    @property
    def panel(self) -> Locator:
        return self.page.locator("#casepanel")


@pytest.fixture
async def panel_call(
    case_server: Any, new_page: Any, expected_console_errors: list[str]
) -> AsyncIterator[PanelCall]:
    # The refused saves the panel tests provoke: a bad plate (400) and a stale revision (409).
    expected_console_errors += [r"status of 400 .*/form'", r"status of 409 .*/form'"]
    server = case_server
    page: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(page, server, server.officer_username, server.officer_password, "/console")
    await expect(page.locator("#link-my-cases")).to_have_attribute("href", "/cases")
    await expect(page.locator("#link-reviews")).to_have_count(0)  # officers have no queue
    await page.click("#btn-available")
    await expect(page.locator("#status-pill")).to_have_attribute("data-status", "available")

    driver = await SimDriver(server.url).connect()
    other = SimOfficer(server.url, server.officer_username, server.officer_password)
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424, phone=PARTY_A["phone"])
        assert ack["ok"], ack
        await expect(page.locator("#panel-incoming")).to_be_visible()
        await page.click("#btn-accept")
        yield PanelCall(server, page, driver, other, ack["case_id"])
    finally:
        await driver.close()


async def panel_opens(c: PanelCall) -> None:
    """The panel opens beside the video with what the report already said."""
    page, panel, case_id = c.page, c.panel, c.case_id
    # The panel opens beside the video with what the report already said.
    panel = page.locator("#casepanel")
    await expect(page.locator("#case-host")).to_be_visible()
    await expect(page.locator("#panel-call")).to_be_visible()
    await expect(page.locator("#cp-case-id")).to_have_text(case_id)
    await expect(page.locator("#cp-status")).to_have_text("视频通话中")
    await expect(page.locator("#cp-cause")).to_have_value("rear_end")
    await expect(page.locator("#cp-gps")).to_contain_text("45.75670, 126.64240")
    await expect(page.locator("#cp-A-phone")).to_have_value(PARTY_A["phone"])
    await expect(panel.locator(".cp-party[data-key=A] .cp-badge-reporter")).to_be_visible()
    await expect(panel.locator(".cp-party[data-key=A] [data-action=remove-party]")).to_be_hidden()
    # The information step is offered, with what it still needs.
    await expect(page.locator("#cp-btn-information")).to_be_visible()
    await expect(page.locator("#cp-missing")).to_contain_text("当事人 A 的姓名")
    await expect(page.locator("#cp-missing")).to_contain_text("另一方当事人")


async def panel_saves(c: PanelCall) -> None:
    """A plate saves in its canonical spelling; a bad one is marked on its field."""
    page, panel, server, case_id, other = c.page, c.panel, c.server, c.case_id, c.other
    # Typing a plate and leaving the field saves it, in the canonical spelling.
    await page.fill("#cp-A-name", PARTY_A["name"])
    await page.fill("#cp-A-plate", "黑a12345")
    await page.press("#cp-A-plate", "Tab")
    await expect(page.locator("#cp-save-state")).to_have_attribute("data-state", "saved")
    await expect(page.locator("#cp-A-plate")).to_have_value("黑A·12345")
    view = await api(other, "GET", f"/api/cases/{case_id}")
    assert view["form"]["parties"][0]["plate"] == "黑A·12345"
    assert view["form"]["parties"][0]["name"] == PARTY_A["name"]

    # Saved for good: the case page (another tab) loads it from the server.
    other_tab = await page.context.new_page()
    await other_tab.goto(f"{server.url}/cases/{case_id}")
    await expect(other_tab.locator("#cp-A-plate")).to_have_value("黑A·12345")
    await expect(other_tab.locator("#cp-A-name")).to_have_value(PARTY_A["name"])
    await other_tab.close()

    # A plate that is not one: the server's field error lands on that field.
    await page.fill("#cp-A-plate", "ABC")
    await page.keyboard.press("Control+s")
    plate_field = panel.locator(".cp-party[data-key=A] [data-for=plate]")
    await expect(plate_field).to_have_class("cp-field cp-invalid")
    await expect(plate_field.locator(".cp-field-error")).to_contain_text("号牌格式不正确")
    await expect(page.locator("#cp-save-state")).to_have_attribute("data-state", "failed")
    # Correcting it clears the mark and saves.
    await page.fill("#cp-A-plate", PARTY_A["plate"])
    await page.press("#cp-A-plate", "Tab")
    await expect(page.locator("#cp-save-state")).to_have_attribute("data-state", "saved")
    await expect(plate_field).not_to_have_class("cp-field cp-invalid")


async def panel_second_party(c: PanelCall) -> None:
    """The second party and the liabilities; then only verification is missing."""
    page = c.page
    # The second party, added and filled in; choosing A's liability proposes B's.
    await page.click("#cp-add-party")
    await expect(page.locator("#cp-B-name")).to_be_focused()
    for field in ("name", "phone", "licence_no", "plate"):
        await page.fill(f"#cp-B-{field}", PARTY_B[field])
    await page.select_option("#cp-A-vehicle_type", "small_car")
    await page.select_option("#cp-B-vehicle_type", "small_car")
    await page.fill("#cp-A-licence_no", PARTY_A["licence_no"])
    await page.fill("#cp-A-fault", "未与前车保持安全距离")
    await page.select_option("#cp-A-liability", "full")
    await expect(page.locator("#cp-B-liability")).to_have_value("none")
    await page.fill("#cp-address", "哈尔滨市南岗区红军街15号附近")
    await page.fill("#cp-description", "A车追尾前方等红灯的B车。")
    await expect(page.locator("#cp-desc-counter")).to_have_text("13/2000")
    await page.click("#cp-save")
    await expect(page.locator("#cp-save-state")).to_have_attribute("data-state", "saved")
    # The form is complete: both parties are looked up in the registry without a click (issue
    # 12); what is left is the officer's decision on B's lapsed policy.
    await expect(page.locator("#cp-missing li")).to_have_text(
        ["当事人 B：交强险无效，需要民警决定"], timeout=15000
    )


async def panel_verification(c: PanelCall, shoot: Any) -> None:
    """Verification: A is all green, B's lapsed policy needs the officer's decision."""
    page, panel = c.page, c.panel
    # Verification: A is all green; B's policy lapsed, and the registry offers it.
    await panel.locator(".cp-party[data-key=A] [data-action=verify]").click()
    items_a = panel.locator(".cp-party[data-key=A] .cp-item")
    await expect(items_a).to_have_count(3)
    await expect(items_a.locator(".cp-vbadge-valid")).to_have_count(3)
    await panel.locator(".cp-party[data-key=B] [data-action=verify]").click()
    insurance_b = panel.locator(".cp-party[data-key=B] .cp-item[data-item=insurance]")
    await expect(insurance_b.locator(".cp-vbadge")).to_have_text("交强险 无效")
    await expect(insurance_b).to_contain_text("交强险已于 2019-12-31 到期")
    await insurance_b.locator("[data-action=use]").click()
    await expect(page.locator("#cp-B-policy_no")).to_have_value(PARTY_B["policy_no"])
    await expect(page.locator("#cp-B-insurer")).to_have_value(PARTY_B["insurer"])
    await expect(page.locator("#cp-save-state")).to_have_attribute("data-state", "saved")
    # Information is refused until the officer decides on B's policy.
    await expect(page.locator("#cp-missing")).to_contain_text("当事人 B：交强险无效，需要民警决定")
    await insurance_b.locator("[data-decision=accept]").click()
    await expect(insurance_b.locator(".cp-decision-reason")).to_have_class(
        "cp-decision-reason cp-need"
    )
    await insurance_b.locator(".cp-decision-reason").fill("当事人出示了续保的电子保单")
    await insurance_b.locator("[data-decision=accept]").click()
    await expect(insurance_b.locator(".cp-decided")).to_contain_text(
        "民警已接受：当事人出示了续保的电子保单"
    )
    await expect(page.locator("#cp-missing")).to_be_hidden()
    await page.locator("#case-host").evaluate("host => { host.scrollTop = 0; }")
    await shoot(page, "case-panel")


async def panel_stale(c: PanelCall) -> None:
    """Someone else saves meanwhile: our next save is refused, our typing stays."""
    page, case_id, other = c.page, c.case_id, c.other
    # Someone else saves meanwhile: our next save is refused, our typing stays.
    view = await api(other, "GET", f"/api/cases/{case_id}")
    theirs = dict(view["form"], address="哈尔滨市南岗区红军街17号")
    await api(
        other,
        "PUT",
        f"/api/cases/{case_id}/form",
        {"revision": view["revision"], "form": theirs},
    )
    await page.fill("#cp-description", "A车追尾B车，两车轻微受损。")
    await page.press("#cp-description", "Tab")
    await expect(page.locator("#cp-stale")).to_be_visible()
    await expect(page.locator("#cp-stale")).to_contain_text("已在别处修改")
    await expect(page.locator("#cp-description")).to_have_value("A车追尾B车，两车轻微受损。")
    await page.click("#cp-reload")
    await expect(page.locator("#cp-stale")).to_be_hidden()
    await expect(page.locator("#cp-address")).to_have_value("哈尔滨市南岗区红军街17号")
    await expect(page.locator("#cp-description")).to_have_value("A车追尾前方等红灯的B车。")


async def panel_leave(c: PanelCall) -> None:
    """The information step; leave the scene, confirmed in a dialog, reaches the phone."""
    page, driver = c.page, c.driver
    # The information step; leave the scene, confirmed in a dialog, reaches the phone.
    await page.click("#cp-btn-information")
    await expect(page.locator("#cp-status")).to_have_text("信息采集完成")
    await expect(page.locator("#cp-t-info")).to_have_attribute("data-state", "on")
    await page.click("#cp-btn-leave")
    await expect(page.locator("#cp-dialog")).to_be_visible()
    await expect(page.locator("#cp-dialog-title")).to_have_text("通知当事人撤离现场？")
    await page.click("#cp-dialog-yes")
    await expect(page.locator("#cp-result")).to_have_text("撤离通知已推送到 1 部手机，短信 2 条。")
    await driver.wait_event("leave_scene")
    await expect(page.locator("#cp-status")).to_have_text("已撤离现场")
    await expect(page.locator("#cp-sms tr[data-status]")).not_to_have_count(0)
    await expect(page.locator("#cp-sms")).to_contain_text("撤离现场")


async def panel_wrapup(c: PanelCall) -> None:
    """The panel stays through the hang-up and the wrap-up, and a reload."""
    page, case_id = c.page, c.case_id
    # The panel stays through the hang-up and the wrap-up.
    await page.click("#btn-hangup")
    await expect(page.locator("#panel-wrapup")).to_be_visible()
    await expect(page.locator("#case-host")).to_be_visible()
    await expect(page.locator("#cp-case-id")).to_have_text(case_id)
    # A reload during wrap-up brings the panel back with what was saved.
    await page.reload()
    await expect(page.locator("#cp-case-id")).to_have_text(case_id)
    await expect(page.locator("#cp-A-plate")).to_have_value(PARTY_A["plate"])
    await expect(page.locator("#cp-status")).to_have_text("已撤离现场")


async def panel_determination(c: PanelCall) -> None:
    """The determination, then a correction that needs a written reason."""
    page, server = c.page, c.server
    # The determination, then a correction that needs a written reason.
    await page.click("#cp-btn-determine")
    await expect(page.locator("#cp-dialog-title")).to_have_text("出具事故认定书？")
    await page.click("#cp-dialog-yes")
    # Issuing renders the determination's PDF: seconds on a loaded machine.
    await expect(page.locator("#cp-result")).to_contain_text("（第 1 版）", timeout=20000)
    await expect(page.locator("#cp-docs .cp-doc")).to_have_count(1)
    await expect(page.locator("#cp-docs .cp-doc-now")).to_have_text("现行")
    await expect(page.locator("#cp-t-det")).to_have_attribute("data-state", "on")
    await expect(page.locator("#cp-btn-determine")).to_have_text("更正认定书")
    await page.click("#cp-btn-determine")
    await expect(page.locator("#cp-dialog-title")).to_have_text("更正认定书")
    await page.click("#cp-dialog-yes")
    await expect(page.locator("#cp-dialog-error")).to_have_text("请填写理由。")
    await page.fill("#cp-dialog-reason", "当事人B姓名录入有误")
    await page.click("#cp-dialog-yes")
    await expect(page.locator("#cp-result")).to_contain_text("（第 2 版）")
    docs = page.locator("#cp-docs .cp-doc")
    await expect(docs).to_have_count(2)
    await expect(docs.nth(0)).to_have_attribute("data-version", "2")
    await expect(docs.nth(1)).to_have_class("cp-doc superseded")
    await expect(docs.nth(1)).to_contain_text("已被第 2 版取代")
    pdf = await page.request.get(
        server.url + (await docs.nth(1).locator("a", has_text="PDF").get_attribute("href"))
    )
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
    await page.locator("#cp-trail-box summary").click()
    await expect(page.locator("#cp-trail li[data-what=determine]").first).to_contain_text(
        "当事人B姓名录入有误"
    )


async def panel_case_list(c: PanelCall) -> None:
    """The officer's own list links to the case page."""
    page, server, case_id = c.page, c.server, c.case_id
    # The officer's own list links to the case page.
    cases = await page.context.new_page()
    await cases.goto(server.url + "/cases")
    row = cases.locator(f"#cases-body tr[data-case={case_id}]")
    await expect(row).to_contain_text(re.compile("已出具认定书|认定书已送达"))
    await row.locator("a").click()
    await expect(cases).to_have_url(f"{server.url}/cases/{case_id}")
    await expect(cases.locator("#cp-B-policy_no")).to_have_value(PARTY_B["policy_no"])


async def test_case_panel_from_the_form_to_the_determination_and_the_case_list(
    panel_call: PanelCall, shoot: Any
) -> None:
    """One officer's whole case in the panel, in the order the work goes (one test: each step
    builds on the one before, and a call costs ~10 s to set up)."""
    await panel_opens(panel_call)
    await panel_saves(panel_call)
    await panel_second_party(panel_call)
    await panel_verification(panel_call, shoot)
    await panel_stale(panel_call)
    await panel_leave(panel_call)
    await panel_wrapup(panel_call)
    await panel_determination(panel_call)
    await panel_case_list(panel_call)


# -- (b) the driver's leave-the-scene notice ---------------------------------------------

# The page's system notifications, recorded as they are made (the real constructor runs).
NOTIFICATION_SPY = """
(() => {
  const shown = [];
  window.kcNotifications = shown;
  if (!window.Notification) return;
  window.Notification = new Proxy(window.Notification, {
    construct(target, args) {
      shown.push({ title: args[0], body: (args[1] || {}).body });
      return new target(...args);
    },
  });
})();
"""

# What a phone does when the driver switches to another app, and back.
HIDE_PAGE = """() => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW_PAGE = """() => {
  delete document.hidden;
  delete document.visibilityState;
  document.dispatchEvent(new Event("visibilitychange"));
}"""


@pytest.mark.full_browser  # the headless shell has no Notification API
async def test_driver_gets_the_leave_the_scene_notice_even_from_the_background(
    case_server: Any, new_page: Any, shoot: Any
) -> None:
    server = case_server
    officer = await answered_by_sim_officer(server)
    try:
        page: Page = await new_page(phone=True)
        await page.context.grant_permissions(
            ["geolocation", "camera", "microphone", "notifications"]
        )
        await page.add_init_script(NOTIFICATION_SPY)
        await page.goto(server.url + "/driver")
        await page.click("#btn-safety-next")
        for selector in ELIGIBLE_TAPS:
            await page.click(selector)
        await expect(page.locator("#screen-ready")).to_be_visible()
        await page.click("#btn-report")

        offer = await officer.wait_offer()
        case_id = offer["case_id"]
        assert (await officer.accept(offer["call_id"]))["ok"]
        await expect(page.locator("#screen-in-call")).to_be_visible()
        # The progress page is one tap away during the call (in a new tab: the call goes on).
        link = page.locator("#progress-link-call")
        await expect(link).to_be_visible()
        await expect(link).to_have_text("查看办理进度")
        await expect(link).to_have_attribute("target", "_blank")
        href = await link.get_attribute("href")
        assert href is not None and re.fullmatch(r"/p/[A-Za-z0-9_-]{16,64}", href), href

        await to_evidence_collected(officer, case_id)
        await expect(page.locator("#call-case-bar .case-status-line")).to_have_text(
            "案件状态：信息采集完成"
        )

        # The driver has switched to another app when the officer pushes the notice.
        await page.evaluate(HIDE_PAGE)
        pushed = await api(officer, "POST", f"/api/cases/{case_id}/leave-scene", {})
        assert pushed == {"pushed": 1, "sms": 2}
        notice = page.locator("#leave-notice")
        await expect(notice).to_be_visible()
        # Background: a system notification and a flashing tab title; it keeps beeping.
        await page.wait_for_function("() => window.kcNotifications.length === 1")
        shown = await page.evaluate("window.kcNotifications[0]")
        assert shown["title"] == "请立即撤离现场"
        assert "不妨碍交通" in shown["body"]
        await page.wait_for_function("() => document.title.startsWith('【请立即撤离现场】')")
        await page.wait_for_function("() => window.kcDriver.leave.beeps >= 2")

        # Back on the page: the full-screen notice is there and waits for the driver.
        await page.evaluate(SHOW_PAGE)
        await expect(notice).to_be_visible()
        await expect(page.locator("#leave-title")).to_have_text("请立即撤离现场")
        await expect(page.locator("#leave-text")).to_contain_text("不妨碍交通")
        await expect(page.locator("#leave-text")).to_contain_text("短信")
        await expect(page.locator("#leave-from")).to_contain_text("张警官")
        await expect(page.locator("#btn-leave-ack")).to_be_focused()
        await page.wait_for_function("() => !document.title.startsWith('【')")
        box = await notice.bounding_box()
        assert box is not None and box["width"] >= 390 and box["height"] >= 700  # full screen
        assert await page.evaluate("window.kcDriver.leave.notified") == 1
        await shoot(page, "leave-scene")

        await page.click("#btn-leave-ack")
        await expect(notice).to_be_hidden()
        beeps = await page.evaluate("window.kcDriver.leave.beeps")
        await page.wait_for_timeout(2500)
        assert await page.evaluate("window.kcDriver.leave.beeps") == beeps  # silence
        await expect(page.locator("#screen-in-call")).to_be_visible()

        # After the call the link stays, also through a reload of the tab.
        assert (await officer.hangup())["ok"]
        await expect(page.locator("#screen-ended")).to_be_visible()
        await expect(page.locator("#progress-link-ended")).to_have_attribute("href", href)
        await page.reload()
        await expect(page.locator("#progress-link-safety")).to_have_attribute("href", href)
        await expect(notice).to_be_hidden()  # acknowledged: not shown again
    finally:
        await officer.close()


# -- (c) the progress page and the review queue -------------------------------------------


async def test_progress_page_shows_steps_document_and_takes_a_review(
    case_server: Any, new_page: Any, shoot: Any
) -> None:
    server = case_server
    officer = await answered_by_sim_officer(server)
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424, phone=PARTY_A["phone"])
        assert ack["ok"], ack
        case_id = ack["case_id"]
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await driver.wait_state("in_call")

        # No account: the link from the report (and the SMS) is the key.
        page: Page = await new_page(phone=True, geolocation=False)
        await page.goto(server.url + ack["progress_url"])
        await expect(page.locator("#pg-case")).to_have_text(case_id)
        await expect(page.locator("#pg-status")).to_have_text("视频通话中")
        await expect(page.locator("#pg-you")).to_have_text("您是当事人 A")
        await expect(page.locator("#pg-timeline li b")).to_have_text(["报警", "民警接听"])
        await expect(page.locator("#pg-doc")).to_be_hidden()
        await expect(page.locator("#pg-review")).to_be_hidden()

        await to_evidence_collected(officer, case_id)
        await api(officer, "POST", f"/api/cases/{case_id}/leave-scene", {})
        await driver.wait_event("leave_scene")
        assert (await officer.hangup())["ok"]
        await page.reload()
        await expect(page.locator("#pg-leave")).to_be_visible()
        await expect(page.locator("#pg-leave")).to_contain_text("请立即撤离现场")
        await expect(page.locator("#pg-waiting")).to_be_visible()
        await expect(page.locator("#pg-timeline li b")).to_have_text(
            ["报警", "民警接听", "信息采集完成", "撤离现场"]
        )

        # The determination is issued; its SMS goes out and the case counts as served.
        issued = await api(officer, "POST", f"/api/cases/{case_id}/determinations", {})
        for _ in range(100):
            view = await api(officer, "GET", f"/api/cases/{case_id}")
            if view["case"]["status"] == "notified":
                break
            await page.wait_for_timeout(200)
        await page.reload()
        await expect(page.locator("#pg-status")).to_have_text("认定书已送达")
        await expect(page.locator("#pg-leave")).to_be_hidden()
        await expect(page.locator("#pg-doc-number")).to_have_text(f"编号：{issued['number']}")
        # issue 12: the party's own outcome in words; the first version replaces nothing.
        await expect(page.locator("#pg-outcome")).to_have_text("您承担全部责任")
        await expect(page.locator("#pg-doc-version")).to_be_hidden()
        base = server.url + ack["progress_url"]
        await expect(page.locator("#pg-doc-open")).to_have_attribute(
            "href", ack["progress_url"] + "/document"
        )
        pdf = await page.request.get(base + "/document.pdf")
        assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
        await page.click("#pg-doc-embed summary")
        await expect(page.frame_locator("#pg-doc-frame").locator("body")).to_contain_text(
            issued["number"]
        )
        await page.click("#pg-doc-embed summary")
        await expect(page.locator("#pg-timeline li b").last).to_have_text("认定书已送达")

        # The review request: written, at most 1000 characters, once.
        await expect(page.locator("#pg-review-open")).to_be_visible()
        await expect(page.locator("#pg-review-hint")).to_contain_text("前申请复核")
        await page.click("#pg-review-submit")
        await expect(page.locator("#pg-review-error")).to_have_text("请填写复核理由。")
        reason = "B车突然变道并急刹，我方来不及避让，责任认定有误。"
        await page.fill("#pg-review-reason", reason)
        await expect(page.locator("#pg-review-counter")).to_have_text(f"{len(reason)}/1000")
        # The whole page on one (tall) phone screen for the picture.
        await page.set_viewport_size({"width": 390, "height": 1700})
        await page.evaluate("window.scrollTo(0, 0)")
        await shoot(page, "progress")
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.click("#pg-review-submit")
        await expect(page.locator("#pg-review-state")).to_have_text("已申请复核，等待处理")
        await expect(page.locator("#pg-review-open")).to_be_hidden()
        await expect(page.locator("#pg-status")).to_have_text("已申请复核")

        # An officer has no review queue; the supervisor has, and decides there.
        assert officer.cookie is not None
        async with (
            aiohttp.ClientSession(headers={"Cookie": officer.cookie}) as http,
            http.get(server.url + "/reviews") as resp,
        ):
            assert resp.status == 403
            assert "无权访问" in await resp.text()
        status, _ = await officer.api("GET", "/api/reviews")
        assert status == 403
        sup: Page = await new_page(viewport=DESKTOP, geolocation=False)
        await log_in(
            sup, server, server.supervisor_username, server.supervisor_password, "/reviews"
        )
        item = sup.locator(f".rv-item[data-case={case_id}]")
        await expect(item.locator(".rv-reason")).to_have_text(reason)
        await expect(item.locator(".rv-party")).to_have_text("当事人 A")
        await expect(item.locator(".rv-case")).to_have_attribute("href", f"/cases/{case_id}")
        await item.locator("button[type=submit]").click()
        await expect(item.locator(".rv-error")).to_have_text("请选择复核结果并填写复核意见。")
        await item.locator("input[value=upheld]").check()
        await item.locator("textarea").fill(
            "经审查现场视频，B车未变道，原认定事实清楚，维持原认定。"
        )
        await shoot(sup, "reviews")
        await item.locator("button[type=submit]").click()
        # issue 12: confirmed first, with what the decision does; cancelling sends nothing.
        await expect(sup.locator("#rv-confirm")).to_be_visible()
        await expect(sup.locator("#rv-confirm-text")).to_contain_text("案件将办结")
        await sup.click("#rv-confirm-no")
        await expect(sup.locator("#rv-confirm")).to_be_hidden()
        await expect(sup.locator("#rv-result")).to_be_hidden()
        await item.locator("button[type=submit]").click()
        await sup.click("#rv-confirm-yes")
        await expect(sup.locator("#rv-result")).to_contain_text("已维持原认定")
        await expect(sup.locator("#rv-empty")).to_be_visible()

        await page.reload()
        await expect(page.locator("#pg-review-state")).to_contain_text("复核结果：维持原认定。")
        await expect(page.locator("#pg-status")).to_have_text("已办结")
    finally:
        await driver.close()
        await officer.close()


# -- the agreement: confirmed on both parties' phones, approved on the case page -------------


async def test_agreement_confirmed_on_the_phones_and_approved_by_the_officer(
    case_server: Any, new_page: Any
) -> None:
    server = case_server
    officer = await answered_by_sim_officer(server)
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report(lat=45.7567, lng=126.6424, phone=PARTY_A["phone"])
        assert ack["ok"], ack
        case_id = ack["case_id"]
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await driver.wait_state("in_call")
        await to_evidence_collected(officer, case_id)
        await api(officer, "POST", f"/api/cases/{case_id}/leave-scene", {})
        assert (await officer.hangup())["ok"]

        # After the call: the officer proposes the agreement from the case page.
        desk: Page = await new_page(viewport=DESKTOP, geolocation=False)
        await log_in(
            desk, server, server.officer_username, server.officer_password, f"/cases/{case_id}"
        )
        await expect(desk.locator("#cp-status")).to_have_text("已撤离现场")
        await expect(desk.locator("#cp-close")).to_have_count(0)  # not embedded
        await desk.click("#cp-btn-agreement")
        await desk.click("#cp-dialog-yes")
        await expect(desk.locator("#cp-status")).to_have_text("自行协商待确认")
        await expect(desk.locator("#cp-agreement")).to_contain_text("等待确认：A、B")
        await expect(desk.locator("#cp-btn-agree-approve")).to_be_hidden()

        # Each party confirms on their own phone, party B from the link in B's SMS.
        sms = server.rows(
            "select body from outbox where case_id = ? and party = 'B'"
            " and template = 'agreement_confirm'",
            case_id,
        )
        found = re.search(r"/p/[A-Za-z0-9_-]{16,64}", sms[0]["body"])
        assert found is not None, sms[0]["body"]
        phone_a: Page = await new_page(phone=True, geolocation=False)
        await phone_a.goto(server.url + ack["progress_url"])
        rows = phone_a.locator("#pg-agree-list li")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_contain_text("当事人 A（您）")
        await expect(rows.nth(0)).to_contain_text("全部责任")
        await expect(rows.nth(1)).to_contain_text("无责任")
        await expect(rows.nth(0)).to_contain_text("待确认")
        await phone_a.click("#pg-agree-confirm")
        await expect(rows.nth(0)).to_have_attribute("data-confirmed", "true")
        await expect(phone_a.locator("#pg-agree-confirm")).to_be_hidden()
        await expect(phone_a.locator("#pg-agree-withdraw")).to_be_visible()

        phone_b: Page = await new_page(phone=True, geolocation=False)
        await phone_b.goto(server.url + found.group(0))
        await expect(phone_b.locator("#pg-you")).to_have_text("您是当事人 B")
        await expect(phone_b.locator("#pg-agree-list li").nth(1)).to_contain_text("当事人 B（您）")
        await phone_b.click("#pg-agree-confirm")
        await expect(phone_b.locator("#pg-status")).to_have_text("各方已确认协商")

        # The case page sees it by itself (it reads the case again every few seconds).
        await expect(desk.locator("#cp-btn-agree-approve")).to_be_visible(timeout=15000)
        await expect(desk.locator("#cp-agreement")).to_contain_text("已确认：A、B")
        await desk.click("#cp-btn-agree-approve")
        # The approval renders the agreement's PDF (the first one imports fpdf): seconds on a
        # loaded machine.
        await expect(desk.locator("#cp-status")).to_have_text("已办结", timeout=20000)
        await phone_a.reload()
        await expect(phone_a.locator("#pg-agree-state")).to_have_text("民警已认可，协商生效。")
        await expect(phone_a.locator("#pg-agree-withdraw")).to_be_hidden()
    finally:
        await driver.close()
        await officer.close()


# -- the page routes ------------------------------------------------------------------------


async def test_case_pages_need_a_login_and_speak_english(live_server: Any) -> None:
    server = live_server
    async with aiohttp.ClientSession() as http:
        for path in ("/cases", "/reviews", "/cases/KC20240501ABC234"):
            async with http.get(server.url + path, allow_redirects=False) as r:
                assert r.status == 302, path
                assert r.headers["Location"] == f"/login?next={path}"
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    cookie = await officer.login()
    async with aiohttp.ClientSession(headers={"Cookie": cookie}) as http:
        async with http.get(server.url + "/cases/not-a-case") as r:
            assert r.status == 404
        async with http.get(server.url + "/cases?lang=en") as r:
            body = await r.text()
            assert r.status == 200 and '<html lang="en">' in body and "My cases" in body
        async with http.get(server.url + "/cases/KC20240501ABC234?lang=zh") as r:
            body = await r.text()
            # The panel's selects come from the domain's lists.
            assert r.status == 200 and "追尾" in body and "重型半挂牵引车" in body
            assert "全部责任" in body and "道路交通安全法" in body
        async with http.get(server.url + "/reviews") as r:
            assert r.status == 403
    async with aiohttp.ClientSession() as http:
        for module in ("casepanel/panel.js", "case.js", "cases.js", "reviews.js", "progress.js"):
            async with http.get(server.url + "/static/" + module) as r:
                assert r.status == 200, module
