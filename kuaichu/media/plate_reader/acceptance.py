"""What is returned: a reading, sure or unsure with its alternatives, or nothing when what was
read is not a plate."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from kuaichu.cases.errors import InvalidPlate
from kuaichu.cases.plates import parse_plate

from .arrays import F32
from .candidates import box_intersection
from .grammar import (
    MAX_SERIAL_LETTERS,
    PROVINCE_CHARS,
    SUFFIX,
    dropped_inside,
    fold_free,
    free_distance,
)
from .recognition import Decoded

FOUND_SERIAL_CONFIDENCE: Final = 0.9


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
# The console shows each alternative as a button the officer taps instead of typing. Of the hard
# sets' unsure readings with a wrong province, the true one was among the first 3 other provinces
# in 22 of 63 and among the first 5 in 33 (docs/benchmarks.md, plate reading, ninth round).
MAX_ALTERNATIVES: Final = 5
TWO_PROVINCES_SHARE: Final = 0.5
# The highest confidence of a reading that is only ever offered as unsure.
UNSURE_CEILING: Final = round(SURE_CONFIDENCE - 0.01, 2)


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


def plate_found(readings: list[PlateReading]) -> bool:
    """A plate has been found: read as sure, or everything but its province read clearly (a
    further stage would find the same plate and not see the province any better)."""
    return any(r.sure or r.serial_confidence >= FOUND_SERIAL_CONFIDENCE for r in readings)


def _geometric_mean(values: tuple[float, ...]) -> float:
    return float(np.exp(np.mean(np.log(np.maximum(values, 1e-6)))))


def hopeless(decoded: Decoded) -> bool:
    """Fails accept whatever the province turns out to be."""
    if min(decoded.char_conf[1:]) < MIN_CHAR_CONFIDENCE:
        return True
    free = fold_free(decoded.free)
    # Whatever the province, the rest must be in the free reading.
    return free_distance(free, decoded.text[1:]) > MAX_DISAGREEMENT + 0.5


def accept(
    decoded: Decoded,
    posterior: F32,
    seen: float,
    colour: str,
    quad: npt.NDArray[np.float32],
) -> PlateReading | None:
    """The reading, sure or not, or None when what was read is not a plate at all."""
    province = PROVINCE_CHARS[int(posterior.argmax())]
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
    free = fold_free(decoded.free)
    if min(free_distance(free, text), free_distance(free, text[1:]) + 0.5) > MAX_DISAGREEMENT:
        return None
    # Civil serials carry at most two letters (GA 36); "LAVIDA" or "ACCORD" have more.
    letters = sum(ch.isalpha() and ch.isascii() for ch in plate.serial)
    if letters > MAX_SERIAL_LETTERS:
        return None
    # The whole plate is right only if every character is: the product, not an average that
    # a doubtful province would hide among six certain characters.
    confidence = float(np.prod(conf))
    if sum(ch in PROVINCE_CHARS for ch in free) > 1:
        # Two province characters in the strip: more than a plate was read (a detector box
        # over a plate and the "新手上路" sticker beside it). Which one is the plate's, and
        # where the serial starts, is a guess: offered, never proposed as sure.
        confidence *= TWO_PROVINCES_SHARE
    # The recogniser saw one character more inside the plate than the reading has: the
    # grammar fitted the plate to the wrong length (a new-energy plate's eight characters to
    # seven, its band's colour misjudged in glare). Offered, with the whole run first; never
    # proposed as sure.
    # On a green band (a new-energy plate's eight) the one more may also be the character
    # after the province: 京F·F98931 read 京虾F98931 by the recogniser (its first F fused
    # with the province) was proposed as 京F·98931, sure.
    longer = dropped_inside(free, text[1:], after_province=colour == "green" and len(text) == 7)
    extra: tuple[str, ...] = ()
    if longer is not None:
        confidence = min(confidence, UNSURE_CEILING)
        try:
            extra = (parse_plate(province + longer).canonical,)
        except InvalidPlate:
            pass
    if len(text) == 8:
        colour = "green"  # a six-character serial is a new-energy plate whatever the light did
    elif colour == "green":
        colour = "yellow" if plate.serial[-1] in SUFFIX else "blue"
    x, y, w, h = cv2.boundingRect(quad.astype(np.int32))
    return PlateReading(
        plate=plate.province + plate.authority + plate.serial,
        display=plate.canonical,
        colour=colour,
        confidence=round(confidence, 3),
        box=(int(x), int(y), int(w), int(h)),
        alternatives=(*extra, *_alternatives(text, posterior, decoded, conf[0]))[
            :MAX_ALTERNATIVES
        ],
        serial_confidence=float(np.prod(decoded.char_conf[1:])),
    )


def disagreeing(reading: PlateReading, seen: str) -> PlateReading:
    """``reading`` of a whole plate whose serial alone another strip read as ``seen``, which
    the reading does not hold: offered, never proposed as sure, with the plate as the other
    strip read it first among the alternatives (its province and letter from the reading)."""
    head = reading.plate[: max(1, len(reading.plate) - len(seen))]
    other: tuple[str, ...] = ()
    try:
        other = (parse_plate(head + seen).canonical,)
    except InvalidPlate:
        pass
    offered = dict.fromkeys((*other, *reading.alternatives))
    alternatives = tuple(a for a in offered if a != reading.display)
    return replace(
        reading,
        confidence=min(reading.confidence, UNSURE_CEILING),
        alternatives=alternatives[:MAX_ALTERNATIVES],
    )


def _alternatives(
    text: str, posterior: F32, decoded: Decoded, province_conf: float
) -> tuple[str, ...]:
    """What else the plate may be, likeliest first: the next provinces, then the runner-up
    of the least certain other character. Canonical plates (京A·12345). ``province_conf``:
    the province's factor in the reading's confidence.

    Never empty when anything else is possible: a reading may end up unsure for a doubt no
    single alternative stands out in (a province no view saw clearly, whose posterior is still
    one character's; a cap applied later), and the console must then still offer what to
    pick: the runner-up of the least certain character when the doubt is there, and the next
    provinces in the posterior's order when it is the province's (or there is nothing else)."""
    scored: list[tuple[float, str]] = []
    order = [int(i) for i in np.argsort(-posterior)]
    best = float(posterior[order[0]])
    for i in order[1 : MAX_ALTERNATIVES + 1]:
        share = float(posterior[i])
        if share >= 0.1 * best and share >= 0.02:
            scored.append((share / best, PROVINCE_CHARS[i] + text[1:]))
    pos = min(range(1, len(text)), key=lambda k: decoded.char_conf[k])
    runner, share = decoded.runner_up[pos]
    if runner and share >= 0.1 * decoded.char_conf[pos]:
        scored.append((share / decoded.char_conf[pos], text[:pos] + runner + text[pos + 1 :]))
    ranked = [alt for _, alt in sorted(scored, key=lambda item: -item[0])]
    if runner and province_conf >= decoded.char_conf[pos]:
        # The doubt is that character: its second choice however weak (with the province in
        # doubt instead, a sure character's runner-up would only push a province out).
        ranked.append(text[:pos] + runner + text[pos + 1 :])
    if province_conf < decoded.char_conf[pos] or not ranked:
        ranked += [PROVINCE_CHARS[i] + text[1:] for i in order[1:]]
    out: list[str] = []
    for alt in ranked:
        try:
            canonical = parse_plate(alt).canonical
        except InvalidPlate:
            continue
        if canonical not in out:
            out.append(canonical)
        if len(out) == MAX_ALTERNATIVES:
            break
    return tuple(out)


def dedupe(readings: list[PlateReading]) -> list[PlateReading]:
    """One reading per plate, the most confident; another stage's different reading of the
    same plate (its box mostly the same) becomes its first alternative: two boxes of one small
    plate that read two provinces are the officer's two likeliest choices."""
    readings = sorted(readings, key=lambda r: -r.confidence)
    out: list[PlateReading] = []
    for r in readings:
        if any(r.plate == o.plate for o in out):
            continue
        same = next((k for k, o in enumerate(out) if _overlap(r.box, o.box) > 0.5), None)
        if same is None:
            out.append(r)
            continue
        kept = out[same]
        first = (r.display, *_crossings(kept.plate, r.plate))
        others = (a for a in kept.alternatives if a not in first)
        offered = tuple(dict.fromkeys(a for a in (*first, *others) if a != kept.display))
        out[same] = replace(kept, alternatives=offered[:MAX_ALTERNATIVES])
    return out


def _crossings(a: str, b: str) -> tuple[str, ...]:
    """Two readings of one plate that differ in exactly two characters: each one's first
    differing character with the other's second (川Z·22635 and 沪P·22635 read from two boxes
    of 川P22635: the truth was neither, but 川P and 沪Z). Canonical, valid plates only."""
    if len(a) != len(b):
        return ()
    diff = [k for k in range(len(a)) if a[k] != b[k]]
    if len(diff) != 2:
        return ()
    j = diff[1]  # the first differing character stays each one's own
    out: list[str] = []
    for first, second in ((a, b), (b, a)):
        mixed = first[:j] + second[j] + first[j + 1 :]
        try:
            out.append(parse_plate(mixed).canonical)
        except InvalidPlate:
            continue
    return tuple(out)


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """The boxes are mostly one plate: more than half the smaller one lies in the other."""
    return _overlap(a, b) > 0.5


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    smaller = min(a[2] * a[3], b[2] * b[3])
    return box_intersection(a, b) / smaller if smaller > 0 else 0.0
