"""Who may use the video channel: the driver's answers, the service hours and the service area.

Everything here is pure. The configuration (hours, areas) is parsed once at start-up into
frozen objects; :func:`check_eligibility` then answers in microseconds for each driver.

The result names *every* rule the accident breaks, in a fixed priority order, and the first
one decides what the driver is told: safety before law enforcement before channel limits.
Someone injured must hear "call 120 and 122" even if the other car was also uninsured.
"""

from __future__ import annotations

import enum
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kuaichu.errors import InvalidMessage

from .errors import InvalidServiceConfig, NotEligible


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
    AccidentCause.TRAFFIC_SIGNAL: "违反交通信号",
    AccidentCause.WRONG_WAY: "逆行",
    AccidentCause.REVERSING: "倒车",
    AccidentCause.RED_LIGHT: "闯红灯",
}


class IneligibleReason(enum.StrEnum):
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


class GeoPoint(NamedTuple):
    """WGS-84 longitude and latitude, in GeoJSON's order (longitude first)."""

    lon: float
    lat: float


@dataclass(frozen=True)
class Advice:
    action: Action
    message_key: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Eligibility:
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


# --- service hours ---------------------------------------------------------------------

_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_RE: Final = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")
_OFFSET_RE: Final = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class ServiceHours:
    """Opening windows per weekday (Monday first) as minutes of the local day, end exclusive.

    Windows do not cross midnight: a night service is two windows on two days.
    """

    zone: tzinfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]

    @classmethod
    def every_day(cls, opens: str, closes: str, zone: tzinfo) -> ServiceHours:
        window = _parse_window(f"{opens}-{closes}", "every_day")
        return cls(zone, tuple((window,) for _ in _WEEKDAYS))

    @classmethod
    def from_config(cls, raw: object) -> ServiceHours:
        """``{"timezone": "Asia/Shanghai", "default": "07:00-19:00", "sat": [], "sun":
        ["09:00-12:00", "13:00-17:00"]}``; a weekday without an entry gets ``default``, a
        configuration without ``default`` is closed on the days it does not name."""
        if not isinstance(raw, Mapping):
            raise InvalidServiceConfig("service hours must be an object", path="hours")
        unknown = set(raw) - {"timezone", "default", *_WEEKDAYS}
        if unknown:
            raise InvalidServiceConfig(
                f"unknown keys in service hours: {', '.join(sorted(map(str, unknown)))}",
                path="hours",
            )
        zone = _parse_zone(raw.get("timezone"))
        default = _parse_windows(raw.get("default", []), "hours.default")
        weekly = tuple(
            _parse_windows(raw[day], f"hours.{day}") if day in raw else default for day in _WEEKDAYS
        )
        return cls(zone, weekly)

    def is_open(self, at: datetime) -> bool:
        local = _local(at, self.zone)
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(start * 60 <= second < end * 60 for start, end in self.weekly[local.weekday()])

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else the start of the next window (``None``: never)."""
        if self.is_open(at):
            return at
        local = _local(at, self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.weekly[day.weekday()]:
                opening = datetime.combine(day, _clock(start), tzinfo=self.zone)
                if opening > local:
                    return opening
        return None

    def describe(self, at: datetime) -> str:
        """The windows of ``at``'s local day, for messages ("07:00–19:00", "closed")."""
        windows = self.weekly[_local(at, self.zone).weekday()]
        if not windows:
            return "closed"
        return ", ".join(f"{_hhmm(start)}–{_hhmm(end)}" for start, end in windows)


def _local(at: datetime, zone: tzinfo) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("times must be timezone-aware")
    return at.astimezone(zone)


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_zone(raw: object) -> tzinfo:
    if not isinstance(raw, str) or not raw:
        raise InvalidServiceConfig(
            "service hours need a timezone, e.g. Asia/Shanghai or +08:00", path="hours.timezone"
        )
    # A fixed offset works without a time-zone database (and China has no daylight saving).
    offset = _OFFSET_RE.match(raw)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        hours, minutes = int(offset.group(2)), int(offset.group(3))
        if hours > 14 or minutes >= 60:
            raise InvalidServiceConfig(f"bad UTC offset {raw!r}", path="hours.timezone")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidServiceConfig(f"unknown time zone {raw!r}", path="hours.timezone") from None


def _parse_windows(raw: object, path: str) -> tuple[tuple[int, int], ...]:
    items: Sequence[object]
    if isinstance(raw, str):
        items = [raw]
    elif isinstance(raw, list):
        items = raw
    else:
        raise InvalidServiceConfig(
            'opening hours must be "HH:MM-HH:MM" or a list of them', path=path
        )
    windows = sorted(_parse_window(item, f"{path}[{i}]") for i, item in enumerate(items))
    for (_s1, end1), (start2, _e2) in itertools.pairwise(windows):
        if start2 < end1:
            raise InvalidServiceConfig("opening windows overlap", path=path)
    return tuple(windows)


