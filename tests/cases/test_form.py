"""The case form: what an officer may type, and what it takes to complete the information."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaichu.cases.form import (
    CaseForm,
    changed_fields,
    id_number_valid,
    initial_form,
    missing_for_information,
)
from kuaichu.cases.liability import Liability
from kuaichu.errors import InvalidMessage

CST = timezone(timedelta(hours=8))
ID_A = "11010519491231002X"  # the GB 11643 standard's own example


def complete() -> dict[str, object]:
    return {
        "cause": "rear_end",
        "occurred_at": "2026-11-22T08:15:00+08:00",
        "address": "红军街15号",
        "description": "追尾",
        "parties": [
            {
                "key": "A",
                "reporter": True,
                "name": "张伟",
                "phone": "138 0013 8000",
                "licence_no": ID_A.lower(),
                "plate": "黑a 12345",
                "vehicle_type": "small_car",
                "liability": "全部责任",
            },
            {
                "key": "B",
                "name": "李娜",
                "phone": "+8613900139000",
                "licence_no": ID_A,
                "plate": "黑AD12345",
                "vehicle_type": "small_car",
            },
        ],
    }


def test_a_complete_form_is_normalised() -> None:
    form = CaseForm.parse(complete())
    a, b = form.parties
    assert a.phone == "13800138000" and b.phone == "13900139000"
    assert a.licence_no == ID_A and a.plate == "黑A·12345" and b.plate == "黑A·D12345"
    assert a.liability is Liability.FULL and b.liability is None
    assert missing_for_information(form) == []
    assert CaseForm.parse(form.to_dict()) == form


def test_check_character_of_the_id_number() -> None:
    assert id_number_valid(ID_A)
    assert not id_number_valid(ID_A[:-1] + "1")
    raw = complete()
    raw["parties"][0]["licence_no"] = ID_A[:-1] + "1"  # type: ignore[index]
    with pytest.raises(InvalidMessage) as err:
        CaseForm.parse(raw)
    assert err.value.detail["field"] == "parties[0].licence_no"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("description",), "长" * 2001, "description"),
        (("cause",), "speeding", "cause"),
        (("occurred_at",), "2026-11-22T08:15:00", "occurred_at"),
        (("parties", 1, "phone"), "010-12345678", "parties[1].phone"),
        (("parties", 1, "plate"), "ABC123", "parties[1].plate"),
        (("parties", 1, "vehicle_type"), "spaceship", "parties[1].vehicle_type"),
        (("parties", 1, "liability"), "most", "parties[1].liability"),
        (("parties", 1, "key"), "A", "parties"),
        (("parties", 1, "plate"), "黑A·12345", "parties"),
    ],
)
def test_bad_fields_name_themselves(path: tuple[object, ...], value: object, field: str) -> None:
    raw = complete()
    target: object = raw
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    with pytest.raises(InvalidMessage) as err:
        CaseForm.parse(raw)
    assert err.value.detail.get("field", "parties") == field


def test_unknown_fields_and_too_many_parties_are_refused() -> None:
    with pytest.raises(InvalidMessage):
        CaseForm.parse({**complete(), "status": "closed"})
    with pytest.raises(InvalidMessage):
        CaseForm.parse({"parties": [{"key": k} for k in "ABCDEFG"]})


def test_what_information_still_needs() -> None:
    form = initial_form("13800138000", None, datetime(2026, 11, 22, 8, tzinfo=CST), None, None)
    assert missing_for_information(form) == [
        "cause",
        "address",
        "parties",
        "parties.A.name",
        "parties.A.licence_no",
        "parties.A.plate",
        "parties.A.vehicle_type",
    ]


def test_changed_fields_name_what_moved_not_the_values() -> None:
    before = CaseForm.parse(complete())
    raw = complete()
    raw["parties"][1]["plate"] = "黑B12345"  # type: ignore[index]
    raw["parties"].append({"key": "C", "name": "王"})  # type: ignore[attr-defined]
    raw["address"] = "红军街17号"
    after = CaseForm.parse(raw)
    assert changed_fields(before, after) == [
        "address",
        "parties.B.plate",
        "parties.C(added)",
    ]
    assert changed_fields(after, after) == []


@given(st.text(max_size=300))
def test_any_description_up_to_the_limit_round_trips(text: str) -> None:
    raw = complete()
    raw["description"] = text
    try:
        form = CaseForm.parse(raw)
    except InvalidMessage as exc:
        assert exc.detail["field"] == "description"  # control characters only
        return
    assert form.description == text.strip()
    assert CaseForm.parse(form.to_dict()) == form
