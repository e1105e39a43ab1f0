"""Plates turned in the picture (a phone held crooked, CCPD's "rotate" photos): read / sure and
wrong per angle.

    .venv/bin/python benchmarks/plate_rotation.py
    .venv/bin/python benchmarks/plate_rotation.py --widths 110-170 --quality 40 --blur 1.0

The scenes are ``sim/turned.py``'s: each plate (half drawn by either generator) on a
plate-free 1280x720 scene, turned by the angle about its centre, the frame optionally blurred,
then JPEG-compressed; the same plates, poses and backgrounds at every angle.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kuaichu.media.plate_reader import PlateReader
from sim.turned import turned_scene


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="plates per angle")
    parser.add_argument("--angles", default="0,8,15,22,30,40")
    parser.add_argument("--widths", default="220-280", help="plate width in px, low-high")
    parser.add_argument("--quality", type=int, default=70, help="JPEG quality")
    parser.add_argument("--blur", type=float, default=0.0, help="Gaussian sigma, px")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    low, high = (float(v) for v in args.widths.split("-"))
    reader = PlateReader()
    reader.warm_up()
    for angle in (float(v) for v in args.angles.split(",")):
        right = sure_wrong = 0
        cpu: list[float] = []
        misses: list[str] = []
        for i in range(args.n):
            text, frame = turned_scene(i, angle, (low, high), args.quality, args.blur)
            started = time.thread_time()
            readings = reader.read(frame)
            cpu.append(time.thread_time() - started)
            best = readings[0] if readings else None
            ok = best is not None and best.plate == text
            right += ok
            sure_wrong += best is not None and best.sure and not ok
            if not ok:
                got = "nothing" if best is None else f"{best.plate} ({best.confidence:.2f})"
                misses.append(f"#{i} {text} -> {got}")
        ms = np.array(cpu) * 1000
        print(
            f"turned {angle:4.0f} deg: read {right}/{args.n}, sure and wrong {sure_wrong}"
            f"  CPU p50 {np.percentile(ms, 50):.0f} max {ms.max():.0f} ms"
            + (f"  misses: {'; '.join(misses)}" if misses else ""),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
