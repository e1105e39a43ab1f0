"""Message schemas: pure validation of every client→server socket.io payload.

No I/O here. Each parser takes the raw decoded JSON and returns a typed value or raises
:class:`~kuaichu.errors.InvalidMessage` naming the field at fault.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidMessage, MessageTooLarge

MAX_SDP_BYTES = 32 * 1024
_CALL_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,18}$")


def check_size(data: Any, limit: int) -> None:
    # The JSON length is what the client sent, give or take escaping; good enough for a cap.
    try:
        size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        raise InvalidMessage("payload is not JSON") from None
    if size > limit:
        raise MessageTooLarge(f"message of {size} bytes exceeds the limit of {limit}", limit=limit)


def _obj(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidMessage("payload must be a JSON object")
    return data


def _allowed(data: dict[str, Any], *names: str) -> None:
    extra = set(data) - set(names)
    if extra:
        raise InvalidMessage(f"unexpected field(s): {', '.join(sorted(extra))}")


def _number(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidMessage(f"{name} must be a number")
    if not lo <= value <= hi:
        raise InvalidMessage(f"{name} must be between {lo} and {hi}")
    return float(value)


@dataclass(frozen=True)
class Location:
    lat: float
    lng: float
    accuracy: float | None = None

    def as_dict(self) -> dict[str, float]:
        out = {"lat": self.lat, "lng": self.lng}
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy
        return out


def parse_location(data: Any) -> Location:
    d = _obj(data)
    _allowed(d, "lat", "lng", "accuracy")
    if "lat" not in d or "lng" not in d:
        raise InvalidMessage("location needs lat and lng")
    accuracy = d.get("accuracy")
    return Location(
        lat=_number(d["lat"], "lat", -90, 90),
        lng=_number(d["lng"], "lng", -180, 180),
        accuracy=None if accuracy is None else _number(accuracy, "accuracy", 0, 1e6),
    )


@dataclass(frozen=True)
class Report:
    location: Location | None
    phone: str | None


def parse_report(data: Any) -> Report:
    d = _obj(data)
    _allowed(d, "location", "phone")
    location = parse_location(d["location"]) if d.get("location") is not None else None
    phone = d.get("phone")
    if phone is not None:
        if not isinstance(phone, str) or not _PHONE.match(phone.strip()):
            raise InvalidMessage("phone must be a phone number")
        phone = phone.strip()
    return Report(location, phone)


def parse_call_id(data: Any) -> str:
    d = _obj(data)
    _allowed(d, "call_id")
    call_id = d.get("call_id")
    if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
        raise InvalidMessage("call_id is missing or malformed")
    return call_id


def parse_resume(data: Any) -> tuple[str, str]:
    d = _obj(data)
    _allowed(d, "call_id", "resume_token")
    call_id = parse_call_id({"call_id": d.get("call_id")})
    token = d.get("resume_token")
    if not isinstance(token, str) or not 16 <= len(token) <= 64:
        raise InvalidMessage("resume_token is missing or malformed")
    return call_id, token


def parse_status(data: Any) -> str:
    d = _obj(data)
    _allowed(d, "status")
    status = d.get("status")
    if status not in ("available", "break"):
        raise InvalidMessage("status must be 'available' or 'break'")
    return str(status)


def parse_empty(data: Any) -> None:
    d = _obj(data)
    # Drivers' hang-up may carry the call id; it is implied by the socket.
    _allowed(d, "call_id", "reason")


@dataclass(frozen=True)
class SdpAnswer:
    sdp: str
    call_id: str | None


def parse_sdp_answer(data: Any, need_call_id: bool) -> SdpAnswer:
    d = _obj(data)
    _allowed(d, "type", "sdp", "call_id")
    if d.get("type") != "answer":
        raise InvalidMessage("type must be 'answer'")
    sdp = d.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise InvalidMessage("sdp must be an SDP text starting with v=0")
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise MessageTooLarge(f"SDP exceeds {MAX_SDP_BYTES} bytes")
    call_id = parse_call_id({"call_id": d.get("call_id")}) if need_call_id else None
    return SdpAnswer(sdp, call_id)
