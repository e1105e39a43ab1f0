"""The reader: stages cheapest first, each only if the ones before found no plate."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from kuaichu.errors import MediaError

from . import detector
from .acceptance import (
    UNSURE_CEILING,
    PlateReading,
    accept,
    dedupe,
    disagreeing,
    hopeless,
    overlaps,
    plate_found,
)
from .arrays import U8
from .candidates import Candidate, colour_candidates, covered, edge_candidates
from .grammar import PROVINCE_CHARS, SERIAL, fold_free, serial_only
from .grid import (
    Prepared,
    cut_before_province,
    extended_candidate,
    longer_candidate,
    prepare,
)
from .models import REC_HEIGHT, Models, default_model_dir, load_models, one_opencv_thread
from .province import HEAD_VIEWS, head_strips, net_crops, net_view, province_posterior
from .recognition import Decoded, decode, greedy, has_strokes, recognise

logger = logging.getLogger(__name__)


MAX_SIDE: Final = 1920  # larger pictures are scaled down first


MAX_EXTENDED: Final = 2
MAX_EDGE_READ: Final = 4  # of the edge stage's candidates not on a plate already read
MIN_FREE_CHARS: Final = 4
LONGER_SHARE: Final = 0.3  # past a grid put short by the far end: 144 of 480 mm


# The region around an unsure reading that the detector searches, in the reading's box's
# widths (either side) and heights (above and below).
REGION_WIDTHS: Final = 1.0
REGION_HEIGHTS: Final = 1.5
MIN_REGION_SIDE: Final = 32  # px: the detector's smallest input


def _box(quad: npt.NDArray[np.float32]) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(np.round(quad).astype(np.int32))
    return (int(x), int(y), int(w), int(h))


def detector_region(
    boxes: list[tuple[tuple[int, int, int, int], float]], shape: tuple[int, ...]
) -> tuple[int, int, int, int] | None:
    """The frame's region (x, y, w, h) around the most confident of the (box, confidence)
    pairs, within the frame; None without one, or when little of the region is in the frame
    (a box extrapolated past its edge): the whole frame is searched then."""
    if not boxes:
        return None
    x, y, w, h = max(boxes, key=lambda b: b[1])[0]
    x0 = max(0, round(x - REGION_WIDTHS * w))
    y0 = max(0, round(y - REGION_HEIGHTS * h))
    x1 = min(shape[1], round(x + w + REGION_WIDTHS * w))
    y1 = min(shape[0], round(y + h + REGION_HEIGHTS * h))
    if x1 - x0 < MIN_REGION_SIDE or y1 - y0 < MIN_REGION_SIDE:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


class PlateReader:
    """Finds and reads civil plates in an RGB frame. Thread-safe; one CPU thread per call.

    Loading the models (the first :meth:`read`, or :meth:`warm_up`) sets OpenCV to one thread
    for the whole process."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self._model_dir = model_dir
        self._models: Models | None = None
        self._lock = threading.Lock()

    # ---- public --------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load the models (and run each once, which allocates the arenas)."""
        models = self._load()
        models.rec.run(None, {"x": np.zeros((1, 3, REC_HEIGHT, 160), np.float32)})
        models.det.run(None, {"x": np.zeros((1, 3, 64, 64), np.float32)})

    def read(self, frame: npt.NDArray[Any], *, quick: bool = False) -> list[PlateReading]:
        """Every plate read in ``frame`` (HxWx3 uint8 RGB), most confident first; [] if none.

        ``quick`` skips the text detector (~230 ms at 640 px, its candidates ~60 ms more): for
        the patrol, which reads frames nobody asked for and must not load the machine."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise MediaError(f"plate reader wants HxWx3 uint8 RGB, got {frame.shape} {frame.dtype}")
        models = self._load()
        started, cpu_started = time.perf_counter(), time.thread_time()
        # A phone's photo (12 MP) is read at video size: a plate there is large anyway.
        scale = min(1.0, MAX_SIDE / max(frame.shape[0], frame.shape[1]))
        if scale < 1.0:
            size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
            frame = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), np.uint8)
        bgr = np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), np.uint8)
        gray = np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), np.uint8)
        # Cheapest first; each stage only if the ones before found no plate. The number of
        # candidates per stage is capped (at most 5 + 4 + 2 strips, then two detector passes of
        # 3 strips each and 2 widened: ~0.6 s of one core for a 12 MP photo, the worst case
        # measured before the detector's passes were made 3x cheaper on Intel cores).
        partial: list[Prepared] = []  # candidates that showed the serial alone
        readings = self._read_candidates(models, bgr, gray, colour_candidates(bgr), partial)
        stages = ["colour"]
        if not any(r.sure for r in readings):  # cheap: tried even after an unsure reading
            tried = [r.box for r in readings]
            found = [c for c in edge_candidates(gray) if not covered(c, tried)]
            readings += self._read_candidates(models, bgr, gray, found[:MAX_EDGE_READ], partial)
            stages.append("edges")
        if partial and not plate_found(readings):
            # Not the boxes of the serials alone: those are what is to be extended.
            tried = [r.box for r in readings if r.serial_confidence > 0.0]
            whole = [extended_candidate(p) for p in partial[:MAX_EXTENDED]]
            found = [c for c in whole if not covered(c, tried)]
            # A second look at the province of a plate already read: it replaces the first
            # reading only if sure (two unsure guesses at a small province are a coin toss;
            # the first one's alternatives stay).
            readings += [
                r
                for r in self._read_candidates(models, bgr, gray, found)
                if r.sure or not any(overlaps(r.box, o.box) for o in readings)
            ]
            stages.append("extended")
        if not quick and plate_found(readings) and not any(r.sure for r in readings):
            # The serial read clearly, the province not: the candidate's box may be what hid it
            # (a blue plate on a blue car, whose edge band took in the grille above it: 甘 read
            # as 啡). The detector's box around the reading, at the frame's scale, is a second
            # look at it; the whole frame is not searched.
            region = detector_region([(r.box, r.confidence) for r in readings], bgr.shape)
            if region is not None:
                found = detector.det_candidates(models.det, bgr, region)
                readings += self._read_candidates(models, bgr, gray, found)
                stages.append("detector near the unsure province")
        elif not quick and not plate_found(readings):
            # Where a plate was read, unsure, the detector looks only around it (its box, a
            # box's width either side and one and a half heights above and below) at the
            # frame's own scale: a fifth of the whole frame's cost at 640 px; the hard scenes'
            # CPU p95 ~340-400 -> 190-290 ms, and no sure reading became wrong
            # (docs/benchmarks.md, plate reading, tenth round). Only when nothing readable is
            # there (the reading was a sign, a badge) is the whole frame searched.
            # Without a reading, the detector looks first around the strip that showed most of
            # a serial alone: a dark plate (a lorry's at dusk) whose province and letter the
            # colour and edge bands lost, and which it misses at 640 px over the whole frame.
            # That strip may be a date or a sign's digits, so the whole frame is searched too
            # unless a plate was found there.
            near = [(r.box, r.confidence) for r in readings]
            if not near and partial:
                best = max(partial, key=lambda p: (p.read_chars, p.plate_height))
                near = [(_box(best.candidate.quad), 0.0)]
            partial = []
            new: list[PlateReading] = []
            region = detector_region(near, bgr.shape)
            if region is not None:
                found = detector.det_candidates(models.det, bgr, region)
                new = self._read_candidates(models, bgr, gray, found, partial)
                stages.append("detector near the reading" if readings else "detector near a serial")
            if not new or not (readings or plate_found(new)):
                if not new:
                    partial = []
                found = detector.det_candidates(models.det, bgr)
                tried = [r.box for r in new]
                found = [c for c in found if not covered(c, tried)]
                new += self._read_candidates(models, bgr, gray, found, partial)
                stages.append("detector")
            readings += new
            if partial and not plate_found(readings):
                # A dark plate's ends fade into it: the detector boxed the middle characters.
                tried = [r.box for r in readings]
                wider = [detector.widened(p.candidate) for p in partial[:MAX_EXTENDED]]
                found = [c for c in wider if not covered(c, tried)]
                readings += self._read_candidates(models, bgr, gray, found)
                stages.append("detector, widened")
        readings = dedupe(readings)
        if scale < 1.0:
            readings = [
                replace(r, box=tuple(round(v / scale) for v in r.box))  # type: ignore[arg-type]
                for r in readings
            ]
        logger.debug(
            "plate reader: %d reading(s) %s in %.0f ms (%.0f ms CPU; %s)",
            len(readings),
            [f"{r.display} {r.confidence:.2f}" for r in readings],
            (time.perf_counter() - started) * 1000,
            (time.thread_time() - cpu_started) * 1000,
            ", ".join(stages),
        )
        return readings

    def read_file(self, path: Path | str) -> list[PlateReading]:
        """:meth:`read` on an image file (an evidence JPEG)."""
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise MediaError(f"cannot decode the image {path}")
        return self.read(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    # ---- internals -----------------------------------------------------------------------

    def _load(self) -> Models:
        models = self._models
        if models is not None:
            return models
        with self._lock:
            if self._models is None:
                started = time.perf_counter()
                one_opencv_thread()
                self._models = load_models(self._model_dir or default_model_dir())
                logger.info(
                    "plate reader: models loaded in %.0f ms",
                    (time.perf_counter() - started) * 1000,
                )
            return self._models

    def _read_candidates(
        self,
        models: Models,
        bgr: U8,
        gray: U8,
        candidates: list[Candidate],
        extend: list[Prepared] | None = None,
        *,
        longer: bool = True,
    ) -> list[PlateReading]:
        """Readings of the candidates; into ``extend``, if given, each candidate that read as
        the serial alone (the "·" gap split the plate's band). ``longer``: a green plate read
        as seven characters is looked at again (:meth:`_longer`), once."""
        if not candidates:
            return []
        prepared = [prepare(bgr, gray, c) for c in candidates]
        # The recogniser is most of a hard frame's cost (~10 ms a strip, up to 18 strips and
        # their province views): a strip without a row of strokes (paintwork, a lamp, sky) is
        # not worth it.
        prepared = [p for p in prepared if has_strokes(p.strip)]
        probs = recognise(models, [p.strip for p in prepared])
        decoded: list[tuple[Prepared, Decoded]] = []
        for item, prob in zip(prepared, probs, strict=True):
            hinted = item.candidate.hint == item.colour
            free = greedy(models, prob)
            # The grammar's decoding (a Python loop per frame and template) only where it can
            # succeed: a free reading of fewer than MIN_FREE_CHARS characters is more than
            # MAX_DISAGREEMENT + 0.5 edits from any plate's six or seven after the province,
            # which `hopeless` rejects (a lamp, paintwork, one letter of a badge).
            found = (
                decode(models, prob, item.colour, hinted)
                if len(fold_free(free)) >= MIN_FREE_CHARS
                else None
            )
            if found is not None and not hopeless(found):
                decoded.append((item, found))
            else:
                # (A two-row plate's strip already holds both rows: nothing to extend.)
                one_row = item.candidate.rows == 1
                if extend is not None and one_row and serial_only(free):
                    item.read_serial = fold_free(free)
                    extend.append(item)
                logger.debug(
                    "plate candidate (%s, %s, %.0f px high): free %r -> hopeless",
                    item.candidate.source,
                    item.colour,
                    item.plate_height,
                    found.free if found else None,
                )
        # The province, read again on the plate's left end (one batched run for all).
        heads = [head_strips(bgr, item) for item, _ in decoded]
        head_probs = recognise(models, [s for strips in heads for s in strips])
        # And by the province net, on the cell itself (all the candidates' crops in one run).
        crops = [net_crops(bgr, item) for item, _ in decoded]
        flat = [c for item_crops in crops for c in item_crops]
        net_probs = models.province.probabilities(flat) if flat else None
        out: list[PlateReading] = []
        per = len(HEAD_VIEWS)
        start = 0
        for k, (item, found) in enumerate(decoded):
            view = None
            if net_probs is not None:
                view = net_view(net_probs[start : start + len(crops[k])])
                start += len(crops[k])
            posterior, seen = province_posterior(
                models.fold,
                found.province,
                head_probs[k * per : (k + 1) * per],
                [] if view is None else [view],
            )
            if cut_before_province(item, bgr.shape) and fold_free(found.free)[:1] in SERIAL:
                # Cut by the frame's edge before the province (the free reading starts at the
                # authority letter): whatever the views made of the edge, offered as unsure.
                seen = 0.0
            reading = accept(found, posterior, seen, item.colour, item.candidate.quad)
            if item.candidate.rows == 2 and serial_only(found.free):
                # Nothing read in the upper row: a one-row plate's blob of about 2:1 (a part
                # of it, or seen from the side), whose "upper row" is paintwork.
                reading = None
            if reading is not None and serial_only(found.free):
                # Read as the serial alone: the candidate may be the right part of a longer
                # plate (a new-energy one read as seven characters). Try the whole plate too.
                reading = replace(reading, serial_confidence=0.0)
                if item.colour == "green" and len(fold_free(found.free)) == 6:
                    # Six characters alone on a green plate are a new-energy serial (its
                    # province and letter further left), not a blue plate's letter and five:
                    # that reading is a guess, offered and never proposed (the stages after
                    # it, and the longer look below, then find the whole plate).
                    reading = replace(reading, confidence=min(reading.confidence, UNSURE_CEILING))
                if extend is not None and item.candidate.rows == 1:
                    item.read_serial = fold_free(found.free)
                    extend.append(item)
            logger.debug(
                "plate candidate (%s, %s, %.0f px high): free %r grammar %r conf %s"
                " province %s %.2f (seen %.2f) -> %s",
                item.candidate.source,
                item.colour,
                item.plate_height,
                found.free,
                found.text,
                [round(c, 2) for c in found.char_conf],
                PROVINCE_CHARS[int(posterior.argmax())],
                float(posterior.max()),
                seen,
                f"{reading.display} {reading.confidence:.2f}" if reading else "rejected",
            )
            if reading is not None and item.candidate.seen not in reading.plate[1:]:
                # The whole plate's strip read the serial otherwise than the strip of the
                # serial alone did (晋C·3465P rotated 22 degrees: the serial's strip read the P,
                # the whole plate's grid cut it to its stem, "1", at 0.75): one of the two is
                # wrong, and the other is offered beside it.
                reading = disagreeing(reading, item.candidate.seen)
            if (
                reading is not None
                and item.colour == "green"
                and len(reading.plate) == 7
                and longer
            ):
                reading = self._longer(models, bgr, gray, item, reading)
            if reading is not None:
                out.append(reading)
        return out

    def _longer(
        self, models: Models, bgr: U8, gray: U8, item: Prepared, reading: PlateReading
    ) -> PlateReading:
        """A green plate read as seven characters (a blue plate's count), sure or not, looked
        at again through a grid LONGER_SHARE longer at the right: a new-energy plate seen from
        the side whose eighth character the grid cut off reads as all eight, and that reading
        replaces the seven. A plate that only looks green (a blue one in cold light, a yellow
        one under a green lamp; four of the real photos) reads the same seven again and
        stays."""
        candidate = longer_candidate(item, LONGER_SHARE)
        found = self._read_candidates(models, bgr, gray, [candidate], longer=False)
        for other in found:
            if len(other.plate) == 8 and other.plate[:7] == reading.plate:
                return other
        return reading
