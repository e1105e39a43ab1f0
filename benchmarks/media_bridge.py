"""CPU per bridged and recorded call.

N synthetic calls: each driver peer sends a pre-encoded 720p H.264 clip (keyframe every
second, looped with increasing timestamps) plus Opus silence; each officer peer counts the
video frames it receives (reassembled, not decoded, so the client side stays cheap). The
server (CallMedia per call: forward + record) runs in its own process pinned to one core.

    .venv/bin/python benchmarks/media_bridge.py --calls 10 --seconds 20

Prints the fps delivered to officers and the server's CPU-seconds per call-second.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiohttp import ClientSession, web
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from kuaichu.media.aiortc_tap import tap_receiver
from kuaichu.media.call_media import CallMedia

CLIP = Path(tempfile.gettempdir()) / "kuaichu-bench-720p.ts"


def make_clip(path: Path, seconds: int = 6) -> None:
    """720p30 H.264 constrained baseline, keyframe every 30 frames, MPEG-TS (Annex-B)."""
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.bit_rate = 1_500_000
        stream.codec_context.profile = "Baseline"
        stream.codec_context.options = {"g": "30", "tune": "zerolatency", "preset": "veryfast"}
        rng = np.random.default_rng(1)
        noise = rng.integers(0, 40, (720, 1280), dtype=np.uint8)
        for i in range(seconds * 30):
            y = np.roll(noise, i * 8, axis=1) + np.uint8(60)
            y[:, (i * 12) % 1280 : (i * 12) % 1280 + 40] = 235
            yuv = np.concatenate([y, np.full((360, 1280), 128, np.uint8)])
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


class ClipTrack(MediaStreamTrack):
    """Sends the clip's encoded packets at 30 fps, looping with increasing timestamps."""

    kind = "video"

    def __init__(self, packets: list[bytes]) -> None:
        super().__init__()
        self.packets = packets
        self.i = 0
        self.start: float | None = None

    async def recv(self) -> av.Packet[Any]:
        if self.start is None:
            self.start = time.monotonic()
        wait = self.start + self.i / 30 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(self.packets[self.i % len(self.packets)])
        packet.pts = self.i * 3000
        packet.time_base = fractions.Fraction(1, 90000)
        self.i += 1
        return packet


# ---- server process -----------------------------------------------------------------------


def serve(port: int, core: int, rec_dir: Path) -> None:
    os.sched_setaffinity(0, {core})
    calls: dict[str, CallMedia] = {}

    async def handle(request: web.Request) -> web.Response:
        call_id, step = request.match_info["call"], request.match_info["step"]
        body = await request.json() if request.can_read_body else {}
        if step == "cpu":
            r = resource.getrusage(resource.RUSAGE_SELF)
            return web.json_response({"cpu": r.ru_utime + r.ru_stime})
        cm = calls.setdefault(call_id, CallMedia(call_id, rec_dir))
        if step == "driver_offer":
            return web.json_response(await cm.driver_offer())
        if step == "driver_answer":
            await cm.driver_answer(body["sdp"])
        elif step == "officer_offer":
            return web.json_response(await cm.officer_offer())
        elif step == "officer_answer":
            await cm.officer_answer(body["sdp"])
        elif step == "close":
            info = await calls.pop(call_id).close()
            return web.json_response(
                {"size": info.size_bytes if info else 0, "duration": info.duration_s if info else 0}
            )
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/{call}/{step}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


# ---- client side --------------------------------------------------------------------------


async def answer(
    offer: dict[str, str], tracks: list[MediaStreamTrack]
) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    for track in tracks:
        t = pc.addTransceiver(track, direction="sendrecv")
        if track.kind == "video":
            caps = RTCRtpSender.getCapabilities("video").codecs
            t.setCodecPreferences([c for c in caps if c.name in ("H264", "rtx")])
    await pc.setRemoteDescription(RTCSessionDescription(**offer))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc, pc.localDescription.sdp


async def run_clients(port: int, n: int, seconds: float) -> dict[str, Any]:
    with av.open(str(CLIP)) as c:
        packets = [bytes(p) for p in c.demux(video=0) if p.size]
    base = f"http://127.0.0.1:{port}"
    counts = [0] * n
    pcs: list[RTCPeerConnection] = []
    async with ClientSession() as http:

        async def post(call: str, step: str, **body: Any) -> Any:
            async with http.post(f"{base}/{call}/{step}", json=body) as r:
                r.raise_for_status()
                return await r.json()

        for i in range(n):
            call = f"bench{i}"
            drv, sdp = await answer(
                await post(call, "driver_offer"), [AudioStreamTrack(), ClipTrack(packets)]
            )
            await post(call, "driver_answer", sdp=sdp)
            off, sdp = await answer(await post(call, "officer_offer"), [AudioStreamTrack()])
            for t in off.getTransceivers():
                if t.kind == "video":
                    tap_receiver(t.receiver, lambda f, i=i: counts.__setitem__(i, counts[i] + 1))
            await post(call, "officer_answer", sdp=sdp)
            pcs += [drv, off]
        await asyncio.sleep(3)  # warm up: ICE, DTLS, first keyframes
        cpu0 = (await post("x", "cpu"))["cpu"]
        own0 = time.process_time()
        c0, t0 = list(counts), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1 = (await post("x", "cpu"))["cpu"]
        c1, elapsed = list(counts), time.monotonic() - t0
        client_load = (time.process_time() - own0) / elapsed
        closes = [await post(f"bench{i}", "close") for i in range(n)]
    for pc in pcs:
        await pc.close()
    fps = [(b - a) / elapsed for a, b in zip(c0, c1, strict=True)]
    cpu_per_call_s = (cpu1 - cpu0) / (n * elapsed)
    return {
        "calls": n,
        "seconds": round(elapsed, 1),
        "officer_fps_min": round(min(fps), 1),
        "officer_fps_mean": round(sum(fps) / n, 1),
        "server_cpu_s_per_call_s": round(cpu_per_call_s, 4),
        "calls_per_core_at_this_cost": round(1 / cpu_per_call_s, 1) if cpu_per_call_s else None,
        # the clients share one core: above ~0.9 they, not the server, limit the fps
        "client_core_load": round(client_load, 2),
        "recording_bytes_mean": int(sum(c["size"] for c in closes) / n),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--rec-dir", default=None)
    args = ap.parse_args()
    if args.serve:
        serve(args.port, 0, Path(args.rec_dir))
        return
    if not CLIP.exists():
        make_clip(CLIP)
    import subprocess

    with tempfile.TemporaryDirectory() as rec_dir:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--port", str(args.port), "--rec-dir", rec_dir]
        )
        try:
            cores = os.sched_getaffinity(0) - {0}
            if cores:
                os.sched_setaffinity(0, cores)
            time.sleep(1.5)
            result = asyncio.run(run_clients(args.port, args.calls, args.seconds))
        finally:
            server.terminate()
            server.wait()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
