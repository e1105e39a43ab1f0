"""The plate proposal line against the case form's parties (kuaichu.evidence.plate_check)."""

from __future__ import annotations

from typing import Any

from kuaichu.evidence.plate_check import plate_check

A, B = "黑A·12345", "黑A·D23456"


def reading(plate: str, *, sure: bool = True, alternatives: tuple[str, ...] = ()) -> Any:
    return {"plate": plate, "colour": "blue", "confidence": 0.9 if sure else 0.3,
            "box": [0, 0, 10, 5], "sure": sure, "alternatives": list(alternatives)}  # fmt: skip


def parties(a: str = "", b: str = "") -> list[dict[str, str]]:
    return [{"key": "A", "plate": a}, {"key": "B", "plate": b}]


def test_a_plate_read_is_the_party_whose_plate_it_is() -> None:
    assert plate_check(reading(A), parties(A, B)) == {"status": "matches", "party": "A"}
    assert plate_check(reading(B), parties(A, B)) == {"status": "matches", "party": "B"}


def test_the_second_cars_plate_is_offered_for_the_party_without_one() -> None:
    # The two-car case: A has typed a plate, the video shows B's car.
    assert plate_check(reading(B), parties(A, "")) == {"status": "propose", "party": "B"}
    assert plate_check(reading(B), parties("", A)) == {"status": "propose", "party": "A"}
    assert plate_check(reading(A), parties()) == {"status": "propose", "party": "A"}


def test_a_mismatch_only_when_every_party_declared_another_plate() -> None:
    assert plate_check(reading("京B·99999"), parties(A, B)) == {
        "status": "mismatch",
        "declared": [A, B],
    }


def test_an_unsure_reading_is_unsure_with_its_alternatives_never_a_mismatch() -> None:
    unsure = reading("湘A·12345", sure=False, alternatives=("鄂A·12345", "甘A·12345"))
    assert plate_check(unsure, parties(A, B)) == {
        "status": "unsure",
        "party": None,
        "plates": ["湘A·12345", "鄂A·12345", "甘A·12345"],
    }
    assert plate_check(unsure, parties(A, ""))["party"] == "B"
    # One of the alternatives is a declared plate: that party, and which plate.
    maybe_a = reading("鄂A·12345", sure=False, alternatives=(A,))
    assert plate_check(maybe_a, parties(A, "")) == {"status": "matches", "party": "A", "plate": A}


def test_a_stored_proposal_from_before_sure_existed_counts_as_sure() -> None:
    old = {"plate": B, "colour": "green", "confidence": 0.8, "box": [0, 0, 1, 1]}
    assert plate_check(old, parties(A, "")) == {"status": "propose", "party": "B"}
    assert plate_check(None, parties(A, B)) == {"status": "none"}
