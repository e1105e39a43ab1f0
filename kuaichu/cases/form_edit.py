"""An officer's edit of the case form taken field by field (issue 12): every valid field
changes, every invalid one is named with its reason, and the form that results is whole."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import InvalidMessage
from .errors import InvalidPlate
from .form import MAX_PARTIES, CaseForm, Party, only_keys
from .plates import parse_plate


@dataclass(frozen=True)
class FieldError:
    """One field an edit could not take, for the console: where (``field`` as the request
    named it, ``parties[1].plate``; ``path`` by party key, ``parties.B.plate``), what kind of
    problem (``code``, machine-readable: ``too_long``, ``invalid_plate``, ``duplicate_plate``,
    ``invalid_value``) and the server's sentence."""

    field: str
    path: str
    code: str
    message: str
    limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field": self.field,
            "path": self.path,
            "code": self.code,
            "message": self.message,
        }
        if self.limit is not None:
            out["limit"] = self.limit
        return out


@dataclass(frozen=True)
class FormEdit:
    """An edit of the form as far as it could be taken: every valid field changed, every
    invalid one kept at its stored value and listed in ``errors``."""

    form: CaseForm
    errors: tuple[FieldError, ...]


def _field_error(exc: InvalidMessage, field_: str, path: str) -> FieldError:
    limit = exc.detail.get("limit")
    if isinstance(limit, int):
        code = "too_long"
    elif isinstance(exc, InvalidPlate):
        code = "invalid_plate"
    else:
        code = "invalid_value"
    return FieldError(field_, path, code, exc.message, limit if isinstance(limit, int) else None)


_TOP_FIELDS: Final = ("cause", "occurred_at", "address", "description", "legal_basis")


def _plate_changed(party: Mapping[str, Any], stored: CaseForm) -> bool:
    before = stored.party(str(party.get("key")))
    return before is None or (party.get("plate") or "") != before.plate


def parse_edit(raw: object, stored: CaseForm) -> FormEdit:
    """The officer's edit, field by field: a field that does not validate keeps its stored
    value and is reported, so one wrong plate neither blocks the autosave of the rest nor
    hides the other mistakes. What is not a form at all (not an object, unknown fields, a
    bad party key, two parties with one key) is still refused as a whole."""
    if not isinstance(raw, Mapping):
        raise InvalidMessage("form must be an object", field="form")
    only_keys(raw, CaseForm.FIELDS, "")
    parties_raw = raw.get("parties", [])
    if not isinstance(parties_raw, list):
        raise InvalidMessage("parties must be a list", field="parties")
    if len(parties_raw) > MAX_PARTIES:
        raise InvalidMessage(f"at most {MAX_PARTIES} parties", field="parties")
    errors: list[FieldError] = []
    base = stored.to_dict()
    good: dict[str, Any] = {}
    for name in _TOP_FIELDS:
        if name not in raw:
            continue
        try:
            CaseForm.parse({name: raw[name]})
            good[name] = raw[name]
        except InvalidMessage as exc:
            errors.append(_field_error(exc, name, name))
    if "lat" in raw or "lng" in raw:
        try:
            CaseForm.parse({"lat": raw.get("lat"), "lng": raw.get("lng")})
            good["lat"], good["lng"] = raw.get("lat"), raw.get("lng")
        except InvalidMessage as exc:
            where = str(exc.detail.get("field") or "lat")
            errors.append(_field_error(exc, where, where))
    parties: list[dict[str, Any]] = []
    for index, item in enumerate(parties_raw):
        if not isinstance(item, Mapping):
            raise InvalidMessage(f"parties[{index}] must be an object", field=f"parties[{index}]")
        only_keys(item, Party.FIELDS, f"parties[{index}]")
        key = item.get("key")
        Party.parse({"key": key}, index)  # a key that is not one refuses the whole edit
        before = stored.party(str(key))
        merged = before.to_dict() if before is not None else {"key": key}
        for name in Party.FIELDS[1:]:
            if name not in item:
                continue
            try:
                Party.parse({"key": key, name: item[name]}, index)
                merged[name] = item[name]
            except InvalidMessage as exc:
                errors.append(
                    _field_error(exc, f"parties[{index}].{name}", f"parties.{key}.{name}")
                )
        parties.append(merged)
    # The same plate twice: the party whose plate this edit changed does not get it (its
    # stored plate stays, or none if that one is taken too).
    def canonical(text: object) -> str:
        try:
            return parse_plate(text).canonical if isinstance(text, str) and text else ""
        except InvalidPlate:
            return ""

    taken: dict[str, str] = {}
    order = sorted(
        range(len(parties)),
        key=lambda i: _plate_changed(parties[i], stored),  # unchanged plates claim first
    )
    for index in order:
        party = parties[index]
        plate = canonical(party.get("plate"))
        if not plate:
            continue
        if plate not in taken:
            taken[plate] = str(party["key"])
            continue
        errors.append(
            FieldError(
                f"parties[{index}].plate",
                f"parties.{party['key']}.plate",
                "duplicate_plate",
                f"party {party['key']} has the same plate as party {taken[plate]}",
            )
        )
        before = stored.party(str(party["key"]))
        kept = before.plate if before is not None else ""
        party["plate"] = kept if kept and kept not in taken else ""
        if party["plate"]:
            taken[kept] = str(party["key"])
    base.update(good)
    base["parties"] = parties
    return FormEdit(CaseForm.parse(base), tuple(errors))
