"""The fraud signals (打击骗保) as pure rules over the facts of cases: no I/O, no clock.

A signal is a reason to look closer, never a finding: the officer, the supervisor and the
insurer see each with what triggered it. The rules:

* ``repeat_plate`` — a vehicle of this case was declared in another case within the window;
* ``repeat_person`` — a party (licence/ID number or phone) was a party in another case within
  the window;
* ``repeat_pair`` — two parties of this case (by person or plate) were together in at least
  ``pair_min - 1`` other cases within the window: the same people keep colliding;
* ``gps_far`` — the phone's position at the report is more than ``gps_km`` from the place the
  case declares;
* ``plate_mismatch`` — a plate read from the video or a photo is none of the declared ones;
* ``photo_time`` / ``photo_gps`` — a photo's EXIF time is more than ``photo_minutes`` from the
  accident (or the report), or its EXIF position more than ``gps_km`` from the declared place.

:func:`flag_cases` computes every case of a batch against the others in one pass with
indexes, so the supervisor's list of a window's cases costs one load and one pass (run in a
thread by :mod:`.service`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Final

from ..cases.identity import norm_id, norm_phone, norm_plate

WARNING: Final = "warning"
INFO: Final = "info"
EARTH_KM: Final = 6371.0


@dataclass(frozen=True)
class Policy:
    """The thresholds (settings ``--fraud-*``)."""

    window_days: float = 90.0
    pair_min: int = 2
    gps_km: float = 2.0
    photo_minutes: float = 120.0


@dataclass(frozen=True)
class PartyFacts:
    key: str
    plate: str = ""
    licence_no: str = ""
    phone: str = ""


@dataclass(frozen=True)
class PhotoFacts:
    capture_id: int
    taken_at: float | None = None  # EXIF, Unix seconds
    lat: float | None = None
    lng: float | None = None


@dataclass(frozen=True)
class PlateReading:
    capture_id: int
    plate: str  # canonical, as the reader proposed it
    source: str = ""  # video_frame, phone_still, photo…


@dataclass(frozen=True)
class CaseFacts:
    """What the rules look at in one case."""

    case_id: str
    created_at: float
    report_lat: float | None = None
    report_lng: float | None = None
    declared_lat: float | None = None
    declared_lng: float | None = None
    occurred_at: float | None = None
    parties: tuple[PartyFacts, ...] = ()
    photos: tuple[PhotoFacts, ...] = ()
    readings: tuple[PlateReading, ...] = ()


@dataclass(frozen=True)
class Flag:
    code: str
    severity: str
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "detail": dict(self.detail),
        }


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


# The index (kuaichu.storage.caseindex) stores the keys these spell: one normalisation.
_norm_plate = norm_plate
_norm_phone = norm_phone
_norm_id = norm_id


def identities(party: PartyFacts) -> tuple[set[str], set[str]]:
    """A party's person keys (``id:…``, ``tel:…``) and vehicle keys (``plate:…``)."""
    people = set()
    if _norm_id(party.licence_no):
        people.add("id:" + _norm_id(party.licence_no))
    if _norm_phone(party.phone):
        people.add("tel:" + _norm_phone(party.phone))
    plates = {"plate:" + _norm_plate(party.plate)} if _norm_plate(party.plate) else set()
    return people, plates


def _mask(key: str) -> str:
    # What a flag shows of a person key: enough to recognise, not the whole number.
    kind, _, value = key.partition(":")
    if kind == "plate":
        return value
    return f"{kind}:{value[:3]}…{value[-4:]}" if len(value) > 7 else f"{kind}:…"


class _Index:
    """Which cases each identity and each pair of parties appears in."""

    def __init__(self, cases: Iterable[CaseFacts]) -> None:
        self.by_key: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.by_pair: dict[frozenset[str], list[tuple[str, float]]] = defaultdict(list)
        for case in cases:
            for key in _case_keys(case):
                self.by_key[key].append((case.case_id, case.created_at))
            for pair in _pairs(case):
                self.by_pair[pair].append((case.case_id, case.created_at))


def _party_keys(case: CaseFacts) -> list[set[str]]:
    out = []
    for party in case.parties:
        people, plates = identities(party)
        out.append(people | plates)
    return out


def _case_keys(case: CaseFacts) -> set[str]:
    return set().union(*_party_keys(case)) if case.parties else set()


def _pairs(case: CaseFacts) -> set[frozenset[str]]:
    """Unordered pairs of two parties' identities (each pair of keys across two parties)."""
    out: set[frozenset[str]] = set()
    for a, b in combinations(_party_keys(case), 2):
        for ka in a:
            for kb in b:
                if ka != kb:
                    out.add(frozenset((ka, kb)))
    return out


