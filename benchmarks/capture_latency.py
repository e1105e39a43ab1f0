"""Click → stored JPEG with its plate proposal in the console, through the real server.

    .venv/bin/python benchmarks/capture_latency.py --captures 30 --plates 6 [--gap 0.5]
    .venv/bin/python benchmarks/capture_latency.py --captures 30 --plates 30 --difficulty hard

A simulated driver streams a synthetic hand-held scene of a car with a rendered plate
(sim.plates, 1280x720, 15 fps; ``--difficulty`` as in its benchmark sets, default easy: the
hard scenes' plates are 85-150 px wide, at dusk, blurred and noisy, and reach the server as
the call's video encoder left them, not as the plate benchmark's heavy JPEG) through a real
call; a simulated officer sends the console's `capture` event (kind plate) and times the
acknowledgement, which arrives once the JPEG is stored, hashed, listed in the manifest and the
plate read. Each plate gets its own call; the captures are spread over the call, ``--gap``
seconds after the previous acknowledgement.

Prints p50/p95/max and how many proposals matched, then the same split by where the capture's
frame window came from (the server's log says, kuaichu.media.frame_capture): from the driver's
keyframe already received (a capture less than ``chain_s`` after one; the window reaches back
before the click) or from a keyframe asked for (the driver's keyframe is older; PLI, then the
window). A gap of 3 s or more measures mostly the second (the aiortc driver sends keyframes only
when asked), which is what a phone that sends one every few minutes gives; 0.5 s mostly the
first. With the server's own stages: click → still stored, and stored → proposal acknowledged
(the plate read, the row and the manifest line).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.client import LoopVideoTrack, SimDriver, SimOfficer  # noqa: E402
from sim.plates import DIFFICULTIES, Difficulty, random_plate, scene_frames  # noqa: E402
from tests.support.servers import start_server  # noqa: E402

# kuaichu.media.frame_capture's line for a stored still.
STORED = re.compile(
    r"call (?P<call>\S+): capture \d+ \(plate\) stored .*? (?P<decoded>\d+) decoded, "
    r"(?:(?P<buffered>keyframe buffered [\d.]+ s before)|keyframe asked for), "
    r"(?P<ms>\d+) ms after the request .*?, (?P<cpu>[\d.]+) ms CPU"
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def stages(log: str, clicks: list[tuple[str, float]]) -> None:
    """The acknowledgement times split by where the window came from, with the server's
    click → stored part; the n-th plate still stored in a call is the call's n-th click."""
    stored: dict[str, list[tuple[bool, float]]] = {}
    work: dict[bool, list[tuple[int, float]]] = {}  # frames decoded, ms of CPU
    for m in STORED.finditer(log):
        stored.setdefault(m["call"], []).append((bool(m["buffered"]), int(m["ms"]) / 1000))
        work.setdefault(bool(m["buffered"]), []).append((int(m["decoded"]), float(m["cpu"])))
    paths: dict[str, list[tuple[float, float]]] = {}
    seen: dict[str, int] = {}
    for call, total in clicks:
        n = seen.get(call, 0)
        seen[call] = n + 1
        if n >= len(stored.get(call, [])):
            paths.setdefault("window source not logged", []).append((total, float("nan")))
            continue
        buffered, until_stored = stored[call][n]
        name = "keyframe already received" if buffered else "keyframe asked for"
        paths.setdefault(name, []).append((total, until_stored))
    for name, pairs in sorted(paths.items()):
        totals = [t for t, _ in pairs]
        to_stored = [s for _, s in pairs]
        rest = [t - s for t, s in pairs]
        print(
            f"  {name}: {len(pairs)} captures, click → proposal p50 "
            f"{statistics.median(totals) * 1000:.0f} / p95 {pct(totals, 0.95) * 1000:.0f} ms;"
            f" of which request → still stored p50 {statistics.median(to_stored) * 1000:.0f}"
            f" / p95 {pct(to_stored, 0.95) * 1000:.0f} ms, the rest (click's trip, plate read,"
            f" row, manifest, answer) p50 {statistics.median(rest) * 1000:.0f}"
            f" / p95 {pct(rest, 0.95) * 1000:.0f} ms"
        )
    for buffered, done in sorted(work.items()):
        name = "keyframe already received" if buffered else "keyframe asked for"
        decoded = [float(n) for n, _ in done]
        cpu = [c for _, c in done]
        print(
            f"  {name}: the capture thread decoded p50 {statistics.median(decoded):.0f}"
            f" / max {max(decoded):.0f} frames, CPU p50 {statistics.median(cpu):.0f}"
            f" / p95 {pct(cpu, 0.95):.0f} ms"
        )


