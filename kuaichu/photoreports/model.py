"""The photo channel's vocabulary (pure): the guided shots, why video is not possible, a
report's states and settings, the driver's mobile number as typed."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypedDict

from ..cases.eligibility import ServiceRules
from ..cases.form import mainland_mobile
from ..errors import InvalidMessage


class Shot(enum.StrEnum):
    """The guided shots, in the order the page asks for them; each names its evidence kind
    (kuaichu.evidence.kinds)."""

    VEHICLES = "vehicles"  # both vehicles in one frame, as they stand
    DAMAGE = "damage"  # the collision points, close
    PLATE_A = "plate_a"  # the reporter's plate
    PLATE_B = "plate_b"  # the other vehicle's plate
    LICENCE_A = "licence_a"  # the reporter's driving licence
    LICENCE_B = "licence_b"  # the other driver's licence

    @property
    def kind(self) -> str:
        return _KINDS[self]


_KINDS: Final[dict[Shot, str]] = {
    Shot.VEHICLES: "parties",
    Shot.DAMAGE: "damage",
    Shot.PLATE_A: "plate",
    Shot.PLATE_B: "plate",
    Shot.LICENCE_A: "licence",
    Shot.LICENCE_B: "licence",
}
SHOTS: Final[tuple[str, ...]] = tuple(s.value for s in Shot)


class NoVideo(enum.StrEnum):
    """Why no officer can take a video call now: the reasons the photo path is offered."""

    OUTSIDE_HOURS = "outside_hours"  # server: the service hours
    NO_OFFICER = "no_officer"  # server: nobody on shift (all offline or on a break)
    QUEUE_FULL = "queue_full"  # server: the waiting queue at its cap
    WAIT_TOO_LONG = "wait_too_long"  # server (oldest waiting call) or the page (its own wait)
    POOR_NETWORK = "poor_network"  # the page: the phone's network cannot carry video


# What the page may say on its own (the server cannot see the phone's network or its wait).
PAGE_REASONS: Final = frozenset({NoVideo.POOR_NETWORK, NoVideo.WAIT_TOO_LONG})


class Status(enum.StrEnum):
    COLLECTING = "collecting"
    WAITING = "waiting"
    TAKEN = "taken"
    EXPIRED = "expired"  # never sent: void after PhotoConfig.draft_expire_seconds


@dataclass(frozen=True)
class PhotoConfig:
    """The photo channel's settings (kuaichu.settings, issue 13)."""

    enabled: bool = True
    queue_cap: int = 10
    max_wait_seconds: float = 600.0
    # A report whose photos were never sent is void after this long (0: never), and its
    # driver told so by SMS (:meth:`PhotoReports.expire_drafts`).
    draft_expire_seconds: float = 1800.0


@dataclass(frozen=True)
class NewReport:
    """A created photo report, as the page needs it."""

    call_id: str
    case_id: str
    token: str
    progress_token: str


class QueueItem(TypedDict):
    case_id: str
    status: str
    reason: str
    submitted_at: float | None
    age_s: int
    photos: int
    taken_by: int | None


def normalise_mobile(raw: object) -> str:
    """The driver's mobile number (11 digits), or InvalidMessage naming the field."""
    if not isinstance(raw, str) or len(raw) > 24:
        raise InvalidMessage("phone must be a mainland mobile number", field="phone")
    mobile = mainland_mobile(raw)  # spaces, dashes and +86 as people type them
    if mobile is None:
        raise InvalidMessage(
            "phone must be a mainland mobile number (11 digits, 1…)",
            field="phone",
            reason="bad_phone",
        )
    return mobile


def no_video_reasons(
    at: datetime,
    rules: ServiceRules,
    config: PhotoConfig,
    *,
    on_shift: int,
    waiting: int,
    longest_wait_s: float,
) -> list[NoVideo]:
    """Why no officer can take a video call now, from the queue's figures (pure): outside
    the service hours; nobody on shift (every officer offline or on a break); the waiting
    calls at the cap; the oldest waiting call past the maximum wait. Empty: video works."""
    reasons: list[NoVideo] = []
    if rules.hours is not None and not rules.hours.is_open(at):
        reasons.append(NoVideo.OUTSIDE_HOURS)
    if on_shift == 0:
        reasons.append(NoVideo.NO_OFFICER)
    if config.queue_cap > 0 and waiting >= config.queue_cap:
        reasons.append(NoVideo.QUEUE_FULL)
    if waiting and longest_wait_s >= config.max_wait_seconds:
        reasons.append(NoVideo.WAIT_TOO_LONG)
    return reasons
