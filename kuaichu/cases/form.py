"""The case form (案件信息): what the officer fills in during and after the call.

Pure validation. The form is stored whole, as the JSON :meth:`CaseForm.to_dict` gives, with
a revision number; every save is an audit action listing the fields it changed
(:func:`changed_fields`), so the trail says who typed which plate when.

A field may be empty while the officer works; :func:`missing_for_information` lists what must
be there before "information collected" (the first of the two advertised timings), and the
liability fields are checked only when the determination is issued.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Final

from kuaichu.errors import InvalidMessage

from .eligibility import AccidentCause
from .errors import InvalidPlate
from .liability import Liability
from .plates import parse_plate

MAX_PARTIES: Final = 6
PARTY_KEYS: Final = tuple(string.ascii_uppercase[:MAX_PARTIES])
MAX_DESCRIPTION: Final = 2000
MAX_ADDRESS: Final = 200
MAX_NAME: Final = 32
MAX_FAULT: Final = 200
MAX_LEGAL_BASIS: Final = 1000
MAX_INSURER: Final = 64
MAX_POLICY: Final = 40
# An accident's year: no record before the service, none in a century's future (the domain
# has no clock; the officer sees the date they typed).
MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2099

# The registration categories an officer picks from (the names on a 行驶证).
VEHICLE_TYPES: Final[Mapping[str, str]] = {
    "small_car": "小型轿车",
    "small_bus": "小型普通客车",
    "small_van": "小型面包车",
    "small_truck": "轻型货车",
    "medium_bus": "中型客车",
    "large_bus": "大型客车",
    "heavy_truck": "重型货车",
    "tractor": "重型半挂牵引车",
    "other": "其他",
}

# A mainland mobile number: the SMS notices go there.
MOBILE_PATTERN: Final = r"^(?:\+?86)?(1[3-9]\d{9})$"
_MOBILE = re.compile(MOBILE_PATTERN)
# The shape of an ID number once typed to its end (the check character is id_number_valid's).
ID_NUMBER_SHAPE: Final = r"^\d{17}[\dX]$"
_POLICY = re.compile(r"^[A-Za-z0-9-]{4,40}$")


def mainland_mobile(text: str) -> str | None:
    """The 11 digits of a mainland mobile number (1[3-9] and nine more; spaces, dashes and a
    +86 prefix allowed), or None when ``text`` is not one."""
    match = _MOBILE.match(text.strip().replace(" ", "").replace("-", ""))
    return match.group(1) if match else None

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"


def id_number_valid(text: str) -> bool:
    """An 18-character resident ID number (GB 11643) with a correct check character. The
    driving-licence number is the holder's ID number."""
    if len(text) != 18 or not text[:17].isdigit() or text[17] not in "0123456789X":
        return False
    total = sum(int(ch) * w for ch, w in zip(text[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == text[17]


def mask_id_number(text: str) -> str:
    return text[:6] + "*" * 8 + text[-4:] if len(text) == 18 else "*" * len(text)


def _text(raw: Mapping[str, Any], name: str, limit: int, where: str) -> str:
    value = raw.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidMessage(f"{where}{name} must be text", field=f"{where}{name}")
    value = value.strip()
    if len(value) > limit:
        raise InvalidMessage(
            f"{where}{name} is too long ({len(value)} characters, at most {limit})",
            field=f"{where}{name}",
            limit=limit,
        )
    problem = text_problem(value)
    if problem:
        raise InvalidMessage(f"{where}{name} {problem}", field=f"{where}{name}")
    return value


# What a typed field never holds: C0 controls but line breaks and tabs, DEL and the C1
# controls; the bidirectional embeddings, overrides and isolates that make a plate or a name
# read differently from what is stored (U+202A–202E, U+2066–2069); and lone surrogates,
# which no UTF-8 text can hold (JSON's \ud800 escapes make them).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI: Final = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text in a record (a phrase to follow the field's
    name), or None. Chinese text, punctuation and line breaks are all fine."""
    if _SURROGATE.search(value):
        return "contains an unpaired surrogate (not valid Unicode text)"
    if _CONTROL.search(value):
        return "contains control characters"
    if _BIDI.search(value):
        return "contains text-direction control characters"
    return None


def only_keys(raw: Mapping[str, Any], names: tuple[str, ...], where: str) -> None:
    extra = sorted(str(k)[:40] for k in set(raw) - set(names))
    if extra:
        raise InvalidMessage(f"unexpected field(s) in {where or 'form'}: {', '.join(extra[:5])}")


@dataclass(frozen=True)
class Party:
    key: str
    reporter: bool = False
    name: str = ""
    phone: str = ""
    licence_no: str = ""
    plate: str = ""  # canonical, "京A·12345"
    vehicle_type: str = ""
    insurer: str = ""
    policy_no: str = ""
    fault: str = ""  # the fault behaviour, as it will read on the determination
    liability: Liability | None = None

    FIELDS: ClassVar[tuple[str, ...]] = (
        "key",
        "reporter",
        "name",
        "phone",
        "licence_no",
        "plate",
        "vehicle_type",
        "insurer",
        "policy_no",
        "fault",
        "liability",
    )

    @classmethod
    def parse(cls, raw: object, index: int) -> Party:
        where = f"parties[{index}]."
        if not isinstance(raw, Mapping):
            raise InvalidMessage(f"parties[{index}] must be an object", field=f"parties[{index}]")
        only_keys(raw, cls.FIELDS, f"parties[{index}]")
        key = raw.get("key")
        if key not in PARTY_KEYS:
            raise InvalidMessage(
                f"{where}key must be one of {', '.join(PARTY_KEYS)}", field=f"{where}key"
            )
        phone = _text(raw, "phone", 20, where).replace(" ", "").replace("-", "")
        if phone:
            match = _MOBILE.match(phone)
            if match is None:
                raise InvalidMessage(
                    f"{where}phone must be a mainland mobile number (11 digits, 1…)",
                    field=f"{where}phone",
                )
            phone = match.group(1)
        licence = _text(raw, "licence_no", 18, where).upper()
        if licence and not id_number_valid(licence):
            raise InvalidMessage(
                f"{where}licence_no must be an 18-character ID number with a valid check character",
                field=f"{where}licence_no",
            )
        plate_raw = _text(raw, "plate", 16, where)
        plate = ""
        if plate_raw:
            try:
                plate = parse_plate(plate_raw).canonical
            except InvalidPlate as exc:
                raise InvalidPlate(
                    f"{where}plate: {exc.message}", **{**exc.detail, "field": f"{where}plate"}
                ) from None
        vehicle_type = _text(raw, "vehicle_type", 20, where)
        if vehicle_type and vehicle_type not in VEHICLE_TYPES:
            raise InvalidMessage(
                f"{where}vehicle_type must be one of {', '.join(VEHICLE_TYPES)}",
                field=f"{where}vehicle_type",
            )
        policy = _text(raw, "policy_no", MAX_POLICY, where).upper()
        if policy and not _POLICY.match(policy):
            raise InvalidMessage(
                f"{where}policy_no may hold letters, digits and '-' only",
                field=f"{where}policy_no",
            )
        liability_raw = raw.get("liability")
        liability = None
        if liability_raw not in (None, ""):
            try:
                # Only text reaches the parser: its message repr()s what it refuses.
                liability = Liability.parse(liability_raw if isinstance(liability_raw, str) else "")
            except InvalidMessage:
                raise InvalidMessage(
                    f"{where}liability must be full, major, equal, minor or none",
                    field=f"{where}liability",
                ) from None
        reporter = raw.get("reporter", False)
        if not isinstance(reporter, bool):
            raise InvalidMessage(f"{where}reporter must be true or false")
        return cls(
            key=str(key),
            reporter=reporter,
            name=_text(raw, "name", MAX_NAME, where),
            phone=phone,
            licence_no=licence,
            plate=plate,
            vehicle_type=vehicle_type,
            insurer=_text(raw, "insurer", MAX_INSURER, where),
            policy_no=policy,
            fault=_text(raw, "fault", MAX_FAULT, where),
            liability=liability,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "reporter": self.reporter,
            "name": self.name,
            "phone": self.phone,
            "licence_no": self.licence_no,
            "plate": self.plate,
            "vehicle_type": self.vehicle_type,
            "insurer": self.insurer,
            "policy_no": self.policy_no,
            "fault": self.fault,
            "liability": self.liability.value if self.liability else None,
        }


@dataclass(frozen=True)
class CaseForm:
    cause: AccidentCause | None = None
    occurred_at: datetime | None = None
    address: str = ""
    lat: float | None = None
    lng: float | None = None
    description: str = ""
    legal_basis: str = ""
    parties: tuple[Party, ...] = field(default_factory=tuple)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "cause",
        "occurred_at",
        "address",
        "lat",
        "lng",
        "description",
        "legal_basis",
        "parties",
    )

    @classmethod
    def parse(cls, raw: object) -> CaseForm:
        if not isinstance(raw, Mapping):
            raise InvalidMessage("form must be an object", field="form")
        only_keys(raw, cls.FIELDS, "")
        cause_raw = raw.get("cause")
        cause = None
        if cause_raw not in (None, ""):
            try:
                # Not str(): a deeply nested value's repr raises RecursionError.
                cause = AccidentCause(cause_raw if isinstance(cause_raw, str) else "")
            except ValueError:
                raise InvalidMessage(
                    f"cause must be one of {', '.join(AccidentCause)}", field="cause"
                ) from None
        occurred_raw = raw.get("occurred_at")
        occurred = None
        if occurred_raw not in (None, ""):
            try:
                if not isinstance(occurred_raw, str):
                    raise ValueError(occurred_raw)
                occurred = datetime.fromisoformat(occurred_raw[:40])
            except ValueError:
                raise InvalidMessage(
                    "occurred_at must be an ISO date and time", field="occurred_at"
                ) from None
            if occurred.tzinfo is None:
                raise InvalidMessage("occurred_at needs a UTC offset (+08:00)", field="occurred_at")
            if not MIN_YEAR <= occurred.year <= MAX_YEAR:
                raise InvalidMessage(
                    f"occurred_at must be in the years {MIN_YEAR}–{MAX_YEAR}", field="occurred_at"
                )
        lat, lng = raw.get("lat"), raw.get("lng")
        if (lat is None) != (lng is None):
            raise InvalidMessage("lat and lng go together", field="lat")
        if lat is not None:
            for name, value, bound in (("lat", lat, 90), ("lng", lng, 180)):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InvalidMessage(f"{name} must be a number", field=name)
                if not -bound <= value <= bound:
                    raise InvalidMessage(f"{name} is out of range", field=name)
        parties_raw = raw.get("parties", [])
        if not isinstance(parties_raw, list):
            raise InvalidMessage("parties must be a list", field="parties")
        if len(parties_raw) > MAX_PARTIES:
            raise InvalidMessage(f"at most {MAX_PARTIES} parties", field="parties")
        parties = tuple(Party.parse(item, i) for i, item in enumerate(parties_raw))
        keys = [p.key for p in parties]
        if len(set(keys)) != len(keys):
            raise InvalidMessage("two parties have the same key", field="parties")
        plates = [p.plate for p in parties if p.plate]
        if len(set(plates)) != len(plates):
            raise InvalidMessage("two parties have the same plate", field="parties")
        return cls(
            cause=cause,
            occurred_at=occurred,
            address=_text(raw, "address", MAX_ADDRESS, ""),
            lat=None if lat is None else float(lat),
            lng=None if lng is None else float(lng),
            description=_text(raw, "description", MAX_DESCRIPTION, ""),
            legal_basis=_text(raw, "legal_basis", MAX_LEGAL_BASIS, ""),
            parties=tuple(sorted(parties, key=lambda p: p.key)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause.value if self.cause else None,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "address": self.address,
            "lat": self.lat,
            "lng": self.lng,
            "description": self.description,
            "legal_basis": self.legal_basis,
            "parties": [p.to_dict() for p in self.parties],
        }

    def party(self, key: str) -> Party | None:
        return next((p for p in self.parties if p.key == key), None)

    def next_key(self) -> str:
        used = {p.key for p in self.parties}
        for key in PARTY_KEYS:
            if key not in used:
                return key
        raise InvalidMessage(f"a case has at most {MAX_PARTIES} parties", field="parties")

    def with_party(self, party: Party) -> CaseForm:
        others = [p for p in self.parties if p.key != party.key]
        return replace(self, parties=tuple(sorted([*others, party], key=lambda p: p.key)))

    def liabilities(self) -> dict[str, Liability]:
        """The liabilities as filled in; a party without one is reported by the consistency
        check's caller, not silently taken as none."""
        missing = [p.key for p in self.parties if p.liability is None]
        if missing:
            raise InvalidMessage(
                f"no liability chosen for party {', '.join(missing)}",
                field=f"parties.{missing[0]}.liability",
                parties=missing,
            )
        return {p.key: p.liability for p in self.parties if p.liability is not None}


def initial_form(
    phone: str | None,
    cause: AccidentCause | None,
    occurred_at: datetime,
    lat: float | None,
    lng: float | None,
) -> CaseForm:
    """What the report already tells us: the caller is party A, the cause they tapped, when
    and where (GPS from the phone)."""
    match = _MOBILE.match(phone.replace(" ", "").replace("-", "")) if phone else None
    return CaseForm(
        cause=cause,
        occurred_at=occurred_at,
        lat=lat,
        lng=lng,
        parties=(Party(key="A", reporter=True, phone=match.group(1) if match else ""),),
    )


# Required before "information collected": what the determination and the insurer need.
_PARTY_REQUIRED: Final = ("name", "phone", "licence_no", "plate", "vehicle_type")


def missing_for_information(form: CaseForm) -> list[str]:
    """The fields still empty that the information step needs, as form paths."""
    missing: list[str] = []
    if form.cause is None:
        missing.append("cause")
    if form.occurred_at is None:
        missing.append("occurred_at")
    if not form.address and form.lat is None:
        missing.append("address")
    if len(form.parties) < 2:
        missing.append("parties")  # vehicle-to-vehicle only: at least two
    for party in form.parties:
        values = party.to_dict()
        missing.extend(
            f"parties.{party.key}.{name}" for name in _PARTY_REQUIRED if not values[name]
        )
    return missing


def changed_fields(before: CaseForm, after: CaseForm) -> list[str]:
    """Form paths whose value differs (party fields as ``parties.B.plate``), for the audit
    trail. Values are not copied into the trail: it says what changed, the form says to what."""
    old, new = before.to_dict(), after.to_dict()
    changed = [name for name in CaseForm.FIELDS if name != "parties" and old[name] != new[name]]
    old_parties = {p["key"]: p for p in old["parties"]}
    new_parties = {p["key"]: p for p in new["parties"]}
    for key in sorted(set(old_parties) | set(new_parties)):
        if key not in new_parties:
            changed.append(f"parties.{key}(removed)")
        elif key not in old_parties:
            changed.append(f"parties.{key}(added)")
        else:
            changed.extend(
                f"parties.{key}.{name}"
                for name in Party.FIELDS
                if old_parties[key][name] != new_parties[key][name]
            )
    return changed
