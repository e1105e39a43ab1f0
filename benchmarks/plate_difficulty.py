"""How hard the hard sets are: rapidocr's whole pipeline and this reader on a generator's hard
scenes, with the plate's width moved (and, for the second generator, the province in one face).

    .venv/bin/python benchmarks/plate_difficulty.py --widths 90-150,150-220,220-300 --face 0
    .venv/bin/python benchmarks/plate_difficulty.py --set own --widths 85-150,150-220,220-300

Issue 11 measured its (unshared) sets with rapidocr as a peer: 100 % of its easy scenes and 83 %
of its hard ones ("small, 480p upscaled, heavy JPEG, dusk", the province in WenQuanYi). This
script puts a number on where our own hard sets stand against that one: each row is the same
scenes (``plate_px`` of ``sim/plates_other.render_scene_face`` or of ``sim/plates.render_scene``,
whose province is WenQuanYi Micro Hei: every other draw of a scene is unchanged) at another
range of plate widths, read by both.

rapidocr (3.10, the PP-OCRv6 detector and recogniser the reader loads its models from) reads
a scene when the plate's text is in one of its lines, or in its lines joined (it may split
"京A·12345" in two); "·", spaces and dots are ignored. This reader reads a scene when its best
reading is exactly the plate; *sure wrong* counts wrong readings it proposes as sure. CPU is
this reader's (``time.thread_time``, one pinned CPU), not rapidocr's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

# Run from a checkout: the simulators in sim/ are not installed with the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kuaichu.media.plate_reader import PlateReader
from sim import plates, plates_other


def _normal(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch not in " ·.-_:")


def rapidocr_reads(engine: Any, frame: np.ndarray, plate: str) -> bool:
    out = engine(np.ascontiguousarray(frame[..., ::-1]))
    lines = [_normal(t) for t in (out.txts or ())]
    return any(plate in line for line in lines) or plate in "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("other", "own"), default="other", help="generator")
    parser.add_argument("--widths", default="90-150,150-220,220-300", help="plate px ranges")
    parser.add_argument("--face", type=int, default=0, help="index in cjk_faces() (0: Zen Hei)")
    parser.add_argument("--n", type=int, default=50, help="hard scenes per row")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-peer", action="store_true", help="this reader only")
    parser.add_argument("--quiet", action="store_true", help="no list of misses")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    engine = None
    if not args.no_peer:
        import logging

        from rapidocr import RapidOCR

        engine = RapidOCR()
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # "detection result is empty"
    reader = PlateReader()
    reader.warm_up()
    face = plates_other.face_name(args.face) if args.set == "other" else "WenQuanYi Micro Hei"
    rows: list[str] = []
    for spec in args.widths.split(","):
        low, high = (float(v) for v in spec.split("-"))
        ours = peer = both = sure_wrong = 0
        cpu: list[float] = []
        misses: list[str] = []
        for k in range(args.n):
            # Scene i of plate_reading.py's sets, which cycle their difficulties: its hard ones.
            if args.set == "other":
                i = 2 * k + 1  # easy, hard
                rng = np.random.default_rng([args.seed, i])
                text, colour = plates_other.random_plate(rng)
                frame, _ = plates_other.render_scene_face(
                    text, colour, rng, difficulty="hard", cjk_face=args.face, plate_px=(low, high)
                )
            else:
                i = 3 * k + 2  # easy, medium, hard
                rng = np.random.default_rng([args.seed, i])
                text, colour = plates.random_plate(rng)
                frame = plates.render_scene(
                    text, colour, rng, difficulty="hard", plate_px=(low, high)
                )
            started = time.thread_time()
            readings = reader.read(frame)
            cpu.append(time.thread_time() - started)
            best = readings[0] if readings else None
            right = best is not None and best.plate == text
            sure_wrong += best is not None and best.sure and not right
            seen = engine is not None and rapidocr_reads(engine, frame, text)
            ours += right
            peer += seen
            both += right and seen
            if not right:
                got = "nothing" if best is None else f"{best.plate} ({best.confidence:.2f}"
                got += "" if best is None else (", sure)" if best.sure else ", unsure)")
                misses.append(f"  #{i} {text} read {got}; rapidocr {'read' if seen else '-'}")
        ms = np.array(cpu) * 1000
        peer_part = "" if engine is None else f"  rapidocr {peer}/{args.n}, both {both}"
        rows.append(
            f"plate {low:.0f}-{high:.0f} px, {face}: this reader {ours}/{args.n}"
            f" (sure wrong {sure_wrong}){peer_part}"
            f"  CPU p50 {np.percentile(ms, 50):.0f} p95 {np.percentile(ms, 95):.0f} ms"
        )
        print(rows[-1], flush=True)
        if not args.quiet:
            print("\n".join(misses), flush=True)
    generator = "second generator" if args.set == "other" else "own generator"
    print(f"\n{generator}, hard, seed {args.seed}, {args.n} scenes a row")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
