"""The recogniser run on strips, and its per-frame probabilities decoded under the plate grammar
(a constraint of the alignment, not a filter after it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from .arrays import F32, U8
from .grammar import (
    AUTHORITY,
    CONFUSABLE,
    CONFUSABLE_WEIGHT,
    DIGITS,
    MAX_SERIAL_LETTERS,
    TEMPLATES,
    Fold,
)
from .models import REC_HEIGHT, Models

# A strip is worth the recogniser when at least this share of its columns cross a stroke: a
# strong vertical edge (relative to the strip's own contrast, so a dim plate counts as much as
# a bright one) on 3 or more rows of the character band. Plates' strips: 11 % at the least,
# 45 % at the 5th percentile (real photos and hard synthetic scenes); half of the strips that
# read as no plate have less than 8 %.
MIN_STROKE_COLUMNS: Final = 0.06
_STROKE_LEVEL: Final = 0.2  # |Sobel x| / (4 x the band's 5-95 percentile range)
# The least range the level is relative to: a flat patch's noise is no stroke (the dimmest
# plate strip seen had a range of 17).
_STROKE_MIN_CONTRAST: Final = 20.0


# ... and the strokes run along the strip: a row of characters crosses at least this many of
# its eighths. A lamp's rim, a panel's edge or one letter of a badge crosses few. Measured on
# the real photos and 120 hard synthetic scenes: no strip that read as a plate crossed fewer
# than 4 (1 % crossed 4); 28 % of those that read as at most two characters did.
MIN_STROKE_EIGHTHS: Final = 4


def has_strokes(strip: U8) -> bool:
    """The strip (BGR, REC_HEIGHT high) shows something like a row of characters."""
    gray = cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY).astype(np.float32)
    band = gray[round(REC_HEIGHT / 6) : round(REC_HEIGHT * 5 / 6)]
    low, high = np.percentile(band, (5, 95))
    contrast = max(float(high - low), _STROKE_MIN_CONTRAST)
    edges = np.abs(cv2.Sobel(band, cv2.CV_32F, 1, 0, ksize=3)) > _STROKE_LEVEL * 4 * contrast
    crossed = np.count_nonzero(edges, axis=0) >= 3
    if float(crossed.mean()) < MIN_STROKE_COLUMNS:
        return False
    eighths = sum(bool(part.any()) for part in np.array_split(crossed, 8))
    return eighths >= MIN_STROKE_EIGHTHS


def recognise(models: Models, strips: list[U8]) -> list[F32]:
    """Per-frame class probabilities for each strip: one batched run per strip width.

    Strips of one width only: the recogniser's attention spans the whole input, so padding a
    strip to a wider one's width changes what it reads (and costs the padding's time): a
    strip reads the same whatever else the frame held."""
    result: list[F32 | None] = [None] * len(strips)
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(strips):
        groups.setdefault(s.shape[1], []).append(i)
    for width, members in groups.items():
        batch = np.empty((len(members), 3, REC_HEIGHT, width), np.float32)
        for row, i in enumerate(members):
            batch[row] = (strips[i].astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
        out = models.rec.run(None, {"x": batch})[0]
        for row, i in enumerate(members):
            result[i] = out[row].astype(np.float32)
    return [r for r in result if r is not None]


@dataclass(frozen=True)
class Decoded:
    text: str
    char_conf: tuple[float, ...]
    score: float  # log-likelihood of the alignment
    free: str  # the unconstrained greedy reading
    province: F32  # the recogniser's probability of each province at the first position
    runner_up: tuple[tuple[str, float], ...]  # per position: the second choice and its share


def decode(models: Models, probs: F32, colour: str, hinted: bool = False) -> Decoded | None:
    folded = models.fold(probs)
    free = greedy(models, probs)
    best: Decoded | None = None
    for template in TEMPLATES:
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
            best = Decoded(text, conf, score, free, province, runner_up)
    return best


def greedy(models: Models, probs: F32) -> str:
    ids = probs.argmax(axis=1)
    chars: list[str] = []
    prev = -1
    for i in ids:
        if i != prev and i != 0:
            chars.append(models.alphabet[int(i)])
        prev = int(i)
    return "".join(chars)


def _align(
    fold: Fold, folded: F32, template: tuple[str, ...]
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
        letters_only = not any(c in DIGITS for c in allowed)
        digits_only = all(c in DIGITS for c in allowed)
        alt = np.array(
            [
                fold.column[CONFUSABLE[c]]
                if c in CONFUSABLE
                and (letters_only or digits_only)
                and CONFUSABLE[c] not in allowed
                else zero
                for c in allowed
            ]
        )
        per_pos.append(padded[:, cols] + CONFUSABLE_WEIGHT * padded[:, alt])
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
    conf = [float(min(1.0, blocks[pos][:, choices[pos]].max())) for pos in range(n_pos)]
    for pos in range(1, n_pos):
        if text[pos] == text[pos - 1] and min(frames[pos]) == max(frames[pos - 1]) + 1:
            # The same character twice with no frame between: CTC writes a double character
            # with a blank between its two runs, so this is one run cut in two to fill the
            # template (a crop that lost a character at its end read 赣Y·01892 as 赣Y01189,
            # every position at 1.00). The second is only as sure as a blank at the cut.
            cut = (max(frames[pos - 1]), min(frames[pos]))
            conf[pos] = min(conf[pos], float(folded[cut[0], 0]), float(folded[cut[1], 0]))
    runner_up: list[tuple[str, float]] = []
    for pos in range(n_pos):
        order = np.argsort(-sums[pos])
        second = next((int(i) for i in order[:2] if int(i) != choices[pos]), None)
        if second is None or pos == 0:
            runner_up.append(("", 0.0))
        else:
            runner_up.append((template[pos][second], float(min(1.0, blocks[pos][:, second].max()))))
    return text, tuple(conf), total, sums[0].astype(np.float32), tuple(runner_up)


def _at_most_two_letters(template: tuple[str, ...], sums: list[F32], choices: list[int]) -> None:
    """Turn the least certain of more than two serial letters into their best digits."""
    serial = range(2, len(template))
    letters = [p for p in serial if template[p][choices[p]] in AUTHORITY]
    while len(letters) > MAX_SERIAL_LETTERS:
        margins = []
        for p in letters:
            digit = max((i for i, c in enumerate(template[p]) if c in DIGITS),
                        key=lambda i: float(sums[p][i]))  # fmt: skip
            margins.append((float(sums[p][choices[p]]) - float(sums[p][digit]), p, digit))
        _, p, digit = min(margins)
        choices[p] = digit
        letters.remove(p)
