"""A photo report's upload: the check and re-encoding alone, and a phone's 12-megapixel photo
through the real server (issue 13).

    .venv/bin/python benchmarks/photo_upload.py --runs 10

1. In process: kuaichu.photoreports.upload.check_photo on a 4000x3000 JPEG with EXIF (sensor
   noise, so it compresses like a phone photo: ~5 MB): wall and CPU time per photo, the process's
   peak RSS growth, the stored JPEG's size; and how long a 64-megapixel decompression bomb and a
   truncated file take to be refused.
2. Through a server (``python server.py`` in its own process): PUT of the same photo as a
   "damage" shot and of a plate scene (sim/plates.py, 1280x720) as a "plate" shot, request to
   201 answer (the body sent, checked, re-encoded, stored, listed in the manifest, the plate
   read).
Prints the machine's load average: the figures are only comparable on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta, timezone
from pathlib import Path

import aiohttp
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kuaichu.errors import InvalidMessage  # noqa: E402
from kuaichu.photoreports.upload import check_photo  # noqa: E402
from tests.photoreports.images import bomb_png, jpeg, plate_jpeg, truncated_jpeg  # noqa: E402
from tests.support.servers import start_server  # noqa: E402

CHINA = timezone(timedelta(hours=8))
ELIGIBLE = {
    "injuries": False,
    "vehicles_movable": True,
    "vehicle_to_vehicle": True,
    "all_insured": True,
    "cause": "rear_end",
    "unlicensed": False,
    "drunk_driving": False,
    "hit_and_run": False,
}


def phone_photo() -> bytes:
    """4000x3000 with texture and noise: a phone photo's size and entropy, with EXIF."""
    rng = np.random.default_rng(3)
    y = np.linspace(0, 255, 3000, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 255, 4000, dtype=np.float32)[None, :, None]
    base = (y * 0.6 + x * 0.4 + np.array([0, 40, 80], np.float32)) % 256
    noisy = base + rng.normal(0, 12, (3000, 4000, 3)).astype(np.float32)
    return jpeg(rgb=np.clip(noisy, 0, 255).astype(np.uint8))


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"median {statistics.median(values) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"


def peak_rss_kib() -> int:
    """This process's RSS high-water mark (VmHWM: getrusage's maxrss survives exec and would
    carry the parent's peak into the spawned child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def in_process(path: Path, runs: int) -> None:
    """In a fresh process (spawned), so its peak RSS is the check's, not the photo maker's."""
    data = path.read_bytes()
    check_photo(jpeg(64, 48), CHINA)  # imports and codecs loaded before the baseline
    before = peak_rss_kib()
    walls: list[float] = []
    cpus: list[float] = []
    stored = 0
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        checked = check_photo(data, CHINA)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        stored = len(checked.jpeg)
    growth = (peak_rss_kib() - before) / 1024
    width, height = Image.open(io.BytesIO(data)).size
    print(f"check_photo {width}x{height}, {len(data) / 1e6:.1f} MB in, {stored / 1e6:.2f} MB out:")
    print(f"  wall {ms(walls)}; CPU {ms(cpus)}; peak RSS growth {growth:.0f} MiB")
    for label, bad in (("64 MP bomb PNG", bomb_png()), ("truncated JPEG", truncated_jpeg())):
        t0 = time.perf_counter()
        try:
            check_photo(bad, CHINA)
        except InvalidMessage as exc:
            reason = exc.detail.get("reason")
        print(f"  {label} refused ({reason}) in {(time.perf_counter() - t0) * 1000:.1f} ms")


async def through_server(data: bytes, runs: int) -> None:
    plate = plate_jpeg()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    server.url + "/api/photo-reports",
                    json={"eligibility": ELIGIBLE, "phone": "13800138000"},
                ) as r:
                    made = await r.json()
                    assert r.status == 201, made
                url = f"{server.url}/api/photo-reports/{made['report_id']}/photo"
                headers = {"X-Report-Token": made["token"]}
                for shot, body in (("damage", data), ("plate_a", plate)):
                    times: list[float] = []
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        put = http.put(url, params={"shot": shot}, data=body, headers=headers)
                        async with put as r:
                            answer = await r.json()
                            assert r.status == 201, answer
                        times.append(time.perf_counter() - t0)
                    print(f"PUT {shot} ({len(body) / 1e6:.1f} MB) -> 201: {ms(times)}")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    data = phone_photo()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        path.write_bytes(data)
        child = multiprocessing.get_context("spawn").Process(
            target=in_process, args=(path, args.runs)
        )
        child.start()
        child.join()
    asyncio.run(through_server(data, args.runs))


if __name__ == "__main__":
    main()
