"""What the officer really sees of a 720p driver: real Chromium pages through the server.

    .venv/bin/python benchmarks/browser_quality.py --calls 1 2 --seconds 60

Per call, a Chromium driver page whose fake camera plays a 1280x720 30 fps plate scene filmed
hand-held (tests/support/browser_call.py) reports; a Chromium console answers. For ``--seconds``
after the answer, once a second: the console's received frame size and decoded frames, freezes
(getStats), the driver's encoder (size, target bitrate, quality limitation), the REMB the server
sends the driver and what the officer's browser reports (GET /api/metrics); at the end the
server's event-loop lag p50/p99 over the window. The server runs as its own process
(``python server.py``); every page runs in one headless Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.client import SimOfficer  # noqa: E402
from tests.browser.conftest import BASE_ARGS, CHROMIUM  # noqa: E402
from tests.support.browser_call import (  # noqa: E402
    accept,
    make_plate_y4m,
    open_console,
    report_as_driver,
    screen,
    stats,
)
from tests.support.servers import LiveServer, start_server  # noqa: E402

CAMERA = ROOT / "benchmarks" / "out" / "plate-720p30.y4m"


async def metrics(supervisor: SimOfficer, window: float) -> dict[str, Any]:
    """GET /api/metrics as the supervisor (logged in once: a login is an Argon2 hash)."""
    status, body = await supervisor.api("GET", f"/api/metrics?window={max(1, int(window))}")
    if status != 200:
        raise RuntimeError(f"/api/metrics answered {status}: {body}")
    return dict(body)


async def sample_call(console: Page, driver: Page) -> dict[str, Any]:
    seen, inbound, outbound = await asyncio.gather(screen(console), stats(console), stats(driver))
    return {
        "screen": seen,
        "inbound": (inbound or {}).get("inbound"),
        "outbound": (outbound or {}).get("outbound"),
        "driver_available_bps": (outbound or {}).get("availableOutgoingBitrate"),
    }


def summarize(i: int, samples: list[dict[str, Any]], accepted: float) -> dict[str, Any]:
    """One call's figures from its per-second samples (``t`` seconds since the answer)."""
    to_720 = next(
        (s["t"] for s in samples if (s["screen"]["width"], s["screen"]["height"]) == (1280, 720)),
        None,
    )
    fps: list[float] = []
    for a, b in itertools.pairwise(samples):
        dt = (b["screen"]["at"] - a["screen"]["at"]) / 1000
        if dt > 0:
            fps.append((b["screen"]["frames"] - a["screen"]["frames"]) / dt)
    sizes = Counter(f"{s['screen']['width']}x{s['screen']['height']}" for s in samples)
    limits = Counter((s["outbound"] or {}).get("qualityLimitationReason", "?") for s in samples)
    last_in = samples[-1]["inbound"] or {}
    remb = [s.get("remb_bps") for s in samples]
    return {
        "call": i,
        "seconds": round(samples[-1]["t"] - samples[0]["t"], 1),
        "time_to_1280x720_s": to_720,
        "received_sizes": dict(sizes.most_common()),
        "fps_mean": round(statistics.mean(fps), 1) if fps else 0,
        "fps_min_1s": round(min(fps), 1) if fps else 0,
        "seconds_below_25fps": sum(1 for f in fps if f < 25),
        "freezes": last_in.get("freezeCount", 0),
        "freeze_seconds": round(last_in.get("totalFreezesDuration", 0), 2),
        "packets_lost_at_console": last_in.get("packetsLost", 0),
        "driver_limitation": dict(limits.most_common()),
        "remb_kbps_every_5s": [None if r is None else r // 1000 for r in remb[::5]],
        "driver_target_kbps_every_5s": [
            int(((s["outbound"] or {}).get("targetBitrate", 0)) // 1000) for s in samples[::5]
        ],
        "received_kbps_every_5s": [
            int(s["screen"].get("kbps", 0)) for s in samples[::5]
        ],
    }


async def run(n: int, seconds: float, server: LiveServer, headed_args: list[str]) -> dict[str, Any]:
    accounts = [(server.officer_username, server.officer_password), *server.extra_officers]
    supervisor = SimOfficer(server.url, server.supervisor_username, server.supervisor_password)
    await supervisor.login()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=headed_args
        )
        try:
            consoles: list[Page] = []
            drivers: list[Page] = []
            for i in range(n):
                ctx = await browser.new_context(
                    locale="zh-CN", viewport={"width": 1440, "height": 900}
                )
                await ctx.grant_permissions(["camera", "microphone"])
                consoles.append(await open_console(ctx, server.url, *accounts[i]))
            for _ in range(n):
                ctx = await browser.new_context(
                    locale="zh-CN", geolocation={"latitude": 45.7567, "longitude": 126.6424}
                )
                await ctx.grant_permissions(["camera", "microphone", "geolocation"])
                drivers.append(await report_as_driver(ctx, server.url))
            accepted: list[float] = []
            for console in consoles:
                await accept(console)
                accepted.append(time.monotonic())
            samples: list[list[dict[str, Any]]] = [[] for _ in range(n)]
            start = time.monotonic()
            prev = [(0, 0.0)] * n
            while time.monotonic() - start < seconds:
                tick = time.monotonic()
                body = await metrics(supervisor, 2)
                by_call = {c["call_id"]: c for c in body["media"]["calls"]}
                calls = list(by_call.values())
                for i in range(n):
                    s = await sample_call(consoles[i], drivers[i])
                    s["t"] = round(time.monotonic() - accepted[i], 2)
                    inbound = s["inbound"] or {}
                    got, at = inbound.get("bytes", 0), s["screen"]["at"]
                    dt = (at - prev[i][1]) / 1000
                    s["screen"]["kbps"] = (got - prev[i][0]) * 8 / 1000 / dt if dt > 0 else 0
                    prev[i] = (got, at)
                    # Calls are listed in the order they were answered.
                    if i < len(calls):
                        s["remb_bps"] = calls[i]["driver"]["remb_bps"]
                        s["officer_remb_bps"] = calls[i]["officer"]["remb_bps"]
                    samples[i].append(s)
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            final = await metrics(supervisor, seconds)
            return {
                "calls": n,
                "loop_lag": final["loop_lag"],
                "media_totals": final["media"]["totals"],
                "per_call": [summarize(i, samples[i], accepted[i]) for i in range(n)],
                "samples": samples,
            }
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--server-arg", action="append", default=[], help="extra KEY=VALUE setting")
    args = parser.parse_args()
    make_plate_y4m(CAMERA)
    chrome_args = [*BASE_ARGS, f"--use-file-for-fake-video-capture={CAMERA}"]
    settings = dict(kv.split("=", 1) for kv in args.server_arg)
    for n in args.calls:
        with tempfile.TemporaryDirectory() as tmp:
            server = start_server(Path(tmp), officers=max(3, n), **settings)
            try:
                result = asyncio.run(run(n, args.seconds, server, chrome_args))
            finally:
                server.stop()
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"browser_quality-{n}.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1), flush=True)


if __name__ == "__main__":
    main()
