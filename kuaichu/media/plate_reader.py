"""Reading Chinese civil licence plates from one video frame, offline, on one CPU thread.

The evidence still of a "plate" capture (``kuaichu.evidence.captures``) is handed to
:meth:`PlateReader.read` in a worker thread and the console proposes what it saw. The same
reader runs unasked at a low rate on other frames (the plate patrol), so its cost is bounded:
stages run cheapest first, each only if the ones before read nothing sure, each with a capped
number of candidates, and the dearest (the text detector) only for a reading somebody asked
for: the patrol's quick reads stop before it (docs/benchmarks.md has the figures per set of
pictures). The bound is a count of candidates, not a clock: a clock-time budget made the same
picture read differently on a busy machine.

1. **Candidates**: (a) colour: plate backgrounds are a saturated blue, yellow or green, in a
   rectangle about 3.1-3.4 times as wide as high; hue masks give outlines and four corners (a
   green new-energy plate fades to white at the top, so its top is extrapolated). (b) edges,
   whatever the colour (a blue plate on a blue car, dusk): bands dense in vertical strokes,
   of plate shape, the halves split at the "·" joined. (c) a candidate that read as the serial
   alone is extended to the whole plate. (d) last, the PP-OCR text detector on the frame
   scaled to 640 px.
2. **Plate grid**: the corners give a homography from the plate's own millimetres (GA 36
   layout: 440x140 mm, characters 90 mm high in known cells; 480 mm for green) to the frame,
   nudged by a search that puts the character band and cells on the strokes (`_refine`).
3. **Recognition** (~10 ms per candidate, batched): the PP-OCR text recogniser shipped inside
   the ``rapidocr`` wheel, run with onnxruntime on a flat strip cut through the grid. Its
   per-frame character probabilities are aligned to the plate grammar (GA 36: province,
   authority letter without I/O, five serial characters with at most two letters; new energy:
   D/F then a letter or digit and four digits, or five digits then D/F) as a constraint of the
   decoding, so an O in a serial comes out as 0, a 之 as Z, a blurred 8 where only a letter may
   stand as B.
4. **Province**: the recogniser's too (it has seen real Chinese text in many faces), from the
   whole strip and from two cuts of the plate's left end; the three opinions multiply.
5. **Confidence**: the product of the characters' confidences, the province's shrunk when no
   view saw it clearly. At or above SURE_CONFIDENCE the reading is proposed as read; below, it
   is offered as unsure with its alternatives (the next provinces, the runner-up of the least
   certain character). What reads as no plate at all (a road sign in Chinese, a "新手上路"
   sticker, a model badge: the free reading disagrees with the grammar, characters uncertain,
   more than two serial letters) is not returned.

The models load lazily (thread-safe) on the first :meth:`read` or in :meth:`warm_up`; nothing
is downloaded: the ONNX files come from the installed ``rapidocr`` wheel. Loading them sets
OpenCV to one thread for the whole process (:func:`_one_opencv_thread`). The work is numpy,
OpenCV and onnxruntime calls on whole arrays, which release the GIL: the Python between them
is small, so a read in a worker thread leaves the event loop free.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import unicodedata
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from kuaichu.cases.errors import InvalidPlate
from kuaichu.cases.plates import PROVINCES, parse_plate
from kuaichu.errors import MediaError

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

REC_MODEL: Final = "PP-OCRv6_rec_small.onnx"
DET_MODEL: Final = "PP-OCRv6_det_small.onnx"
REC_HEIGHT: Final = 48
DET_MAX_SIDE: Final = 640
MAX_SIDE: Final = 1920  # larger pictures are scaled down first
MAX_DET_CANDIDATES: Final = 5
MAX_COLOUR_CANDIDATES: Final = 6
MAX_EDGE_CANDIDATES: Final = 5
MAX_EXTENDED: Final = 2
EDGE_MAX_SIDE: Final = 960
EDGE_MIN_LEVEL: Final = 60.0  # |Sobel x| below this is texture, not a character's stroke
FOUND_SERIAL_CONFIDENCE: Final = 0.9

_PROVINCE_CHARS: Final = "".join(sorted(PROVINCES))
_AUTHORITY: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # GA 36 skips I and O
_DIGITS: Final = "0123456789"
_SERIAL: Final = _DIGITS + _AUTHORITY
_ENERGY: Final = "ABCDEFGHJK"
_SUFFIX: Final = "学挂"
# What the model may print for a character a plate position accepts.
_LOOKALIKES: Final[dict[str, str]] = {
    "0": "Oo〇口",
    "1": "Il|丨",
    # Chinese characters that a condensed plate letter looks like to a Chinese recogniser.
    "Z": "之乙",
    "T": "丁",
    "Y": "丫",
    "X": "乂",
    "沪": "滬",
    "苏": "蘇",
    "辽": "遼",
    "鲁": "魯",
    "陕": "陝",
    "宁": "寧",
    "闽": "閩",
    "贵": "貴",
    "云": "雲",
    "琼": "瓊",
    "赣": "贛",
    "晋": "晉",
}
_UNALIKE: Final = {alike: ch for ch, alikes in _LOOKALIKES.items() for alike in alikes}
_SEPARATOR_CHARS: Final = "·.-•・:_'\",`|[](){}"

# A template is one set of allowed characters per position.
_SEVEN: Final = (_PROVINCE_CHARS, _AUTHORITY, _SERIAL, _SERIAL, _SERIAL, _SERIAL,
                 _SERIAL + _SUFFIX)  # fmt: skip
_EIGHT_SMALL: Final = (_PROVINCE_CHARS, _AUTHORITY, _ENERGY, _SERIAL, _DIGITS, _DIGITS, _DIGITS,
                       _DIGITS)  # fmt: skip
_EIGHT_LARGE: Final = (_PROVINCE_CHARS, _AUTHORITY, _DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS,
                       _ENERGY)  # fmt: skip
_TEMPLATES: Final = (_SEVEN, _EIGHT_SMALL, _EIGHT_LARGE)

# Plate-shaped: width / height of the background, generous for perspective.
_MIN_ASPECT: Final = 1.9
_MAX_ASPECT: Final = 6.5
_MIN_PLATE_HEIGHT: Final = 11.0  # px in the frame: below that no character is legible

# Acceptance.
MIN_CHAR_CONFIDENCE: Final = 0.25
MIN_CONFIDENCE: Final = 0.55
MAX_DISAGREEMENT: Final = 1.5
# The strongest sighting of the province by any view below which nothing on the candidate is
# a province: a model badge or a sticker read into the grammar.
MIN_PROVINCE_SEEN: Final = 0.0  # off: an unseen province makes an unsure reading instead
# Below this sighting the province's share in the confidence shrinks (square root): three
# views agreeing on a character none of them saw clearly is a guess, not a reading.
PROVINCE_SEEN_FULL: Final = 0.3
# A reading at or above this confidence is proposed as sure; below it the console says "不确定"
# and shows the alternatives. Chosen on the benchmark's sets (docs/benchmarks.md) for precision.
SURE_CONFIDENCE: Final = 0.6
_MAX_SERIAL_LETTERS: Final = 2


@dataclass(frozen=True)
class PlateReading:
    plate: str  # normalised, e.g. "京A12345"
    display: str  # "京A·12345"
    colour: str  # "blue" | "yellow" | "green"
    confidence: float  # 0..1
    box: tuple[int, int, int, int]  # x, y, w, h in the frame
    # What else it may be, likeliest first (canonical, "京A·12345"); most useful when unsure.
    alternatives: tuple[str, ...] = ()
    # The confidence of the characters after the province (the stages' stopping rule).
    serial_confidence: float = field(default=1.0, compare=False, repr=False)

    @property
    def sure(self) -> bool:
        """Proposed as read; otherwise offered as unsure, with the alternatives."""
        return self.confidence >= SURE_CONFIDENCE


@dataclass(frozen=True)
class _Candidate:
    quad: npt.NDArray[np.float32]  # 4x2 corners, clockwise from top-left, frame coordinates
    hint: str | None  # the background colour that found it, if any
    source: str  # "colour" | "edges" | "det" | "extended"


@dataclass
class _Prepared:
    candidate: _Candidate
    colour: str
    to_frame: npt.NDArray[np.float64]  # homography: plate millimetres -> frame pixels
    unrefined: npt.NDArray[np.float64]  # the same from the candidate's corners alone
    strip: U8
    plate_height: float  # px in the frame


class _Models:
    """The two ONNX sessions and the recogniser's alphabet, loaded once."""

    def __init__(self, model_dir: Path) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]

        options = ort.SessionOptions()
        # One thread: the server's other calls share two cores with us.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        self.rec: Any = ort.InferenceSession(
            str(model_dir / REC_MODEL), options, providers=providers
        )
        self.det: Any = ort.InferenceSession(
            str(model_dir / DET_MODEL), options, providers=providers
        )
        meta = self.rec.get_modelmeta().custom_metadata_map
        # PaddleOCR's CTC layout: blank first, the dictionary, then a space.
        alphabet = ["<blank>", *meta["character"].split("\n"), " "]
        self.alphabet = alphabet
        index = {ch: i for i, ch in enumerate(alphabet)}
        self.index = index
        self.fold = _Fold(alphabet, index)


