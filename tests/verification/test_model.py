"""Wire formats of facts and verdicts: literal examples, round trips, strict refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from kuaichu.errors import InvalidMessage
from kuaichu.verification import (
    Item,
    ItemResult,
    ItemStatus,
    PartyFacts,
    VerificationResult,
)

WIRE: dict[str, Any] = {
    "items": [
        {
            "item": "licence",
            "status": "valid",
            "reason": None,
            "detail": {"licence_class": "C1", "valid_until": None},
            "source": "local",
        },
        {
            "item": "vehicle",
            "status": "invalid",
            "reason": "inspection_overdue",
            "detail": {"inspection_valid_until": "2025-05-31"},
            "source": "local",
        },
        {
            "item": "insurance",
            "status": "unavailable",
            "reason": "upstream_timeout",
            "detail": {"attempts": 3},
            "source": "upstream",
        },
    ],
    "checked_at": "2025-06-01T10:00:00+08:00",
}


def test_result_from_literal_and_back() -> None:
    result = VerificationResult.from_dict(WIRE)
    assert result.items[1] == ItemResult(
        Item.VEHICLE,
        ItemStatus.INVALID,
        "inspection_overdue",
        {"inspection_valid_until": "2025-05-31"},
        "local",
    )
    assert result.needs_decision == (Item.VEHICLE, Item.INSURANCE)
    assert result.get(Item.INSURANCE).status is ItemStatus.UNAVAILABLE
    assert result.to_dict() == WIRE
    assert VerificationResult.from_dict(result.to_dict()) == result


def test_items_come_back_in_item_order() -> None:
    shuffled = {**WIRE, "items": list(reversed(WIRE["items"]))}
    result = VerificationResult.from_dict(shuffled)
    assert [r.item for r in result.items] == [Item.LICENCE, Item.VEHICLE, Item.INSURANCE]


@pytest.mark.parametrize(
    "broken",
    [
        [],
        {"items": WIRE["items"][:2], "checked_at": WIRE["checked_at"]},  # an item missing
        {"items": WIRE["items"] + WIRE["items"][:1], "checked_at": WIRE["checked_at"]},
        {"items": WIRE["items"], "checked_at": "2025-06-01T10:00:00"},  # naive
        {"items": WIRE["items"], "checked_at": "yesterday"},
        {"items": WIRE["items"], "checked_at": WIRE["checked_at"], "extra": 1},
        {"items": [{**WIRE["items"][0], "status": "fine"}, *WIRE["items"][1:]]},
        {"items": [{**WIRE["items"][1], "reason": None}, WIRE["items"][0], WIRE["items"][2]]},
        {"items": [{**WIRE["items"][1], "reason": "Bad Reason!"}, *WIRE["items"][::2]]},
        {"items": [{**WIRE["items"][0], "detail": [1]}, *WIRE["items"][1:]]},
        {"items": "all fine", "checked_at": WIRE["checked_at"]},
    ],
)
def test_malformed_results_are_refused(broken: Any) -> None:
    if isinstance(broken, dict):
        broken.setdefault("checked_at", WIRE["checked_at"])
    with pytest.raises(InvalidMessage):
        VerificationResult.from_dict(broken)


def test_facts_round_trip_and_blank_means_not_given() -> None:
    facts = PartyFacts("张三", "110105199001011232", "京A·12345", date(2025, 6, 1))
    assert facts.to_dict() == {
        "name": "张三",
        "licence_no": "110105199001011232",
        "plate": "京A·12345",
        "accident_date": "2025-06-01",
    }
    assert PartyFacts.from_dict(facts.to_dict()) == facts
    blank = PartyFacts.from_dict({"name": " ", "plate": None, "accident_date": "2025-06-01"})
    assert blank == PartyFacts(None, None, None, date(2025, 6, 1))


@pytest.mark.parametrize(
    "raw",
    [
        {"accident_date": "20250601"},
        {"accident_date": "2025-06-31"},
        {},
        {"accident_date": "2025-06-01", "plate": 12345},
        {"accident_date": "2025-06-01", "name": "x" * 65},
        {"accident_date": "2025-06-01", "phone": "13812345678"},
        "not an object",
    ],
)
def test_bad_facts_are_refused(raw: Any) -> None:
    with pytest.raises(InvalidMessage):
        PartyFacts.from_dict(raw)


def test_checked_at_must_be_aware() -> None:
    with pytest.raises(ValueError):
        VerificationResult((), datetime(2025, 6, 1))
    assert VerificationResult((), datetime(2025, 6, 1, tzinfo=UTC)).needs_decision == ()
