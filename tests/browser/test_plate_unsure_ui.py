"""The console's plate proposal when the reader is unsure, in real Chromium on the case page:
"不确定" with the alternatives, one button per alternative for the party without a plate, and
never the red mismatch line (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import SimDriver, SimOfficer

pytestmark = pytest.mark.browser


async def test_an_unsure_plate_is_offered_with_its_alternatives(
    live_server: Any, new_page: Any, expected_console_errors: list[str]
) -> None:
    # The case page asks for the call's recording right after the hang-up, while it may still
    # be being finalized: Chromium logs that 404 as a console error (as in test_evidence_ui).
    expected_console_errors.append(r"status of 404 .*/api/calls/[\w-]+/recording'")
    # A case this officer answered (the case page is theirs), with no plate typed yet.
    officer = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    driver = await SimDriver(live_server.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report(phone="13800138000")
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        await driver.wait_state("in_call")
        assert (await officer.hangup(offer["call_id"]))["ok"]
    finally:
        await driver.close()
        await officer.close()
    case_id = ack["case_id"]

    page: Page = await new_page(viewport={"width": 1600, "height": 1000}, geolocation=False)
    await page.goto(f"{live_server.url}/cases/{case_id}")
    await page.fill("#username", live_server.officer_username)
    await page.fill("#password", live_server.officer_password)
    await page.click("#login-submit")
    await expect(page.locator("#cp-A-plate")).to_be_visible(timeout=15000)

    def still(capture_id: int, plate: str, alternatives: list[str]) -> dict[str, Any]:
        """A stored still whose reading is unsure, as the list would hand it to the page (no
        plate_check: the page checks it against the form itself, as for stills from the list)."""
        return {
            "id": capture_id, "case_id": case_id, "call_id": offer["call_id"], "kind": "plate",
            "source": "video_frame", "path": "x.jpg", "sha256": "0" * 64, "width": 1280,
            "height": 720, "sharpness": None, "captured_at": 1_800_000_000.0 + capture_id,
            "offset_s": 3.0, "lat": None, "lng": None, "officer_id": 1, "regions": [],
            "note": "", "url": "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
            "plate": {"plate": plate, "colour": "blue", "confidence": 0.16,
                      "box": [0, 0, 10, 5], "sure": False, "alternatives": alternatives},
        }  # fmt: skip

    add = "(c) => window.kcCase.evidence.add(c)"
    # Two readings apart at more than one character: each is a whole plate to pick.
    await page.evaluate(add, still(9000, "湘A·12345", ["湘A·12845", "鄂A·12345"]))
    mixed = page.locator('#ev-strip .ev-item[data-id="9000"] .ev-plate')
    await expect(mixed.locator(".ev-plate-read")).to_have_text(
        "识别号牌不确定：湘A·12345 / 湘A·12845 / 鄂A·12345"
    )
    await expect(mixed.get_by_role("button")).to_have_text(
        ["湘A·12345 用于当事人A", "湘A·12845 用于当事人A", "鄂A·12345 用于当事人A"]
    )

    # A province nobody could see, with the five others the reader offers: one plate with the
    # doubtful character, and a row of that character's buttons, each named by its plate.
    others = ["鄂A·12345", "甘A·12345", "川A·12345", "黑A·12345", "辽A·12345"]
    await page.evaluate(add, still(9001, "湘A·12345", others))
    line = page.locator('#ev-strip .ev-item[data-id="9001"] .ev-plate')
    await expect(line.locator(".ev-plate-read")).to_have_text(
        "识别号牌不确定：?A·12345（湘/鄂/甘/川/黑/辽）"
    )
    await expect(line.locator(".ev-plate-bad")).to_have_count(0)
    await expect(line.locator(".ev-plate-pick")).to_have_text("选一个用于当事人A：")
    buttons = line.get_by_role("button")
    await expect(buttons).to_have_text(["湘", "鄂", "甘", "川", "黑", "辽"])
    names = [await b.get_attribute("aria-label") for b in await buttons.all()]
    assert names == [f"{p} 用于当事人A" for p in ["湘A·12345", *others]]
    # The six fit the still's card: none is cut off or pushed out of it.
    card = await page.locator('#ev-strip .ev-item[data-id="9001"]').bounding_box()
    assert card is not None
    for b in await buttons.all():
        box = await b.bounding_box()
        assert box is not None and box["x"] >= card["x"] - 0.5
        assert box["x"] + box["width"] <= card["x"] + card["width"] + 0.5
        assert box["width"] >= 24 and box["height"] >= 24  # WCAG 2.2 target size
    # The officer sees the car: it is 鄂.
    await line.get_by_role("button", name="鄂A·12345 用于当事人A").click()
    await expect(page.locator("#cp-A-plate")).to_have_value("鄂A·12345")
    await expect(line.locator(".ev-plate-ok")).to_have_text("与当事人A申报一致")

    # The console's live line during the call says it in the same words (the pure function,
    # run in the page).
    texts = await page.evaluate(
        """async () => {
            const { unsurePlatesText } = await import("/static/common.js");
            return [
                unsurePlatesText(["川A·22635", "川A·28635"]),
                unsurePlatesText(["川A·22635", "川A·28635", "鄂A·22635"]),
                unsurePlatesText(["粤B·D12345", "粤B·12345"]),
                unsurePlatesText(["川A·22635"]),
            ];
        }"""
    )
    assert texts == [
        "川A·2?635（2/8）",
        "川A·22635 / 川A·28635 / 鄂A·22635",
        "粤B·D12345 / 粤B·12345",
        "川A·22635",
    ]
