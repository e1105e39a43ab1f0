"""parse_edit: an officer's edit taken field by field (issue 12): every valid field changes,
every invalid one keeps its stored value and is reported with a machine-readable code."""

from __future__ import annotations

import pytest

from kuaichu.cases.form import CaseForm, Party
from kuaichu.cases.form_edit import parse_edit
from kuaichu.errors import InvalidMessage

STORED = CaseForm(
    address="红军街",
    parties=(Party(key="A", reporter=True, phone="13800138000"), Party(key="B", plate="黑A·12345")),
)


def test_every_error_at_once_and_the_valid_fields_taken() -> None:
    raw = STORED.to_dict()
    raw["address"] = "红军街15号"
    raw["description"] = "长" * 2001
    raw["parties"][0].update(name="张三", phone="12345", licence_no="123")
    raw["parties"][1].update(plate="ABC", vehicle_type="spaceship", insurer="人保")
    edit = parse_edit(raw, STORED)
    found = {(e.path, e.code) for e in edit.errors}
    assert found == {
        ("description", "too_long"),
        ("parties.A.phone", "invalid_value"),
        ("parties.A.licence_no", "invalid_value"),
        ("parties.B.plate", "invalid_plate"),
        ("parties.B.vehicle_type", "invalid_value"),
    }
    assert {e.field for e in edit.errors if e.path.startswith("parties.B")} == {
        "parties[1].plate",
        "parties[1].vehicle_type",
    }
    assert next(e.limit for e in edit.errors if e.code == "too_long") == 2000
    a, b = edit.form.parties
    assert (edit.form.address, a.name, a.phone) == ("红军街15号", "张三", "13800138000")
    assert a.licence_no == ""
    assert (b.plate, b.insurer) == ("黑A·12345", "人保")
    assert edit.form.description == ""


def test_the_same_plate_twice_is_refused_to_the_party_that_changed_it() -> None:
    raw = STORED.to_dict()
    raw["parties"][0]["plate"] = "黑A12345"
    edit = parse_edit(raw, STORED)
    # A's plate is the one this edit changed: A does not get it, B keeps its own.
    assert [(e.path, e.code) for e in edit.errors] == [("parties.A.plate", "duplicate_plate")]
    assert [p.plate for p in edit.form.parties] == ["", "黑A·12345"]


@pytest.mark.parametrize(
    "raw",
    [
        "not a form",
        {"unknown": 1},
        {"parties": [{"key": "Z"}]},
        {"parties": "A"},
        {"parties": [{"key": "A", "nickname": "x"}]},
    ],
)
def test_what_is_not_a_form_is_refused_whole(raw: object) -> None:
    with pytest.raises(InvalidMessage):
        parse_edit(raw, STORED)
