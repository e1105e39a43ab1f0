"""The driver page in real Chromium with a fake camera, against the real server and an aiortc
officer: safety step, eligibility (the last answer asks for the camera), one-tap report, queue,
call, camera switch, hang-up."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.client import SimOfficer

pytestmark = pytest.mark.browser

REMOTE_AUDIO_LIVE = """() => {
  const s = document.getElementById('remote-audio').srcObject;
  return !!s && s.getAudioTracks().some((t) => t.readyState === 'live');
}"""

# Bytes of officer audio the driver's browser has received (RTCPeerConnection stats).
AUDIO_BYTES_IN = """async () => {
  const pc = window.kcDriver && window.kcDriver.pc;
  if (!pc) return 0;
  let n = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.bytesReceived;
  });
  return n;
}"""


ELIGIBLE_TAPS = [
    "#q-check-all",
    "#q-cause-rear_end",
    "#q-legal-none",
]


async def answer_eligibly(page: Page) -> None:
    """The three eligibility screens, one tap each (the four yes/no conditions are one
    checklist), for an accident the channel takes. The last tap asks for the camera."""
    for selector in ELIGIBLE_TAPS:
        await page.click(selector)


async def frames_grow(officer: SimOfficer, by: int) -> None:
    start = officer.frames("video")
    await officer.wait_for(lambda: officer.frames("video") >= start + by, timeout=15)


async def test_driver_reports_waits_talks_switches_camera_and_hangs_up(
    live_server: Any, new_page: Any, shoot: Any
) -> None:
    page: Page = await new_page(phone=True)
    await page.goto(live_server.url + "/driver")

    # Step 1: safety first, in Chinese by default.
    await expect(page.locator("#screen-safety")).to_be_visible()
    await expect(page.locator("#screen-safety h1")).to_have_text("先确保安全")
    await expect(page.locator("#screen-safety")).to_contain_text("50–100 米")
    await shoot(page, "driver-1-safety")
    await page.click("#btn-safety-next")
    await answer_eligibly(page)

    # Step 2: camera, microphone, location. Nobody is on shift yet, so the last answer does not
    # open the camera by itself: the camera step says so beside the photo offer, and the
    # driver chooses video.
    await expect(page.locator("#screen-permissions")).to_be_visible()
    await expect(page.locator("#photo-offer-why")).to_have_text("现在没有民警在岗接听视频报警。")
    await page.click("#btn-permissions")
    await expect(page.locator("#screen-ready")).to_be_visible()
    await expect(page.locator("#loc-status")).to_contain_text("已获取位置")
    await page.wait_for_function("() => document.getElementById('preview-ready').videoWidth > 0")
    await shoot(page, "driver-2-ready")

    # Step 3: one tap; nobody is available, so the driver waits first in line.
    await page.click("#btn-report")
    await expect(page.locator("#screen-waiting")).to_be_visible()
    await expect(page.locator("#queue-position")).to_have_text("1")
    await expect(page.locator("#queue-next")).to_be_visible()
    await expect(page.locator("#gps-waiting")).to_contain_text("45.75670")
    await shoot(page, "driver-3-waiting")

    officer = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    try:
        await officer.set_available()
        offer = await officer.wait_offer()
        # The report carried the browser's GPS fix.
        assert offer["location"]["lat"] == pytest.approx(45.7567)
        assert offer["location"]["lng"] == pytest.approx(126.6424)
        assert (await officer.accept(offer["call_id"]))["ok"]

        # In call: the officer sees the driver's camera, the driver hears the officer.
        await expect(page.locator("#screen-in-call")).to_be_visible(timeout=15000)
        await frames_grow(officer, 30)
        assert officer.sinks["video"].last_size == (640, 480)
        await page.wait_for_function(REMOTE_AUDIO_LIVE, timeout=10000)
        await page.wait_for_function(
            f"() => ({AUDIO_BYTES_IN})().then((n) => n > 2000)", timeout=10000
        )
        await shoot(page, "driver-4-in-call")

        # Switch to the front camera: a new track on the same sender, no renegotiation.
        before = await page.evaluate("window.kcDriver.videoSender.track.id")
        await page.click("#btn-switch-camera")
        await expect(page.locator("#camera-label")).to_have_text("前置摄像头")
        after = await page.evaluate("window.kcDriver.videoSender.track.id")
        assert after != before
        await frames_grow(officer, 30)
        await expect(page.locator("#screen-in-call")).to_be_visible()
        assert not any(ev == "call_ended" for ev, _ in officer.events)
        assert officer.status() == "busy"

        # Hang up from the phone.
        await page.click("#btn-hangup")
        await expect(page.locator("#screen-ended")).to_be_visible()
        await expect(page.locator("#screen-ended h1")).to_have_text("通话已结束")
        ended = await officer.wait_event("call_ended")
        assert ended["reason"] == "driver_hangup"
        # The camera is released once the call is over.
        live = await page.evaluate(
            "window.kcDriver.stream.getTracks().filter((t) => t.readyState === 'live').length"
        )
        assert live == 0
    finally:
        await officer.close()


async def test_driver_page_in_english_and_without_location(
    live_server: Any, new_page: Any, shoot: Any
) -> None:
    page: Page = await new_page(phone=True, geolocation=False)
    await page.goto(live_server.url + "/driver?lang=en")
    await expect(page.locator("#screen-safety h1")).to_have_text("Make the scene safe first")
    await page.click("#btn-safety-next")
    await expect(page.locator("#screen-q-check h1")).to_have_text("Is all of this true?")
    await expect(page.locator("#q-check-all")).to_have_text("All of this is true")
    await expect(page.locator("#q-insured-no")).to_have_text("No, or not sure")
    # The longer English still leaves "All of this is true" on the phone's first screen.
    box = await page.locator("#q-check-all").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844, box
    await shoot(page, "driver-q-check-en")
    await answer_eligibly(page)
    await page.click("#btn-permissions")  # nobody on shift: the driver chooses video
    await expect(page.locator("#screen-ready")).to_be_visible()
    # No location permission: the page says so and the report still goes through.
    await expect(page.locator("#loc-status")).to_contain_text(
        "Could not get your location", timeout=20000
    )
    await page.click("#btn-report")
    await expect(page.locator("#queue-position")).to_have_text("1")
    await page.click("#btn-cancel")
    await expect(page.locator("#screen-ended")).to_be_visible()
    await expect(page.locator("#ended-reason")).to_have_text("You cancelled the report.")
