"""Chinese civil licence plates: read what an officer or a driver typed, return one canonical form.

Formats (the civil plates a video-handled accident can involve):

=================  ==========================  ==================  =====================
kind               after the province + letter  example             colour
=================  ==========================  ==================  =====================
ordinary           5 letters/digits             京A·12345           blue (small) or yellow
                                                                    (large): the text
                                                                    alone cannot tell
coach (教练车)     4 letters/digits + 学         京A·1234学          yellow
trailer (挂车)     4 letters/digits + 挂         京A·1234挂          yellow
new-energy small   energy letter, 1 letter or   粤B·D12345          green
                   digit, 4 digits
new-energy large   5 digits, energy letter      粤B·12345D          yellow-green
=================  ==========================  ==================  =====================

Serial numbers never use the letters I and O (they would be read as 1 and 0), so wherever
a letter I or O appears in a serial position it *is* a typo for 1 or 0 and is corrected; in
the positions that must hold a letter nothing is guessed. Energy letters: D (the original
battery-electric letter) and F (other new-energy), plus A/B/C/E (battery-electric) and
G/H/J/K (other) that cities issue once D and F run out.

Police, embassy and Hong Kong/Macau plates (警, 使, 领, 港, 澳) are not civil plates and are
refused with their own reason so the form can say so.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from typing import Final, NoReturn

from .errors import InvalidPlate

PROVINCES: Final = frozenset("京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新")

# Typed with a traditional-character input method: the same province, another code point.
_TRADITIONAL: Final = str.maketrans(
    {"滬": "沪", "蘇": "苏", "遼": "辽", "魯": "鲁", "陝": "陕", "寧": "宁", "閩": "闽",
     "貴": "贵", "雲": "云", "瓊": "琼", "贛": "赣", "晉": "晋"}
)  # fmt: skip

_NOT_CIVIL: Final = frozenset("警使领港澳")
_ENERGY_LETTERS: Final = frozenset("ABCDEFGHJK")
_SERIAL_LETTERS: Final = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ")  # no I, no O
_DIGITS: Final = frozenset("0123456789")
# Anything people put between the parts: dots of several scripts, hyphens, spaces.
_SEPARATORS: Final = frozenset(" \t\u00b7\u2022\u30fb\uff65\u2027\u2219\u22c5.-_")
# Every plate has at least 7 characters besides its separators (province, authority letter,
# 5 or 6 more: GA 36); fewer is a plate still being typed (the case panel's form.js does not
# autosave it yet). For the page: a pattern over the characters left once separators are gone.
TYPED_IN_FULL: Final = r"^.{7,}$"
_AS_DIGIT: Final = {"I": "1", "O": "0"}


class PlateKind(enum.StrEnum):
    ORDINARY = "ordinary"
    COACH = "coach"
    TRAILER = "trailer"
    NEW_ENERGY_SMALL = "new_energy_small"
    NEW_ENERGY_LARGE = "new_energy_large"


class PlateColour(enum.StrEnum):
    BLUE_OR_YELLOW = "blue_or_yellow"
    YELLOW = "yellow"
    GREEN = "green"
    YELLOW_GREEN = "yellow_green"


_COLOUR: Final[dict[PlateKind, PlateColour]] = {
    PlateKind.ORDINARY: PlateColour.BLUE_OR_YELLOW,
    PlateKind.COACH: PlateColour.YELLOW,
    PlateKind.TRAILER: PlateColour.YELLOW,
    PlateKind.NEW_ENERGY_SMALL: PlateColour.GREEN,
    PlateKind.NEW_ENERGY_LARGE: PlateColour.YELLOW_GREEN,
}


@dataclass(frozen=True)
class Plate:
    province: str
    authority: str
    serial: str
    kind: PlateKind

    @property
    def canonical(self) -> str:
        return f"{self.province}{self.authority}·{self.serial}"

    @property
    def colour(self) -> PlateColour:
        return _COLOUR[self.kind]

    @property
    def new_energy(self) -> bool:
        return self.kind in (PlateKind.NEW_ENERGY_SMALL, PlateKind.NEW_ENERGY_LARGE)

    def __str__(self) -> str:
        return self.canonical


def parse_plate(raw: object) -> Plate:
    """Read a plate leniently; raise :class:`InvalidPlate` (with a ``reason``) if it is not one."""
    if not isinstance(raw, str):
        _fail("not_text", "a plate must be text", raw)
    # NFKC folds full-width letters and digits (ＡＢ１２) into ASCII.
    text = unicodedata.normalize("NFKC", raw).translate(_TRADITIONAL).upper()
    chars = "".join(ch for ch in text if ch not in _SEPARATORS and not ch.isspace())
    if not chars:
        _fail("empty", "the plate is empty", raw)
    if len(chars) > 12:
        _fail("bad_length", "too long for a plate", raw)
    province, rest = chars[0], chars[1:]
    if province in _NOT_CIVIL or any(ch in _NOT_CIVIL for ch in rest):
        _fail("not_civil", "police, embassy and Hong Kong/Macau plates are not civil", raw)
    if province not in PROVINCES:
        if province.isascii():
            _fail("missing_province", "the plate must start with a province character", raw)
        _fail("unknown_province", f"{province!r} is not a province abbreviation", raw)
    if not rest:
        _fail("bad_length", "the issuing-authority letter and serial are missing", raw)
    authority, serial = rest[0], rest[1:]
    if not ("A" <= authority <= "Z"):
        _fail(
            "authority_not_letter",
            f"the character after the province must be a letter, got {authority!r}",
            raw,
        )
    if len(serial) == 5:
        return _five(province, authority, serial, raw)
    if len(serial) == 6:
        return _six(province, authority, serial, raw)
    _fail(
        "bad_length",
        f"expected 5 characters after {province}{authority} (6 for new-energy), got {len(serial)}",
        raw,
    )


def normalise_plate(raw: object) -> str:
    """The canonical spelling, e.g. ``" 京a 12345 "`` -> ``"京A·12345"``."""
    return parse_plate(raw).canonical


def _five(province: str, authority: str, serial: str, raw: str) -> Plate:
    kind = PlateKind.ORDINARY
    body = serial
    if serial[-1] == "学":
        kind, body = PlateKind.COACH, serial[:-1]
    elif serial[-1] == "挂":
        kind, body = PlateKind.TRAILER, serial[:-1]
    fixed = "".join(_alnum(ch, raw) for ch in body)
    return Plate(province, authority, fixed + serial[len(body) :], kind)


def _six(province: str, authority: str, serial: str, raw: str) -> Plate:
    first, last = serial[0], serial[-1]
    if first in _ENERGY_LETTERS and (last in _DIGITS or last in _AS_DIGIT):
        # Small: energy letter, one letter or digit, four digits.
        fixed = first + _alnum(serial[1], raw) + "".join(_digit(ch, raw) for ch in serial[2:])
        return Plate(province, authority, fixed, PlateKind.NEW_ENERGY_SMALL)
    if last in _ENERGY_LETTERS and (first in _DIGITS or first in _AS_DIGIT):
        # Large: five digits, energy letter.
        fixed = "".join(_digit(ch, raw) for ch in serial[:-1]) + last
        return Plate(province, authority, fixed, PlateKind.NEW_ENERGY_LARGE)
    _fail(
        "bad_new_energy",
        "a 6-character (new-energy) serial starts or ends with an energy letter "
        f"({''.join(sorted(_ENERGY_LETTERS))}), e.g. D12345 or 12345D",
        raw,
    )


def _alnum(ch: str, raw: str) -> str:
    if ch in _DIGITS or ch in _SERIAL_LETTERS:
        return ch
    if ch in _AS_DIGIT:
        return _AS_DIGIT[ch]
    _fail("bad_character", f"{ch!r} cannot appear in a plate serial", raw)


def _digit(ch: str, raw: str) -> str:
    if ch in _DIGITS:
        return ch
    if ch in _AS_DIGIT:
        return _AS_DIGIT[ch]
    _fail("bad_character", f"{ch!r} where the plate needs a digit", raw)


def _fail(reason: str, message: str, raw: object) -> NoReturn:
    raise InvalidPlate(f"invalid plate {raw!r}: {message}", reason=reason, field="plate")
