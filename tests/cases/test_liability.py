"""Liability labels and the consistency rule across 2..N parties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaichu.cases.errors import InconsistentLiability
from kuaichu.cases.liability import (
    Liability,
    check_liabilities,
    counterpart,
    is_consistent,
    parse_liabilities,
    parties_at_fault,
)
from kuaichu.errors import InvalidMessage

L = Liability
FULL, MAJOR, EQUAL, MINOR, NONE = L.FULL, L.MAJOR, L.EQUAL, L.MINOR, L.NONE


def test_labels() -> None:
    assert [item.zh for item in L] == ["全部责任", "主要责任", "同等责任", "次要责任", "无责任"]
    assert L.parse("全部责任") is FULL
    assert L.parse("主要") is MAJOR
    assert L.parse(" Minor ") is MINOR
    assert L.parse(NONE) is NONE
    for bad in ("half", "", None, 3):
        with pytest.raises(InvalidMessage):
            L.parse(bad)


def test_two_parties_allow_exactly_the_three_pairings() -> None:
    accepted = {
        (a, b) for a, b in itertools.product(L, repeat=2) if is_consistent({"甲": a, "乙": b})
    }
    assert accepted == {
        (FULL, NONE),
        (NONE, FULL),
        (MAJOR, MINOR),
        (MINOR, MAJOR),
        (EQUAL, EQUAL),
    }
    for item in L:
        pair = {"甲": item, "乙": counterpart(item)}
        assert is_consistent(pair), pair


@pytest.mark.parametrize(
    "values",
    [
        (FULL, NONE, NONE),
        (MAJOR, MINOR, MINOR),
        (MAJOR, MAJOR, MINOR),
        (EQUAL, EQUAL, EQUAL),
        (EQUAL, EQUAL, NONE),
        (MAJOR, MINOR, NONE),
        (NONE, NONE, NONE, FULL),
    ],
)
def test_many_parties_accepted(values: tuple[Liability, ...]) -> None:
    check_liabilities({f"p{i}": v for i, v in enumerate(values)})


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ((FULL,), "too_few_parties"),
        ((NONE, NONE), "no_party_at_fault"),
        ((NONE, NONE, NONE), "no_party_at_fault"),
        ((FULL, FULL), "full_shared"),
        ((FULL, MINOR), "full_shared"),
        ((FULL, EQUAL, EQUAL), "full_shared"),
        ((EQUAL, EQUAL, MINOR), "equal_mixed"),
        ((EQUAL, MAJOR), "equal_mixed"),
        ((EQUAL, NONE), "equal_alone"),
        ((MAJOR, NONE), "major_without_minor"),
        ((MAJOR, MAJOR), "major_without_minor"),
        ((MINOR, NONE, NONE), "minor_without_major"),
        ((MINOR, MINOR), "minor_without_major"),
    ],
)
def test_inconsistent_sets_say_why(values: tuple[Liability, ...], reason: str) -> None:
    with pytest.raises(InconsistentLiability) as caught:
        check_liabilities({f"p{i}": v for i, v in enumerate(values)})
    assert caught.value.detail["reason"] == reason
    assert caught.value.code == "inconsistent_liability"
    assert caught.value.http_status == 400


def test_error_names_the_parties_at_fault() -> None:
    with pytest.raises(InconsistentLiability) as caught:
        check_liabilities({"张三": FULL, "李四": MAJOR, "王五": NONE})
    err = caught.value
    assert "张三" in err.message and "李四" in err.message and "王五" not in err.message
    assert err.detail["parties_at_fault"] == ["张三", "李四"]
    assert err.detail["liabilities"] == {"张三": "full", "李四": "major", "王五": "none"}


def test_parse_liabilities() -> None:
    assert parse_liabilities({"甲": "全部责任", "乙": "none"}) == {"甲": FULL, "乙": NONE}
    bads: list[object] = [{}, [], {"": "full"}, {"甲": "most"}, "full"]
    for bad in bads:
        with pytest.raises(InvalidMessage):
            parse_liabilities(bad)


# --- properties --------------------------------------------------------------------------

assignments = st.lists(st.sampled_from(list(L)), min_size=2, max_size=6)


def _verdict(values: list[Liability]) -> str | None:
    try:
        check_liabilities({f"party-{i}": v for i, v in enumerate(values)})
    except InconsistentLiability as err:
        return str(err.detail["reason"])
    return None


@given(assignments)
def test_every_accepted_assignment_is_consistent(values: list[Liability]) -> None:
    """An independent restatement of the rule, checked against the implementation."""
    if _verdict(values) is not None:
        return
    at_fault = [v for v in values if v is not NONE]
    assert at_fault, "someone is at fault"
    if FULL in at_fault:
        assert at_fault == [FULL]
    elif EQUAL in at_fault:
        assert set(at_fault) == {EQUAL} and len(at_fault) >= 2
    else:
        assert MAJOR in at_fault and MINOR in at_fault


@given(assignments, st.data())
def test_swapping_parties_does_not_change_the_verdict(
    values: list[Liability], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(values))
    assert _verdict(shuffled) == _verdict(values)
    # Renaming the parties does not matter either; the named parties follow the rename.
    renamed = {f"x{len(values) - i}": v for i, v in enumerate(values)}
    original = {f"party-{i}": v for i, v in enumerate(values)}
    assert is_consistent(renamed) == is_consistent(original)
    assert len(parties_at_fault(renamed)) == len(parties_at_fault(original))
