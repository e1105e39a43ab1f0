"""The fraud rules on literal facts (pure: no database, no clock)."""

from __future__ import annotations

from kuaichu.fraud.rules import (
    CaseFacts,
    PartyFacts,
    PhotoFacts,
    PlateReading,
    Policy,
    distance_km,
    flag_cases,
)

DAY = 86400.0
T0 = 1_780_000_000.0
POLICY = Policy(window_days=30, pair_min=2, gps_km=2.0, photo_minutes=120)


def case(n: int, at: float, *parties: PartyFacts, **more: object) -> CaseFacts:
    return CaseFacts(f"KC20260101AAAA{n:02d}", at, parties=parties, **more)  # type: ignore[arg-type]


def codes(found: dict[str, list[object]], case_id: str) -> list[str]:
    return sorted(f.code for f in found[case_id])  # type: ignore[attr-defined]


def test_the_same_plate_and_person_within_the_window_are_flagged_and_older_ones_are_not() -> None:
    p1 = PartyFacts("A", "黑A·12345", "230103199001011234", "13800000001")
    again = PartyFacts("A", "黑A12345", "230103199001011234", "")  # spelt without the dot
    other = PartyFacts("B", "黑B·55555", "", "13900000009")
    first = case(1, T0, p1, PartyFacts("B", "黑C·1", "", ""))
    second = case(2, T0 + 10 * DAY, again, other)
    old = case(3, T0 - 60 * DAY, p1)  # outside the 30 days of `first`
    found = flag_cases([first, second], [first, second, old], POLICY)
    assert codes(found, second.case_id) == ["repeat_person", "repeat_plate"]
    plate = next(f for f in found[second.case_id] if f.code == "repeat_plate")
    assert plate.detail["cases"] == [first.case_id] and plate.detail["party"] == "A"
    person = next(f for f in found[second.case_id] if f.code == "repeat_person")
    assert "1234" in person.detail["identity"] and "19900101" not in person.detail["identity"]
    assert codes(found, first.case_id) == ["repeat_person", "repeat_plate"]
    # Matched by ID number and by phone: one flag for the person, naming both.
    third = case(4, T0 + 11 * DAY, p1)
    found = flag_cases([third], [first, third], POLICY)
    (person,) = [f for f in found[third.case_id] if f.code == "repeat_person"]
    assert person.detail["identity"].count(":") == 2 and person.detail["cases"] == [first.case_id]


def test_two_parties_together_again_are_a_pair_and_strangers_are_not() -> None:
    p = PartyFacts("A", "", "", "13800000001")
    q = PartyFacts("B", "", "", "13800000002")
    r = PartyFacts("B", "", "", "13800000003")
    together = [case(1, T0, p, q), case(2, T0 + DAY, p, q)]
    apart = case(3, T0 + 2 * DAY, PartyFacts("A", "", "", "13800000004"), r)
    found = flag_cases([*together, apart], [*together, apart], POLICY)
    assert "repeat_pair" in codes(found, together[1].case_id)
    assert found[apart.case_id] == []
    # With a higher threshold two cases together are not enough.
    strict = flag_cases(together, together, Policy(window_days=30, pair_min=3))
    assert "repeat_pair" not in codes(strict, together[1].case_id)


def test_gps_plate_reading_and_photo_exif_against_the_declared_place_and_time() -> None:
    party = PartyFacts("A", "黑A·12345", "", "")
    far = case(
        1,
        T0,
        party,
        report_lat=45.75,
        report_lng=126.65,
        declared_lat=45.80,
        declared_lng=126.72,
        occurred_at=T0 - 600,
        readings=(PlateReading(7, "黑A·99999", "video_frame"), PlateReading(8, "黑A·12345")),
        photos=(
            PhotoFacts(9, taken_at=T0 - 5 * 3600, lat=45.80, lng=126.72),
            PhotoFacts(10, taken_at=T0 - 300, lat=45.90, lng=126.72),
        ),
    )
    near = case(
        2,
        T0,
        party,
        report_lat=45.75,
        report_lng=126.65,
        declared_lat=45.7505,
        declared_lng=126.6505,
        occurred_at=T0 - 600,
        readings=(PlateReading(11, "黑A12345"),),
        photos=(PhotoFacts(12, taken_at=T0 - 900, lat=45.7501, lng=126.6501),),
    )
    # Each alone (they share a plate, which is not this test's subject).
    found = {**flag_cases([far], [far], POLICY), **flag_cases([near], [near], POLICY)}
    assert codes(found, far.case_id) == ["gps_far", "photo_gps", "photo_time", "plate_mismatch"]
    mismatch = next(f for f in found[far.case_id] if f.code == "plate_mismatch")
    assert mismatch.detail["capture"] == 7 and mismatch.detail["read"] == "黑A·99999"
    assert next(f for f in found[far.case_id] if f.code == "photo_time").detail["capture"] == 9
    assert next(f for f in found[far.case_id] if f.code == "photo_gps").detail["capture"] == 10
    assert found[near.case_id] == []


def test_distance() -> None:
    # One degree of latitude is about 111 km.
    assert 110.5 < distance_km(45.0, 126.0, 46.0, 126.0) < 111.8
    assert distance_km(45.0, 126.0, 45.0, 126.0) == 0.0
