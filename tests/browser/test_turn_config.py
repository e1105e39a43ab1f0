"""A page gets TURN credentials that work (issue 9): in headless Chromium, the driver page's
rtc.js fetches /api/config, RTCPeerConnection accepts the served iceServers, and a real
coturn (use-auth-secret) grants an allocation with them: relayed candidates are gathered.
The same servers with a forged credential gather none, so the check can fail. The
credentials are reused for a second offer instead of fetched again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ServerFactory
from tests.support.netns import coturn

# Runs in the page: rtc.js's own fetch, then a relay-only peer connection gathers candidates.
GATHER = """
async (forge) => {
  const rtc = await import("/static/rtc.js");
  const servers = await rtc.fetchIceServers();
  const again = await rtc.fetchIceServers();
  const used = forge
    ? servers.map((s) => (s.credential ? { ...s, credential: "forged" + s.credential } : s))
    : servers;
  const pc = new RTCPeerConnection({ iceServers: used, iceTransportPolicy: "relay" });
  pc.createDataChannel("probe");
  const types = [];
  const started = Date.now();
  const done = new Promise((resolve) => {
    pc.onicecandidate = (ev) => {
      if (ev.candidate) types.push(ev.candidate.type);
      // The first relayed candidate is the proof; without one, wait for the end of gathering.
      if (!ev.candidate || ev.candidate.type === "relay") resolve();
    };
    setTimeout(resolve, 10000);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  pc.close();
  const reused = JSON.stringify(again) === JSON.stringify(servers);
  return { servers, reused, types, ms: Date.now() - started, state: pc.iceGatheringState };
}
"""


async def test_a_page_gathers_relayed_candidates_with_the_served_credentials(
    server_factory: ServerFactory, new_page: Any, tmp_path: Path
) -> None:
    async with coturn(tmp_path / "turn") as turn:
        server = await server_factory(
            ice_servers=f"stun:127.0.0.1:{turn.port},{turn.url('udp')},{turn.url('tcp')}",
            turn_secret=turn.secret,
            turn_ttl=600,
        )
        page = await new_page(phone=True)
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url) if "/api/config" in r.url else None)
        await page.goto(server.url + "/driver")
        result = await page.evaluate(GATHER, False)

        stun, relay = result["servers"]
        assert stun == {"urls": [f"stun:127.0.0.1:{turn.port}"]}
        assert relay["urls"] == [turn.url("udp"), turn.url("tcp")]
        assert relay["username"].endswith(":page") and relay["credential"]
        # coturn granted the allocation: Chromium gathered relayed candidates.
        assert "relay" in result["types"], result
        # The second offer's servers came from the page's cache, not a second request.
        assert result["reused"] and len(fetched) == 1, fetched
        assert turn.secret not in server.log()

        forged = await page.evaluate(GATHER, True)
        assert forged["types"] == [], forged
        assert "401" in turn.log() or "Unauthorized" in turn.log()
