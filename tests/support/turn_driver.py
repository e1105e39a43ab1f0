"""A simulated driver (sim.client.SimDriver) that gets its ICE servers from ``/api/config`` as
a phone would, for running inside a network namespace (tests/support/netns.py).

    ip netns exec NS python -m tests.support.turn_driver --bridge /tmp/x.sock [--transport tcp]

It reaches the server's HTTP/socket.io through a local TCP port carried over the Unix socket
``--bridge`` (network namespaces do not separate Unix sockets), reports an eligible
accident, and answers each media offer with a peer connection configured from
``/api/config`` (asked with the call's id and resume token). ``--transport`` keeps only the
TURN URLs of that transport (aiortc uses just the first TURN URL it is given). It streams a
test pattern until its stdin closes, and prints one JSON line per step on stdout:
``reported``, ``config``, ``answered`` (candidate types of the offer and of the answer),
``ice`` (the connection state, with the selected pair's candidate types once connected).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from sim.client import SimDriver, _Sink
from tests.support.netns import tcp_to_unix


def say(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, **data}), flush=True)


def candidate_types(sdp: str) -> list[str]:
    return [
        line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if " typ " in line
    ]


def selected_pair(pc: RTCPeerConnection) -> dict[str, str] | None:
    """The nominated pair's candidate types (aioice's internals: a test tool's business)."""
    for transceiver in pc.getTransceivers():
        ice = transceiver.sender.transport.transport
        for pair in getattr(ice._connection, "_nominated", {}).values():
            return {
                "local": pair.local_candidate.type,
                "remote": pair.remote_candidate.type,
                "local_transport": pair.protocol.__class__.__name__,
            }
    return None


class TurnDriver(SimDriver):
    def __init__(self, url: str, transport: str) -> None:
        super().__init__(url)
        self.transport = transport

    async def ice_servers(self) -> list[RTCIceServer]:
        headers = {"X-Call-Id": self.call_id or "", "X-Call-Token": self.resume_token or ""}
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.url + "/api/config", headers=headers) as resp,
        ):
            body = await resp.json()
        say("config", status=resp.status, body_keys=sorted(body), servers=[
            {"urls": s["urls"], "with_credential": "credential" in s}
            for s in body.get("ice_servers", [])
        ])  # fmt: skip
        servers = []
        for entry in body.get("ice_servers", []):
            urls = entry["urls"] if isinstance(entry["urls"], list) else [entry["urls"]]
            if self.transport != "any":
                urls = [u for u in urls if not u.startswith("turn") or u.endswith(self.transport)]
            if urls:
                servers.append(
                    RTCIceServer(
                        urls=urls,
                        username=entry.get("username"),
                        credential=entry.get("credential"),
                    )
                )
        return servers

    async def _answer(self, offer: dict[str, Any]) -> None:
        if self.pc is not None:
            await self._close_pc()
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=await self.ice_servers()))

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            self.sinks[track.kind] = _Sink(track)

        @pc.on("iceconnectionstatechange")
        def _on_state() -> None:
            pair = selected_pair(pc) if pc.iceConnectionState == "completed" else None
            say("ice", state=pc.iceConnectionState, pair=pair)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        for track in self.local_tracks():
            pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        say(
            "answered",
            offer_candidates=candidate_types(offer["sdp"]),
            answer_candidates=candidate_types(pc.localDescription.sdp),
        )
        await self.sio.emit(
            "sdp_answer",
            {"type": "answer", "sdp": pc.localDescription.sdp},
            namespace=self.namespace,
        )


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bridge", required=True, help="Unix socket to the server's HTTP port")
    parser.add_argument("--port", type=int, default=18080, help="local TCP port for it")
    parser.add_argument("--transport", choices=("udp", "tcp", "any"), default="any")
    args = parser.parse_args()
    bridge = await tcp_to_unix(("127.0.0.1", args.port), args.bridge)
    driver = TurnDriver(f"http://127.0.0.1:{args.port}", args.transport)
    try:
        await driver.connect()
        ack = await driver.report()
        say("reported", ok=ack.get("ok"), call_id=ack.get("call_id"))
        # Until the test closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await driver.close()
        bridge.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
