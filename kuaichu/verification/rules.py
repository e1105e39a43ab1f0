"""The local registry's verdict rules: pure functions of the records found and the accident
date (:func:`judge_licence`, :func:`judge_vehicle`, :func:`judge_insurance`, :func:`judge`),
so the HTTP stand-in upstream (:func:`~kuaichu.verification.remote.make_registry_app` over the
local registry) answers exactly as the local registry does.

What the registry holds is the *current* state: a licence suspended today reads as suspended
for an accident last week. The officer's decision covers that case like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from kuaichu.cases.errors import InvalidPlate
from kuaichu.cases.form import VEHICLE_TYPES, id_number_valid
from kuaichu.cases.plates import normalise_plate

from .model import Item, ItemResult, ItemStatus, PartyFacts, Reason, VerificationResult
from .records import (
    LICENCE_CLASSES,
    REQUIRED_CLASS,
    SOURCE,
    LicenceRecord,
    LicenceStatus,
    PolicyKind,
    PolicyRecord,
    VehicleRecord,
    VehicleStatus,
    split_classes,
)

_TYPE_KEYS: Final = {label: key for key, label in VEHICLE_TYPES.items()}


def same_name(a: str, b: str) -> bool:
    """Names compare after removing all whitespace (an ASCII or ideographic space typed
    between surname and given name is not a different person)."""
    return "".join(a.split()) == "".join(b.split())


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _result(
    item: Item, status: ItemStatus, reason: Reason | None, detail: Mapping[str, Any] | None = None
) -> ItemResult:
    return ItemResult(item, status, None if reason is None else reason.value, detail or {}, SOURCE)


def judge_licence(
    record: LicenceRecord | None,
    name: str | None,
    on: date,
    vehicle_type: str | None = None,
) -> ItemResult:
    """The licence verdict. Order of reasons: the name first (a record that is not this
    person's says nothing about them), then the status, then the dates, then whether the
    class allows the party's vehicle."""
    if record is None:
        return _result(Item.LICENCE, ItemStatus.NOT_FOUND, Reason.NOT_REGISTERED)
    classes = split_classes(record.licence_class) or []
    allowed = frozenset().union(*(LICENCE_CLASSES[c] for c in classes))
    needed = REQUIRED_CLASS.get(vehicle_type or "")
    detail: dict[str, Any] = {
        "licence_class": record.licence_class,
        "first_issued": _iso(record.first_issued),
        "valid_from": _iso(record.valid_from),
        "valid_until": _iso(record.valid_until),  # None: long-term
        "status": record.status.value,
        "name_checked": name is not None,
    }
    if needed is not None:
        detail["vehicle_needs"] = sorted(needed)
    reason: Reason | None = None
    if name is not None and not same_name(name, record.name):
        reason = Reason.NAME_MISMATCH
    elif record.status is LicenceStatus.REVOKED:
        reason = Reason.REVOKED
    elif record.status is LicenceStatus.SUSPENDED:
        reason = Reason.SUSPENDED
    elif record.valid_until is not None and on > record.valid_until:
        reason = Reason.EXPIRED
    elif on < record.valid_from:
        reason = Reason.NOT_YET_VALID
    elif needed is not None and not (needed & allowed):
        reason = Reason.CLASS_MISMATCH
    status = ItemStatus.VALID if reason is None else ItemStatus.INVALID
    return _result(Item.LICENCE, status, reason, detail)


def judge_vehicle(record: VehicleRecord | None, name: str | None, on: date) -> ItemResult:
    """The vehicle verdict: its status first, then the inspection date."""
    if record is None:
        return _result(Item.VEHICLE, ItemStatus.NOT_FOUND, Reason.NOT_REGISTERED)
    detail: dict[str, Any] = {
        "plate": record.plate,
        "plate_colour": record.plate_colour.value,
        "vehicle_type": record.vehicle_type,
        # The case form's key for the type ("small_car"), so it can be filled in directly.
        "vehicle_type_key": _TYPE_KEYS.get(record.vehicle_type, "other"),
        "brand_model": record.brand_model,
        "body_colour": record.body_colour,
        "vin": record.vin,
        "registered_on": _iso(record.registered_on),
        "inspection_valid_until": _iso(record.inspection_valid_until),
        "status": record.status.value,
        # Driving someone else's car is lawful; the officer may still want to know.
        "owner_is_party": None if name is None else same_name(name, record.owner_name),
    }
    reason: Reason | None = {
        VehicleStatus.STOLEN: Reason.STOLEN,
        VehicleStatus.SCRAPPED: Reason.SCRAPPED,
        VehicleStatus.SEIZED: Reason.SEIZED,
        VehicleStatus.NORMAL: None,
    }[record.status]
    if reason is None and on > record.inspection_valid_until:
        reason = Reason.INSPECTION_OVERDUE
    status = ItemStatus.VALID if reason is None else ItemStatus.INVALID
    return _result(Item.VEHICLE, status, reason, detail)


def _policy_detail(p: PolicyRecord) -> dict[str, Any]:
    return {
        "insurer": p.insurer,
        "policy_no": p.policy_no,
        "kind": p.kind.value,
        "valid_from": _iso(p.valid_from),
        "valid_until": _iso(p.valid_until),
    }


def judge_insurance(policies: Iterable[PolicyRecord], vehicle_known: bool, on: date) -> ItemResult:
    """Valid when a compulsory policy for the plate covers the accident date (both ends
    inclusive). Without any compulsory policy the verdict depends on whether the vehicle is
    known: a registered car without 交强险 is a finding (INVALID no_policy); an unknown plate
    is more likely mistyped (NOT_FOUND not_registered)."""
    compulsory = [p for p in policies if p.kind is PolicyKind.COMPULSORY]
    if not compulsory:
        if vehicle_known:
            return _result(Item.INSURANCE, ItemStatus.INVALID, Reason.NO_POLICY)
        return _result(Item.INSURANCE, ItemStatus.NOT_FOUND, Reason.NOT_REGISTERED)
    covering = [p for p in compulsory if p.valid_from <= on <= p.valid_until]
    if covering:
        best = max(covering, key=lambda p: (p.valid_until, p.policy_no))
        return _result(Item.INSURANCE, ItemStatus.VALID, None, _policy_detail(best))
    ended = [p for p in compulsory if p.valid_until < on]
    if ended:
        last = max(ended, key=lambda p: (p.valid_until, p.policy_no))
        return _result(
            Item.INSURANCE,
            ItemStatus.INVALID,
            Reason.POLICY_LAPSED,
            {**_policy_detail(last), "days_lapsed": (on - last.valid_until).days},
        )
    first = min(compulsory, key=lambda p: (p.valid_from, p.policy_no))
    return _result(
        Item.INSURANCE, ItemStatus.INVALID, Reason.POLICY_NOT_YET_VALID, _policy_detail(first)
    )


def clean_licence_no(raw: str | None) -> str | None:
    """The licence number without spaces, upper case; None if empty."""
    if raw is None:
        return None
    text = "".join(raw.split()).upper()
    return text or None


def clean_name(raw: str | None) -> str | None:
    """The name stripped; None if empty."""
    if raw is None:
        return None
    return raw.strip() or None


def judge(
    facts: PartyFacts,
    licence: LicenceRecord | None,
    vehicle: VehicleRecord | None,
    policies: Sequence[PolicyRecord],
    checked_at: datetime,
) -> VerificationResult:
    """All three verdicts from the records found for ``facts`` (looked up by the cleaned
    licence number and the canonical plate). Missing or malformed inputs are NOT_FOUND with
    ``missing_input``/``invalid_input``: nothing was looked up, so nothing is INVALID."""
    on = facts.accident_date
    name = clean_name(facts.name)
    licence_no = clean_licence_no(facts.licence_no)
    plate, plate_reason = canonical_plate(facts.plate)

    if licence_no is None:
        lic = _result(Item.LICENCE, ItemStatus.NOT_FOUND, Reason.MISSING_INPUT)
    elif not id_number_valid(licence_no):
        lic = _result(Item.LICENCE, ItemStatus.NOT_FOUND, Reason.INVALID_INPUT)
    else:
        lic = judge_licence(licence, name, on, vehicle.vehicle_type if vehicle else None)

    if plate is None:
        assert plate_reason is not None
        veh = _result(Item.VEHICLE, ItemStatus.NOT_FOUND, plate_reason)
        ins = _result(Item.INSURANCE, ItemStatus.NOT_FOUND, plate_reason)
    else:
        veh = judge_vehicle(vehicle, name, on)
        ins = judge_insurance(policies, vehicle is not None, on)
    return VerificationResult((lic, veh, ins), checked_at)


def canonical_plate(raw: str | None) -> tuple[str | None, Reason | None]:
    """The canonical plate to look up, or why there is none (missing or malformed input)."""
    if raw is None or not raw.strip():
        return None, Reason.MISSING_INPUT
    try:
        return normalise_plate(raw), None
    except InvalidPlate:
        return None, Reason.INVALID_INPUT