class _Fold:
    """Sums the model's probabilities into the classes a plate cares about.

    Columns: 0 = blank or separator (the "·", dots, dashes, brackets the rim becomes), then one
    column per plate character. Everything else is "other" (1 minus the row sum)."""

    def __init__(self, alphabet: list[str], index: dict[str, int]) -> None:
        targets = list(dict.fromkeys(_PROVINCE_CHARS + _SERIAL + _SUFFIX))
        self.chars = targets
        self.column = {ch: i + 1 for i, ch in enumerate(targets)}
        rows: list[int] = []
        cols: list[int] = []
        rows.append(0)
        cols.append(0)
        for ch in _SEPARATOR_CHARS + " ":
            if ch in index:
                rows.append(index[ch])
                cols.append(0)
        for ch in targets:
            variants = {ch, *_LOOKALIKES.get(ch, "")}
            if ch.isalpha() and ch.isascii():
                variants.add(ch.lower())
            # Full-width forms (Ａ, １) fold into ASCII.
            variants |= {a for a in alphabet if len(a) == 1 and not a.isascii()
                         and unicodedata.normalize("NFKC", a) == ch}  # fmt: skip
            for v in variants:
                if v in index:
                    rows.append(index[v])
                    cols.append(self.column[ch])
        self.rows = np.array(rows, np.int64)
        matrix = np.zeros((len(rows), len(targets) + 1), np.float32)
        matrix[np.arange(len(rows)), np.array(cols)] = 1.0
        self.matrix = matrix

    def __call__(self, probs: F32) -> F32:
        """(T, classes) -> (T, 1 + len(chars)): filler first, then plate characters."""
        folded: F32 = probs[:, self.rows] @ self.matrix
        # Anything the model saw that no plate has also counts as filler for the alignment:
        # the confidence check, not the alignment, is what rejects it.
        other = np.clip(1.0 - folded.sum(axis=1), 0.0, 1.0)
        folded[:, 0] += other
        return folded


class PlateReader:
    """Finds and reads civil plates in an RGB frame. Thread-safe; one CPU thread per call.

    Loading the models (the first :meth:`read`, or :meth:`warm_up`) sets OpenCV to one thread
    for the whole process."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self._model_dir = model_dir
        self._models: _Models | None = None
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
        # candidates per stage is capped (at most 6 + 5 + 2 + 5 strips and one detector pass:
        # ~0.6 s of one core for a 12 MP photo, the worst case measured).
        partial: list[_Candidate] = []
        readings = self._read_candidates(models, bgr, gray, colour_candidates(bgr), partial)
        stages = ["colour"]
        if not any(r.sure for r in readings):  # cheap: tried even after an unsure reading
            tried = [r.box for r in readings]
            found = [c for c in edge_candidates(gray) if not _covered(c, tried)]
            readings += self._read_candidates(models, bgr, gray, found, partial)
            stages.append("edges")
        if partial and not _found(readings):
            tried = [r.box for r in readings]
            found = [c for c in partial[:MAX_EXTENDED] if not _covered(c, tried)]
            readings += self._read_candidates(models, bgr, gray, found)
            stages.append("extended")
        if not quick and not _found(readings):
            readings += self._read_candidates(models, bgr, gray, det_candidates(models.det, bgr))
            stages.append("detector")
        readings = _dedupe(readings)
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

    def _load(self) -> _Models:
        models = self._models
        if models is not None:
            return models
        with self._lock:
            if self._models is None:
                started = time.perf_counter()
                _one_opencv_thread()
                self._models = _Models(self._model_dir or _default_model_dir())
                logger.info(
                    "plate reader: models loaded in %.0f ms",
                    (time.perf_counter() - started) * 1000,
                )
            return self._models

    def _read_candidates(
        self,
        models: _Models,
        bgr: U8,
        gray: U8,
        candidates: list[_Candidate],
        extend: list[_Candidate] | None = None,
    ) -> list[PlateReading]:
        """Readings of the candidates; into ``extend``, if given, the whole plate around each
        candidate that read as the serial alone (the "·" gap split the plate's band)."""
        if not candidates:
            return []
        prepared = [_prepare(bgr, gray, c) for c in candidates]
        probs = _recognise(models, [p.strip for p in prepared])
        decoded: list[tuple[_Prepared, _Decoded]] = []
        for item, prob in zip(prepared, probs, strict=True):
            hinted = item.candidate.hint == item.colour
            found = _decode(models, prob, item.colour, hinted)
            if found is not None and not _hopeless(found):
                decoded.append((item, found))
            else:
                if extend is not None and _serial_only(_greedy(models, prob)):
                    extend.append(_extended(item))
                logger.debug(
                    "plate candidate (%s, %s, %.0f px high): free %r -> hopeless",
                    item.candidate.source,
                    item.colour,
                    item.plate_height,
                    found.free if found else None,
                )
        # The province, read again on the plate's left end (one batched run for all).
        heads = [_head_strips(bgr, item) for item, _ in decoded]
        head_probs = _recognise(models, [s for strips in heads for s in strips])
        out: list[PlateReading] = []
        per = len(_HEAD_VIEWS)
        for k, (item, found) in enumerate(decoded):
            posterior, seen = _province_posterior(
                models.fold, found.province, head_probs[k * per : (k + 1) * per]
            )
            reading = _accept(found, posterior, seen, item.colour, item.candidate.quad)
            if reading is not None and _serial_only(found.free):
                # Read as the serial alone: the candidate may be the right part of a longer
                # plate (a new-energy one read as seven characters). Try the whole plate too.
                reading = replace(reading, serial_confidence=0.0)
                if extend is not None:
                    extend.append(_extended(item))
            logger.debug(
                "plate candidate (%s, %s, %.0f px high): free %r grammar %r conf %s"
                " province %s %.2f (seen %.2f) -> %s",
                item.candidate.source,
                item.colour,
                item.plate_height,
                found.free,
                found.text,
                [round(c, 2) for c in found.char_conf],
                _PROVINCE_CHARS[int(posterior.argmax())],
                float(posterior.max()),
                seen,
                f"{reading.display} {reading.confidence:.2f}" if reading else "rejected",
            )
            if reading is not None:
                out.append(reading)
        return out


def _found(readings: list[PlateReading]) -> bool:
    """A plate has been found: read as sure, or everything but its province read clearly (a
    further stage would find the same plate and not see the province any better)."""
    return any(r.sure or r.serial_confidence >= FOUND_SERIAL_CONFIDENCE for r in readings)


def _one_opencv_thread() -> None:
    """Set OpenCV to one thread, for the whole process (``cv2.setNumThreads`` is global): its
    own thread pool would take the second core from the calls. A side effect of the first model
    load (:meth:`PlateReader.warm_up` or the first :meth:`PlateReader.read`), on purpose."""
    cv2.setNumThreads(1)


def _default_model_dir() -> Path:
    try:
        root = resources.files("rapidocr") / "models"
    except ModuleNotFoundError as exc:
        raise MediaError("the rapidocr package (PP-OCR models) is not installed") from exc
    path = Path(str(root))
    if not (path / REC_MODEL).exists() or not (path / DET_MODEL).exists():
        raise MediaError(f"PP-OCR models {REC_MODEL}, {DET_MODEL} not found in {path}")
    return path


# ---- candidates ------------------------------------------------------------------------------

# OpenCV hue is 0..180. Ranges are generous: dusk light and cheap sensors shift them.
_HUES: Final[dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]]] = {
    "blue": ((98, 80, 35), (128, 255, 255)),
    "yellow": ((12, 80, 70), (36, 255, 255)),
    "green": ((36, 45, 60), (90, 255, 255)),
}


