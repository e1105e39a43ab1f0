"""The identities a case form names, as comparable keys (pure): what the identity index
(:mod:`kuaichu.storage.caseindex`) stores and what the fraud rules (:mod:`kuaichu.fraud.rules`)
compare, so both spell a plate, a phone or an ID number the same way.

A key is ``(kind, value)``: ``plate`` (upper-case letters and digits, no separator: the form's
``京A·12345`` is ``京A12345``), ``id`` (the licence/ID number, upper-case, as the form stores
it: the index keeps the privacy level of the forms, no more), ``tel`` (the last 11 digits),
``insurer`` (:func:`kuaichu.insurers.model.normalise_name` of the party's insurer: stored as
text, not as a configured code, so a change of the ``--insurers`` setting needs no re-index).
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What an index row names. The first four belong to a party; the last two to the case."""

    PLATE = "plate"
    ID = "id"
    TEL = "tel"
    INSURER = "insurer"
    PLACE = "place"  # the declared place, "lat,lng" (repr floats: exact round trip)
    OCCURRED = "occurred"  # the declared accident time, Unix seconds (repr float)


PERSON_KINDS = (Kind.ID, Kind.TEL)
MATCH_KINDS = (Kind.PLATE, Kind.ID, Kind.TEL)  # what the repeat rules match on


def norm_plate(plate: str) -> str:
    return "".join(ch for ch in plate.upper() if ch.isalnum())


def norm_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-11:] if len(digits) >= 11 else ""


def norm_id(number: str) -> str:
    value = "".join(ch for ch in number.upper() if ch.isalnum())
    return value if len(value) >= 6 else ""


def party_keys(plate: str, licence_no: str, phone: str) -> list[tuple[Kind, str]]:
    """The matchable keys of one party (empty values left out)."""
    out = []
    for kind, value in (
        (Kind.PLATE, norm_plate(plate)),
        (Kind.ID, norm_id(licence_no)),
        (Kind.TEL, norm_phone(phone)),
    ):
        if value:
            out.append((kind, value))
    return out
