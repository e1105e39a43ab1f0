"""Click → stored JPEG with its plate proposal in the console, through the real server.

    .venv/bin/python benchmarks/capture_latency.py --captures 30 --plates 6

A simulated driver streams a synthetic hand-held scene of a car with a rendered plate
(sim.plates, 1280x720, 15 fps) through a real call; a simulated officer sends the
console's `capture` event (kind plate) and times the acknowledgement, which arrives once the
JPEG is stored, hashed, listed in the manifest and the plate read. Each plate gets its own call;
the captures are spread over the call. Prints p50/p95/max and how many proposals matched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.client import LoopVideoTrack, SimDriver, SimOfficer  # noqa: E402
from sim.plates import random_plate, scene_frames  # noqa: E402
from tests.support.servers import start_server  # noqa: E402


async def run(captures: int, plates: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    per_call = max(1, captures // plates)
    times: list[float] = []
    right = wrong = unsure = none = 0
    with tempfile.TemporaryDirectory() as tmp:
        # Rendered before the officer connects: rendering blocks this loop for seconds on a
        # busy machine, long enough for the officer's socket.io connection to time out.
        scenes = []
        for i in range(plates):
            text, colour = random_plate(rng)
            scenes.append((text, list(scene_frames(text, colour, seed=seed + i, n=30))))
        server = start_server(Path(tmp) / "data", reservation_timeout=10, wrapup_seconds=0.5)
        try:
            officer = await SimOfficer(
                server.url, server.officer_username, server.officer_password
            ).connect()
            for text, frames in scenes:
                driver = await SimDriver(server.url, video=LoopVideoTrack(frames)).connect()
                await officer.set_available()
                await driver.report(phone="13800138000")
                offer = await officer.wait_offer(after=len(officer.events))
                assert (await officer.accept(offer["call_id"]))["ok"]
                await officer.wait_for(lambda: officer.frames("video") >= 30, timeout=30)
                for _ in range(per_call):
                    started = time.perf_counter()
                    ack = await officer.call(
                        "capture", {"call_id": offer["call_id"], "kind": "plate"}, timeout=20
                    )
                    times.append(time.perf_counter() - started)
                    plate = (ack.get("capture") or {}).get("plate")
                    if plate is None:
                        none += 1
                    elif plate["plate"].replace("·", "") == text.replace("·", ""):
                        right += 1
                    elif not plate.get("sure", True):  # offered as 不确定, with alternatives
                        unsure += 1
                        print(f"  unsure {plate['plate']} {plate.get('alternatives')} for {text}")
                    else:
                        wrong += 1
                        print(f"  read {plate['plate']} for {text}")
                    await asyncio.sleep(0.5)
                await officer.hangup(offer["call_id"])
                await driver.close()
                await asyncio.sleep(1.0)
            await officer.close()
        finally:
            server.stop()
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(
        f"{len(times)} plate captures on {plates} calls: click → JPEG + proposal "
        f"p50 {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {times[-1] * 1000:.0f} ms; proposals right {right}, wrong and sure {wrong},"
        f" unsure {unsure}, none {none}; load average {os.getloadavg()[0]:.1f} at the end"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captures", type=int, default=30)
    parser.add_argument("--plates", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.captures, args.plates, args.seed))


if __name__ == "__main__":
    main()