def colour_candidates(bgr: U8) -> list[_Candidate]:
    """Plate-shaped regions of plate-coloured background, largest first."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    found: list[tuple[float, _Candidate]] = []
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    for colour, (low, high) in _HUES.items():
        mask = cv2.inRange(hsv, low, high)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for contour in contours:
            area = cv2.contourArea(contour)
            if area < 250:
                continue
            _, (rw, rh), _ = cv2.minAreaRect(contour)
            long, short = max(rw, rh), min(rw, rh)
            if short < _MIN_PLATE_HEIGHT * 0.8 or long > bgr.shape[1] * 0.8:
                continue
            aspect = long / short
            # A green plate's mask is its lower two thirds, ragged along the characters.
            pale_top = colour == "green"
            if not _MIN_ASPECT <= aspect <= _MAX_ASPECT * (1.4 if pale_top else 1.0):
                continue
            if area / (rw * rh) < (0.4 if pale_top else 0.55):
                continue
            quad = _green_quad(contour) if pale_top else _quad(contour)
            if quad is None:
                continue
            found.append((area, _Candidate(quad, colour, "colour")))
    found.sort(key=lambda item: -item[0])
    return [c for _, c in found[:MAX_COLOUR_CANDIDATES]]


def _quad(contour: npt.NDArray[Any]) -> npt.NDArray[np.float32] | None:
    """Four corners of a roughly quadrilateral blob (a plate seen in perspective).

    Corners first: in the frame of the blob's rotated bounding rectangle, the outline's points
    furthest along each diagonal. Then each side is a line fitted to the outline between its
    two corners, and the corners are where those lines meet: a rivet, a chipped edge or a
    character touching the edge moves a point, not the whole side."""
    pts = contour.reshape(-1, 2).astype(np.float32)
    if len(pts) < 4:
        return None
    (cx, cy), (rw, rh), angle = cv2.minAreaRect(pts)
    theta = math.radians(angle)
    e1 = np.array([math.cos(theta), math.sin(theta)], np.float32)
    e2 = np.array([-math.sin(theta), math.cos(theta)], np.float32)
    if rh > rw:
        e1, e2, rw, rh = e2, e1, rh, rw
    if e1[0] < 0:
        e1 = -e1
    if e2[1] < 0:
        e2 = -e2
    rel = pts - np.array([cx, cy], np.float32)
    u = rel @ e1 / max(rw / 2, 1.0)
    v = rel @ e2 / max(rh / 2, 1.0)
    idx = [
        int(np.argmax(-u - v)),
        int(np.argmax(u - v)),
        int(np.argmax(u + v)),
        int(np.argmax(v - u)),
    ]
    corners = pts[idx]
    refined = _fit_sides(pts, idx)
    if refined is not None and np.abs(refined - corners).max() < 0.25 * rh + 2:
        corners = refined
    return corners.astype(np.float32)


def _green_quad(contour: npt.NDArray[Any]) -> npt.NDArray[np.float32] | None:
    """A new-energy plate's corners from its green part: the bottom edge and the lower half of
    both sides are clean, the top is ragged. Worked out in the frame of the blob's rotated
    rectangle (u along, v down); the top is extrapolated to the plate's 480:140 shape (the
    grid search in _refine corrects the height)."""
    pts = contour.reshape(-1, 2).astype(np.float64)
    (cx, cy), _, angle = cv2.minAreaRect(contour)
    theta = math.radians(angle)
    e_u = np.array([math.cos(theta), math.sin(theta)])
    if abs(e_u[0]) < abs(e_u[1]):  # the long axis is the other one
        e_u = np.array([-e_u[1], e_u[0]])
    if e_u[0] < 0:
        e_u = -e_u
    e_v = np.array([-e_u[1], e_u[0]])  # 90° clockwise on screen: down the frame
    rel = pts - np.array([cx, cy])
    u, v = rel @ e_u, rel @ e_v
    width = float(np.ptp(u))
    height = float(np.ptp(v))
    if width < 8 or height < 3:
        return _quad(contour)

    def fit(xs: list[float], ys: list[float]) -> tuple[float, float] | None:
        if len(xs) < 2 or np.ptp(xs) < 1e-6:
            return None
        slope, icept = np.polyfit(np.array(xs), np.array(ys), 1)
        return float(slope), float(icept)

    # Bottom: the lowest outline point in each slice across the width, ends left out.
    bu: list[float] = []
    bv: list[float] = []
    edges = np.linspace(u.min(), u.max(), 11)
    for lo, hi in itertools.pairwise(edges[1:-1]):
        sel = (u >= lo) & (u < hi)
        if sel.any():
            bu.append((lo + hi) / 2)
            bv.append(float(v[sel].max()))
    bottom = fit(bu, bv)  # v = slope * u + icept
    # Sides: the outermost outline point in each slice of the lower half, u as a function of v.
    v_low = float(np.percentile(v, 98))
    slices = np.linspace(v_low - 0.55 * height, v_low - 0.1 * height, 6)
    lv: list[float] = []
    lu: list[float] = []
    ru: list[float] = []
    for lo, hi in itertools.pairwise(slices):
        sel = (v >= lo) & (v < hi)
        if sel.any():
            lv.append((lo + hi) / 2)
            lu.append(float(u[sel].min()))
            ru.append(float(u[sel].max()))
    left = fit(lv, lu)  # u = slope * v + icept
    right = fit(lv, ru)
    if bottom is None or left is None or right is None:
        return _quad(contour)

    def meet(side: tuple[float, float]) -> tuple[float, float]:
        # u = s v + c and v = b u + d  ->  v = b (s v + c) + d
        s_, c_ = side
        b_, d_ = bottom
        vv = (b_ * c_ + d_) / max(1 - b_ * s_, 1e-3)
        return s_ * vv + c_, vv

    ul, vl = meet(left)
    ur, vr = meet(right)
    rise = (ur - ul) * 135.0 / 472.0

    def point(uu: float, vv: float) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = np.array([cx, cy]) + uu * e_u + vv * e_v
        return out

    tl = point(left[0] * (vl - rise) + left[1], vl - rise)
    tr = point(right[0] * (vr - rise) + right[1], vr - rise)
    return np.array([tl, tr, point(ur, vr), point(ul, vl)], np.float32)


def _fit_sides(pts: npt.NDArray[np.float32], idx: list[int]) -> npt.NDArray[np.float32] | None:
    """Corners as intersections of lines fitted to the outline between the rough corners."""
    n = len(pts)
    lines: list[tuple[float, float, float, float]] = []
    for k in range(4):
        a, b = idx[k], idx[(k + 1) % 4]
        # The outline runs one way or the other round the blob: take the shorter arc.
        forward = (b - a) % n
        backward = (a - b) % n
        if forward <= backward:
            seq = pts[np.arange(a, a + forward + 1) % n]
        else:
            seq = pts[np.arange(b, b + backward + 1) % n]
        if len(seq) < 4:
            seq = np.vstack([pts[a], pts[b]])
        else:
            # Leave the ends out: corners are rounded.
            trim = max(1, len(seq) // 8)
            seq = seq[trim:-trim]
        vx, vy, x0, y0 = cv2.fitLine(seq, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((float(vx), float(vy), float(x0), float(y0)))
    out = []
    for k in range(4):
        # Corner k lies between the side before it (k-1 -> k) and the side after it (k -> k+1).
        p = _intersect(lines[(k - 1) % 4], lines[k])
        if p is None:
            return None
        out.append(p)
    return np.array(out, np.float32)


def _intersect(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> tuple[float, float] | None:
    avx, avy, ax, ay = a
    bvx, bvy, bx, by = b
    det = avx * (-bvy) - avy * (-bvx)
    if abs(det) < 1e-6:
        return None
    t = ((bx - ax) * (-bvy) - (by - ay) * (-bvx)) / det
    return ax + t * avx, ay + t * avy


def _order(pts: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Clockwise from top-left, the first edge being a long (horizontal-ish) one."""
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise in image coordinates (y down), from ~-180°
    # Start at the corner for which the following edge is the longer one and leftmost start.
    best = 0
    best_key: tuple[float, float] | None = None
    for i in range(4):
        a, b = pts[i], pts[(i + 1) % 4]
        length = float(np.hypot(*(b - a)))
        horizontal = abs(float(b[0] - a[0])) >= abs(float(b[1] - a[1]))
        if not horizontal or b[0] < a[0]:
            continue
        key = (float(a[1] + b[1]), -length)
        if best_key is None or key < best_key:
            best, best_key = i, key
    ordered = np.roll(pts, -best, axis=0)
    top = float(np.hypot(*(ordered[1] - ordered[0])))
    side = float(np.hypot(*(ordered[2] - ordered[1])))
    if side > top:  # the fit is standing up: rotate so the long edges are horizontal
        ordered = np.roll(ordered, -1, axis=0)
    return ordered.astype(np.float32)


