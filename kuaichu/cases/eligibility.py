"""Who may use the video channel: the driver's answers, the service hours and the service area.

Everything here is pure. The configuration (hours, areas) is parsed once at start-up into
frozen objects; :func:`check_eligibility` then answers in microseconds for each driver.

The result names *every* rule the accident breaks, in a fixed priority order, and the first
one decides what the driver is told: safety before law enforcement before channel limits.
Someone injured must hear "call 120 and 122" even if the other car was also uninsured.

This module owns the answers, the causes and the check; the hours live in
:mod:`.service_hours` and the area in :mod:`.service_area`. All three are imported from here
(``__all__``): this is the eligibility rules' public surface.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from kuaichu.errors import InvalidMessage

from .errors import NotEligible
from .service_area import (
    MAX_FEATURES,
    MAX_VERTICES,
    AreaFeature,
    AreaPolygon,
    BBox,
    GeoPoint,
    Ring,
    ServiceArea,
    service_area_from_geojson,
    service_area_from_json,
)
from .service_hours import WEEKDAYS, ServiceHours

__all__ = [
    "MAX_FEATURES",
    "MAX_VERTICES",
    "WEEKDAYS",
    "AccidentCause",
    "Action",
    "Advice",
    "AreaFeature",
    "AreaPolygon",
    "BBox",
    "Eligibility",
    "EligibilityAnswers",
    "GeoPoint",
    "IneligibleReason",
    "Ring",
    "ServiceArea",
    "ServiceHours",
    "ServiceRules",
    "check_eligibility",
    "service_area_from_geojson",
    "service_area_from_json",
]


class AccidentCause(enum.StrEnum):
    """The seven common causes the video channel accepts (also the case form's accident type)."""

    REAR_END = "rear_end"
    LANE_CHANGE = "lane_change"
    FAILURE_TO_YIELD = "failure_to_yield"
    TRAFFIC_SIGNAL = "traffic_signal"
    WRONG_WAY = "wrong_way"
    REVERSING = "reversing"
    RED_LIGHT = "red_light"

    @property
    def zh(self) -> str:
        return _CAUSE_ZH[self]


_CAUSE_ZH: Final[dict[AccidentCause, str]] = {
    AccidentCause.REAR_END: "追尾",
    AccidentCause.LANE_CHANGE: "变道",
    AccidentCause.FAILURE_TO_YIELD: "未让行",
    AccidentCause.TRAFFIC_SIGNAL: "违反交通标志标线或交警指挥",
    AccidentCause.WRONG_WAY: "逆行",
    AccidentCause.REVERSING: "倒车",
    AccidentCause.RED_LIGHT: "闯红灯",
}


class IneligibleReason(enum.StrEnum):
    """A rule the accident breaks."""

    # In priority order: the first that applies is what the driver is told.
    INJURIES = "injuries"
    HIT_AND_RUN = "hit_and_run"
    DRUNK_DRIVING = "drunk_driving"
    UNLICENSED = "unlicensed"
    NOT_VEHICLE_TO_VEHICLE = "not_vehicle_to_vehicle"
    NOT_MOVABLE = "not_movable"
    UNINSURED = "uninsured"
    OTHER_CAUSE = "other_cause"
    OUTSIDE_HOURS = "outside_hours"
    LOCATION_UNKNOWN = "location_unknown"
    OUTSIDE_AREA = "outside_area"


class Action(enum.StrEnum):
    """What the driver should do instead; the page turns it into a big button."""

    CALL_120_AND_122 = "call_120_and_122"
    CALL_122 = "call_122"
    ENABLE_LOCATION = "enable_location"


_ACTION: Final[dict[IneligibleReason, Action]] = {
    IneligibleReason.INJURIES: Action.CALL_120_AND_122,
    IneligibleReason.LOCATION_UNKNOWN: Action.ENABLE_LOCATION,
}

# What the driver reads for a reason is the pages' text (kuaichu/officer_ui/locales/*.json),
# under the key ``elig_<reason>`` that :attr:`Eligibility.advice` names; the causes' names are
# ``cause_<cause>`` there.


@dataclass(frozen=True)
class EligibilityAnswers:
    """The driver's taps. ``cause`` is ``None`` for "something else / not sure"."""

    injuries: bool
    vehicle_to_vehicle: bool
    vehicles_movable: bool
    all_insured: bool
    cause: AccidentCause | None
    unlicensed: bool = False
    drunk_driving: bool = False
    hit_and_run: bool = False

    @classmethod
    def parse(cls, raw: object) -> EligibilityAnswers:
        """Strictly from a client's JSON: booleans must be booleans, so a missing or
        stringly-typed answer ("false") is an error rather than a silent "yes"."""
        if not isinstance(raw, Mapping):
            raise InvalidMessage("eligibility answers must be an object")
        flags: dict[str, bool] = {}
        for name in ("injuries", "vehicle_to_vehicle", "vehicles_movable", "all_insured"):
            value = raw.get(name)
            if not isinstance(value, bool):
                raise InvalidMessage(f"{name} must be true or false", field=name)
            flags[name] = value
        for name in ("unlicensed", "drunk_driving", "hit_and_run"):
            value = raw.get(name, False)
            if not isinstance(value, bool):
                raise InvalidMessage(f"{name} must be true or false", field=name)
            flags[name] = value
        cause_raw = raw.get("cause")
        cause: AccidentCause | None = None
        if cause_raw is not None and cause_raw != "other":
            try:
                cause = AccidentCause(cause_raw)
            except ValueError:
                raise InvalidMessage(f"unknown cause {cause_raw!r}", field="cause") from None
        return cls(cause=cause, **flags)


@dataclass(frozen=True)
class Advice:
    """What the driver is told: the action's button and the page text's key with its values."""

    action: Action
    message_key: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Eligibility:
    """Every rule the accident breaks, in priority order; eligible when there is none."""

    reasons: tuple[IneligibleReason, ...]
    # When the area could not be checked (no location, and location is not required) the
    # officer must confirm the place on the call.
    area_checked: bool = True
    hours_text: str = ""
    next_open: datetime | None = None

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def reason(self) -> IneligibleReason | None:
        return self.reasons[0] if self.reasons else None

    @property
    def advice(self) -> Advice | None:
        reason = self.reason
        if reason is None:
            return None
        params: dict[str, str] = {}
        if reason is IneligibleReason.OUTSIDE_HOURS:
            params = {
                "hours": self.hours_text,
                "next_open": self.next_open.strftime("%Y-%m-%d %H:%M") if self.next_open else "-",
            }
        return Advice(_ACTION.get(reason, Action.CALL_122), f"elig_{reason.value}", params)

    def require(self) -> None:
        """Raise :class:`NotEligible` unless eligible: for the edge that queues a call, so
        a client skipping the page's checks still cannot get into the queue."""
        advice = self.advice
        if advice is not None:
            raise NotEligible(
                f"not eligible for video handling: {', '.join(self.reasons)}",
                reason=self.reasons[0].value,
                reasons=[r.value for r in self.reasons],
                action=advice.action.value,
                advice=advice.message_key,
                params=dict(advice.params),
            )


@dataclass(frozen=True)
class ServiceRules:
    """Local limits; ``None`` means "no limit configured"."""

    hours: ServiceHours | None = None
    area: ServiceArea | None = None
    # The driver page lets a driver without GPS go on (the officer asks for the place), so by
    # default an unknown location does not block; a city may insist.
    require_location: bool = False


def check_eligibility(
    answers: EligibilityAnswers,
    *,
    at: datetime,
    location: GeoPoint | None,
    rules: ServiceRules,
) -> Eligibility:
    reasons = list(_answer_reasons(answers))
    hours_text = ""
    next_open: datetime | None = None
    if rules.hours is not None and not rules.hours.is_open(at):
        reasons.append(IneligibleReason.OUTSIDE_HOURS)
        hours_text = rules.hours.describe(at)
        next_open = rules.hours.next_opening(at)
    area_checked = True
    if rules.area is not None:
        if location is None:
            area_checked = False
            if rules.require_location:
                reasons.append(IneligibleReason.LOCATION_UNKNOWN)
        elif not rules.area.contains(location):
            reasons.append(IneligibleReason.OUTSIDE_AREA)
    return Eligibility(tuple(reasons), area_checked, hours_text, next_open)


def _answer_reasons(answers: EligibilityAnswers) -> Iterable[IneligibleReason]:
    R = IneligibleReason
    if answers.injuries:
        yield R.INJURIES
    if answers.hit_and_run:
        yield R.HIT_AND_RUN
    if answers.drunk_driving:
        yield R.DRUNK_DRIVING
    if answers.unlicensed:
        yield R.UNLICENSED
    if not answers.vehicle_to_vehicle:
        yield R.NOT_VEHICLE_TO_VEHICLE
    if not answers.vehicles_movable:
        yield R.NOT_MOVABLE
    if not answers.all_insured:
        yield R.UNINSURED
    if answers.cause is None:
        yield R.OTHER_CAUSE
