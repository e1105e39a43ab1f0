"""Evidence in real Chromium: the officer's console captures a frame with key 1, marks a
damaged area on it and saves; then asks the driver's phone (the driver page in a second
browser context, fake camera) for a photo, which the driver takes with one tap and which
appears in the console's strip as a phone photo. The case page plays the recording with a
marker per capture."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import make_y4m

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fake_camera_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 720p camera: a plate captured from video below 720p asks the phone for a photo
    instead (issue 9; tests/e2e/test_video_evidence_size.py), and this test stores a frame."""
    return make_y4m(
        tmp_path_factory.mktemp("camera720") / "scene.y4m", 1280, 720, fps=15, seconds=2
    )

DESKTOP = {"width": 1600, "height": 1000}

ELIGIBLE_TAPS = [
    "#q-check-all",
    "#q-cause-rear_end",
    "#q-legal-none",
]


async def log_in(page: Page, server: Any, target: str) -> None:
    await page.goto(server.url + target)
    await page.fill("#username", server.officer_username)
    await page.fill("#password", server.officer_password)
    await page.click("#login-submit")
    await expect(page).to_have_url(server.url + target)


async def test_capture_annotate_and_phone_still(
    live_server: Any, new_page: Any, shoot: Any, expected_console_errors: list[str]
) -> None:
    # The case page asks for each call's recording with a HEAD and shows a player once it is
    # there (evidence.js renderRecordings); opened right after the hang-up, the recording may
    # still be being finalized, and Chromium logs that 404 answer as a console error.
    expected_console_errors.append(r"status of 404 .*/api/calls/[\w-]+/recording'")
    console: Page = await new_page(viewport=DESKTOP, geolocation=False)
    await log_in(console, live_server, "/console")
    await console.click("#btn-available")
    await expect(console.locator("#status-pill")).to_have_attribute("data-status", "available")

    phone: Page = await new_page(phone=True)
    await phone.goto(live_server.url + "/driver")
    await phone.click("#btn-safety-next")
    for selector in ELIGIBLE_TAPS:
        await phone.click(selector)
    await phone.click("#btn-report")

    await expect(console.locator("#panel-incoming")).to_be_visible()
    case_id = await console.locator("#incoming-case").inner_text()
    await console.click("#btn-accept")
    await expect(phone.locator("#screen-in-call")).to_be_visible(timeout=15000)
    await console.wait_for_function(
        "() => document.getElementById('driver-video').videoWidth > 0", timeout=15000
    )
    await expect(console.locator("#cp-case-id")).to_have_text(case_id)
    strip = console.locator("#ev-strip .ev-item")
    await expect(console.locator("#ev-empty")).to_be_visible()

    # Key 1 captures the plate view: a spinner while it runs, then a thumbnail that loads.
    await console.locator("body").click(position={"x": 5, "y": 300})
    await console.keyboard.press("1")
    await expect(strip).to_have_count(1, timeout=20000)
    first = strip.first
    await expect(first).to_have_attribute("data-kind", "plate")
    await expect(first.locator(".ev-kind")).to_have_text("号牌")
    await expect(first.locator(".ev-source")).to_have_text("视频帧")
    await expect(console.locator("#cap-plate")).not_to_have_class("busy")
    await console.wait_for_function(
        "() => document.querySelector('#ev-strip .ev-item img').naturalWidth > 0", timeout=10000
    )
    # Typing a digit into the case form is not a capture.
    await console.locator("#cp-address").type("1")
    await console.wait_for_timeout(300)
    await expect(strip).to_have_count(1)
    await console.locator("#cp-address").fill("")

    # The viewer: drag a rectangle over the damaged area, write a note, save.
    await first.locator(".ev-thumb").click()
    await expect(console.locator("#ev-viewer")).to_be_visible()
    await console.wait_for_function(
        "() => document.getElementById('ev-image').naturalWidth > 0", timeout=10000
    )
    box = await console.locator("#ev-image").bounding_box()
    assert box is not None
    await console.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
    await console.mouse.down()
    await console.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=5)
    await console.mouse.up()
    await expect(console.locator("#ev-stage .ev-box")).to_have_count(1)
    await expect(console.locator("#ev-region-list li")).to_have_count(1)
    await console.fill("#ev-note", "后保险杠凹陷")
    await console.click("#ev-save")
    await expect(console.locator("#ev-msg")).to_have_text("标注已保存。")
    api_captures = f"{live_server.url}/api/cases/{case_id}/captures"
    listed = await (await console.request.get(api_captures)).json()
    [stored] = listed["captures"]
    assert stored["note"] == "后保险杠凹陷"
    [region] = stored["regions"]
    assert region["x"] == pytest.approx(0.2, abs=0.02)
    assert region["y"] == pytest.approx(0.3, abs=0.02)
    assert region["w"] == pytest.approx(0.4, abs=0.02)
    assert region["h"] == pytest.approx(0.4, abs=0.02)
    await console.click("#ev-close")
    await expect(console.locator("#ev-viewer")).to_be_hidden()
    await expect(first.locator(".ev-count")).to_have_text("1")

    # The officer asks the driver's phone for a photo of the damage instead.
    await console.check("#chk-ask-phone")
    await console.click("#cap-damage")
    overlay = phone.locator("#still-overlay")
    await expect(overlay).to_be_visible()
    await expect(phone.locator("#still-title")).to_have_text("坐席请求拍照：碰撞部位")
    # The call goes on underneath.
    await expect(phone.locator("#screen-in-call")).to_be_visible()
    await phone.click("#btn-still-take")
    await expect(phone.locator("#still-toast")).to_have_text("照片已发送")
    await expect(overlay).to_be_hidden()

    await expect(strip).to_have_count(2, timeout=10000)
    newest = strip.first
    await expect(newest).to_have_attribute("data-source", "phone_still")
    await expect(newest.locator(".ev-source")).to_have_text("手机照片")
    await expect(newest.locator(".ev-kind")).to_have_text("碰撞部位")
    await console.wait_for_function(
        "() => document.querySelector('#ev-strip .ev-item img').naturalWidth > 0", timeout=10000
    )
    await console.uncheck("#chk-ask-phone")
    await console.evaluate(
        "document.getElementById('ev-section').scrollIntoView({block: 'center'});"
        " window.scrollTo(0, 0)"
    )
    await shoot(console, "evidence-strip")

    await console.click("#btn-hangup")
    await expect(phone.locator("#screen-ended")).to_be_visible()

    # The case page plays the call's recording with a marker per capture on its timeline.
    await console.goto(f"{live_server.url}/cases/{case_id}")
    player = console.locator(".ev-rec video")
    await expect(player).to_have_count(1, timeout=15000)
    markers = console.locator(".ev-rec .ev-marker")
    await expect(markers).to_have_count(2, timeout=10000)
    plate_marker = console.locator('.ev-rec .ev-marker[data-kind="plate"]')
    await expect(plate_marker).to_have_attribute("title", re.compile(r"^号牌 · \d\d:\d\d$"))
    await plate_marker.click()
    offset = float(await plate_marker.get_attribute("data-offset") or "0")
    await console.wait_for_function(
        f"() => Math.abs(document.querySelector('.ev-rec video').currentTime - {offset}) < 0.5",
        timeout=10000,
    )

    # A plate read from a frame (the fake camera shows none, so the console's view of one is
    # handed to the page's strip as the socket would): the officer uses it for party A.
    still = (await (await console.request.get(api_captures)).json())["captures"][0]
    await console.evaluate(
        "(c) => window.kcCase.evidence.add(c)",
        {
            **still,
            "id": still["id"] + 1000,
            "captured_at": still["captured_at"] + 60,
            "plate": {"plate": "黑A·D23456", "colour": "green", "confidence": 0.93, "box": None},
            "plate_check": {"status": "propose", "party": "A"},
        },
    )
    proposal = console.locator("#ev-strip .ev-item").first.locator(".ev-plate")
    await expect(proposal.locator(".ev-plate-read")).to_have_text(
        "识别号牌：黑A·D23456（置信度 93%）"
    )
    await proposal.get_by_role("button", name="用于当事人A").click()
    await expect(console.locator("#cp-A-plate")).to_have_value("黑A·D23456")
    await expect(proposal.locator(".ev-plate-ok")).to_have_text("与当事人A申报一致")
    await expect(console.locator("#cp-save-state")).to_have_attribute("data-state", "saved")
    view = await (await console.request.get(f"{live_server.url}/api/cases/{case_id}")).json()
    assert [p["plate"] for p in view["form"]["parties"] if p["key"] == "A"] == ["黑A·D23456"]
