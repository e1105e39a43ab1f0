"""Literal examples for the socket.io schemas (the fuzzing in tests/fuzz found the first)."""

from __future__ import annotations

import math

import pytest

from kuaichu.errors import InvalidMessage
from kuaichu.signaling.schemas import parse_location


@pytest.mark.parametrize("lat", [10**400, -(10**400), math.nan, math.inf, "31.2", True, None])
def test_a_location_that_is_not_a_number_in_range_is_refused(lat: object) -> None:
    with pytest.raises(InvalidMessage):
        parse_location({"lat": lat, "lng": 121.5})


def test_integers_and_floats_in_range_are_taken() -> None:
    loc = parse_location({"lat": 31, "lng": 121.5, "accuracy": 12})
    assert (loc.lat, loc.lng, loc.accuracy) == (31.0, 121.5, 12.0)
    assert isinstance(loc.lat, float)
