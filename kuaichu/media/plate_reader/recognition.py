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
    best: tuple[float, _Lattice] | None = None
    for template in TEMPLATES:
        if len(folded) < len(template):
            continue
        lattice = _forward(models.fold, folded, template)
        if lattice is None:
            continue
        score = lattice.score
        # Colour prior: new-energy (8) plates are green, others are not; a wrong guess at the
        # colour (dusk) costs less than a missing or invented character. A plate found by its
        # green background is green.
        if (len(template) == 8) != (colour == "green"):
            score -= 8.0 if hinted and colour == "green" else 4.0
        if best is None or score > best[0]:
            best = (score, lattice)
    if best is None:
        return None
    # Only the winning template's path is read back (a Python loop per frame).
    text, conf, province, runner_up = _read_path(best[1], folded)
    return Decoded(text, conf, best[0], free, province, runner_up)


def greedy(models: Models, probs: F32) -> str:
    ids = probs.argmax(axis=1)
    chars: list[str] = []
    prev = -1
    for i in ids:
        if i != prev and i != 0:
            chars.append(models.alphabet[int(i)])
        prev = int(i)
    return "".join(chars)


class _Lattice:
    """One template's forward pass over the frames: every state's best score at every frame."""

    def __init__(
        self,
        template: tuple[str, ...],
        per_pos: list[npt.NDArray[Any]],
        sizes: list[int],
        starts: list[int],
        chars_at: npt.NDArray[np.float64],
        fills_at: npt.NDArray[np.float64],
    ) -> None:
        self.template = template
        self.per_pos = per_pos
        self.sizes = sizes  # each position's number of character states
        self.starts = starts  # each position's first character state
        self.chars_at = chars_at
        self.fills_at = fills_at
        last = chars_at[-1, self.starts[-1] :]
        self.ends_in_char = bool(last.max() > fills_at[-1, -1])
        self.score = float(last.max() if self.ends_in_char else fills_at[-1, -1])


_NEG: Final = -1e9  # the score of a state no path reaches


def _forward(fold: Fold, folded: F32, template: tuple[str, ...]) -> _Lattice | None:
    """Best CTC-style alignment of the template's positions to the frames (its score; the path
    is :func:`_read_path`'s); None when no path fits.

    States alternate filler (blank, separator, anything else; may be empty) and one
    character position (one or more frames). A position after the province is one state per
    character it allows, so its frames must all show that one character: two different
    digits side by side are two positions, never one (summed over the digits, "6758" aligned
    to three positions as "678" at no cost, and a new-energy plate's eight characters fitted
    the seven of a blue plate). The province is one state, the summed probability of every
    province: which one it is, the posterior decides from this and the other views."""
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
    emits = [np.log(np.minimum(per_pos[0].sum(axis=1, keepdims=True), 1.0) + eps)]
    emits += [np.log(np.minimum(p, 1.0) + eps) for p in per_pos[1:]]
    sizes = [e.shape[1] for e in emits]
    starts = [sum(sizes[:k]) for k in range(n_pos)]
    position = np.repeat(np.arange(n_pos), sizes)  # each character state's position
    emit = np.concatenate(emits, axis=1)  # (frames, character states)
    chars_at = np.full((n_frames, emit.shape[1]), _NEG)  # each character state's score
    fills_at = np.full((n_frames, n_pos + 1), _NEG)  # [t, k]: the filler before position k
    chars_at[0, : sizes[0]] = emit[0, : sizes[0]]
    fills_at[0, 0] = filler[0]
    best = np.full(n_pos + 1, _NEG)  # best[k + 1]: position k's best character state
    # The loop is the one stretch of Python per recogniser frame (it holds the GIL): kept to a
    # few whole-array operations on preallocated rows.
    for t in range(1, n_frames):
        chars, fills = chars_at[t - 1], fills_at[t - 1]
        np.maximum.reduceat(chars, starts, out=best[1:])
        # A position is entered from the filler before it or straight from the one before.
        entry = np.maximum(fills[:n_pos], best[:n_pos])
        np.maximum(fills, best, out=fills_at[t])
        fills_at[t] += filler[t]
        np.maximum(chars, entry[position], out=chars_at[t])
        chars_at[t] += emit[t]
    lattice = _Lattice(template, per_pos, sizes, starts, chars_at, fills_at)
    return None if lattice.score <= _NEG / 2 else lattice


def _read_path(
    lattice: _Lattice, folded: F32
) -> tuple[str, tuple[float, ...], F32, tuple[tuple[str, float], ...]]:
    """The best path's characters, each one's confidence, the province position's summed
    probabilities and each position's runner-up. An ordinary serial keeps at most two letters
    (GA 36)."""
    template, per_pos, starts, sizes = (
        lattice.template,
        lattice.per_pos,
        lattice.starts,
        lattice.sizes,
    )
    chars_at, fills_at = lattice.chars_at, lattice.fills_at
    n_frames, n_pos = chars_at.shape[0], len(template)
    # Back along the path: a state stays on a tie, as the forward pass's maximum did.
    frames: list[list[int]] = [[] for _ in range(n_pos)]
    state: list[int] = [0] * n_pos  # the character state each position took
    in_char = lattice.ends_in_char
    k = n_pos - 1 if in_char else n_pos
    idx = starts[-1] + int(chars_at[-1, starts[-1] :].argmax())
    for t in range(n_frames - 1, -1, -1):
        if in_char:
            frames[k].append(t)
            state[k] = idx
        if t == 0:
            break
        before = chars_at[t - 1]
        prev = before[starts[k - 1] : starts[k - 1] + sizes[k - 1]] if k > 0 else None
        if in_char:
            stay, fill = before[idx], fills_at[t - 1, k]
            if stay >= fill and (prev is None or stay >= prev.max()):
                continue
            if prev is None or fill >= prev.max():
                in_char = False
                continue
        elif prev is None or fills_at[t - 1, k] >= prev.max():
            continue
        k -= 1
        in_char = True
        idx = starts[k] + int(prev.argmax())
    blocks = [per_pos[pos][np.array(frames[pos])] for pos in range(n_pos)]
    sums = [b.sum(axis=0) for b in blocks]
    choices = [int(sums[0].argmax())] + [state[pos] - starts[pos] for pos in range(1, n_pos)]
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
    return text, tuple(conf), sums[0].astype(np.float32), tuple(runner_up)


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
