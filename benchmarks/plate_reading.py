"""Plate reading on synthetic scenes: exact-match accuracy and time per frame on one thread.

    .venv/bin/python benchmarks/plate_reading.py --n 300 --seed 1

Scene i uses ``numpy.random.default_rng([seed, i])`` for its plate (``random_plate``) and its
picture (``render_scene``); difficulties cycle easy, medium, hard. A frame counts as read when
the reader's best reading is exactly the plate (province, letter, serial). Also run: ``--empty``
frames with no plate but a Chinese road sign and a learner sticker, where any proposal is a
false one. The process is pinned to one CPU (``--no-pin`` to leave it) and the reader runs
onnxruntime and OpenCV with one thread, as it does in the server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

# Run from a checkout: the simulators in sim/ are not installed with the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kuaichu.media.plate_reader import PlateReader
from sim.plates import (
    DIFFICULTIES,
    font_path,
    random_plate,
    render_no_plate,
    render_scene,
)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="scenes with a plate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--empty", type=int, default=None, help="plate-free frames (n/10)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = parser.parse_args()
    empty = args.n // 10 if args.empty is None else args.empty
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    reader = PlateReader()
    started = time.perf_counter()
    reader.warm_up()
    print(f"generator font: {font_path()}")
    if "NotoSansCJK" in str(font_path()):
        print(
            "  WARNING: the reader's province shapes are drawn from Noto Sans CJK too; install"
            " fonts-wqy-microhei for figures that do not flatter the reader"
        )
    print(f"models loaded in {(time.perf_counter() - started) * 1000:.0f} ms")

    times: list[float] = []
    cpu: list[float] = []
    hits: dict[str, list[bool]] = defaultdict(list)
    colour_right: list[bool] = []
    failures: list[str] = []
    for i in range(args.n):
        rng = np.random.default_rng([args.seed, i])
        text, colour = random_plate(rng)
        difficulty = DIFFICULTIES[i % len(DIFFICULTIES)]
        frame = render_scene(text, colour, rng, difficulty=difficulty)
        t0, c0 = time.perf_counter(), time.thread_time()
        readings = reader.read(frame)
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        best = readings[0] if readings else None
        ok = best is not None and best.plate == text
        for key in ("all", difficulty, colour):
            hits[key].append(ok)
        if ok and best is not None:
            colour_right.append(best.colour == colour)
        if not ok:
            got = f"{best.plate} ({best.colour}, {best.confidence:.2f})" if best else "nothing"
            failures.append(f"  #{i:<4d} {difficulty:6s} {colour:6s} {text:10s} read {got}")

    # What read_file() adds for an evidence JPEG (the server stores the still, then reads it).
    still = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1]
    decode: list[float] = []
    for _ in range(20):
        t0 = time.perf_counter()
        cv2.cvtColor(cv2.imdecode(still, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        decode.append(time.perf_counter() - t0)

    false_props: list[str] = []
    empty_times: list[float] = []
    for j in range(empty):
        rng = np.random.default_rng([args.seed, 1_000_000 + j])
        frame = render_no_plate(rng, difficulty=DIFFICULTIES[j % len(DIFFICULTIES)])
        t0 = time.perf_counter()
        readings = reader.read(frame)
        empty_times.append(time.perf_counter() - t0)
        false_props += [f"  empty #{j}: {r.display} ({r.confidence:.2f})" for r in readings]

    def line(key: str) -> str:
        got = hits[key]
        return f"{key:7s} {sum(got):4d}/{len(got):<4d} {100 * sum(got) / max(1, len(got)):5.1f} %"

    print(f"\nexact whole-plate matches (n={args.n}, seed={args.seed})")
    print(line("all"))
    for key in (*DIFFICULTIES, "blue", "yellow", "green"):
        print(line(key))
    if colour_right:
        print(f"colour right on the plates read: {100 * statistics.mean(colour_right):.1f} %")
    print(f"\ntime per frame, one thread ({len(times)} frames with a plate)")
    print(
        f"  wall p50 {percentile(times, 50) * 1000:.0f} ms  p95 {percentile(times, 95) * 1000:.0f}"
        f" ms  max {max(times) * 1000:.0f} ms;  thread CPU p50 {percentile(cpu, 50) * 1000:.0f} ms"
    )
    median_decode = statistics.median(decode) * 1000
    print(f"  decoding a 720p evidence JPEG first (read_file): {median_decode:.1f} ms")
    if empty_times:
        print(
            f"  plate-free frames: p50 {percentile(empty_times, 50) * 1000:.0f} ms"
            f"  p95 {percentile(empty_times, 95) * 1000:.0f} ms"
        )
        print(f"false proposals on {empty} plate-free frames: {len(false_props)}")
        for f in false_props:
            print(f)
    print(f"\nfailures ({len(failures)}):")
    for f in failures:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