def edge_candidates(gray: U8) -> list[_Candidate]:
    """Plate-shaped bands dense in vertical edges, whatever their colour: a row of characters
    of one height makes many short vertical strokes side by side, a road or a bumper few.
    Found on the frame scaled to EDGE_MAX_SIDE; the most edge-dense first."""
    height, width = gray.shape[:2]
    scale = min(1.0, EDGE_MAX_SIDE / max(height, width))
    small = gray
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        small = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), np.uint8)
    gx = cv2.convertScaleAbs(cv2.Sobel(small, cv2.CV_16S, 1, 0, ksize=3))
    level, _ = cv2.threshold(gx, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = np.asarray(gx > max(level, EDGE_MIN_LEVEL), np.uint8) * 255
    rect = cv2.MORPH_RECT
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(rect, (9, 3)))
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(rect, (5, 5)))
    contours, _ = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found: list[tuple[float, _Candidate]] = []
    for contour in contours:
        rect_box = cv2.minAreaRect(contour)
        _, (rw, rh), angle = rect_box
        long, short = max(rw, rh), min(rw, rh)
        if short < _MIN_PLATE_HEIGHT * 0.6 * scale or long > small.shape[1] * 0.6:
            continue
        if not 2.0 <= long / max(short, 1.0) <= 7.0:
            continue
        along = angle if rw >= rh else angle + 90.0  # the long side's angle
        if abs(((along + 90.0) % 180.0) - 90.0) > 30.0:
            continue
        area = cv2.contourArea(contour)
        if area < 0.5 * rw * rh:
            continue
        x, y, w, h = cv2.boundingRect(contour)
        density = float(np.count_nonzero(mask[y : y + h, x : x + w])) / max(1, w * h)
        if density < 0.2:
            continue
        quad = _order(np.asarray(cv2.boxPoints(rect_box), np.float32) / scale)
        found.append((density * math.sqrt(area), _Candidate(quad, None, "edges")))
    found.sort(key=lambda item: -item[0])
    best = [c.quad for _, c in found[: 2 * MAX_EDGE_CANDIDATES]]
    # The "·" gap splits a plate's band in two (京A | 12345): joined ones first.
    merged = [q for q in _merge_lines(best) if not any(q is b for b in best)]
    quads = merged[:2] + best
    return [_Candidate(q, None, "edges") for q in quads[:MAX_EDGE_CANDIDATES]]


def _covered(candidate: _Candidate, boxes: list[tuple[int, int, int, int]]) -> bool:
    """The candidate lies on a plate already read (its centre inside a reading's box)."""
    cx, cy = candidate.quad.mean(axis=0)
    return any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in boxes)


def _serial_only(free: str) -> bool:
    """The free reading is what a plate has right of its "·": 4-6 letters and digits."""
    folded = _fold_free(free)
    return 4 <= len(folded) <= 6 and all(ch in _SERIAL for ch in folded)


def _extended(item: _Prepared) -> _Candidate:
    """The whole plate around a candidate that showed only the serial: its cells (x 151.5 to
    424.5 mm of a 440 mm plate, y 25 to 115 mm) are where the candidate's grid put the first
    and last characters, so the plate's corners follow by proportion; _refine corrects."""
    width = _plate_width(item.colour)
    cells = _CELLS[int(width)]
    first, last = cells[2][0], cells[-1][0] + cells[-1][1]
    mm = np.array([[0, 0], [width, 0], [width, _PLATE_HEIGHT_MM], [0, _PLATE_HEIGHT_MM]],
                  np.float32)  # fmt: skip
    # The candidate's grid spread the serial over the whole plate: the plate's true x maps to
    # (x - first) * width / (last - first) on it.
    squeeze = width / (last - first)
    true_to_grid = np.array([[squeeze, 0, -first * squeeze], [0, 1, 0], [0, 0, 1]], np.float64)
    to_frame = item.to_frame @ true_to_grid
    quad = cv2.perspectiveTransform(mm[None], to_frame)[0].astype(np.float32)
    return _Candidate(quad, item.candidate.hint, "extended")


