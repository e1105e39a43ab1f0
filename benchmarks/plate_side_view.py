"""Plates filmed from the side: how the reader does as one end of the plate grows taller than
the other (a driver filming the car beside them from close up).

    .venv/bin/python benchmarks/plate_side_view.py --n 40

Each plate (``sim.plates.random_plate``; drawn by ``sim/plates.py`` for half of them and by
the second generator, ``sim/plates_other.py``, in each of its faces, for the other half) is
warped onto a 1280x720 frame of one colour, its far end ``h`` high and its near end ``ratio *
h`` (left or right in turn), 240 px wide (204 px above 1.5), a little noise, and
a JPEG round trip at quality 60. A plate is *read* when the best reading is exactly it;
*sure wrong* counts wrong readings proposed as sure. Plate i of every ratio is the same plate.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

# Run from a checkout: the simulators in sim/ are not installed with the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kuaichu.media.plate_reader import PlateReader
from sim import plates_other
from sim.plates import plate_on_plain_frame, random_plate, render_plate

FRAME = (1280, 720)


def side_view(plate: np.ndarray, ratio: float, near_right: bool, seed: int) -> np.ndarray:
    """The plate on a frame of one colour, one end ``ratio`` times as high as the other."""
    width = 240.0 * (0.85 if ratio > 1.5 else 1.0)
    far = width * 140 / 440 / ((1 + ratio) / 2)
    left, right = (far, far * ratio) if near_right else (far * ratio, far)
    x0, y0 = 500.0, 360.0
    corners = np.array(
        [(x0, y0 - left / 2), (x0 + width, y0 - right / 2), (x0 + width, y0 + right / 2),
         (x0, y0 + left / 2)], np.float32,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    background = rng.integers(30, 220, 3)
    bgr = plate_on_plain_frame(plate, corners, background, rng, FRAME)[..., ::-1]
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="plates per ratio")
    parser.add_argument("--ratios", default="1.0,1.3,1.6,2.0")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    reader = PlateReader()
    reader.warm_up()
    faces = len(plates_other.cjk_faces())
    for ratio in (float(r) for r in args.ratios.split(",")):
        read: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, read, sure wrong
        wrong: list[str] = []
        for i in range(args.n):
            rng = np.random.default_rng([args.seed, i])
            text, colour = random_plate(rng)
            if i % 4 < 2:
                plate = render_plate(text, colour)
            else:
                rgba = plates_other.draw_plate(text, colour, rng, cjk_face=i % faces)
                plate = np.ascontiguousarray(rgba[..., :3])
            readings = reader.read(side_view(plate, ratio, near_right=i % 2 == 0, seed=i))
            best = readings[0] if readings else None
            tally = read[colour]
            tally[0] += 1
            tally[1] += best is not None and best.plate == text
            if best is not None and best.sure and best.plate != text:
                tally[2] += 1
                wrong.append(f"  #{i} {text} proposed as {best.plate} ({best.confidence:.2f})")
        cells = ", ".join(f"{c} {t[1]}/{t[0]} (sure wrong {t[2]})" for c, t in sorted(read.items()))
        print(f"near end {ratio:.1f}x the far end's height: {cells}", flush=True)
        for line in wrong:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
