"""Plate reading, per set of pictures: exact-plate accuracy, precision of what is proposed as
sure, and CPU time per frame on one thread.

    .venv/bin/python benchmarks/plate_reading.py --sets own,other,real --n 200 --seed 1

Sets:

- ``own``: scenes from ``sim/plates.py`` (the generator the reader was first tuned on);
  difficulties cycle easy, medium, hard.
- ``other``: scenes from ``sim/plates_other.py``, an independent drawing (other CJK faces, real
  plate proportions, dirt, bolts, frames, glare, night); difficulties cycle easy, hard.
- ``real``: the photos in ``--real`` (default ``/work/shared/plates-real-dev``, truth.csv:
  file, plate, kind), scenes and tight crops reported apart. Not in the repository.

Scene i of a synthetic set uses ``numpy.random.default_rng([seed, i])``. A frame is *read* when
the reader's best reading is exactly the plate (province, letter, serial). A reading is
*proposed* when ``reading.sure`` (the console then offers it without "不确定"); precision is
the share of proposals that are right. When the best reading is unsure but the plate is among
its alternatives, it counts as "in the alternatives". ``--empty`` plate-free frames (own
generator: a road sign, a learner sticker) count false proposals.

CPU time is ``time.thread_time()`` around :meth:`PlateReader.read` (the machine is shared, so
wall time says little); the process is pinned to one CPU (``--no-pin`` to leave it) and the
reader runs onnxruntime and OpenCV with one thread, as in the server.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# Run from a checkout: the simulators in sim/ are not installed with the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kuaichu.media.plate_reader import PlateReader

REAL_DEFAULT = Path("/work/shared/plates-real-dev")


@dataclass
class Tally:
    ok: int = 0
    n: int = 0
    proposed: int = 0
    proposed_ok: int = 0
    in_alternatives: int = 0
    province_only: int = 0  # misses where all but the province character is right
    cpu: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    scored: list[tuple[float, bool]] = field(default_factory=list)  # best's confidence, right

    def add(self, truth: str, readings: list[Any], cpu: float, label: str) -> None:
        self.n += 1
        self.cpu.append(cpu)
        best = readings[0] if readings else None
        right = best is not None and best.plate == truth
        sure = best is not None and bool(getattr(best, "sure", True))
        self.ok += right
        self.province_only += best is not None and not right and best.plate[1:] == truth[1:]
        if best is not None:
            self.scored.append((float(best.confidence), right))
        self.proposed += sure
        self.proposed_ok += sure and right
        alternatives = getattr(best, "alternatives", ()) if best is not None else ()
        if (
            best is not None
            and not right
            and not sure
            and truth in [a.replace("·", "") for a in alternatives]
        ):
            self.in_alternatives += 1
        if not right:
            got = "nothing"
            if best is not None:
                alts = ", alt " + "/".join(alternatives) if alternatives else ""
                unsure = "" if sure else ", unsure"
                got = f"{best.plate} ({best.colour}, {best.confidence:.2f}{unsure}{alts})"
            self.failures.append(f"  {label:28s} {truth:10s} read {got}  {cpu * 1000:.0f} ms")
        elif not sure:
            self.failures.append(
                f"  {label:28s} {truth:10s} right but unsure ({best.confidence:.2f})"  # type: ignore[union-attr]
            )

    def line(self, name: str, width: int = 18) -> str:
        if not self.n:
            return f"{name:{width}s} (none)"
        cpu = np.array(self.cpu) * 1000
        precision = (
            f"{100 * self.proposed_ok / self.proposed:5.1f} % ({self.proposed_ok}/{self.proposed})"
            if self.proposed
            else "  -  (0 proposed)"
        )
        return (
            f"{name:{width}s} read {100 * self.ok / self.n:5.1f} % ({self.ok}/{self.n})"
            f"  precision {precision}  unsure-but-in-alternatives {self.in_alternatives}"
            f"  CPU p50 {np.percentile(cpu, 50):.0f} p95 {np.percentile(cpu, 95):.0f}"
            f" max {cpu.max():.0f} ms"
        )


def synthetic(name: str, n: int, seed: int) -> Iterator[tuple[str, str, np.ndarray, str, str]]:
    """(group, truth, RGB frame, label, province face or "") for each scene of a generator;
    the face only for ``other``, whose scenes draw the province in one of several faces."""
    if name == "own":
        from sim import plates as gen
    else:
        from sim import plates_other as gen  # type: ignore[no-redef]
    difficulties: tuple[str, ...] = gen.DIFFICULTIES
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        text, colour = gen.random_plate(rng)
        difficulty = difficulties[i % len(difficulties)]
        face = ""
        if name == "own":
            frame = gen.render_scene(text, colour, rng, difficulty=difficulty)  # type: ignore[arg-type]
        else:
            from sim import plates_other

            frame, index = plates_other.render_scene_face(
                text,
                colour,
                rng,
                difficulty=difficulty,  # type: ignore[arg-type]
            )
            face = plates_other.face_name(index)
        label = f"#{i} {difficulty} {colour}" + (f" {face}" if face else "")
        yield f"{name} {difficulty}", text, frame, label, face


def real(root: Path) -> Iterator[tuple[str, str, np.ndarray, str, str]]:
    with (root / "truth.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            bgr = cv2.imread(str(root / row["file"]), cv2.IMREAD_COLOR)
            if bgr is None:
                continue
            rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            yield f"real {row['kind']}s", row["plate"], rgb, row["file"], ""


def loop_lag(n: int, seed: int) -> int:
    """The event loop's lag while the reader works in a worker thread: what the reader's
    Python (holding the GIL) costs the loop, beyond the CPU it takes. A 10 ms ticker; lag is
    how late each tick wakes. Run once with the reader and once idle, on the same machine."""
    import asyncio

    from sim.plates import DIFFICULTIES, random_plate, render_scene

    frames = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        text, colour = random_plate(rng)
        frames.append(render_scene(text, colour, rng, difficulty=DIFFICULTIES[i % 3]))
    reader = PlateReader()
    reader.warm_up()

    async def ticker(stop: asyncio.Event) -> list[float]:
        lags: list[float] = []
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - t0 - 0.01)
        return lags

    async def run(work: bool) -> tuple[list[float], float]:
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        c0 = time.process_time()
        if work:
            for frame in frames:
                await asyncio.to_thread(reader.read, frame)
        else:
            await asyncio.sleep(10)
        stop.set()
        return await task, time.process_time() - c0

    for label, work in (("idle", False), (f"reading {n} frames in a thread", True)):
        lags, cpu = asyncio.run(run(work))
        ms = np.array(lags) * 1000
        print(
            f"{label:32s} loop lag p50 {np.percentile(ms, 50):.1f} p99 {np.percentile(ms, 99):.1f}"
            f" max {ms.max():.1f} ms over {len(ms)} ticks; process CPU {cpu:.1f} s;"
            f" load average {os.getloadavg()[0]:.1f}"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="own,other,real")
    parser.add_argument("--n", type=int, default=200, help="scenes per synthetic set")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--real", type=Path, default=REAL_DEFAULT)
    parser.add_argument("--empty", type=int, default=None, help="plate-free frames (n/10)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    parser.add_argument("--quiet", action="store_true", help="no list of failures")
    parser.add_argument(
        "--loop-lag",
        action="store_true",
        help="read the own set's frames in a worker thread (as the plate patrol does) while an"
        " asyncio loop in the main thread measures its lag; two CPUs, not pinned",
    )
    args = parser.parse_args()
    if args.loop_lag:
        return loop_lag(args.n, args.seed)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    empty = args.n // 10 if args.empty is None else args.empty
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    reader = PlateReader()
    c0 = time.process_time()
    reader.warm_up()
    print(f"models loaded in {(time.process_time() - c0) * 1000:.0f} ms CPU")

    tallies: dict[str, Tally] = defaultdict(Tally)
    per_face: dict[str, Tally] = defaultdict(Tally)  # "other hard uming.ttc"
    sources: list[Callable[[], Iterator[tuple[str, str, np.ndarray, str, str]]]] = []
    for name in sets:
        if name in ("own", "other"):
            sources.append(lambda name=name: synthetic(name, args.n, args.seed))  # type: ignore[misc]
        elif name == "real":
            if (args.real / "truth.csv").exists():
                sources.append(lambda: real(args.real))
            else:
                print(f"no real photos at {args.real}: set skipped")
        else:
            parser.error(f"unknown set {name!r}")
    for source in sources:
        for group, truth, frame, label, face in source():
            c0 = time.thread_time()
            readings = reader.read(frame)
            cpu = time.thread_time() - c0
            tallies[group].add(truth, readings, cpu, label)
            if face:
                per_face[f"{group} {face}"].add(truth, readings, cpu, label)

    false_props: list[str] = []
    empty_cpu: list[float] = []
    if empty and "own" in sets:
        from sim.plates import DIFFICULTIES, render_no_plate

        for j in range(empty):
            rng = np.random.default_rng([args.seed, 1_000_000 + j])
            frame = render_no_plate(rng, difficulty=DIFFICULTIES[j % len(DIFFICULTIES)])
            c0 = time.thread_time()
            readings = reader.read(frame)
            empty_cpu.append(time.thread_time() - c0)
            false_props += [
                f"  empty #{j}: {r.display} ({r.confidence:.2f},"
                f" {'sure' if getattr(r, 'sure', True) else 'unsure'})"
                for r in readings
            ]

    print(f"\nexact whole-plate reading per set (n={args.n} per synthetic set, seed={args.seed})")
    for group in sorted(tallies):
        print(tallies[group].line(group))
    if per_face:
        print("\nthe second generator, per face of the province character")
        for key in sorted(per_face):
            tally = per_face[key]
            print(f"{tally.line(key, width=44)}  wrong province alone {tally.province_only}")
    print("\nprecision / share of frames proposed as sure, if the threshold were ...")
    thresholds = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    print(f"{'':18s} " + "  ".join(f"{t:>11.1f}" for t in thresholds))
    for group in sorted(tallies):
        tally = tallies[group]
        cells = []
        for t in thresholds:
            above = [right for conf, right in tally.scored if conf >= t]
            share = 100 * len(above) / max(1, tally.n)
            cells.append(f"{100 * sum(above) / max(1, len(above)):5.1f}/{share:4.0f}%")
        print(f"{group:18s} " + "  ".join(cells))
    if empty_cpu:
        ms = np.array(empty_cpu) * 1000
        sure = sum("sure)" in f and "unsure" not in f for f in false_props)
        print(
            f"plate-free frames: {len(empty_cpu)}, readings {len(false_props)} (sure {sure});"
            f" CPU p50 {np.percentile(ms, 50):.0f} p95 {np.percentile(ms, 95):.0f}"
            f" max {ms.max():.0f} ms"
        )
        for f in false_props:
            print(f)
    if not args.quiet:
        for group in sorted(tallies):
            if tallies[group].failures:
                print(f"\n{group}: misses and unsure ({len(tallies[group].failures)})")
                for f in tallies[group].failures:
                    print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
