"""The photo report (拍照快处, issue 13) end to end in real Chromium against the real server: no
officer on duty, so the driver page offers the photo path after the eligibility questions; the
mobile number; six guided shots uploaded from the page (real JPEGs, the plates drawn by
sim/plates.py), a file that is not a photo, an oversized one and a decompression bomb each
refused with its message; "leave the scene" at once; the officer takes the report from the
console's photo queue and works the case on its case page; the determination is issued.

The case form and the registry checks, which tests/browser/test_case_pages.py drives through
the panel, are taken here through the JSON API with the officer's session."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import SimOfficer
from tests.browser.test_case_pages import (
    DESKTOP,
    ELIGIBLE_TAPS,
    PARTY_A,
    PARTY_B,
    api,
    log_in,
    party,
    seed_registry,
)
from tests.insurers.seed import insurer_account
from tests.photoreports.images import bomb_png, jpeg, not_an_image, plate_jpeg

pytestmark = pytest.mark.browser

INSURER_PASSWORD = "picc-claims-2026"

SHOTS = [
    ("vehicles", "双方车辆全景", lambda: jpeg(1600, 1200)),
    ("damage", "碰撞部位", lambda: jpeg(1200, 1600, colour=(30, 30, 160))),
    ("plate_a", "本车号牌", lambda: plate_jpeg("黑A12345")),
    ("plate_b", "对方车辆号牌", lambda: plate_jpeg("黑AD12345", "green")),
    ("licence_a", "您的驾驶证", lambda: jpeg(1000, 700, colour=(220, 220, 200))),
    ("licence_b", "对方驾驶证", lambda: jpeg(1000, 700, colour=(200, 220, 220))),
]


def upload(name: str, data: bytes) -> dict[str, Any]:
    # Named and typed as a photo whatever it holds: the server judges the content.
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


async def refused(page: Page, data: bytes, message: str) -> None:
    await page.set_input_files("#photo-input", upload("IMG_0001.jpg", data))
    await expect(page.locator("#photo-msg")).to_have_text(message)
    await expect(page.locator("#driver-app")).to_have_attribute("data-upload", "refused")
    await expect(page.locator("#btn-photo-next")).to_be_hidden()


async def test_photo_report_from_the_driver_page_to_the_determination(
    server_factory: Callable[..., Any],
    new_page: Any,
    tmp_path: Path,
    expected_console_errors: list[str],
    shoot: Any,
) -> None:
    # The refusals this test provokes on purpose: a bad photo (400), a too large one (413).
    expected_console_errors += [r"status of 400 .*/photo\?shot=", r"status of 413 .*/photo\?shot="]
    server = await server_factory(
        wrapup_seconds=2,
        authority="哈尔滨市公安局交通警察支队",
        document_prefix="哈公交认字",
    )
    await seed_registry(server.data_dir, tmp_path / "registry")

    # -- the driver: eligible, but nobody is on duty for video: the photo path is offered.
    page: Page = await new_page(phone=True)
    await page.goto(server.url + "/driver")
    await page.click("#btn-safety-next")
    for tap in ELIGIBLE_TAPS:
        await page.click(tap)
    # The camera step carries the offer, with why.
    await expect(page.locator("#screen-permissions #photo-offer")).to_be_visible()
    await expect(page.locator("#photo-offer-why")).to_have_text("现在没有民警在岗接听视频报警。")
    await page.click("#btn-photo-start")

    # The mobile number for the SMS: checked on the page (and again on the server).
    await page.fill("#photo-phone", "12345")
    await page.click("#btn-photo-phone")
    await expect(page.locator("#photo-phone-error")).to_have_text("请输入 11 位手机号码。")
    assert server.rows("select count(*) from cases")[0][0] == 0
    await page.fill("#photo-phone", "138 0013 8000")
    await page.click("#btn-photo-phone")
    await expect(page.locator("#screen-photo-shot")).to_be_visible()
    await expect(page.locator("#photo-step")).to_have_text("第 1 步，共 6 步")
    await expect(page.locator("#photo-title")).to_have_text("双方车辆全景")
    [case] = server.rows("select id, status, reporter_phone from cases")
    case_id = case["id"]
    assert (case["status"], case["reporter_phone"]) == ("reported", PARTY_A["phone"])

    # Refused uploads: each says why, and nothing is stored.
    await refused(page, not_an_image(), "这不是照片，请用相机拍摄。")
    too_large = b"\xff\xd8\xff" + b"\0" * (9 * 1024 * 1024)
    await refused(page, too_large, "照片太大（最多 8 MB），请重新拍摄。")
    await refused(page, bomb_png(), "照片像素太多，无法处理，请用手机相机直接拍摄。")
    assert server.rows("select count(*) from captures")[0][0] == 0

    # The six shots, one screen each.
    for i, (shot, title, make) in enumerate(SHOTS):
        await expect(page.locator("#photo-title")).to_have_text(title)
        await expect(page.locator("#driver-app")).to_have_attribute("data-shot", shot)
        await page.set_input_files("#photo-input", upload(f"IMG_{i:04}.jpg", make()))
        await expect(page.locator("#driver-app")).to_have_attribute("data-upload", "ok")
        await expect(page.locator("#photo-msg")).to_have_text("")
        await expect(page.locator("#photo-preview")).to_be_visible()
        if shot == "plate_a":
            await expect(page.locator("#photo-status")).to_have_text(
                "照片已上传，识别到号牌：黑A·12345"
            )
        if shot == "vehicles":
            await shoot(page, "driver-photo-shot")
        await page.click("#btn-photo-next")
    await expect(page.locator("#screen-photo-send")).to_be_visible()
    await expect(page.locator("#photo-plates li")).to_have_text(
        ["本车号牌：黑A·12345", "对方车辆号牌：黑A·D12345"]
    )

    # Sent: leave the scene at once (the full-screen notice), the SMS with the progress link.
    await page.click("#btn-photo-send")
    await expect(page.locator("#leave-notice")).to_be_visible()
    await page.click("#btn-leave-ack")
    await expect(page.locator("#screen-photo-done")).to_be_visible()
    await expect(page.locator("#photo-done-case")).to_have_text(f"事故编号：{case_id}")
    progress_url = await page.locator("#progress-link-photo").get_attribute("href")
    assert progress_url and progress_url.startswith("/p/")
    assert server.rows("select status from cases where id = ?", case_id)[0][0] == "scene_cleared"
    sms = server.rows("select template, phone from outbox where case_id = ?", case_id)
    assert [tuple(m) for m in sms] == [("leave_scene", PARTY_A["phone"])]
    rows = server.rows("select shot, exif_lat from captures where case_id = ?", case_id)
    assert sorted(r["shot"] for r in rows) == sorted(s for s, _, _ in SHOTS)
    assert all(r["exif_lat"] is not None for r in rows)

    # -- the officer: the report waits in the console's photo queue; taking it opens the case.
    console: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(console, server, server.officer_username, server.officer_password, "/console")
    item = console.locator(f"#pq-list .pq-item[data-case={case_id}]")
    await expect(item).to_be_visible()
    await expect(item.locator(".pq-meta")).to_contain_text("6 张照片")
    await expect(console.locator("#pq-count")).to_have_text("1")
    async with console.expect_popup() as popup:
        await item.locator("button[data-action=take]").click()
    case_page = await popup.value
    await expect(case_page).to_have_url(f"{server.url}/cases/{case_id}")
    await expect(case_page.locator("#cp-case-id")).to_have_text(case_id)
    await expect(case_page.locator("#ev-strip .ev-item")).to_have_count(len(SHOTS))
    await expect(
        case_page.locator("#ev-strip .ev-item[data-source=photo_report]").first
    ).to_contain_text("拍照快处")
    await expect(item).to_have_attribute("data-status", "taken")

    # The officer calls the driver back by video: an SMS link opens the driver page straight
    # into a call of this case, which the console answers.
    await console.click("#btn-available")
    await expect(console.locator("#status-pill")).to_have_attribute("data-status", "available")
    await item.locator("button[data-action=callback]").click()
    sent = "已向 138****8000 发送视频回拨链接"
    await expect(console.locator("#error-text")).to_contain_text(sent)
    [sms] = server.rows(
        "select body from outbox where case_id = ? and template = 'video_callback'", case_id
    )
    link = re.search(r"(/driver\?callback=[A-Za-z0-9_-]+)$", sms["body"])
    assert link, sms["body"]
    phone: Page = await new_page(phone=True)
    await phone.goto(server.url + link.group(1))
    await expect(phone.locator("#screen-photo-callback")).to_be_visible()
    await phone.click("#btn-photo-callback")
    await phone.click("#btn-permissions")
    await phone.click("#btn-report")
    # Waits on the media set-up are long: the shared machine may be busy.
    await expect(console.locator("#panel-incoming")).to_be_visible(timeout=30000)
    await expect(console.locator("#incoming-case")).to_have_text(case_id)
    await console.click("#btn-accept")
    await expect(phone.locator("#screen-in-call")).to_be_visible(timeout=30000)
    await expect(console.locator("#cp-case-id")).to_have_text(case_id)
    await console.click("#btn-hangup")
    await expect(phone.locator("#screen-ended")).to_be_visible(timeout=30000)

    # The form and the checks (the panel's own test drives them), then the determination in
    # the case page.
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    view = await api(officer, "GET", f"/api/cases/{case_id}")
    form = dict(view["form"])
    form.update(
        address="哈尔滨市南岗区红军街15号附近",
        description="A车在红军街由南向北行驶时追尾前方等红灯的B车（拍照快处）。",
        parties=[
            party(
                PARTY_A,
                "A",
                liability="full",
                fault="未与前车保持安全距离",
                # The configured company's name: the insurers' matching takes no branch name
                # (PARTY_A's policy names the Harbin branch).
                insurer="中国人民财产保险股份有限公司",
                policy_no=PARTY_A["policy_no"],
            ),
            party(PARTY_B, "B", liability="none"),
        ],
    )
    await api(
        officer, "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    for key in ("A", "B"):
        await api(officer, "POST", f"/api/cases/{case_id}/verify", {"party": key})
    await case_page.reload()
    await case_page.click("#cp-btn-determine")
    await expect(case_page.locator("#cp-dialog-title")).to_have_text("出具事故认定书？")
    await case_page.click("#cp-dialog-yes")
    await expect(case_page.locator("#cp-result")).to_contain_text("（第 1 版）", timeout=30000)
    await expect(case_page.locator("#cp-docs .cp-doc")).to_have_count(1)

    # The party sees the document on the progress page the photo report's link opens, and
    # hands the case to the insurers there (定损理赔).
    await page.goto(server.url + progress_url)
    await expect(page.locator("#pg-case")).to_have_text(case_id)
    await expect(page.locator("#pg-doc")).to_be_visible()
    await expect(page.locator("#pg-claim-button")).to_be_visible()
    await page.click("#pg-claim-button")
    await expect(page.locator("#pg-claims li[data-insurer=picc]")).to_contain_text("已移交")

    # -- the insurer (party A's, PICC): the case with its photos, then "paid".
    await insurer_account(server, "picc", "picc.chen", INSURER_PASSWORD)
    insurer: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(insurer, server, "picc.chen", INSURER_PASSWORD, "/insurer")
    await insurer.click(f"#ins-cases tr[data-case='{case_id}'] a")
    await expect(insurer.locator("#ins-case")).to_have_attribute("data-case", case_id)
    photos = insurer.locator("#ins-evidence .ins-evidence-file")
    await expect(photos.first).to_be_visible()
    assert await photos.count() >= len(SHOTS)
    for status, amount in (("received", None), ("assessed", "1234.50"), ("paid", None)):
        await insurer.select_option("#ins-status", status)
        if amount:
            await insurer.fill("#ins-amount", amount)
        await insurer.click("#ins-claim-submit")
        await expect(insurer.locator("#ins-claim-state")).to_have_attribute("data-status", status)
    await expect(insurer.locator("#ins-claim-state")).to_have_text("已赔付 1234.50 元")

    # The party sees the payment on the progress page.
    await page.reload()
    await expect(page.locator("#pg-claims li[data-insurer=picc]")).to_contain_text(
        "已赔付 1234.50 元"
    )


async def test_a_weak_network_and_a_long_wait_offer_the_photo_path(
    server_factory: Callable[..., Any], new_page: Any
) -> None:
    """What only the page sees: a network too weak for video (it offers photos, video stays
    possible), and its own wait past the maximum (a button on the waiting screen)."""
    server = await server_factory(reservation_timeout=60, photo_max_wait_seconds=3)
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    await officer.connect()
    await officer.set_available()  # on duty, but it will not answer
    try:
        page: Page = await new_page(phone=True)
        await page.add_init_script(
            "Object.defineProperty(navigator, 'connection',"
            " {value: {effectiveType: '2g', downlink: 0.1}, configurable: true})"
        )
        await page.goto(server.url + "/driver")
        await page.click("#btn-safety-next")
        for tap in ELIGIBLE_TAPS:
            await page.click(tap)
        await expect(page.locator("#screen-permissions #photo-offer")).to_be_visible()
        await expect(page.locator("#photo-offer-why")).to_have_text(
            "您的网络信号较弱，视频通话可能无法进行。"
        )
        # Video is possible: the driver may still try it.
        await page.click("#btn-permissions")
        await page.click("#btn-report")
        await expect(page.locator("#screen-waiting")).to_be_visible()
        offer = await officer.wait_offer()  # offered, never accepted
        # Past the maximum wait the waiting screen offers the photos instead.
        await expect(page.locator("#btn-photo-instead")).to_be_visible(timeout=15000)
        await page.click("#btn-photo-instead")
        await expect(page.locator("#screen-photo-phone")).to_be_visible()
        await page.fill("#photo-phone", "13800138000")
        await page.click("#btn-photo-phone")
        await expect(page.locator("#screen-photo-shot")).to_be_visible()
        video, photo = server.rows("select id, status from cases order by created_at")
        assert video["id"] == offer["case_id"] and video["status"] == "abandoned"
        assert server.rows("select reason from photo_reports")[0]["reason"] == "wait_too_long"
        assert photo["status"] == "reported"
    finally:
        await officer.close()


async def test_outside_the_service_hours_the_refusal_offers_the_photos(
    server_factory: Callable[..., Any], new_page: Any
) -> None:
    """Closed for video (no day has hours): the camera step says so beside the offer; a video
    report tapped anyway is refused for the hours, and the refusal offers the photos too."""
    server = await server_factory(service_hours="mon closed")
    page: Page = await new_page(phone=True)
    await page.goto(server.url + "/driver")
    await page.click("#btn-safety-next")
    for tap in ELIGIBLE_TAPS:
        await page.click(tap)
    offer = page.locator("#screen-permissions #photo-offer")
    await expect(offer).to_be_visible()
    await expect(page.locator("#photo-offer-why")).to_have_text(
        "现在不在视频快处的服务时间内，民警无法视频接听。"
    )
    # The last answer did not open the camera: the driver reads the offer first.
    await expect(page.locator("#btn-permissions")).to_be_visible()
    assert await page.evaluate("window.kcDriver.stream === null")
    await page.click("#btn-permissions")
    await page.click("#btn-report")
    await expect(page.locator("#screen-ineligible")).to_be_visible()
    await expect(page.locator("#driver-app")).to_have_attribute("data-reason", "outside_hours")
    await expect(page.locator("#screen-ineligible #photo-offer")).to_be_visible()
    await page.click("#btn-photo-start")
    await expect(page.locator("#screen-photo-phone")).to_be_visible()
    assert server.rows("select count(*) from cases")[0][0] == 0