def _keep(folder: Path | None, data: Path, stored: dict[str, Any], name: str) -> None:
    """A copy of the still the server read, for reading it again offline."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    source = Path(stored["path"])
    if not source.is_absolute():
        found = list(data.rglob(source.name))
        if not found:
            print(f"  (the still {source} was not found under {data})")
            return
        source = found[0]
    target = folder / f"{name}-{stored['id']}.jpg"
    shutil.copyfile(source, target)
    print(f"  kept {target}")


async def run(
    captures: int,
    plates: int,
    seed: int,
    gap: float,
    difficulty: Difficulty,
    keep: Path | None = None,
) -> None:
    rng = np.random.default_rng(seed)
    per_call = max(1, captures // plates)
    times: list[float] = []
    clicks: list[tuple[str, float]] = []
    sharp: dict[str, list[float]] = {}  # the stored stills' sharpness, per plate
    log = ""
    right = wrong = unsure = none = refused = 0
    with tempfile.TemporaryDirectory() as tmp:
        # Rendered before the officer connects: rendering blocks this loop for seconds on a
        # busy machine, long enough for the officer's socket.io connection to time out.
        scenes = []
        for i in range(plates):
            text, colour = random_plate(rng)
            shot = scene_frames(text, colour, seed=seed + i, n=30, difficulty=difficulty)
            scenes.append((text, list(shot)))
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
                # The officer's sink of the previous call keeps its count until this call's
                # video arrives: a capture sent before then is refused (no video yet).
                previous = officer.sinks.get("video")
                assert (await officer.accept(offer["call_id"]))["ok"]

                def video_arrived(previous: object = previous) -> bool:
                    sink = officer.sinks.get("video")
                    return sink is not previous and officer.frames("video") >= 30

                try:
                    await officer.wait_for(video_arrived, timeout=30)
                except TimeoutError:
                    raise SystemExit(
                        f"call {len(clicks) // per_call + 1} of {plates}: the driver's video did"
                        f" not reach the officer in 30 s (set-up failed; load average"
                        f" {os.getloadavg()[0]:.1f})"
                    ) from None
                for _ in range(per_call):
                    started = time.perf_counter()
                    ack = await officer.call(
                        "capture", {"call_id": offer["call_id"], "kind": "plate"}, timeout=20
                    )
                    elapsed = time.perf_counter() - started
                    if not ack.get("ok", True) or "capture" not in ack:
                        refused += 1
                        print(f"  refused: {ack}")
                        await asyncio.sleep(gap)
                        continue
                    times.append(elapsed)
                    clicks.append((offer["call_id"], elapsed))
                    stored = ack["capture"]
                    if stored.get("sharpness") is not None:
                        sharp.setdefault(text, []).append(float(stored["sharpness"]))
                    plate = stored.get("plate")
                    if plate is None:
                        none += 1
                    elif plate["plate"].replace("·", "") == text.replace("·", ""):
                        right += 1
                    elif not plate.get("sure", True):  # offered as 不确定, with alternatives
                        unsure += 1
                        print(f"  unsure {plate['plate']} {plate.get('alternatives')} for {text}")
                        _keep(keep, Path(tmp) / "data", stored, f"unsure-{text}")
                    else:
                        wrong += 1
                        print(f"  read {plate['plate']} for {text}")
                        _keep(keep, Path(tmp) / "data", stored, f"wrong-{text}")
                    await asyncio.sleep(gap)
                await officer.hangup(offer["call_id"])
                await driver.close()
                await asyncio.sleep(1.0)
            await officer.close()
        finally:
            server.stop()
            log = server.log()
    times.sort()
    p95 = pct(times, 0.95)
    print(
        f"{len(times)} plate captures on {plates} calls: click → JPEG + proposal "
        f"p50 {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {times[-1] * 1000:.0f} ms; proposals right {right}, wrong and sure {wrong},"
        f" unsure {unsure}, none {none}; refused {refused};"
        f" load average {os.getloadavg()[0]:.1f} at the end"
    )
    stages(log, clicks)
    # Comparable between runs of one seed (the same scenes), not between plates.
    print(
        "  sharpness of the stored stills, mean per plate: "
        + ", ".join(f"{statistics.mean(v):.0f}" for v in sharp.values())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captures", type=int, default=30)
    parser.add_argument("--plates", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--gap", type=float, default=0.5, help="seconds from an acknowledgement to the next click"
    )
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default="easy")
    parser.add_argument(
        "--keep", type=Path, default=None, help="copy the stills read wrong or unsure here"
    )
    args = parser.parse_args()
    difficulty: Difficulty = args.difficulty  # one of DIFFICULTIES (argparse's choices)
    asyncio.run(run(args.captures, args.plates, args.seed, args.gap, difficulty, args.keep))


if __name__ == "__main__":
    main()