def det_candidates(det: Any, bgr: U8) -> list[_Candidate]:
    """Plate-shaped text lines found by the PP-OCR detector on a downscaled frame."""
    height, width = bgr.shape[:2]
    scale = min(1.0, DET_MAX_SIDE / max(height, width))
    dw = max(32, round(width * scale / 32) * 32)
    dh = max(32, round(height * scale / 32) * 32)
    small = cv2.resize(bgr, (dw, dh), interpolation=cv2.INTER_AREA)
    x = (small.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    prob = det.run(None, {"x": x})[0][0, 0]
    bitmap = (prob > 0.3).astype(np.uint8)
    bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    sx, sy = width / dw, height / dh
    boxes: list[tuple[float, npt.NDArray[np.float32]]] = []
    for contour in contours:
        if cv2.contourArea(contour) < 6:
            continue
        rect = cv2.minAreaRect(contour)
        (cx, cy), (rw, rh), angle = rect
        if min(rw, rh) < 3:
            continue
        mask = np.zeros_like(bitmap)
        cv2.drawContours(mask, [contour], -1, 1, -1)
        score = float(prob[mask.astype(bool)].mean())
        if score < 0.5:
            continue
        # DB's "unclip": the detector's kernels are shrunk text; grow by area * 1.6 / perimeter.
        distance = rw * rh * 1.6 / (2 * (rw + rh))
        rect = ((cx, cy), (rw + 2 * distance, rh + 2 * distance), angle)
        pts = cv2.boxPoints(rect).astype(np.float32)
        pts[:, 0] *= sx
        pts[:, 1] *= sy
        boxes.append((score, _order(pts)))
    merged = _merge_lines([q for _, q in boxes])
    out: list[tuple[float, _Candidate]] = []
    for quad in merged:
        w = float(np.hypot(*(quad[1] - quad[0])))
        h = float(np.hypot(*(quad[3] - quad[0])))
        if h < _MIN_PLATE_HEIGHT * 0.6 or w < h * 1.8 or w > h * 9:
            continue
        # The detector boxes the characters; the plate reaches a little beyond them.
        out.append((w * h, _Candidate(quad, None, "det")))
    out.sort(key=lambda item: -item[0])
    return [c for _, c in out[:MAX_DET_CANDIDATES]]


def _merge_lines(quads: list[npt.NDArray[np.float32]]) -> list[npt.NDArray[np.float32]]:
    """Join boxes of one text line split at the plate's "·" (京A | 12345)."""
    items = sorted(quads, key=lambda q: float(q[:, 0].min()))
    used = [False] * len(items)
    out: list[npt.NDArray[np.float32]] = []
    for i, q in enumerate(items):
        if used[i]:
            continue
        used[i] = True
        current = q
        changed = True
        while changed:
            changed = False
            for j in range(len(items)):
                if used[j]:
                    continue
                if _same_line(current, items[j]):
                    pts = np.vstack([current, items[j]])
                    current = _order(cv2.boxPoints(cv2.minAreaRect(pts)).astype(np.float32))
                    used[j] = True
                    changed = True
        out.append(current)
    # Keep the unmerged parts too: a sign next to a plate must not swallow it.
    return out + [q for q in quads if not any(q is m for m in out)]


def _same_line(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> bool:
    ha = float(np.hypot(*(a[3] - a[0])))
    hb = float(np.hypot(*(b[3] - b[0])))
    if not 0.6 < ha / max(hb, 1e-3) < 1.6:
        return False
    ya, yb = float(a[:, 1].mean()), float(b[:, 1].mean())
    if abs(ya - yb) > 0.5 * min(ha, hb):
        return False
    gap = max(float(b[:, 0].min() - a[:, 0].max()), float(a[:, 0].min() - b[:, 0].max()))
    return gap < 1.2 * max(ha, hb)


# ---- geometry: plate millimetres <-> frame -----------------------------------------------------

# Where a candidate's four corners sit on the plate, in millimetres (GA 36: 440x140, green
# 480x140, characters 90 mm high from y = 25), x of the right-hand corners counted from the
# plate's right edge. Medians measured on synthetic scenes (not the benchmark's seeds): the
# colour outlines are the plate's own (a green one extrapolated, see _green_quad); the
# detector's unclipped box reaches ~20 mm beyond the plate all round.
_Corners = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]
_COLOUR_CORNERS: Final[dict[str, _Corners]] = {
    "blue": ((2.0, -1.0), (-2.0, -1.0), (-1.0, 139.0), (2.0, 139.0)),
    "yellow": ((1.0, 0.0), (-5.0, 2.0), (-4.0, 136.0), (1.0, 137.0)),
    "green": ((0.0, 6.0), (-3.0, 6.0), (-2.0, 139.0), (-1.0, 139.0)),
}
_DET_CORNERS: Final[_Corners] = ((-21.0, -18.0), (23.0, -17.0), (23.0, 152.0), (-21.0, 151.0))
# The edge band's box: the characters (x 15.5..424.5, y 25..115) grown by the closing.
_EDGE_CORNERS: Final[_Corners] = ((10.0, 20.0), (-10.0, 20.0), (-10.0, 120.0), (10.0, 120.0))
_PLATE_HEIGHT_MM: Final = 140.0
# What the recogniser sees: the character band with a margin (y 25..115 holds the characters).
_STRIP_Y: Final = (8.0, 132.0)
_STRIP_X_MARGIN: Final = 6.0
# Strips are stretched this much wider than the plate's own shape: its characters are half as
# wide as they are high, narrower than most text the recogniser learnt from.
_STRIP_STRETCH: Final = 1.25


def _plate_width(colour: str) -> float:
    return 480.0 if colour == "green" else 440.0


def _plate_to_frame(candidate: _Candidate, colour: str) -> npt.NDArray[np.float64]:
    width = _plate_width(colour)
    if candidate.source == "extended":
        corners = ((0.0, 0.0), (0.0, 0.0), (0.0, _PLATE_HEIGHT_MM), (0.0, _PLATE_HEIGHT_MM))
    elif candidate.source == "colour" and candidate.hint is not None:
        corners = _COLOUR_CORNERS[candidate.hint]
    elif candidate.source == "edges":
        corners = _EDGE_CORNERS
    else:
        corners = _DET_CORNERS
    mm = np.array(corners, np.float32)
    mm[1:3, 0] += width
    return np.asarray(cv2.getPerspectiveTransform(mm, candidate.quad), np.float64)


def _cut(
    image: npt.NDArray[Any],
    to_frame: npt.NDArray[np.float64],
    region: tuple[float, float, float, float],
    size: tuple[int, int],
) -> npt.NDArray[Any]:
    """The plate region (x0, y0, x1, y1 in mm) resampled to ``size`` (w, h) pixels.

    Sampled at up to 4x and averaged down: warpPerspective only interpolates, which aliases
    the strokes of a near plate shrunk to 48 px."""
    x0, y0, x1, y1 = region
    out_w, out_h = size
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    in_frame = cv2.perspectiveTransform(corners[None], to_frame)[0]
    frame_h = float(np.hypot(*(in_frame[3] - in_frame[0])) + np.hypot(*(in_frame[2] - in_frame[1])))
    factor = int(np.clip(round(frame_h / 2 / out_h), 1, 4))
    big_w, big_h = out_w * factor, out_h * factor
    dst = np.array([[0, 0], [big_w, 0], [big_w, big_h], [0, big_h]], np.float32)
    matrix = cv2.getPerspectiveTransform(in_frame, dst)
    warped = cv2.warpPerspective(
        image, matrix, (big_w, big_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if factor == 1:
        return warped
    return cv2.resize(warped, (out_w, out_h), interpolation=cv2.INTER_AREA)


def _prepare(bgr: U8, gray: U8, candidate: _Candidate) -> _Prepared:
    colour = candidate.hint or "blue"
    for _ in range(2):  # the detector's candidates learn their width from their colour
        width = _plate_width(colour)
        unrefined = _plate_to_frame(candidate, colour)
        to_frame = _refine(gray, unrefined, width)
        region = (-_STRIP_X_MARGIN, _STRIP_Y[0], width + _STRIP_X_MARGIN, _STRIP_Y[1])
        aspect = (region[2] - region[0]) / (region[3] - region[1])
        out_w = int(np.clip(round(REC_HEIGHT * aspect * _STRIP_STRETCH), 96, 480))
        strip: U8 = _cut(bgr, to_frame, region, (out_w, REC_HEIGHT))
        found = plate_colour(strip, candidate.hint)
        if found == colour or candidate.hint is not None:
            break
        colour = found
    corners = np.array([[0, 0], [0, _PLATE_HEIGHT_MM]], np.float32)
    top, bottom = cv2.perspectiveTransform(corners[None], to_frame)[0]
    height = float(np.hypot(*(bottom - top)))
    return _Prepared(candidate, found, to_frame, unrefined, strip, height)


# The character cells (left, width) in mm, GA 36: blue/yellow 45 wide at a 57 mm pitch with a
# 34 mm gap for the "·" after the second; green (new energy) 43 wide at 52 mm.
_CELLS: Final[dict[int, tuple[tuple[float, float], ...]]] = {
    440: ((15.5, 45.0), (72.5, 45.0), *((151.5 + 57.0 * i, 45.0) for i in range(5))),
    480: ((15.5, 45.0), (69.5, 43.0), *((161.5 + 52.0 * i, 43.0) for i in range(6))),
}
_TEXT_Y: Final = (25.0, 115.0)
_MM_PER_PX: Final = 2.0  # resolution of the layout search


def _refine(gray: U8, to_frame: npt.NDArray[np.float64], width: float) -> npt.NDArray[np.float64]:
    """Move and scale the plate's millimetre grid so its character band and character cells
    sit on the strokes: a candidate's corners are a few millimetres off (a green plate's
    extrapolated top, the detector's loose box, a plate half lost in glare), and the province
    character is then compared by shape at a known place.

    Vertical first: the band y 25..115 holds the characters' vertical edges, the 12 mm margins
    above and below it none (the rim is horizontal). Then horizontal, within that band: edges
    inside the character cells, few in the gaps (the wide one of the "·" above all) and in the
    10 mm beyond the first and last character. Both are exhaustive searches over shift and
    scale, on edge profiles summed once (cumulative sums make every band a subtraction)."""
    pad_x, pad_y = 40.0, 30.0
    x0, y0, x1, y1 = -pad_x, -pad_y, width + pad_x, _PLATE_HEIGHT_MM + pad_y
    size = (round((x1 - x0) / _MM_PER_PX), round((y1 - y0) / _MM_PER_PX))
    view = _cut(gray, to_frame, (x0, y0, x1, y1), size).astype(np.float32)
    gx = np.abs(cv2.Sobel(view, cv2.CV_32F, 1, 0, ksize=3))
    gy = np.abs(cv2.Sobel(view, cv2.CV_32F, 0, 1, ksize=3))
    xs = x0 + np.arange(size[0] + 1) * _MM_PER_PX  # mm at each profile bin's left edge
    ys = y0 + np.arange(size[1] + 1) * _MM_PER_PX

    def summer(profile: F32, at: npt.NDArray[Any]) -> Any:
        cum = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])

        def total(lo: npt.NDArray[Any], hi: npt.NDArray[Any]) -> Any:
            return np.interp(hi, at, cum) - np.interp(lo, at, cum)

        return total

    inner = (xs[:-1] > 40) & (xs[:-1] < width - 40)
    rows = summer(gx[:, inner].mean(axis=1), ys)
    scale, shift = np.meshgrid(np.arange(0.8, 1.201, 0.025), np.arange(-30.0, 30.1, 1.0))
    top, bottom = shift + scale * _TEXT_Y[0], shift + scale * _TEXT_Y[1]
    margin = 12.0 * scale
    inside = rows(top, bottom) / (bottom - top)
    outside = (rows(top - margin, top) + rows(bottom, bottom + margin)) / (2 * margin)
    best = np.unravel_index(np.argmax(inside - outside), inside.shape)
    shift_y, scale_y = float(shift[best]), float(scale[best])

    lo_mm, hi_mm = shift_y + scale_y * _TEXT_Y[0], shift_y + scale_y * _TEXT_Y[1]
    band = (ys[:-1] >= lo_mm) & (ys[:-1] <= hi_mm)
    if band.sum() < 2:
        band[:] = True
    cols = summer((gx + gy)[band].mean(axis=0), xs)
    cells = _CELLS[int(width)]
    scale, shift = np.meshgrid(np.arange(0.84, 1.161, 0.01), np.arange(-30.0, 30.1, 1.0))
    ink = np.zeros_like(scale)
    ink_mm = np.zeros_like(scale)
    for left, w in cells:
        a, b = shift + scale * left, shift + scale * (left + w)
        ink += cols(a, b)
        ink_mm += b - a
    first = shift + scale * cells[0][0] - 10.0 * scale
    last = shift + scale * (cells[-1][0] + cells[-1][1]) + 10.0 * scale
    rest = cols(first, last) - ink
    rest_mm = (last - first) - ink_mm
    score = ink / ink_mm - rest / rest_mm
    best = np.unravel_index(np.argmax(score), score.shape)
    shift_x, scale_x = float(shift[best]), float(scale[best])
    move = np.array([[scale_x, 0, shift_x], [0, scale_y, shift_y], [0, 0, 1]], np.float64)
    out: npt.NDArray[np.float64] = to_frame @ move
    return out


# ---- recognition -----------------------------------------------------------------------------


def _recognise(models: _Models, strips: list[U8]) -> list[F32]:
    """Per-frame class probabilities for each strip (one batched run)."""
    if not strips:
        return []
    width = max(s.shape[1] for s in strips)
    batch = np.zeros((len(strips), 3, REC_HEIGHT, width), np.float32)
    for i, s in enumerate(strips):
        batch[i, :, :, : s.shape[1]] = (s.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
    out = models.rec.run(None, {"x": batch})[0]
    frames = out.shape[1]
    result: list[F32] = []
    for i, s in enumerate(strips):
        # Frames past the strip's own width only saw padding.
        used = min(frames, math.ceil(s.shape[1] * frames / width))
        result.append(out[i, :used].astype(np.float32))
    return result


@dataclass(frozen=True)
class _Decoded:
    text: str
    char_conf: tuple[float, ...]
    score: float  # log-likelihood of the alignment
    free: str  # the unconstrained greedy reading
    province: F32  # the recogniser's probability of each province at the first position
    runner_up: tuple[tuple[str, float], ...]  # per position: the second choice and its share


def _decode(models: _Models, probs: F32, colour: str, hinted: bool = False) -> _Decoded | None:
    folded = models.fold(probs)
    free = _greedy(models, probs)
    best: _Decoded | None = None
    for template in _TEMPLATES:
        if len(folded) < len(template):
            continue
        found = _align(models.fold, folded, template)
        if found is None:
            continue
        text, conf, score, province, runner_up = found
        # Colour prior: new-energy (8) plates are green, others are not; a wrong guess at the
        # colour (dusk) costs less than a missing or invented character. A plate found by its
        # green background is green.
        if (len(template) == 8) != (colour == "green"):
            score -= 8.0 if hinted and colour == "green" else 4.0
        if best is None or score > best.score:
            best = _Decoded(text, conf, score, free, province, runner_up)
    return best


def _greedy(models: _Models, probs: F32) -> str:
    ids = probs.argmax(axis=1)
    chars: list[str] = []
    prev = -1
    for i in ids:
        if i != prev and i != 0:
            chars.append(models.alphabet[int(i)])
        prev = int(i)
    return "".join(chars)


# Letters a blurred plate shows as the digit beside them (and the reverse). Where a position
# takes only letters (the authority, the energy letter), the digit's probability counts for the
# letter at half weight; where it takes only digits, the letter's counts for the digit.
_CONFUSABLE: Final[dict[str, str]] = {
    "D": "0", "Q": "0", "B": "8", "S": "5", "Z": "2", "G": "6", "A": "4", "T": "7",
    "0": "D", "8": "B", "5": "S", "2": "Z", "6": "G", "4": "A", "7": "T",
}  # fmt: skip
_CONFUSABLE_WEIGHT: Final = 0.5


def _align(
    fold: _Fold, folded: F32, template: tuple[str, ...]
) -> tuple[str, tuple[float, ...], float, F32, tuple[tuple[str, float], ...]] | None:
    """Best CTC-style alignment of the template's positions to the frames.

    States alternate filler (blank, separator, anything else; may be empty) and one
    character position (one or more frames). The emission of a position is the summed
    probability of the characters it allows; once aligned, each position takes the allowed
    character with the highest probability over its frames, with at most two letters in an
    ordinary serial (GA 36)."""
    eps = 1e-6
    n_frames = folded.shape[0]
    n_pos = len(template)
    # A zero column for "no confusable".
    padded = np.concatenate([folded, np.zeros((n_frames, 1), np.float32)], axis=1)
    zero = padded.shape[1] - 1
    per_pos: list[npt.NDArray[Any]] = []  # (frames, allowed): each allowed character's probability
    for allowed in template:
        cols = np.array([fold.column[c] for c in allowed])
        letters_only = not any(c in _DIGITS for c in allowed)
        digits_only = all(c in _DIGITS for c in allowed)
        alt = np.array(
            [
                fold.column[_CONFUSABLE[c]]
                if c in _CONFUSABLE
                and (letters_only or digits_only)
                and _CONFUSABLE[c] not in allowed
                else zero
                for c in allowed
            ]
        )
        per_pos.append(padded[:, cols] + _CONFUSABLE_WEIGHT * padded[:, alt])
    filler = np.log(folded[:, 0] + eps)
    emit = np.stack([np.log(np.minimum(p.sum(axis=1), 1.0) + eps) for p in per_pos], axis=1)
    n_states = 2 * n_pos + 1  # even k: filler before position k // 2; odd k: position k // 2
    neg = -1e9
    score = np.full(n_states, neg)
    back = np.zeros((n_frames, n_states), np.int8)  # how many states back the path came from
    score[0] = filler[0]
    score[1] = emit[0, 0]
    emission = np.empty((n_frames, n_states))
    emission[:, 0::2] = filler[:, None]
    emission[:, 1::2] = emit
    # The loop is the one stretch of Python per recogniser frame (it holds the GIL): kept to a
    # few whole-array operations on preallocated rows.
    step = np.full(n_states, neg)
    skip = np.full(n_states, neg)
    for t in range(1, n_frames):
        step[1:] = score[:-1]
        # An odd state may skip the (empty) filler before it: two characters back to back.
        skip[3::2] = score[1:-2:2]
        moved = step > score  # ties stay, as an argmax over (stay, step, skip) would
        best = np.where(moved, step, score)
        skipped = skip > best
        back[t] = np.where(skipped, 2, moved)
        score = np.where(skipped, skip, best) + emission[t]
    end = n_states - 1 if score[n_states - 1] >= score[n_states - 2] else n_states - 2
    if score[end] <= neg / 2:
        return None
    total = float(score[end])
    frames: list[list[int]] = [[] for _ in range(n_pos)]
    k = end
    for t in range(n_frames - 1, -1, -1):
        if k % 2 == 1:
            frames[k // 2].append(t)
        k -= int(back[t, k])
    if any(not ts for ts in frames):
        return None
    blocks = [per_pos[pos][np.array(frames[pos])] for pos in range(n_pos)]
    sums = [b.sum(axis=0) for b in blocks]
    choices = [int(s.argmax()) for s in sums]
    if n_pos == 7:
        _at_most_two_letters(template, sums, choices)
    text = "".join(template[pos][choices[pos]] for pos in range(n_pos))
    conf = tuple(float(min(1.0, blocks[pos][:, choices[pos]].max())) for pos in range(n_pos))
    runner_up: list[tuple[str, float]] = []
    for pos in range(n_pos):
        order = np.argsort(-sums[pos])
        second = next((int(i) for i in order[:2] if int(i) != choices[pos]), None)
        if second is None or pos == 0:
            runner_up.append(("", 0.0))
        else:
            runner_up.append(
                (template[pos][second], float(min(1.0, blocks[pos][:, second].max())))
            )
    return text, conf, total, sums[0].astype(np.float32), tuple(runner_up)


def _at_most_two_letters(template: tuple[str, ...], sums: list[F32], choices: list[int]) -> None:
    """Turn the least certain of more than two serial letters into their best digits."""
    serial = range(2, len(template))
    letters = [p for p in serial if template[p][choices[p]] in _AUTHORITY]
    while len(letters) > _MAX_SERIAL_LETTERS:
        margins = []
        for p in letters:
            digit = max((i for i, c in enumerate(template[p]) if c in _DIGITS),
                        key=lambda i: float(sums[p][i]))  # fmt: skip
            margins.append((float(sums[p][choices[p]]) - float(sums[p][digit]), p, digit))
        _, p, digit = min(margins)
        choices[p] = digit
        letters.remove(p)


# ---- the province character ------------------------------------------------------------------

# The province is the recogniser's, as every other character: a general Chinese OCR trained on
# real text reads 湘, 鄂 or 甘 whatever the face, where a template drawn from one font reads the
# face. On a small plate it now and then skips the character in the whole strip, so it also
# reads the plate's left end alone (the province and the authority letter), cut twice: from
# the refined grid, and from the candidate's own corners with the characters widened (the
# refinement sometimes locks one cell off). The three opinions multiply.
_HEAD_VIEWS: Final = (  # (x1 mm, stretch, grid): the strip runs from x = -6 mm
    (125.0, 1.0, "refined"),
    (70.0, 1.6, "unrefined"),
)
_PROVINCE_FLOOR: Final = 1e-3  # a view that saw nothing does not veto the others
MAX_ALTERNATIVES: Final = 3


def _head_strips(bgr: U8, item: _Prepared) -> list[U8]:
    strips: list[U8] = []
    for x1, stretch, grid in _HEAD_VIEWS:
        region = (-_STRIP_X_MARGIN, _STRIP_Y[0], x1, _STRIP_Y[1])
        aspect = (region[2] - region[0]) / (region[3] - region[1])
        width = max(32, round(REC_HEIGHT * aspect * stretch))
        to_frame = item.to_frame if grid == "refined" else item.unrefined
        strips.append(_cut(bgr, to_frame, region, (width, REC_HEIGHT)))
    return strips


def _province_posterior(fold: _Fold, whole: F32, heads: list[F32]) -> tuple[F32, float]:
    """The 31 provinces' posterior from the whole strip's aligned frames and the head strips;
    and the strongest single sighting of the winner (how much any view saw it at all)."""
    cols = np.array([fold.column[c] for c in _PROVINCE_CHARS])
    views = [np.minimum(whole, 1.0)]
    for probs in heads:
        views.append(fold(probs)[:, cols].max(axis=0))
    logp = np.sum([np.log(v + _PROVINCE_FLOOR) for v in views], axis=0)
    posterior: F32 = np.exp(logp - logp.max()).astype(np.float32)
    posterior /= posterior.sum()
    best = int(posterior.argmax())
    return posterior, float(max(v[best] for v in views))


# ---- acceptance ------------------------------------------------------------------------------


def _geometric_mean(values: tuple[float, ...]) -> float:
    return float(np.exp(np.mean(np.log(np.maximum(values, 1e-6)))))


def _hopeless(decoded: _Decoded) -> bool:
    """Fails _accept whatever the province turns out to be."""
    if min(decoded.char_conf[1:]) < MIN_CHAR_CONFIDENCE:
        return True
    free = _fold_free(decoded.free)
    # Whatever the province, the rest must be in the free reading.
    return _distance(free, decoded.text[1:]) > MAX_DISAGREEMENT + 0.5


def _accept(
    decoded: _Decoded,
    posterior: F32,
    seen: float,
    colour: str,
    quad: npt.NDArray[np.float32],
) -> PlateReading | None:
    """The reading, sure or not, or None when what was read is not a plate at all."""
    province = _PROVINCE_CHARS[int(posterior.argmax())]
    text = province + decoded.text[1:]
    try:
        plate = parse_plate(text)
    except InvalidPlate:
        return None
    if min(decoded.char_conf[1:]) < MIN_CHAR_CONFIDENCE:
        return None
    # No view saw a province at all: text on a car (a model badge, a sticker) read into the
    # grammar has only paintwork where the province goes.
    if seen < MIN_PROVINCE_SEEN:
        return None
    if _geometric_mean(decoded.char_conf[1:]) < MIN_CONFIDENCE:
        return None
    seen_share = min(1.0, seen / PROVINCE_SEEN_FULL) ** 0.5
    conf = (float(posterior.max()) * seen_share, *decoded.char_conf[1:])
    # The free reading may skip the province or misread one character, no more.
    free = _fold_free(decoded.free)
    if min(_distance(free, text), _distance(free, text[1:]) + 0.5) > MAX_DISAGREEMENT:
        return None
    # Civil serials carry at most two letters (GA 36); "LAVIDA" or "ACCORD" have more.
    letters = sum(ch.isalpha() and ch.isascii() for ch in plate.serial)
    if letters > _MAX_SERIAL_LETTERS:
        return None
    # The whole plate is right only if every character is: the product, not an average that
    # a doubtful province would hide among six certain characters.
    confidence = float(np.prod(conf))
    if len(text) == 8:
        colour = "green"  # a six-character serial is a new-energy plate whatever the light did
    elif colour == "green":
        colour = "yellow" if plate.serial[-1] in _SUFFIX else "blue"
    x, y, w, h = cv2.boundingRect(quad.astype(np.int32))
    return PlateReading(
        plate=plate.province + plate.authority + plate.serial,
        display=plate.canonical,
        colour=colour,
        confidence=round(confidence, 3),
        box=(int(x), int(y), int(w), int(h)),
        alternatives=_alternatives(text, posterior, decoded),
        serial_confidence=float(np.prod(decoded.char_conf[1:])),
    )


def _alternatives(text: str, posterior: F32, decoded: _Decoded) -> tuple[str, ...]:
    """What else the plate may be, likeliest first: the next provinces, then the runner-up
    of the least certain other character. Canonical plates (京A·12345)."""
    scored: list[tuple[float, str]] = []
    order = np.argsort(-posterior)
    best = float(posterior[order[0]])
    for i in order[1 : MAX_ALTERNATIVES + 1]:
        share = float(posterior[i])
        if share >= 0.1 * best and share >= 0.02:
            scored.append((share / best, _PROVINCE_CHARS[int(i)] + text[1:]))
    pos = min(range(1, len(text)), key=lambda k: decoded.char_conf[k])
    runner, share = decoded.runner_up[pos]
    if runner and share >= 0.1 * decoded.char_conf[pos]:
        scored.append((share / decoded.char_conf[pos], text[:pos] + runner + text[pos + 1 :]))
    out: list[str] = []
    for _, alt in sorted(scored, key=lambda item: -item[0]):
        try:
            out.append(parse_plate(alt).canonical)
        except InvalidPlate:
            continue
    return tuple(out[:MAX_ALTERNATIVES])


def _fold_free(text: str) -> str:
    """The free reading as the grammar would spell it: no separators, look-alikes folded."""
    out: list[str] = []
    for ch in text:
        ch = _UNALIKE.get(ch, ch)
        ch = unicodedata.normalize("NFKC", ch).upper()
        if ch in _SEPARATOR_CHARS or ch.isspace():
            continue
        out.append(ch)
    return "".join(out)


def _distance(free: str, plate: str) -> float:
    """Edit distance of ``plate`` to the closest part of the free reading (words around the
    plate, a holder's "蓝色" or a dealer's name, cost nothing), a look-alike substitution
    (8/B, 0/D) costing a third."""
    prev = [0.0] * (len(free) + 1)  # the plate may start anywhere in the free reading
    for i, cp in enumerate(plate, 1):
        cur = [float(i)]
        for j, cf in enumerate(free, 1):
            if cp == cf:
                swap = 0.0
            elif _CONFUSABLE.get(cf) == cp:
                swap = 1 / 3
            else:
                swap = 1.0
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + swap))
        prev = cur
    return min(prev)  # ... and end anywhere


# ---- colour ----------------------------------------------------------------------------------


def plate_colour(strip: U8, hint: str | None = None) -> str:
    """Blue, yellow or green from the saturated pixels of a plate strip (BGR)."""
    hsv = cv2.cvtColor(strip, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    saturated = (s > 50) & (v > 35)
    counts = {
        "blue": int(np.count_nonzero(saturated & (h >= 95) & (h <= 130))),
        "yellow": int(np.count_nonzero(saturated & (h >= 10) & (h < 36))),
        "green": int(np.count_nonzero(saturated & (h >= 36) & (h < 95))),
    }
    if hint is not None:
        counts[hint] = int(counts[hint] * 1.5) + 1
    return max(counts, key=lambda k: counts[k])


def _dedupe(readings: list[PlateReading]) -> list[PlateReading]:
    readings = sorted(readings, key=lambda r: -r.confidence)
    out: list[PlateReading] = []
    for r in readings:
        if any(r.plate == o.plate or _overlap(r.box, o.box) > 0.5 for o in out):
            continue
        out.append(r)
    return out


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    smaller = min(aw * ah, bw * bh)
    return inter / smaller if smaller > 0 else 0.0