def _parse_window(raw: object, path: str) -> tuple[int, int]:
    match = _WINDOW_RE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidServiceConfig(f'expected "HH:MM-HH:MM", got {raw!r}', path=path)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 >= 60 or m2 >= 60 or start >= 24 * 60 or end > 24 * 60:
        raise InvalidServiceConfig(f"no such time of day in {raw!r}", path=path)
    if end <= start:
        raise InvalidServiceConfig(
            f"{raw!r} ends before it starts; split a night service at midnight", path=path
        )
    return start, end


# --- service area ----------------------------------------------------------------------

Ring = tuple[tuple[float, float], ...]
BBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

MAX_VERTICES: Final = 100_000
MAX_FEATURES: Final = 1_000


@dataclass(frozen=True)
class AreaPolygon:
    shell: Ring
    holes: tuple[Ring, ...]
    bbox: BBox

    def covers(self, point: GeoPoint) -> bool:
        """Closed polygon: points on the shell or on a hole's edge are covered, so two
        districts sharing a border leave no gap between them."""
        if not _in_bbox(self.bbox, point):
            return False
        if _ring_position(self.shell, point) < 0:
            return False
        return all(_ring_position(hole, point) <= 0 for hole in self.holes)


@dataclass(frozen=True)
class AreaFeature:
    name: str
    include: bool
    polygons: tuple[AreaPolygon, ...]

    def covers(self, point: GeoPoint) -> bool:
        return any(polygon.covers(point) for polygon in self.polygons)


@dataclass(frozen=True)
class ServiceArea:
    """Included features minus excluded ones (e.g. seven districts, two of them carved out)."""

    features: tuple[AreaFeature, ...]

    def district(self, point: GeoPoint) -> str | None:
        """The name of the included feature the point lies in, ``None`` when outside."""
        if any(f.covers(point) for f in self.features if not f.include):
            return None
        return next((f.name for f in self.features if f.include and f.covers(point)), None)

    def contains(self, point: GeoPoint) -> bool:
        return self.district(point) is not None


def service_area_from_json(text: str | bytes, *, max_vertices: int = MAX_VERTICES) -> ServiceArea:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidServiceConfig(f"service area is not valid JSON: {exc}", path="") from None
    return service_area_from_geojson(data, max_vertices=max_vertices)


def service_area_from_geojson(data: object, *, max_vertices: int = MAX_VERTICES) -> ServiceArea:
    """Validate a GeoJSON FeatureCollection of Polygon/MultiPolygon features.

    Each feature's ``properties.name`` names it (districts show in messages and on the
    case); ``properties.service`` is ``"include"`` (default) or ``"exclude"``. Coordinates
    are WGS-84 ``[longitude, latitude]`` as RFC 7946 says — not the GCJ-02 offsets many
    Chinese map services use, or borders shift by several hundred metres.
    """
    loader = _AreaLoader(max_vertices)
    return loader.collection(data)