def _within(items: Sequence[tuple[str, float]], case: CaseFacts, window_s: float) -> list[str]:
    return sorted(
        {cid for cid, at in items if cid != case.case_id and abs(at - case.created_at) <= window_s}
    )


def flag_case(case: CaseFacts, index: _Index, policy: Policy) -> list[Flag]:
    """Every signal of ``case`` against the cases ``index`` holds."""
    flags: list[Flag] = []
    window_s = policy.window_days * 86400
    for party, keys in zip(case.parties, _party_keys(case), strict=True):
        # One flag per party and kind: the vehicle, and the person (by ID number and by
        # phone, whichever matched; both name the same person).
        for vehicle in (True, False):
            matched = sorted(k for k in keys if k.startswith("plate:") == vehicle)
            others_by_key = {k: _within(index.by_key.get(k, ()), case, window_s) for k in matched}
            hits = [k for k in matched if others_by_key[k]]
            if not hits:
                continue
            others = sorted({c for k in hits for c in others_by_key[k]})
            shown = ", ".join(_mask(k) for k in hits)
            flags.append(
                Flag(
                    "repeat_plate" if vehicle else "repeat_person",
                    WARNING,
                    (
                        f"vehicle {shown} of party {party.key} is in "
                        if vehicle
                        else f"party {party.key} ({shown}) is a party in "
                    )
                    + f"{len(others)} other case(s) within {policy.window_days:g} days",
                    {"party": party.key, "identity": shown, "cases": others[:20]},
                )
            )
    seen_pairs: set[tuple[str, ...]] = set()
    for pair in sorted(_pairs(case), key=sorted):
        others = _within(index.by_pair.get(pair, ()), case, window_s)
        if len(others) + 1 < policy.pair_min:
            continue
        label = tuple(sorted(_mask(k) for k in pair))
        together = tuple(others)
        if together in seen_pairs:
            continue  # the same cases found through another identity of the same two parties
        seen_pairs.add(together)
        flags.append(
            Flag(
                "repeat_pair",
                WARNING,
                f"{label[0]} and {label[1]} appear together in {len(others) + 1} cases "
                f"within {policy.window_days:g} days",
                {"identities": list(label), "cases": others[:20]},
            )
        )
    flags.extend(_place_and_photo_flags(case, policy))
    return flags


def _place_and_photo_flags(case: CaseFacts, policy: Policy) -> list[Flag]:
    flags: list[Flag] = []
    declared = (
        (case.declared_lat, case.declared_lng)
        if case.declared_lat is not None and case.declared_lng is not None
        else None
    )
    if declared and case.report_lat is not None and case.report_lng is not None:
        km = distance_km(case.report_lat, case.report_lng, *declared)
        if km > policy.gps_km:
            flags.append(
                Flag(
                    "gps_far",
                    WARNING,
                    f"the phone reported from {km:.1f} km away from the declared place",
                    {"km": round(km, 2), "limit_km": policy.gps_km},
                )
            )
    declared_plates = {_norm_plate(p.plate) for p in case.parties if _norm_plate(p.plate)}
    for reading in case.readings:
        if declared_plates and _norm_plate(reading.plate) not in declared_plates:
            flags.append(
                Flag(
                    "plate_mismatch",
                    WARNING,
                    f"plate {reading.plate} read from evidence #{reading.capture_id} is not a "
                    "declared plate",
                    {
                        "capture": reading.capture_id,
                        "read": reading.plate,
                        "source": reading.source,
                        "declared": sorted(p.plate for p in case.parties if p.plate),
                    },
                )
            )
    when = case.occurred_at if case.occurred_at is not None else case.created_at
    for photo in case.photos:
        if photo.taken_at is not None:
            minutes = abs(photo.taken_at - when) / 60
            if minutes > policy.photo_minutes:
                flags.append(
                    Flag(
                        "photo_time",
                        WARNING,
                        f"photo #{photo.capture_id} was taken {minutes:.0f} min from the "
                        "accident's time",
                        {"capture": photo.capture_id, "minutes": round(minutes)},
                    )
                )
        if declared and photo.lat is not None and photo.lng is not None:
            km = distance_km(photo.lat, photo.lng, *declared)
            if km > policy.gps_km:
                flags.append(
                    Flag(
                        "photo_gps",
                        WARNING,
                        f"photo #{photo.capture_id} was taken {km:.1f} km from the declared "
                        "place",
                        {"capture": photo.capture_id, "km": round(km, 2)},
                    )
                )
    return flags


def flag_cases(
    targets: Sequence[CaseFacts], population: Sequence[CaseFacts], policy: Policy
) -> dict[str, list[Flag]]:
    """The signals of each target against every case of ``population`` (which should hold
    the targets and every case within the window of any of them)."""
    index = _Index(population)
    return {case.case_id: flag_case(case, index, policy) for case in targets}
