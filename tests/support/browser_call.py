"""A call between real Chromium pages, for the video-quality test and benchmark (issue 9): a
driver page with a fake 720p camera playing a plate scene filmed hand-held, and a console that
answers it; the pages' peer connections are recorded so their getStats can be read.

Pure page driving: no assertion here, the callers decide what counts.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from playwright.async_api import BrowserContext, Page, expect

from sim.plates import scene_frames

ELIGIBLE_TAPS = (
    "#q-injuries-no",
    "#q-movable-yes",
    "#q-v2v-yes",
    "#q-insured-yes",
    "#q-cause-rear_end",
    "#q-legal-none",
)

# Every RTCPeerConnection a page makes, kept on window.kcPeers (an init script: it runs before
# the page's own modules, and a page's CSP does not apply to it).
RECORD_PEERS = """(() => {
  const Native = window.RTCPeerConnection;
  window.kcPeers = [];
  function Recorded(...args) {
    const pc = new Native(...args);
    window.kcPeers.push(pc);
    return pc;
  }
  Recorded.prototype = Native.prototype;
  Object.setPrototypeOf(Recorded, Native);
  window.RTCPeerConnection = Recorded;
})();"""

# The newest peer connection's video stats: inbound (console) or outbound (driver), with the
# selected candidate pair's available outgoing bitrate.
VIDEO_STATS = """async () => {
  const pcs = window.kcPeers || [];
  const pc = pcs[pcs.length - 1];
  if (!pc) return null;
  const out = { at: performance.now() };
  (await pc.getStats()).forEach((s) => {
    if (s.kind === "video" && (s.type === "inbound-rtp" || s.type === "outbound-rtp")) {
      out[s.type === "inbound-rtp" ? "inbound" : "outbound"] = {
        frameWidth: s.frameWidth || 0,
        frameHeight: s.frameHeight || 0,
        framesDecoded: s.framesDecoded || 0,
        framesEncoded: s.framesEncoded || 0,
        framesPerSecond: s.framesPerSecond || 0,
        bytes: s.bytesReceived || s.bytesSent || 0,
        freezeCount: s.freezeCount || 0,
        totalFreezesDuration: s.totalFreezesDuration || 0,
        packetsLost: s.packetsLost || 0,
        nackCount: s.nackCount || 0,
        pliCount: s.pliCount || 0,
        targetBitrate: s.targetBitrate || 0,
        qualityLimitationReason: s.qualityLimitationReason || "",
      };
    }
    if (s.type === "candidate-pair" && s.nominated && s.availableOutgoingBitrate) {
      out.availableOutgoingBitrate = s.availableOutgoingBitrate;
    }
  });
  return out;
}"""

# What the officer's screen shows: the <video>'s size and the frames it has presented.
SCREEN = """() => {
  const v = document.getElementById("driver-video");
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  const box = document.getElementById("video-quality");
  return {
    width: v.videoWidth,
    height: v.videoHeight,
    frames: q ? q.totalVideoFrames : 0,
    dropped: q ? q.droppedVideoFrames : 0,
    at: performance.now(),
    shown: box && !box.hidden ? box.textContent : "",
    poor: !!box && box.classList.contains("video-quality-poor"),
  };
}"""


def make_plate_y4m(path: Path, seconds: int = 4, fps: int = 30) -> Path:
    """A 1280x720 y4m of a car's plate filmed hand-held (drift, shake, changing blur), for
    Chromium's fake camera, which loops it. Made once per path."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with av.open(str(tmp), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for i, rgb in enumerate(scene_frames("黑AD23456", "green", seed=9, n=seconds * fps)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.rename(path)
    return path


async def open_console(context: BrowserContext, url: str, username: str, password: str) -> Page:
    """Log in to the console and go available."""
    await context.add_init_script(RECORD_PEERS)
    page = await context.new_page()
    await page.goto(url + "/console")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await expect(page).to_have_url(url + "/console")
    await page.click("#btn-available")
    await expect(page.locator("#status-pill")).to_have_attribute("data-status", "available")
    return page


async def report_as_driver(context: BrowserContext, url: str) -> Page:
    """The driver page from the safety screen to 'waiting in the queue'."""
    await context.add_init_script(RECORD_PEERS)
    page = await context.new_page()
    await page.goto(url + "/driver")
    await page.click("#btn-safety-next")
    for selector in ELIGIBLE_TAPS:
        await page.click(selector)
    await page.click("#btn-permissions")
    await page.wait_for_function("() => document.getElementById('preview-ready').videoWidth > 0")
    await page.click("#btn-report")
    await expect(page.locator("#screen-waiting")).to_be_visible()
    return page


async def accept(console: Page) -> None:
    await expect(console.locator("#panel-incoming")).to_be_visible(timeout=15000)
    await console.click("#btn-accept")


async def stats(page: Page) -> dict[str, Any] | None:
    result: dict[str, Any] | None = await page.evaluate(VIDEO_STATS)
    return result


async def screen(console: Page) -> dict[str, Any]:
    result: dict[str, Any] = await console.evaluate(SCREEN)
    return result
