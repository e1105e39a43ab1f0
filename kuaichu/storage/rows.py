"""Typed rows of the case tables, as they cross from the store to the services and edges.

TypedDicts where a caller reads the row like the mapping it was (``row["status"]``) and
passes it on to JSON; frozen dataclasses for the read models the store builds itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict


class CaseRow(TypedDict):
    """One ``cases`` row; ``status`` is the cached :class:`~kuaichu.cases.states.CaseState`."""

    id: str
    created_at: float
    status: str
    reporter_phone: str | None
    lat: float | None
    lng: float | None
    accuracy: float | None


class CallRow(TypedDict):
    """One ``calls`` row."""

    id: str
    case_id: str
    state: str
    queued_at: float
    answered_at: float | None
    ended_at: float | None
    end_reason: str | None
    officer_id: int | None
    lat: float | None
    lng: float | None
    accuracy: float | None
    video_codec: str | None


class RecordingRow(TypedDict):
    """One ``recordings`` row with the case its call belongs to now."""

    id: int
    call_id: str
    case_id: str
    path: str
    sha256: str
    size_bytes: int
    duration_s: float
    started_at: float
    ended_at: float
    streams: str


class CallRecording(TypedDict):
    """One ``recordings`` row as a call lists it, ``streams`` decoded."""

    id: int
    call_id: str
    path: str
    sha256: str
    size_bytes: int
    duration_s: float
    started_at: float
    ended_at: float
    streams: list[str]


class CallInfo(CallRow):
    """A call's row with its recordings and its case's row (``GET /api/calls/{id}``)."""

    recordings: list[CallRecording]
    case: CaseRow | None


class AuditRow(TypedDict):
    """One ``case_audit`` row as stored (``when`` the aware ISO time, ``detail`` JSON)."""

    case_id: str
    seq: int
    who: str
    when: str
    what: str
    from_state: str | None
    to_state: str
    detail: str


class VerificationCheck(TypedDict):
    """A party's latest registry check: the facts asked, the registry's answer
    (:meth:`~kuaichu.verification.VerificationResult.to_dict`), when and by whom."""

    registry: str
    facts: dict[str, Any]
    result: dict[str, Any]
    checked_at: float
    checked_by: str


@dataclass(frozen=True)
class NotifiedCase:
    """A notified case as the review window sees it: the latest delivery of its
    determination, and whether its one review was already used."""

    case_id: str
    created_at: float
    delivered_at: datetime | None
    review_used: bool


@dataclass(frozen=True)
class ReviewRequest:
    """A case waiting for a supervisor's review decision, with its request."""

    case_id: str
    party: str | None
    reason: str | None
    requested_at: datetime