class _AreaLoader:
    def __init__(self, max_vertices: int) -> None:
        self.max_vertices = max_vertices
        self.vertices = 0

    def fail(self, path: str, message: str) -> InvalidServiceConfig:
        return InvalidServiceConfig(f"{path or 'service area'}: {message}", path=path)

    def collection(self, data: object) -> ServiceArea:
        if not isinstance(data, Mapping):
            raise self.fail("", "expected a GeoJSON object")
        kind = data.get("type")
        if kind != "FeatureCollection":
            hint = " (wrap it in a FeatureCollection)" if kind in _GEO_TYPES else ""
            raise self.fail("type", f"expected FeatureCollection, got {kind!r}{hint}")
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise self.fail("features", "expected a non-empty list of features")
        if len(features) > MAX_FEATURES:
            raise self.fail("features", f"more than {MAX_FEATURES} features")
        parsed = tuple(self.feature(f, f"features[{i}]", i) for i, f in enumerate(features))
        if not any(f.include for f in parsed):
            raise self.fail("features", 'no feature is included (all are "exclude")')
        return ServiceArea(parsed)

    def feature(self, raw: object, path: str, index: int) -> AreaFeature:
        if not isinstance(raw, Mapping) or raw.get("type") != "Feature":
            raise self.fail(path, "expected an object with type Feature")
        props = raw.get("properties")
        if props is None:
            props = {}
        if not isinstance(props, Mapping):
            raise self.fail(f"{path}.properties", "expected an object or null")
        name = props.get("name", f"area {index + 1}")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(f"{path}.properties.name", "expected a non-empty string")
        service = props.get("service", "include")
        if service not in ("include", "exclude"):
            raise self.fail(f"{path}.properties.service", 'expected "include" or "exclude"')
        geometry = raw.get("geometry")
        gpath = f"{path}.geometry"
        if not isinstance(geometry, Mapping):
            raise self.fail(gpath, "expected a Polygon or MultiPolygon geometry")
        gtype, coords = geometry.get("type"), geometry.get("coordinates")
        cpath = f"{gpath}.coordinates"
        polygons: tuple[AreaPolygon, ...]
        if gtype == "Polygon":
            polygons = (self.polygon(coords, cpath),)
        elif gtype == "MultiPolygon":
            if not isinstance(coords, list) or not coords:
                raise self.fail(cpath, "expected a non-empty list of polygons")
            polygons = tuple(self.polygon(p, f"{cpath}[{i}]") for i, p in enumerate(coords))
        else:
            raise self.fail(f"{gpath}.type", f"expected Polygon or MultiPolygon, got {gtype!r}")
        return AreaFeature(name.strip(), service == "include", polygons)

    def polygon(self, raw: object, path: str) -> AreaPolygon:
        if not isinstance(raw, list) or not raw:
            raise self.fail(path, "expected a non-empty list of linear rings")
        rings = [self.ring(r, f"{path}[{i}]") for i, r in enumerate(raw)]
        shell, holes = rings[0], tuple(rings[1:])
        for i, hole in enumerate(holes, start=1):
            # A cheap sanity check, not full topology: a hole must start inside its shell.
            if _ring_position(shell, GeoPoint(*hole[0])) < 0:
                raise self.fail(f"{path}[{i}]", "hole lies outside its polygon's outer ring")
        lons = [lon for lon, _ in shell]
        lats = [lat for _, lat in shell]
        return AreaPolygon(shell, holes, (min(lons), min(lats), max(lons), max(lats)))

    def ring(self, raw: object, path: str) -> Ring:
        if not isinstance(raw, list):
            raise self.fail(path, "expected a list of positions")
        if len(raw) < 4:
            raise self.fail(path, f"a linear ring needs at least 4 positions, got {len(raw)}")
        self.vertices += len(raw)
        if self.vertices > self.max_vertices:
            raise self.fail(path, f"too many vertices (limit {self.max_vertices}); simplify")
        ring = tuple(self.position(p, f"{path}[{i}]") for i, p in enumerate(raw))
        if ring[0] != ring[-1]:
            raise self.fail(
                path,
                f"ring is not closed: first position {list(ring[0])} differs from last "
                f"{list(ring[-1])}",
            )
        if len(set(ring)) < 3 or _ring_area2(ring) == 0:
            raise self.fail(path, "ring has no area (fewer than 3 distinct points or collinear)")
        return ring

    def position(self, raw: object, path: str) -> tuple[float, float]:
        if not isinstance(raw, list) or len(raw) not in (2, 3):
            raise self.fail(path, "expected [longitude, latitude]")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
            raise self.fail(path, "coordinates must be numbers")
        lon, lat = float(raw[0]), float(raw[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise self.fail(path, "coordinates must be finite")
        if not -180 <= lon <= 180 or not -90 <= lat <= 90:
            swapped = " (is it [latitude, longitude]? GeoJSON wants longitude first)"
            plausible = -90 <= lon <= 90 and -180 <= lat <= 180
            raise self.fail(
                path, f"[{lon}, {lat}] is not a place on Earth{swapped if plausible else ''}"
            )
        return lon, lat


_GEO_TYPES: Final = frozenset({"Feature", "Polygon", "MultiPolygon", "GeometryCollection"})


def _in_bbox(bbox: BBox, point: GeoPoint) -> bool:
    return bbox[0] <= point.lon <= bbox[2] and bbox[1] <= point.lat <= bbox[3]


def _ring_area2(ring: Ring) -> float:
    """Twice the signed area (shoelace); zero for a degenerate ring."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))


def _ring_position(ring: Ring, point: GeoPoint) -> int:
    """1 inside, 0 on the boundary, -1 outside: even-odd ray casting towards +longitude.

    Planar on lon/lat, which is exact enough for district-sized polygons away from the
    poles and the antimeridian (neither concerns a Chinese city).
    """
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if _on_segment(x1, y1, x2, y2, x, y):
            return 0
        # Half-open rule on y so a ray through a vertex is counted exactly once.
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return 1 if inside else -1


def _on_segment(x1: float, y1: float, x2: float, y2: float, x: float, y: float) -> bool:
    if not (min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2)):
        return False
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    # Tolerance far below GPS precision (1e-12 degrees is a few nanometres).
    return abs(cross) <= 1e-12 * max(1.0, abs(x2 - x1) + abs(y2 - y1))


# --- the check -------------------------------------------------------------------------


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
