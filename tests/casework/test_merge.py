"""The parties of a re-report merged into the surviving case's form (kuaichu.casework.merge)."""

from __future__ import annotations

from kuaichu.cases.form import CaseForm, Party
from kuaichu.cases.liability import Liability
from kuaichu.casework.merge import merge_parties, removable, same_person

ID = "11010519491231002X"


def form(*parties: Party) -> CaseForm:
    return CaseForm(parties=parties)


def test_the_same_id_number_is_one_party_and_fills_only_empty_fields() -> None:
    mine = form(Party(key="A", reporter=True, name="王伟", licence_no=ID, phone=""))
    theirs = form(
        Party(key="A", reporter=True, name="王 伟", licence_no=ID.lower(), phone="13800000007",
              plate="京A·12345"),
    )  # fmt: skip
    merged, where = merge_parties(mine, theirs)
    assert where == {"A": "A"}
    (only,) = merged.parties
    assert only.name == "王伟"  # what the officer typed stays
    assert (only.phone, only.plate) == ("13800000007", "京A·12345")


def test_another_person_joins_under_the_next_key_without_a_taken_plate_or_liability() -> None:
    mine = form(
        Party(key="A", reporter=True, phone="13800000007", plate="京A·12345"),
        Party(key="B", phone="13900000009"),
    )
    theirs = form(
        Party(key="A", reporter=True, phone="13700000001", plate="京A·12345",
              liability=Liability.FULL, fault="追尾"),
        Party(key="B", phone="139-0000-0009", name="李娜"),
    )  # fmt: skip
    merged, where = merge_parties(mine, theirs)
    assert where == {"A": "C", "B": "B"}
    c = merged.party("C")
    assert c is not None and c.reporter and c.phone == "13700000001"
    assert (c.plate, c.liability, c.fault) == ("", None, "")
    b = merged.party("B")
    assert b is not None and b.name == "李娜"
    # The case's own caller stays; the linked-in caller and the others may be removed.
    assert removable(merged) == ["B", "C"]


def test_no_phone_and_no_id_is_not_the_same_person() -> None:
    assert not same_person(Party(key="A"), Party(key="B"))
    assert not same_person(Party(key="A", phone="13800000007"), Party(key="B", licence_no=ID))
