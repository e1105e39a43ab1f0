"""Message schemas: pure validation of every client→server socket.io payload.

No I/O here. Each parser takes the raw decoded JSON and returns a typed value or raises
:class:`~kuaichu.errors.InvalidMessage` naming the field at fault.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..calls.ids import CALL_ID_RE
from ..cases.eligibility import EligibilityAnswers
from ..cases.form import mainland_mobile
from ..errors import InvalidMessage, MessageTooLarge

MAX_SDP_BYTES = 32 * 1024
# What Call mints (token_urlsafe): the token is compared with secrets.compare_digest, which
# raises TypeError on a non-ASCII str, so anything else is refused here.
_RESUME_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def check_size(data: Any, limit: int) -> None:
    """Refuse a payload whose JSON is over ``limit`` bytes, nested too deeply, or not JSON."""
    # The JSON length is what the client sent, give or take escaping; good enough for a cap.
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        # A lone surrogate (JSON's "\ud800") is not text: refused here, before any parser.
        size = len(text.encode())
    except UnicodeEncodeError:
        raise InvalidMessage("payload holds a lone surrogate, not Unicode text") from None
    except (TypeError, ValueError):
        raise InvalidMessage("payload is not JSON") from None
    except RecursionError:
        raise InvalidMessage("payload is nested too deeply") from None
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
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidMessage(f"{name} must be a number")
    # The range first, on the value as sent: float() of a huge JSON integer overflows, and a
    # NaN is never within a range (so it is refused here too).
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


# The driver's eligibility taps. Every answer is required: a page that leaves one out must
# not pass as "no" (the server re-checks them with kuaichu.cases.eligibility).
ELIGIBILITY_FIELDS = (
    "injuries",
    "vehicles_movable",
    "vehicle_to_vehicle",
    "all_insured",
    "cause",
    "unlicensed",
    "drunk_driving",
    "hit_and_run",
)
MAX_CAUSE_CHARS = 32


def parse_eligibility(data: Any) -> EligibilityAnswers:
    if not isinstance(data, dict):
        raise InvalidMessage("eligibility must be an object", field="eligibility")
    extra = set(data) - set(ELIGIBILITY_FIELDS)
    if extra:
        names = ", ".join(sorted(str(k)[:40] for k in extra)[:5])
        raise InvalidMessage(f"unexpected field(s) in eligibility: {names}", field="eligibility")
    missing = [name for name in ELIGIBILITY_FIELDS if name not in data]
    if missing:
        raise InvalidMessage(
            f"eligibility is missing {', '.join(missing)}", field=f"eligibility.{missing[0]}"
        )
    cause = data["cause"]
    # "other" is a legal answer (not one of the seven: refused as not eligible); anything
    # else outside the seven is a malformed message.
    if not isinstance(cause, str) or not 0 < len(cause) <= MAX_CAUSE_CHARS:
        raise InvalidMessage(
            'eligibility.cause must be one of the seven causes or "other"',
            field="eligibility.cause",
        )
    try:
        return EligibilityAnswers.parse(data)
    except InvalidMessage as exc:
        field = exc.detail.get("field")
        raise InvalidMessage(
            f"eligibility.{exc.message}", field=f"eligibility.{field}" if field else "eligibility"
        ) from None


@dataclass(frozen=True)
class Report:
    location: Location | None
    phone: str | None
    eligibility: EligibilityAnswers
    # The interrupted call this page held (call id, resume token): the report rejoins its
    # case (kuaichu.calls.center, docs/protocol.md).
    previous: tuple[str, str] | None = None


def parse_report(data: Any) -> Report:
    d = _obj(data)
    _allowed(d, "location", "phone", "eligibility", "previous")
    location = parse_location(d["location"]) if d.get("location") is not None else None
    phone = d.get("phone")
    if phone is not None:
        # The SMS progress link and a callback go to this number (issue 12): a mainland
        # mobile number, stored as its 11 digits.
        mobile = mainland_mobile(phone) if isinstance(phone, str) and len(phone) <= 20 else None
        if mobile is None:
            raise InvalidMessage(
                "phone must be a mainland mobile number (11 digits, 1[3-9]…)",
                field="phone",
                reason="phone_format",
            )
        phone = mobile
    if "eligibility" not in d:
        raise InvalidMessage(
            "report needs the eligibility answers (see docs/protocol.md)", field="eligibility"
        )
    previous = parse_resume(d["previous"]) if d.get("previous") is not None else None
    return Report(location, phone, parse_eligibility(d["eligibility"]), previous)


def parse_call_id(data: Any) -> str:
    d = _obj(data)
    _allowed(d, "call_id")
    call_id = d.get("call_id")
    # fullmatch: the pattern's "$" would let a trailing newline through.
    if not isinstance(call_id, str) or not CALL_ID_RE.fullmatch(call_id):
        raise InvalidMessage("call_id is missing or malformed")
    return call_id


def parse_resume(data: Any) -> tuple[str, str]:
    d = _obj(data)
    _allowed(d, "call_id", "resume_token")
    call_id = parse_call_id({"call_id": d.get("call_id")})
    token = d.get("resume_token")
    if not isinstance(token, str) or not _RESUME_TOKEN.fullmatch(token):
        raise InvalidMessage("resume_token is missing or malformed")
    return call_id, token


def parse_status(data: Any) -> str:
    d = _obj(data)
    _allowed(d, "status")
    status = d.get("status")
    if status not in ("available", "break"):
        raise InvalidMessage("status must be 'available' or 'break'")
    return str(status)


def parse_wrapup_hold(data: Any) -> bool:
    """issue 12: ``{"hold": true|false}``: the console's case work is open, or saved."""
    d = _obj(data)
    _allowed(d, "hold")
    hold = d.get("hold")
    if not isinstance(hold, bool):
        raise InvalidMessage("hold must be true or false")
    return hold


def parse_empty(data: Any) -> None:
    d = _obj(data)
    # Drivers' hang-up may carry the call id; it is implied by the socket.
    _allowed(d, "call_id", "reason")


MEDIA_RESTART_REASONS = ("disconnected", "failed")


def parse_media_restart(data: Any) -> str:
    """``{"reason": "disconnected" | "failed"}`` (the page's own connection state; issue 9)."""
    d = _obj(data)
    _allowed(d, "call_id", "reason")
    reason = d.get("reason")
    if reason not in MEDIA_RESTART_REASONS:
        raise InvalidMessage("reason must be 'disconnected' or 'failed'", field="reason")
    return str(reason)


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
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or not sdp.isascii():
        # SDP is ASCII in practice (RFC 8866 allows UTF-8 only in a few free-text fields
        # no browser fills), and aiortc's parser is not for fuzzing.
        raise InvalidMessage("sdp must be an SDP text starting with v=0")
    if len(sdp) > MAX_SDP_BYTES:
        raise MessageTooLarge(f"SDP exceeds {MAX_SDP_BYTES} bytes")
    call_id = parse_call_id({"call_id": d.get("call_id")}) if need_call_id else None
    return SdpAnswer(sdp, call_id)


def parse_capture(data: Any) -> tuple[str, str]:
    """``{"call_id", "kind"}`` for a capture or a phone-still request; the kind is checked
    against the list where the captures live."""
    d = _obj(data)
    _allowed(d, "call_id", "kind")
    call_id = parse_call_id({"call_id": d.get("call_id")})
    kind = d.get("kind")
    if not isinstance(kind, str) or not 0 < len(kind) <= 16:
        raise InvalidMessage("kind is missing or malformed", field="kind")
    return call_id, kind
