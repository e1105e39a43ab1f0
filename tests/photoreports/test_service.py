"""When the photo path is offered (kuaichu.photoreports.service.no_video_reasons, pure) and the
mobile number the page asks for."""

from __future__ import annotations

from datetime import datetime

import pytest

from kuaichu.cases.eligibility import ServiceHours, ServiceRules
from kuaichu.cases.states import CHINA_TIME
from kuaichu.errors import InvalidMessage
from kuaichu.photoreports.model import NoVideo, PhotoConfig, no_video_reasons, normalise_mobile

DAY = ServiceRules(hours=ServiceHours.every_day("07:00", "19:00", CHINA_TIME))
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=CHINA_TIME)
NIGHT = datetime(2026, 11, 30, 23, 30, tzinfo=CHINA_TIME)
CONFIG = PhotoConfig(queue_cap=3, max_wait_seconds=600)


def reasons(at: datetime = NOON, **figures: float) -> list[NoVideo]:
    base = {"on_shift": 2, "waiting": 0, "longest_wait_s": 0.0}
    base.update(figures)
    return no_video_reasons(
        at,
        DAY,
        CONFIG,
        on_shift=int(base["on_shift"]),
        waiting=int(base["waiting"]),
        longest_wait_s=base["longest_wait_s"],
    )


def test_video_works_within_hours_with_officers_and_a_short_queue() -> None:
    assert reasons() == []
    assert reasons(waiting=2, longest_wait_s=599) == []


def test_each_reason_on_its_own() -> None:
    assert reasons(NIGHT) == [NoVideo.OUTSIDE_HOURS]
    assert reasons(on_shift=0) == [NoVideo.NO_OFFICER]
    assert reasons(waiting=3, longest_wait_s=10) == [NoVideo.QUEUE_FULL]
    assert reasons(waiting=1, longest_wait_s=600) == [NoVideo.WAIT_TOO_LONG]


def test_the_reasons_together_in_their_order() -> None:
    assert reasons(NIGHT, on_shift=0, waiting=5, longest_wait_s=900) == [
        NoVideo.OUTSIDE_HOURS,
        NoVideo.NO_OFFICER,
        NoVideo.QUEUE_FULL,
        NoVideo.WAIT_TOO_LONG,
    ]


def test_no_cap_and_always_open() -> None:
    unlimited = PhotoConfig(queue_cap=0, max_wait_seconds=600)
    found = no_video_reasons(
        NIGHT, ServiceRules(), unlimited, on_shift=1, waiting=500, longest_wait_s=10.0
    )
    assert found == []


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("138-0013-8000", "13800138000"),
    ],
)
def test_a_mobile_number_as_people_type_it(typed: str, stored: str) -> None:
    assert normalise_mobile(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["12345", "12800138000", "1380013800", "010-12345678", "", None, 13800138000, "1" * 30],
)
def test_not_a_mobile_number(typed: object) -> None:
    with pytest.raises(InvalidMessage) as info:
        normalise_mobile(typed)
    assert info.value.detail["field"] == "phone"
