"""A call between real Chromium pages, for the video-quality test and benchmark (issue 9): a
driver page with a fake 720p camera playing a plate scene filmed hand-held, and a console that
answers it; the pages' peer connections are recorded so their getStats can be read.

Pure page driving: no assertion here, the callers decide what counts.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from playwright.async_api import BrowserContext, Page, expect

from sim.plates import scene_frames
from tests.support.udprelay import rewrite_candidate

ELIGIBLE_TAPS = (
    "#q-check-all",
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


def make_plate_y4m(path: Path, frames: int = 120, fps: int = 30, pingpong: bool = False) -> Path:
    """A 1280x720 y4m of a car's plate filmed hand-held (drift, shake, changing blur), for
    Chromium's fake camera, which loops it. ``pingpong``: the frames forward then backward
    (half the drawing for the same length, and no jump where the loop restarts). Made once
    per path."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    drawn = list(scene_frames("黑AD23456", "green", seed=9, n=frames))
    sequence = drawn + drawn[-2:0:-1] if pingpong else drawn
    with av.open(str(tmp), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for i, rgb in enumerate(sequence):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.rename(path)
    return path


# The driver page's only way to the server is through a relay (tests/support/udprelay.py):
# each server offer it receives has its UDP candidates pointed at relays that Python starts
# (window.kcRelayOffer, exposed by the test), and its answer carries no candidate of its own,
# so the server learns the relay's address from the browser's checks (peer-reflexive).
THROUGH_RELAY = """(() => {
  const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = async function (desc) {
    if (desc && desc.type === "offer") {
      desc = { type: "offer", sdp: await window.kcRelayOffer(desc.sdp) };
    }
    return setRemote.call(this, desc);
  };
  const local = Object.getOwnPropertyDescriptor(RTCPeerConnection.prototype, "localDescription");
  Object.defineProperty(RTCPeerConnection.prototype, "localDescription", {
    configurable: true,
    get() {
      const d = local.get.call(this);
      if (!d || d.type !== "answer") return d;
      const keep = (line) => !line.startsWith("a=candidate:") && line !== "a=end-of-candidates";
      return { type: d.type, sdp: d.sdp.split("\\r\\n").filter(keep).join("\\r\\n") };
    },
  });
})();"""

_UDP_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host", re.I)


def server_udp_candidates(sdp: str) -> list[tuple[str, int]]:
    """The IPv4 UDP host candidates of an SDP (the server's own addresses)."""
    found: list[tuple[str, int]] = []
    for line in sdp.splitlines():
        m = _UDP_CANDIDATE.match(line)
        if m and ":" not in m.group(1):
            found.append((m.group(1), int(m.group(2))))
    return found


def only_through(sdp: str, relays: dict[tuple[str, int], tuple[str, int]]) -> str:
    """``sdp`` whose candidates are the given relays' addresses only (other candidates gone)."""
    out = sdp
    for original, relay in relays.items():
        out = rewrite_candidate(out, original, relay)
    keep = {f"{host} {port} " for host, port in relays.values()}
    lines = [
        line
        for line in out.split("\r\n")
        if not line.startswith("a=candidate:") or any(k in line for k in keep)
    ]
    return "\r\n".join(lines)


async def open_console(
    context: BrowserContext, url: str, username: str, password: str, page: Page | None = None
) -> Page:
    """Log in to the console and go available (in ``page`` when given)."""
    await context.add_init_script(RECORD_PEERS)
    page = page or await context.new_page()
    await page.goto(url + "/console")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await expect(page).to_have_url(url + "/console")
    await page.click("#btn-available")
    await expect(page.locator("#status-pill")).to_have_attribute("data-status", "available")
    return page


async def report_as_driver(context: BrowserContext, url: str, page: Page | None = None) -> Page:
    """The driver page from the safety screen to 'waiting in the queue' (in ``page`` when
    given, else a new page of ``context``)."""
    await context.add_init_script(RECORD_PEERS)
    page = page or await context.new_page()
    await page.goto(url + "/driver")
    await page.click("#btn-safety-next")
    for selector in ELIGIBLE_TAPS:
        await page.click(selector)
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
