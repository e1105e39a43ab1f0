"""The plate grammar (GA 36) as the decoder sees it: which characters each position takes, what
the recogniser may print for them, and the free reading folded into that alphabet."""

from __future__ import annotations

import unicodedata
from typing import Final

import numpy as np

from kuaichu.cases.plates import PROVINCES

from .arrays import F32

PROVINCE_CHARS: Final = "".join(sorted(PROVINCES))
AUTHORITY: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # GA 36 skips I and O
DIGITS: Final = "0123456789"
SERIAL: Final = DIGITS + AUTHORITY
ENERGY: Final = "ABCDEFGHJK"
SUFFIX: Final = "学挂"
# What the model may print for a character a plate position accepts.
LOOKALIKES: Final[dict[str, str]] = {
    "0": "Oo〇口",
    "1": "Il|丨",
    # Chinese characters that a condensed plate letter looks like to a Chinese recogniser.
    "Z": "之乙",
    "J": "了亅",
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
_UNALIKE: Final = {alike: ch for ch, alikes in LOOKALIKES.items() for alike in alikes}
SEPARATOR_CHARS: Final = "·.-•・:_'\",`|[](){}"

# A template is one set of allowed characters per position.
_SEVEN: Final = (PROVINCE_CHARS, AUTHORITY, SERIAL, SERIAL, SERIAL, SERIAL,
                 SERIAL + SUFFIX)  # fmt: skip
_EIGHT_SMALL: Final = (PROVINCE_CHARS, AUTHORITY, ENERGY, SERIAL, DIGITS, DIGITS, DIGITS,
                       DIGITS)  # fmt: skip
_EIGHT_LARGE: Final = (PROVINCE_CHARS, AUTHORITY, DIGITS, DIGITS, DIGITS, DIGITS, DIGITS,
                       ENERGY)  # fmt: skip
TEMPLATES: Final = (_SEVEN, _EIGHT_SMALL, _EIGHT_LARGE)


MAX_SERIAL_LETTERS: Final = 2


# Letters a blurred plate shows as the digit beside them (and the reverse). Where a position
# takes only letters (the authority, the energy letter), the digit's probability counts for the
# letter at half weight; where it takes only digits, the letter's counts for the digit.
CONFUSABLE: Final[dict[str, str]] = {
    "D": "0", "Q": "0", "B": "8", "S": "5", "Z": "2", "G": "6", "A": "4", "T": "7",
    "0": "D", "8": "B", "5": "S", "2": "Z", "6": "G", "4": "A", "7": "T",
}  # fmt: skip
CONFUSABLE_WEIGHT: Final = 0.5


class Fold:
    """Sums the model's probabilities into the classes a plate cares about.

    Columns: 0 = blank or separator (the "·", dots, dashes, brackets the rim becomes), then one
    column per plate character. Everything else is "other" (1 minus the row sum)."""

    def __init__(self, alphabet: list[str], index: dict[str, int]) -> None:
        targets = list(dict.fromkeys(PROVINCE_CHARS + SERIAL + SUFFIX))
        self.chars = targets
        self.column = {ch: i + 1 for i, ch in enumerate(targets)}
        rows: list[int] = []
        cols: list[int] = []
        rows.append(0)
        cols.append(0)
        for ch in SEPARATOR_CHARS + " ":
            if ch in index:
                rows.append(index[ch])
                cols.append(0)
        # Full-width forms (Ａ, １) and accented Latin letters (À: a bolt or a speck of dirt
        # above the A) fold into ASCII. Grouped by base once: asking for each target anew
        # normalised the ~6,600-character alphabet 35 times (0.3 s of every model load).
        latin: dict[str, set[str]] = {}
        for a in alphabet:
            if len(a) == 1 and not a.isascii():
                latin.setdefault(_latin_base(a), set()).add(a)
        for ch in targets:
            variants = {ch, *LOOKALIKES.get(ch, ""), *latin.get(ch, ())}
            if ch.isalpha() and ch.isascii():
                variants.add(ch.lower())
            for v in variants:
                if v in index:
                    rows.append(index[v])
                    cols.append(self.column[ch])
        # Summed per column as segments of the rows sorted by column (np.add.reduceat), not
        # as a product with a 0/1 matrix: numpy hands a product that size to a multi-threaded
        # BLAS, which on a loaded machine took 10-20 ms instead of 0.1.
        order = np.argsort(np.array(cols), kind="stable")
        sorted_cols = np.array(cols, np.int64)[order]
        self.rows = np.array(rows, np.int64)[order]
        self._starts = np.flatnonzero(np.r_[True, np.diff(sorted_cols) != 0])
        self._present = sorted_cols[self._starts]
        self._width = len(targets) + 1

    def __call__(self, probs: F32) -> F32:
        """(T, classes) -> (T, 1 + len(chars)): filler first, then plate characters."""
        folded: F32 = np.zeros((probs.shape[0], self._width), np.float32)
        folded[:, self._present] = np.add.reduceat(probs[:, self.rows], self._starts, axis=1)
        # Anything the model saw that no plate has also counts as filler for the alignment:
        # the confidence check, not the alignment, is what rejects it.
        other = np.clip(1.0 - folded.sum(axis=1), 0.0, 1.0)
        folded[:, 0] += other
        return folded


def serial_only(free: str) -> bool:
    """The free reading is what a plate has right of its "·": 4-6 letters and digits, of
    which at most two letters (GA 36), three if it starts with the authority letter ("TAXI",
    "CETL" on a car's back are words, not serials)."""
    folded = fold_free(free)
    if not (4 <= len(folded) <= 6 and all(ch in SERIAL for ch in folded)):
        return False
    letters = sum(ch in AUTHORITY for ch in folded)
    return letters <= MAX_SERIAL_LETTERS + (len(folded) == 6 and folded[0] in AUTHORITY)


def _latin_base(ch: str) -> str:
    """A full-width or accented Latin letter or digit as its plain ASCII capital (Ａ, À, á ->
    A); anything else unchanged."""
    plain = unicodedata.normalize("NFKC", ch)
    base = "".join(c for c in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(c))
    if len(base) == 1 and base.isascii() and base.isalnum():
        return base.upper()
    return plain


def fold_free(text: str) -> str:
    """The free reading as the grammar would spell it: no separators, look-alikes folded, an
    accented letter as its letter (À: a bolt or a speck of dirt above the A)."""
    out: list[str] = []
    for ch in text:
        ch = _UNALIKE.get(ch, ch)
        ch = _latin_base(ch).upper()
        if ch in SEPARATOR_CHARS or ch.isspace():
            continue
        out.append(ch)
    return "".join(out)


def dropped_inside(free: str, serial: str, *, after_province: bool = False) -> str | None:
    """The free reading's run that holds ``serial`` with one more character inside it (not at
    either end, where a bolt or the holder's edge may read as one), when ``serial`` itself is
    not in the free reading: a character the recogniser saw and the grammar's decoding left
    out. ``after_province``: the one more may also stand first, where a province character
    comes right before it (between the province and the authority letter). None otherwise."""
    n = len(serial)
    if n < 2:
        return None
    if after_province:
        for start in range(1, len(free) - n):
            if free[start - 1] in PROVINCE_CHARS and free[start + 1 : start + 1 + n] == serial:
                return free[start : start + 1 + n]
    if serial in free:
        return None
    for start in range(len(free) - n):
        window = free[start : start + n + 1]
        if any(window[:k] + window[k + 1 :] == serial for k in range(1, n)):
            return window
    return None


def free_distance(free: str, plate: str) -> float:
    """Edit distance of ``plate`` to the closest part of the free reading (words around the
    plate, a holder's "蓝色" or a dealer's name, cost nothing), a look-alike substitution
    (8/B, 0/D) costing a third."""
    prev = [0.0] * (len(free) + 1)  # the plate may start anywhere in the free reading
    for i, cp in enumerate(plate, 1):
        cur = [float(i)]
        for j, cf in enumerate(free, 1):
            if cp == cf:
                swap = 0.0
            elif CONFUSABLE.get(cf) == cp:
                swap = 1 / 3
            else:
                swap = 1.0
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + swap))
        prev = cur
    return min(prev)  # ... and end anywhere
