"""Liability (责任) per party, and the rule that makes a set of them a possible determination.

The rule follows how Chinese road-traffic determinations are written (the national
procedure rules distinguish exactly these cases): a party whose fault alone caused the
accident bears full liability and every other party none; when two or more parties are at
fault, each at-fault party bears major, equal or minor liability according to how much their
behaviour contributed, and parties without fault bear none. On top of that the video channel
only takes accidents with one of seven fault behaviours as cause, so "nobody at fault" (a pure
交通意外) is not an outcome this product can issue: such a case goes to on-site handling.

Consistency, for 2..N parties (checked in this order, so the first broken rule is reported):

1. at least two parties;                                          ``too_few_parties``
2. at least one party at fault (not everyone none);               ``no_party_at_fault``
3. full liability only when that party is the only one at fault;  ``full_shared``
4. equal liability only among equals: every at-fault party equal; ``equal_mixed``
   and never a single equal party (equal to whom?);               ``equal_alone``
5. major needs at least one minor, and minor at least one major.  ``major_without_minor`` /
                                                                  ``minor_without_major``

So two parties allow exactly full+none, major+minor and equal+equal; three allow e.g.
full+none+none, major+minor+minor, major+major+minor, equal+equal+equal, equal+equal+none,
major+minor+none.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from kuaichu.errors import InvalidMessage

from .errors import InconsistentLiability


class Liability(enum.StrEnum):
    FULL = "full"
    MAJOR = "major"
    EQUAL = "equal"
    MINOR = "minor"
    NONE = "none"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def at_fault(self) -> bool:
        return self is not Liability.NONE

    @classmethod
    def parse(cls, value: object) -> Liability:
        """Accept the English code or the Chinese label (with or without 责任): forms and
        imported case files use both."""
        if isinstance(value, Liability):
            return value
        if isinstance(value, str):
            text = value.strip()
            by_code = _BY_CODE.get(text.lower())
            if by_code is not None:
                return by_code
            by_label = _BY_LABEL.get(text) or _BY_LABEL.get(text + "责任")
            if by_label is not None:
                return by_label
        raise InvalidMessage(
            f"unknown liability {value!r}; expected one of {', '.join(_BY_CODE)}",
            field="liability",
        )


_ZH: Final[dict[Liability, str]] = {
    Liability.FULL: "全部责任",
    Liability.MAJOR: "主要责任",
    Liability.EQUAL: "同等责任",
    Liability.MINOR: "次要责任",
    Liability.NONE: "无责任",
}
_BY_CODE: Final[dict[str, Liability]] = {item.value: item for item in Liability}
_BY_LABEL: Final[dict[str, Liability]] = {label: item for item, label in _ZH.items()}

# For the two-party form (by far the common case): picking one side fills in the other.
_COUNTERPART: Final[dict[Liability, Liability]] = {
    Liability.FULL: Liability.NONE,
    Liability.NONE: Liability.FULL,
    Liability.MAJOR: Liability.MINOR,
    Liability.MINOR: Liability.MAJOR,
    Liability.EQUAL: Liability.EQUAL,
}


def counterpart(liability: Liability) -> Liability:
    """The only liability the other party of a two-party accident can have."""
    return _COUNTERPART[liability]


def parties_at_fault(liabilities: Mapping[str, Liability]) -> list[str]:
    return sorted(party for party, item in liabilities.items() if item.at_fault)


def parse_liabilities(raw: object) -> dict[str, Liability]:
    """A ``{party: liability}`` mapping from a client or an audit detail, parsed strictly."""
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidMessage("liabilities must be a non-empty object", field="liabilities")
    out: dict[str, Liability] = {}
    for party, value in raw.items():
        if not isinstance(party, str) or not party.strip():
            raise InvalidMessage("party ids must be non-empty strings", field="liabilities")
        out[party] = Liability.parse(value)
    return out


def check_liabilities(liabilities: Mapping[str, Liability]) -> None:
    """Raise :class:`InconsistentLiability` unless the set is a possible determination.

    Only the multiset of liabilities decides, never which party holds which, so renaming or
    reordering parties cannot change the verdict (a property test holds us to that).
    """
    at_fault = parties_at_fault(liabilities)
    kinds = {item for item in liabilities.values() if item.at_fault}
    counts = {item: sum(1 for v in liabilities.values() if v is item) for item in Liability}

    def refuse(reason: str, message: str, named: list[str]) -> InconsistentLiability:
        return InconsistentLiability(
            message + (f" (at fault: {', '.join(named)})" if named else ""),
            reason=reason,
            parties_at_fault=at_fault,
            liabilities={party: item.value for party, item in sorted(liabilities.items())},
        )

    if len(liabilities) < 2:
        raise refuse("too_few_parties", "a determination needs at least two parties", at_fault)
    if not at_fault:
        raise refuse(
            "no_party_at_fault",
            "no party is at fault; an accident without fault is handled on site, not here",
            at_fault,
        )
    if Liability.FULL in kinds and len(at_fault) > 1:
        raise refuse(
            "full_shared",
            "full liability means no other party is at fault",
            at_fault,
        )
    if Liability.EQUAL in kinds and len(kinds) > 1:
        raise refuse(
            "equal_mixed",
            "equal liability cannot be combined with major or minor liability",
            at_fault,
        )
    if counts[Liability.EQUAL] == 1:
        raise refuse(
            "equal_alone", "equal liability needs at least two parties sharing it", at_fault
        )
    if counts[Liability.MAJOR] and not counts[Liability.MINOR]:
        raise refuse(
            "major_without_minor", "major liability needs a party with minor liability", at_fault
        )
    if counts[Liability.MINOR] and not counts[Liability.MAJOR]:
        raise refuse(
            "minor_without_major", "minor liability needs a party with major liability", at_fault
        )


def is_consistent(liabilities: Mapping[str, Liability]) -> bool:
    try:
        check_liabilities(liabilities)
    except InconsistentLiability:
        return False
    return True
