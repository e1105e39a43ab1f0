"""What a registry check asks and answers: the facts of one party, a verdict per item.

Three items are checked for every party (核验人、车、保险): the driving licence, the vehicle and
the compulsory insurance (交强险) on the accident date. Each item gets one of four statuses;
every status other than ``valid`` needs the officer's explicit decision, whatever the reason.

Wire formats (``to_dict``/``from_dict``) are pure and strict: ``from_dict`` raises
:class:`~kuaichu.errors.InvalidMessage` on anything unexpected, which is how
:class:`~kuaichu.verification.remote.RemoteRegistry` tells a malformed upstream answer from a
real one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Protocol, runtime_checkable

from kuaichu.errors import InvalidMessage

MAX_TEXT: Final = 64
_REASON: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Item(enum.StrEnum):
    LICENCE = "licence"
    VEHICLE = "vehicle"
    INSURANCE = "insurance"


class ItemStatus(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"  # the registry knows the record and it fails a rule
    NOT_FOUND = "not_found"  # no record (or nothing to look up: reason says which)
    UNAVAILABLE = "unavailable"  # the registry could not answer


class Reason(enum.StrEnum):
    """The machine codes in :attr:`ItemResult.reason`. An upstream may send codes not listed
    here (``from_dict`` accepts any lower-case code); the console shows those verbatim."""

    # licence
    NAME_MISMATCH = "name_mismatch"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    CLASS_MISMATCH = "class_mismatch"  # 准驾车型 does not allow the party's vehicle
    # vehicle
    STOLEN = "stolen"
    SCRAPPED = "scrapped"
    SEIZED = "seized"
    INSPECTION_OVERDUE = "inspection_overdue"
    # insurance
    NO_POLICY = "no_policy"
    POLICY_LAPSED = "policy_lapsed"
    POLICY_NOT_YET_VALID = "policy_not_yet_valid"
    # any item
    NOT_REGISTERED = "not_registered"
    MISSING_INPUT = "missing_input"
    INVALID_INPUT = "invalid_input"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_ERROR = "upstream_error"


def _opt_text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"{name} must be text or null", field=name)
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise InvalidMessage(f"{name} is too long", field=name, limit=MAX_TEXT)
    return value or None


def _date(raw: object, name: str) -> date:
    # Exactly YYYY-MM-DD: fromisoformat alone would also take 20240501 and 2024-W18-3.
    if isinstance(raw, str) and len(raw) == 10 and raw[4] == raw[7] == "-":
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise InvalidMessage(f"{name} must be an ISO date (YYYY-MM-DD)", field=name)


def _only(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(str(k)[:40] for k in raw if k not in allowed)
    if extra:
        raise InvalidMessage(f"unexpected field(s) in {where}: {', '.join(extra[:5])}")


@dataclass(frozen=True)
class PartyFacts:
    """What the officer has for one party. ``plate`` is the canonical spelling
    :func:`kuaichu.cases.plates.normalise_plate` gives (``京A·12345``); registries normalise it
    again, so ``京A12345`` works too. ``None`` or blank means "not given"."""

    name: str | None
    licence_no: str | None
    plate: str | None
    accident_date: date

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "licence_no": self.licence_no,
            "plate": self.plate,
            "accident_date": self.accident_date.isoformat(),
        }

    @classmethod
    def from_dict(cls, raw: object) -> PartyFacts:
        if not isinstance(raw, Mapping):
            raise InvalidMessage("facts must be an object")
        _only(raw, ("name", "licence_no", "plate", "accident_date"), "facts")
        return cls(
            name=_opt_text(raw, "name"),
            licence_no=_opt_text(raw, "licence_no"),
            plate=_opt_text(raw, "plate"),
            accident_date=_date(raw.get("accident_date"), "accident_date"),
        )


@dataclass(frozen=True)
class ItemResult:
    item: Item
    status: ItemStatus
    reason: str | None  # a Reason value; None only for VALID
    detail: Mapping[str, Any]  # JSON-able: what the record says (class, insurer, policy_no ...)
    source: str  # "local" or "upstream"

    @property
    def valid(self) -> bool:
        return self.status is ItemStatus.VALID

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item.value,
            "status": self.status.value,
            "reason": None if self.reason is None else str(self.reason),
            "detail": dict(self.detail),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, raw: object) -> ItemResult:
        if not isinstance(raw, Mapping):
            raise InvalidMessage("an item result must be an object")
        _only(raw, ("item", "status", "reason", "detail", "source"), "item result")
        try:
            item = Item(str(raw.get("item")))
            status = ItemStatus(str(raw.get("status")))
        except ValueError:
            raise InvalidMessage("unknown item or status in an item result") from None
        reason = raw.get("reason")
        if reason is not None and not (isinstance(reason, str) and _REASON.match(reason)):
            raise InvalidMessage("an item result's reason must be a lower-case code or null")
        if reason is None and status is not ItemStatus.VALID:
            raise InvalidMessage(f"a {status.value} {item.value} needs a reason")
        detail = raw.get("detail", {})
        if not isinstance(detail, Mapping) or not all(isinstance(k, str) for k in detail):
            raise InvalidMessage("an item result's detail must be an object")
        source = raw.get("source", "upstream")
        if not isinstance(source, str) or not source or len(source) > 32:
            raise InvalidMessage("an item result's source must be short text")
        return cls(item, status, reason, dict(detail), source)


@dataclass(frozen=True)
class VerificationResult:
    """One check of one party: exactly one result per :class:`Item`, in Item order."""

    items: tuple[ItemResult, ...]
    checked_at: datetime  # aware

    def __post_init__(self) -> None:
        if self.checked_at.tzinfo is None:
            raise ValueError("checked_at must be aware")

    @property
    def needs_decision(self) -> tuple[Item, ...]:
        """Every item that is not VALID: the officer must decide on each explicitly."""
        return tuple(r.item for r in self.items if r.status is not ItemStatus.VALID)

    def get(self, item: Item) -> ItemResult:
        for r in self.items:
            if r.item is item:
                return r
        raise KeyError(item)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [r.to_dict() for r in self.items],
            "checked_at": self.checked_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, raw: object) -> VerificationResult:
        if not isinstance(raw, Mapping):
            raise InvalidMessage("a verification result must be an object")
        _only(raw, ("items", "checked_at"), "verification result")
        items_raw = raw.get("items")
        if not isinstance(items_raw, list):
            raise InvalidMessage("a verification result needs an items list")
        items = tuple(ItemResult.from_dict(r) for r in items_raw)
        if sorted(r.item for r in items) != sorted(Item):
            raise InvalidMessage("a verification result needs exactly one result per item")
        at_raw = raw.get("checked_at")
        try:
            checked_at = datetime.fromisoformat(at_raw) if isinstance(at_raw, str) else None
        except ValueError:
            checked_at = None
        if checked_at is None or checked_at.tzinfo is None:
            raise InvalidMessage("checked_at must be an ISO time with a UTC offset")
        order = list(Item)
        return cls(tuple(sorted(items, key=lambda r: order.index(r.item))), checked_at)


@runtime_checkable
class Registry(Protocol):
    """Where verdicts come from. ``verify`` never raises for registry trouble (a database
    error, an upstream that times out): the affected items come back UNAVAILABLE with a
    reason, so the officer can decide and the call goes on."""

    name: str

    async def verify(self, facts: PartyFacts) -> VerificationResult: ...

    async def close(self) -> None: ...


def unavailable(reason: Reason, source: str, at: datetime, **detail: Any) -> VerificationResult:
    """Every item UNAVAILABLE for one reason (the registry as a whole could not answer)."""
    items = (ItemResult(i, ItemStatus.UNAVAILABLE, reason.value, detail, source) for i in Item)
    return VerificationResult(tuple(items), at)
