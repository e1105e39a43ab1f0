"""Eligibility: the driver's answers, service hours and service areas (with the GeoJSON loader)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaichu.cases.eligibility import (
    AccidentCause,
    Action,
    EligibilityAnswers,
    GeoPoint,
    IneligibleReason,
    ServiceHours,
    ServiceRules,
    check_eligibility,
    service_area_from_geojson,
    service_area_from_json,
)
from kuaichu.cases.errors import InvalidServiceConfig, NotEligible
from kuaichu.errors import InvalidMessage

R = IneligibleReason
CST = ZoneInfo("Asia/Shanghai")
WEDNESDAY_NOON = datetime(2024, 5, 8, 12, 0, tzinfo=CST)
GOOD = EligibilityAnswers(
    injuries=False,
    vehicle_to_vehicle=True,
    vehicles_movable=True,
    all_insured=True,
    cause=AccidentCause.REAR_END,
)
HARBIN_HOURS = ServiceHours.from_config({"timezone": "Asia/Shanghai", "default": "07:00-19:00"})


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def feature(name: str, geometry: dict[str, Any], service: str = "include") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"name": name, "service": service},
        "geometry": geometry,
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


# District A: a square with a hole (a lake); B shares A's east edge; C is carved out of B.
AREA = service_area_from_geojson(
    collection(
        feature(
            "A区", {"type": "Polygon", "coordinates": [square(0, 0, 10, 10), square(4, 4, 6, 6)]}
        ),
        feature("B区", {"type": "Polygon", "coordinates": [square(10, 0, 20, 10)]}),
        feature(
            "C区", {"type": "Polygon", "coordinates": [square(12, 2, 14, 4)]}, service="exclude"
        ),
    )
)


def rules(**kwargs: Any) -> ServiceRules:
    return ServiceRules(**{"hours": HARBIN_HOURS, "area": AREA, **kwargs})


# --- answers -------------------------------------------------------------------------------


def test_eligible() -> None:
    result = check_eligibility(GOOD, at=WEDNESDAY_NOON, location=GeoPoint(1, 1), rules=rules())
    assert result.eligible and result.reason is None and result.advice is None
    assert result.area_checked
    result.require()


@pytest.mark.parametrize(
    ("change", "reason", "action"),
    [
        ({"injuries": True}, R.INJURIES, Action.CALL_120_AND_122),
        ({"hit_and_run": True}, R.HIT_AND_RUN, Action.CALL_122),
        ({"drunk_driving": True}, R.DRUNK_DRIVING, Action.CALL_122),
        ({"unlicensed": True}, R.UNLICENSED, Action.CALL_122),
        ({"vehicle_to_vehicle": False}, R.NOT_VEHICLE_TO_VEHICLE, Action.CALL_122),
        ({"vehicles_movable": False}, R.NOT_MOVABLE, Action.CALL_122),
        ({"all_insured": False}, R.UNINSURED, Action.CALL_122),
        ({"cause": None}, R.OTHER_CAUSE, Action.CALL_122),
    ],
)
def test_each_answer_rule(change: dict[str, Any], reason: IneligibleReason, action: Action) -> None:
    result = check_eligibility(
        replace(GOOD, **change), at=WEDNESDAY_NOON, location=GeoPoint(1, 1), rules=rules()
    )
    assert result.reasons == (reason,)
    assert result.advice is not None
    assert result.advice.action is action
    assert result.advice.message_key == f"elig_{reason.value}"
    with pytest.raises(NotEligible) as caught:
        result.require()
    assert caught.value.detail["reason"] == reason.value
    assert caught.value.code == "not_eligible" and caught.value.http_status == 422


def test_injuries_come_first_whatever_else_is_wrong() -> None:
    worst = EligibilityAnswers(
        injuries=True,
        vehicle_to_vehicle=False,
        vehicles_movable=False,
        all_insured=False,
        cause=None,
        unlicensed=True,
        drunk_driving=True,
        hit_and_run=True,
    )
    night = datetime(2024, 5, 8, 23, 0, tzinfo=CST)
    result = check_eligibility(worst, at=night, location=GeoPoint(50, 50), rules=rules())
    assert result.reasons == tuple(r for r in R if r is not R.LOCATION_UNKNOWN)
    assert result.advice is not None and result.advice.action is Action.CALL_120_AND_122


def test_parse_answers_strictly() -> None:
    raw = {
        "injuries": False,
        "vehicle_to_vehicle": True,
        "vehicles_movable": True,
        "all_insured": True,
        "cause": "lane_change",
    }
    assert EligibilityAnswers.parse(raw).cause is AccidentCause.LANE_CHANGE
    assert EligibilityAnswers.parse({**raw, "cause": "other"}).cause is None
    for bad in (
        {**raw, "injuries": "false"},
        {k: v for k, v in raw.items() if k != "all_insured"},
        {**raw, "drunk_driving": 0},
        {**raw, "cause": "speeding"},
        ["injuries"],
    ):
        with pytest.raises(InvalidMessage):
            EligibilityAnswers.parse(bad)


# --- hours ---------------------------------------------------------------------------------


def test_harbin_hours_boundaries() -> None:
    day = datetime(2024, 5, 8, tzinfo=CST)
    assert not HARBIN_HOURS.is_open(day.replace(hour=6, minute=59, second=59))
    assert HARBIN_HOURS.is_open(day.replace(hour=7))
    assert HARBIN_HOURS.is_open(day.replace(hour=18, minute=59, second=59))
    assert not HARBIN_HOURS.is_open(day.replace(hour=19))
    # 23:30 UTC is 07:30 the next morning in China.
    assert HARBIN_HOURS.is_open(datetime(2024, 5, 8, 23, 30, tzinfo=UTC))
    assert HARBIN_HOURS.describe(day) == "07:00–19:00"
    assert ServiceHours.every_day("07:00", "19:00", CST) == HARBIN_HOURS


def test_outside_hours_tells_the_next_opening() -> None:
    evening = datetime(2024, 5, 8, 19, 30, tzinfo=CST)
    result = check_eligibility(GOOD, at=evening, location=GeoPoint(1, 1), rules=rules())
    assert result.reasons == (R.OUTSIDE_HOURS,)
    assert result.next_open == datetime(2024, 5, 9, 7, 0, tzinfo=CST)
    assert result.advice is not None
    assert result.advice.params == {"hours": "07:00–19:00", "next_open": "2024-05-09 07:00"}
    assert result.advice.message_key == "elig_outside_hours"


def test_weekday_configuration() -> None:
    hours = ServiceHours.from_config(
        {
            "timezone": "+08:00",
            "default": "07:30-19:30",
            "sat": ["09:00-12:00", "13:00-17:00"],
            "sun": [],
        }
    )
    friday_night = datetime(2024, 5, 10, 20, 0, tzinfo=CST)
    assert hours.next_opening(friday_night) == datetime(2024, 5, 11, 9, 0, tzinfo=CST)
    saturday_lunch = datetime(2024, 5, 11, 12, 30, tzinfo=CST)
    assert not hours.is_open(saturday_lunch)
    assert hours.next_opening(saturday_lunch) == datetime(2024, 5, 11, 13, 0, tzinfo=CST)
    saturday_evening = datetime(2024, 5, 11, 18, 0, tzinfo=CST)
    assert hours.next_opening(saturday_evening) == datetime(2024, 5, 13, 7, 30, tzinfo=CST)
    assert hours.describe(datetime(2024, 5, 12, 10, 0, tzinfo=CST)) == "closed"
    open_all_day = ServiceHours.from_config({"timezone": "UTC", "default": "00:00-24:00"})
    assert open_all_day.is_open(datetime(2024, 5, 12, 23, 59, 59, tzinfo=UTC))
    never = ServiceHours.from_config({"timezone": "UTC"})
    assert never.next_opening(WEDNESDAY_NOON) is None


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"default": "07:00-19:00"}, "hours.timezone"),
        ({"timezone": "Mars/Olympus", "default": "07:00-19:00"}, "hours.timezone"),
        ({"timezone": "+25:00"}, "hours.timezone"),
        ({"timezone": "UTC", "default": "19:00-07:00"}, "hours.default[0]"),
        ({"timezone": "UTC", "default": "7-19"}, "hours.default[0]"),
        ({"timezone": "UTC", "mon": "25:00-26:00"}, "hours.mon[0]"),
        ({"timezone": "UTC", "tue": ["08:00-12:00", "11:00-13:00"]}, "hours.tue"),
        ({"timezone": "UTC", "monday": "08:00-12:00"}, "hours"),
        ({"timezone": "UTC", "wed": 8}, "hours.wed"),
        ("07:00-19:00", "hours"),
    ],
)
def test_bad_hours(raw: object, path: str) -> None:
    with pytest.raises(InvalidServiceConfig) as caught:
        ServiceHours.from_config(raw)
    assert caught.value.detail["path"] == path


# --- area ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "district"),
    [
        ((1, 1), "A区"),
        ((5, 5), None),  # in the lake
        ((4, 5), "A区"),  # on the lake shore: polygons are closed
        ((10, 5), "A区"),  # the shared border belongs to both; A is listed first
        ((15, 8), "B区"),
        ((13, 3), None),  # carved out
        ((12, 3), None),  # on the carved-out edge: excluded too
        ((25, 5), None),
        ((5, -0.0001), None),
        ((0, 0), "A区"),  # a corner
        ((3, 4), "A区"),  # a ray through the hole's corner vertex
    ],
)
def test_area_membership(point: tuple[float, float], district: str | None) -> None:
    assert AREA.district(GeoPoint(*point)) == district
    assert AREA.contains(GeoPoint(*point)) is (district is not None)


def test_concave_and_multipolygon() -> None:
    # A "U": the notch between the arms is outside.
    u_shape = [[0, 0], [6, 0], [6, 6], [4, 6], [4, 2], [2, 2], [2, 6], [0, 6], [0, 0]]
    area = service_area_from_geojson(
        collection(
            feature("U", {"type": "Polygon", "coordinates": [u_shape]}),
            feature(
                "islands",
                {
                    "type": "MultiPolygon",
                    "coordinates": [[square(20, 20, 21, 21)], [square(30, 30, 31, 31)]],
                },
            ),
        )
    )
    assert area.contains(GeoPoint(1, 5)) and area.contains(GeoPoint(5, 5))
    assert not area.contains(GeoPoint(3, 4))
    assert area.contains(GeoPoint(3, 1))
    assert area.district(GeoPoint(30.5, 30.5)) == "islands"
    assert not area.contains(GeoPoint(25, 25))


def test_harbin_like_service_area_and_eligibility() -> None:
    # Rough boxes around real places, WGS-84: an included urban district and an excluded one.
    area = service_area_from_json(
        json.dumps(
            collection(
                feature(
                    "南岗区",
                    {"type": "Polygon", "coordinates": [square(126.6, 45.65, 126.8, 45.8)]},
                ),
                feature(
                    "机场",
                    {"type": "Polygon", "coordinates": [square(126.7, 45.65, 126.8, 45.7)]},
                    service="exclude",
                ),
            )
        )
    )
    result = check_eligibility(
        GOOD, at=WEDNESDAY_NOON, location=GeoPoint(126.65, 45.75), rules=rules(area=area)
    )
    assert result.eligible
    result = check_eligibility(
        GOOD, at=WEDNESDAY_NOON, location=GeoPoint(126.75, 45.68), rules=rules(area=area)
    )
    assert result.reasons == (R.OUTSIDE_AREA,)


def test_unknown_location() -> None:
    lenient = check_eligibility(GOOD, at=WEDNESDAY_NOON, location=None, rules=rules())
    assert lenient.eligible and not lenient.area_checked
    strict = check_eligibility(
        GOOD, at=WEDNESDAY_NOON, location=None, rules=rules(require_location=True)
    )
    assert strict.reasons == (R.LOCATION_UNKNOWN,)
    assert strict.advice is not None and strict.advice.action is Action.ENABLE_LOCATION
    unlimited = check_eligibility(GOOD, at=WEDNESDAY_NOON, location=None, rules=ServiceRules())
    assert unlimited.eligible and unlimited.area_checked


POLY = {"type": "Polygon", "coordinates": [square(0, 0, 1, 1)]}


def one(*rings: list[list[Any]]) -> dict[str, Any]:
    """A collection of one included polygon with these rings."""
    return collection(feature("x", {"type": "Polygon", "coordinates": list(rings)}))


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ([], "", "GeoJSON object"),
        (POLY, "type", "wrap it in a FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "features", "non-empty"),
        (
            collection({"type": "Feature", "geometry": POLY, "properties": []}),
            "features[0].properties",
            "object",
        ),
        (
            collection(feature("x", {"type": "Point", "coordinates": [1, 1]})),
            "features[0].geometry.type",
            "Point",
        ),
        (
            collection(feature("x", POLY, service="maybe")),
            "features[0].properties.service",
            "include",
        ),
        (collection(feature("x", POLY, service="exclude")), "features", "no feature is included"),
        (
            one([[0, 0], [1, 0], [1, 1], [0, 1]]),
            "features[0].geometry.coordinates[0]",
            "not closed",
        ),
        (one([[0, 0], [1, 0], [0, 0]]), "features[0].geometry.coordinates[0]", "at least 4"),
        (one([[0, 0], [1, 1], [2, 2], [0, 0]]), "features[0].geometry.coordinates[0]", "no area"),
        (
            one(square(45.6, 126.6, 45.8, 126.8)),
            "features[0].geometry.coordinates[0][0]",
            "longitude first",
        ),
        (
            one(square(0, 0, 1, 999)),
            "features[0].geometry.coordinates[0][2]",
            "not a place on Earth",
        ),
        (
            one([[0, 0], [1, 0], [True, 1], [0, 0]]),
            "features[0].geometry.coordinates[0][2]",
            "numbers",
        ),
        (
            one([[0, 0], [1], [1, 1], [0, 0]]),
            "features[0].geometry.coordinates[0][1]",
            "[longitude, latitude]",
        ),
        (
            one(square(0, 0, 1, 1), square(5, 5, 6, 6)),
            "features[0].geometry.coordinates[1]",
            "outside",
        ),
        (
            collection(feature("x", {"type": "MultiPolygon", "coordinates": []})),
            "features[0].geometry.coordinates",
            "non-empty",
        ),
    ],
)
def test_bad_geojson(data: object, path: str, words: str) -> None:
    with pytest.raises(InvalidServiceConfig) as caught:
        service_area_from_geojson(data)
    assert caught.value.detail["path"] == path
    assert words in caught.value.message


def test_geojson_limits_and_text() -> None:
    big = collection(feature("x", {"type": "Polygon", "coordinates": [square(0, 0, 1, 1)] * 3}))
    with pytest.raises(InvalidServiceConfig, match="too many vertices"):
        service_area_from_geojson(big, max_vertices=10)
    with pytest.raises(InvalidServiceConfig, match="finite"):
        service_area_from_json(
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":null,'
            '"geometry":{"type":"Polygon","coordinates":[[[0,0],[NaN,0],[1,1],[0,0]]]}}]}'
        )
    # A huge integer would overflow float(): refused with the same clear error.
    with pytest.raises(InvalidServiceConfig, match="finite"):
        service_area_from_json(
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":null,'
            '"geometry":{"type":"Polygon","coordinates":[[[0,0],[' + "9" * 400 + ',0],'
            "[1,1],[0,0]]]}}]}"
        )
    with pytest.raises(InvalidServiceConfig, match="not valid JSON"):
        service_area_from_json("{")
    unnamed = service_area_from_geojson(
        collection({"type": "Feature", "properties": None, "geometry": POLY})
    )
    assert unnamed.district(GeoPoint(0.5, 0.5)) == "area 1"


@given(
    st.floats(-170, 170),
    st.floats(-80, 80),
    st.floats(0.001, 5),
    st.floats(0.001, 5),
    st.floats(-1, 2),
    st.floats(-1, 2),
    st.booleans(),
)
def test_rectangles_agree_with_arithmetic(
    x0: float, y0: float, w: float, h: float, fx: float, fy: float, reverse: bool
) -> None:
    ring = square(x0, y0, x0 + w, y0 + h)
    if reverse:
        ring.reverse()  # orientation must not matter
    area = service_area_from_geojson(
        collection(feature("r", {"type": "Polygon", "coordinates": [ring]}))
    )
    point = GeoPoint(x0 + fx * w, y0 + fy * h)
    expected = x0 <= point.lon <= x0 + w and y0 <= point.lat <= y0 + h
    assert area.contains(point) is expected


def test_answers_time_must_be_aware() -> None:
    with pytest.raises(ValueError):
        check_eligibility(GOOD, at=datetime(2024, 5, 8, 12, 0), location=None, rules=rules())
