"""Case and call ids: what is minted matches, and nothing but the exact shape does."""

from __future__ import annotations

import time

import pytest

from kuaichu.calls.ids import CALL_ID_RE, new_call_id
from kuaichu.cases.ids import CASE_ID_RE, new_case_id


def test_minted_ids_match_their_patterns() -> None:
    for _ in range(50):
        assert CASE_ID_RE.match(new_case_id(time.time()))
        assert CALL_ID_RE.match(new_call_id())


@pytest.mark.parametrize(
    "value",
    [
        "KC20240501K7M3QX\n",  # Python's $ would let a trailing newline through
        "KC２０２４０５０１K7M3QX",  # full-width digits are \d in Python
        "KC20240501K7M3Q0",  # no 0/O, 1/I
        "kc20240501K7M3QX",
        " KC20240501K7M3QX",
    ],
)
def test_case_id_refuses_look_alikes(value: str) -> None:
    assert CASE_ID_RE.match(value) is None


@pytest.mark.parametrize("value", ["abcdefgh\n", "abc", "a" * 41, "abcdefg/", "abcdéfgh"])
def test_call_id_refuses_other_shapes(value: str) -> None:
    assert CALL_ID_RE.match(value) is None
