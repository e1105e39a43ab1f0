"""A bridged 720p call's frame rate at the officer before, during and after a login storm.

    .venv/bin/python benchmarks/login_storm.py --storm 200 --storm-seconds 10
    .venv/bin/python benchmarks/login_storm.py --storm 200 --storm-seconds 10 --distributed
    .venv/bin/python benchmarks/login_storm.py --storm 200 --storm-seconds 10 --pin

The server (``python server.py``) runs as a subprocess; one simulated driver sends the
pre-encoded 720p30 clip of benchmarks/call_load.py, one simulated officer counts the encoded
video frames it receives, every second. Once the call shows video, this process keeps
``--storm`` wrong logins in flight at once for ``--storm-seconds`` (each answered request is
replaced at once), and polls /healthz every 100 ms.

``--distributed``: every request comes from another address (the server trusts this process
as a proxy and reads X-Forwarded-For) with another username, so the per-account and
per-address throttle never engages and only the bounded hashing pool stands between the storm
and the call: the worst case. ``--pin``: the server and all its threads on CPU 0, this harness
on CPU 1 (as call_load.py), so the hashing thread competes with the event loop for one core.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiortc.contrib.media import MediaPlayer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.call_load import (  # noqa: E402
    CountingOfficer,
    cpu_seconds,
    make_clip,
    make_voice,
)
from sim.client import SimDriver  # noqa: E402
from tests.support.servers import OFFICER, start_server  # noqa: E402

# Longer than call_load's 40 s: the clip is not looped, and a slow storm must not outlast it.
SECONDS = 150
CLIP = ROOT / "benchmarks" / "out" / f"clip-720p30-{SECONDS}s.ts"
VOICE = ROOT / "benchmarks" / "out" / f"voice-{SECONDS}s.ogg"


def pin(pid: int, cpu: int) -> None:
    """Move a process and every thread it has now onto one CPU (new threads inherit it)."""
    os.sched_setaffinity(pid, {cpu})
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {cpu})


async def storm(
    url: str, concurrency: int, seconds: float, distributed: bool, counts: collections.Counter[str]
) -> None:
    """``concurrency`` wrong logins at once; with ``seconds`` > 0 each answered one is
    replaced at once until then (a sustained flood), else each is sent once (a burst)."""
    deadline = time.monotonic() + seconds
    serial = iter(range(10**9))

    async def worker(http: aiohttp.ClientSession) -> None:
        first = True
        while first or time.monotonic() < deadline:
            first = False
            i = next(serial)
            headers = {}
            username = OFFICER[0]
            if distributed:
                headers["X-Forwarded-For"] = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
                username = f"guess{i}"
            try:
                async with http.post(
                    f"{url}/login",
                    data={"username": username, "password": f"wrong-{i}"},
                    headers=headers,
                    allow_redirects=False,
                ) as resp:
                    await resp.read()
                    counts[str(resp.status)] += 1
            except aiohttp.ClientError as exc:
                counts[type(exc).__name__] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))


def storm_process(
    url: str, concurrency: int, seconds: float, distributed: bool, pinned: bool
) -> collections.Counter[str]:
    """:func:`storm` in a child process; the answers by status."""
    if pinned:
        os.sched_setaffinity(0, {1})
    # Below the officer's receiver in this harness: the attacker's own CPU is not the
    # server's problem, and must not show up as frames the officer failed to process.
    os.nice(19)
    counts: collections.Counter[str] = collections.Counter()
    asyncio.run(storm(url, concurrency, seconds, distributed, counts))
    return counts


async def poll_health(url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            started = time.monotonic()
            async with http.get(f"{url}/healthz") as resp:
                await resp.read()
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.1)


async def run(server: Any, args: argparse.Namespace) -> dict[str, Any]:
    voice_o = MediaPlayer(str(VOICE), decode=False)
    clip = MediaPlayer(str(CLIP), decode=False)
    voice_d = MediaPlayer(str(VOICE), decode=False)
    officer = CountingOfficer(server.url, OFFICER[0], OFFICER[1])
    officer.audio = voice_o.audio
    driver = SimDriver(server.url, video=clip.video, audio=voice_d.audio)
    try:
        await officer.connect()
        await officer.set_available()
        await driver.connect()
        await driver.report()
        offer = await officer.wait_offer(timeout=30)
        await officer.accept(offer["call_id"])
        await officer.wait_for(lambda: officer.video_frames > 30, timeout=60)

        per_second: list[tuple[str, int, float]] = []
        phase = "before"

        async def sample() -> None:
            last, last_cpu = officer.video_frames, cpu_seconds(server.proc.pid)
            while True:
                await asyncio.sleep(1)
                now, now_cpu = officer.video_frames, cpu_seconds(server.proc.pid)
                per_second.append((phase, now - last, now_cpu - last_cpu))
                last, last_cpu = now, now_cpu

        sampler = asyncio.ensure_future(sample())
        await asyncio.sleep(args.before)
        counts: collections.Counter[str] = collections.Counter()
        latencies: list[float] = []
        stop = asyncio.Event()
        poller = asyncio.ensure_future(poll_health(server.url, stop, latencies))
        phase = "during"
        started = time.monotonic()
        # The storm runs in a process of its own: sharing this event loop, its thousands of
        # requests would starve the officer's receiver here and mask what the server does.
        with concurrent.futures.ProcessPoolExecutor(1) as pool:
            counts.update(
                await asyncio.get_running_loop().run_in_executor(
                    pool,
                    storm_process,
                    server.url,
                    args.storm,
                    args.sustain,
                    args.distributed,
                    args.pin,
                )
            )
        storm_took = time.monotonic() - started
        # "during" spans at least --during seconds from the first request.
        await asyncio.sleep(max(0.0, args.during - storm_took))
        stop.set()
        await poller
        phase = "after"
        await asyncio.sleep(args.after)
        sampler.cancel()
        if len(per_second) + 8 > SECONDS:
            print(f"warning: the run outlasted the {SECONDS} s clip; late seconds show 0 fps")
        in_call = driver.state() == "in_call"
        await officer.hangup()
        phases = ("before", "during", "after")
        return {
            "fps": {p: [n for q, n, _ in per_second if q == p] for p in phases},
            "server_cores": {p: [c for q, _, c in per_second if q == p] for p in phases},
            "requests": sum(counts.values()),
            "answers": dict(counts),
            "storm_s": storm_took,
            "healthz_max_ms": max(latencies) * 1000,
            "healthz_median_ms": statistics.median(latencies) * 1000,
            "in_call": in_call,
        }
    finally:
        for c in (driver, officer):
            await c.close()
        for p in (voice_o, clip, voice_d):
            for track in (p.audio, p.video):
                if track is not None:
                    track.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storm", type=int, default=200, help="wrong logins in flight at once")
    parser.add_argument(
        "--sustain",
        type=float,
        default=0,
        help="keep --storm requests in flight for this many seconds (default: one burst)",
    )
    parser.add_argument("--during", type=float, default=5, help="seconds counted as 'during'")
    parser.add_argument("--before", type=float, default=5)
    parser.add_argument("--after", type=float, default=5)
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument("--pin", action="store_true")
    args = parser.parse_args()
    make_clip(CLIP, SECONDS)
    make_voice(VOICE, SECONDS)
    settings: dict[str, object] = {"reservation_timeout": 60, "log_level": "WARNING"}
    if args.distributed:
        settings["trusted_proxies"] = "127.0.0.1"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), officers=1, **settings)
        if args.pin:
            pin(server.proc.pid, 0)  # type: ignore[union-attr]
            os.sched_setaffinity(0, {1})
        try:
            result = asyncio.run(run(server, args))
        finally:
            server.stop()
    for phase in ("before", "during", "after"):
        values = result["fps"][phase]
        cores = result["server_cores"][phase]
        print(
            f"{phase:>6}: officer fps per second min {min(values)} "
            f"median {statistics.median(values)} ({values}); "
            f"server cores mean {statistics.mean(cores):.2f} max {max(cores):.2f}"
        )
    print(
        f"storm: {result['requests']} requests in {result['storm_s']:.1f} s, "
        f"answers {result['answers']}; /healthz median {result['healthz_median_ms']:.0f} ms, "
        f"max {result['healthz_max_ms']:.0f} ms; still in call: {result['in_call']}"
    )


if __name__ == "__main__":
    main()
