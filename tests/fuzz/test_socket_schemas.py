"""Property-based fuzzing of every socket.io message schema, and of the case form parser the
case API uses (``CaseForm.parse``, called by ``CaseWork.save_form`` for ``PUT .../form``).

Valid messages must parse; anything else may only be refused with a :class:`KuaichuError`
that has a code. Any other exception (TypeError, RecursionError, OverflowError, …) is a crash
the socket.io edge would log as a traceback and answer with ``internal``.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kuaichu.calls.ids import new_call_id
from kuaichu.cases.eligibility import AccidentCause
from kuaichu.cases.form import CaseForm
from kuaichu.errors import KuaichuError
from kuaichu.signaling import schemas

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- hostile building blocks ---------------------------------------------------------------

# Text with what breaks naive code: lone surrogates, NUL and C0/C1 controls, RTL overrides,
# astral characters, very long runs.
EDGE_TEXT = st.one_of(
    st.text(),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.sampled_from(
        [
            "",
            "\ud800",
            "a\udfffb",
            "\x00",
            "\x85\x9b",
            "\u202e\u2066evil",
            "\U0001f697" * 20,
            "１２３",
            "v=0\r\n" + "a" * 10,
            "x" * 5000,
            "NaN",
            "Infinity",
        ]
    ),
)
EDGE_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([10**309, -(10**309), 2**63, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]),
    st.booleans(),
)
SCALARS = st.one_of(st.none(), EDGE_NUMBERS, EDGE_TEXT)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(EDGE_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)


def deep(depth: int, leaf: Any = 1, as_list: bool = False) -> Any:
    """A value nested ``depth`` levels deep (deeper than the recursion limit if asked)."""
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


@dataclass(frozen=True)
class Deep:
    """Stands for a deeply nested value until the test builds it: hypothesis prints what it
    generated, and its printer recurses."""

    depth: int
    as_list: bool = False


def build(value: Any) -> Any:
    """``value`` with every :class:`Deep` replaced by the nested value it stands for."""
    if isinstance(value, Deep):
        return deep(value.depth, 1, value.as_list)
    if isinstance(value, dict):
        return {k: build(v) for k, v in value.items()}
    if isinstance(value, list):
        return [build(v) for v in value]
    return value


DEEP = st.builds(
    Deep,
    st.sampled_from([50, 1000, sys.getrecursionlimit() + 100, 5 * sys.getrecursionlimit()]),
    st.booleans(),
)
HOSTILE = st.one_of(JSONISH, DEEP)


def mutate(valid: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """A valid message with a field replaced, removed or added, or replaced as a whole."""

    @st.composite
    def _mutated(draw: st.DrawFn) -> Any:
        msg = dict(draw(valid) or {})
        how = draw(st.sampled_from(["replace", "drop", "add", "whole", "nest"]))
        if how == "whole":
            return draw(HOSTILE)
        if how == "add" or not msg:
            msg[draw(EDGE_TEXT)] = draw(HOSTILE)
            return msg
        key = draw(st.sampled_from(sorted(msg)))
        if how == "drop":
            del msg[key]
        elif how == "nest" and isinstance(msg[key], dict):
            inner = dict(msg[key])
            if inner:
                inner_key = draw(st.sampled_from(sorted(inner)))
                inner[inner_key] = draw(HOSTILE)
            msg[key] = inner
        else:
            msg[key] = draw(HOSTILE)
        return msg

    return _mutated()


def only_coded_errors(parse: Callable[[Any], Any], data: Any) -> Any:
    """Parse, allowing only a KuaichuError with a code as the refusal."""
    try:
        return parse(build(data))
    except KuaichuError as exc:
        assert exc.code and exc.code != "internal", exc
        json.dumps(exc.as_dict(), ensure_ascii=False)  # the ack must be sendable
        return None


# --- valid messages ------------------------------------------------------------------------

CALL_IDS = st.builds(new_call_id)
# What kuaichu.calls.model.Call mints as its resume token.
TOKENS = st.builds(lambda: secrets.token_urlsafe(24))
LOCATIONS = st.fixed_dictionaries(
    {
        "lat": st.floats(-90, 90, allow_nan=False),
        "lng": st.one_of(st.floats(-180, 180, allow_nan=False), st.integers(-180, 180)),
    },
    optional={"accuracy": st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False))},
)
ELIGIBILITY = st.fixed_dictionaries(
    {
        **{name: st.booleans() for name in schemas.ELIGIBILITY_FIELDS if name != "cause"},
        "cause": st.sampled_from([*(c.value for c in AccidentCause), "other"]),
    }
)
# A mainland mobile number as a page may send it (issue 12: the server keeps only these): the
# 11 digits (1[3-9] and nine more), bare or with +86/86 and spaces or dashes between groups.
MOBILES = st.from_regex(r"\A1[3-9][0-9]{9}\Z")
PHONES = st.one_of(
    MOBILES,
    st.builds(
        lambda prefix, sep, n: f"{prefix}{n[:3]}{sep}{n[3:7]}{sep}{n[7:]}",
        st.sampled_from(["", "+86", "86", "+86 "]),
        st.sampled_from(["", " ", "-"]),
        MOBILES,
    ),
)
REPORTS = st.fixed_dictionaries(
    {"eligibility": ELIGIBILITY},
    optional={"location": st.one_of(st.none(), LOCATIONS), "phone": st.one_of(st.none(), PHONES)},
)
SDP = st.builds(
    lambda tail: "v=0\r\n" + tail, st.text(st.characters(max_codepoint=126), max_size=200)
)
CAPTURES = st.fixed_dictionaries({"call_id": CALL_IDS, "kind": st.text(min_size=1, max_size=16)})


def _sdp_answers(need_call_id: bool) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {"type": st.just("answer"), "sdp": SDP}
    if need_call_id:
        fields["call_id"] = CALL_IDS
    return st.fixed_dictionaries(fields)


def driver_sdp(data: Any) -> Any:
    return schemas.parse_sdp_answer(data, need_call_id=False)


def officer_sdp(data: Any) -> Any:
    return schemas.parse_sdp_answer(data, need_call_id=True)


# (parser, strategy of valid messages): every parse_* of schemas.py, and the case form.
PARSERS: dict[str, tuple[Callable[[Any], Any], st.SearchStrategy[Any]]] = {
    "location": (schemas.parse_location, LOCATIONS),
    "eligibility": (schemas.parse_eligibility, ELIGIBILITY),
    "report": (schemas.parse_report, REPORTS),
    "call_id": (schemas.parse_call_id, st.fixed_dictionaries({"call_id": CALL_IDS})),
    "resume": (
        schemas.parse_resume,
        st.fixed_dictionaries({"call_id": CALL_IDS, "resume_token": TOKENS}),
    ),
    "status": (
        schemas.parse_status,
        st.fixed_dictionaries({"status": st.sampled_from(["available", "break"])}),
    ),
    # issue 9: the driver page asks for a fresh media leg.
    "media_restart": (
        schemas.parse_media_restart,
        st.fixed_dictionaries(
            {"reason": st.sampled_from(schemas.MEDIA_RESTART_REASONS)},
            optional={"call_id": CALL_IDS},
        ),
    ),
    # issue 12: the console holds the wrap-up while its case work is open.
    "wrapup_hold": (schemas.parse_wrapup_hold, st.fixed_dictionaries({"hold": st.booleans()})),
    "empty": (
        schemas.parse_empty,
        st.one_of(st.none(), st.fixed_dictionaries({}, optional={"call_id": CALL_IDS})),
    ),
    "sdp_answer(driver)": (driver_sdp, _sdp_answers(False)),
    "sdp_answer(officer)": (officer_sdp, _sdp_answers(True)),
    "capture": (schemas.parse_capture, CAPTURES),
}


def test_every_parser_is_fuzzed() -> None:
    parsers = {name for name in dir(schemas) if name.startswith("parse_")}
    fuzzed = {getattr(p, "__name__", "") for p, _ in PARSERS.values()}
    fuzzed |= {"parse_sdp_answer"} if "driver_sdp" in fuzzed else set()
    assert parsers <= fuzzed, parsers - fuzzed


@FUZZ
@given(st.data())
def test_valid_messages_parse(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(PARSERS)))
    parse, valid = PARSERS[name]
    message = data.draw(valid, label=name)
    parsed = parse(message)  # no exception at all
    if name == "report" and message.get("phone") is not None:
        # The number is kept as its 11 digits, whatever the page's spacing and prefix.
        assert parsed.phone == re.sub(r"\D", "", message["phone"])[-11:], parsed


@FUZZ
@given(st.data())
def test_hostile_messages_are_refused_with_a_code(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(PARSERS)))
    parse, valid = PARSERS[name]
    only_coded_errors(parse, data.draw(mutate(valid), label=name))


@FUZZ
@given(HOSTILE)
@example(Deep(5 * sys.getrecursionlimit()))
@example({"resume_token": "é" * 20, "call_id": "abcdefgh1234"})
def test_the_size_check_never_crashes(payload: Any) -> None:
    # The namespace measures every payload before any parser sees it.
    only_coded_errors(lambda d: schemas.check_size(d, 64 * 1024), payload)


@example({"call_id": "abcdefgh1234", "resume_token": "密" * 20})
@example({"call_id": "abcdefgh1234", "resume_token": "\udc80" * 20})
@given(st.fixed_dictionaries({"call_id": CALL_IDS, "resume_token": EDGE_TEXT}))
@FUZZ
def test_a_resume_token_the_server_compares_is_ascii(message: dict[str, Any]) -> None:
    # secrets.compare_digest raises TypeError on a non-ASCII str: the schema must refuse it.
    parsed = only_coded_errors(schemas.parse_resume, message)
    if parsed is not None:
        parsed[1].encode("ascii")


# --- the case form -------------------------------------------------------------------------

PARTY = st.fixed_dictionaries(
    {"key": st.sampled_from("ABCDEF")},
    optional={
        "reporter": st.booleans(),
        "name": st.text(max_size=32),
        "phone": st.sampled_from(["", "13800138000", "+8613912345678"]),
        "licence_no": st.sampled_from(["", "11010519491231002X"]),
        "plate": st.sampled_from(["", "京A12345", "黑A·D12345"]),
        "vehicle_type": st.sampled_from(["", "small_car", "other"]),
        "insurer": st.text(max_size=64),
        "policy_no": st.sampled_from(["", "PDAA2026-0001"]),
        "fault": st.text(max_size=200),
        "liability": st.sampled_from([None, "", "full", "none", "equal"]),
    },
)
FORMS = st.fixed_dictionaries(
    {},
    optional={
        "cause": st.sampled_from([None, "", *(c.value for c in AccidentCause)]),
        "occurred_at": st.sampled_from([None, "", "2026-11-30T08:00:00+08:00"]),
        "address": st.text(max_size=200),
        "description": st.text(max_size=300),
        "legal_basis": st.text(max_size=300),
        "parties": st.lists(PARTY, max_size=6, unique_by=lambda p: p["key"]),
    },
)


def _form_parse(data: Any) -> Any:
    return CaseForm.parse(data)


@FUZZ
@given(FORMS)
def test_the_case_form_parses_or_refuses_with_a_code(form: dict[str, Any]) -> None:
    # Generated text may hold control characters the form refuses: a refusal with a code is
    # fine; the point is that nothing else escapes.
    only_coded_errors(_form_parse, form)


@FUZZ
@given(mutate(FORMS))
@example({"lat": 10**400, "lng": 1})
@example({"lat": math.nan, "lng": math.nan})
@example({"occurred_at": "0001-01-01T00:00:00+14:00"})
@example({"occurred_at": "9999-12-31T23:59:59-14:00"})
@example({"cause": Deep(5 * sys.getrecursionlimit())})
@example({"occurred_at": Deep(990, as_list=True)})
@example({"parties": [{"key": "A", "liability": Deep(990)}]})
@example({"parties": [{"key": "A", "plate": "\udc80"}]})
@example({"parties": [{"key": ["A"]}]})
@example({"parties": [{"key": "A", "liability": {"x": 1}}]})
def test_hostile_case_forms_are_refused_with_a_code(form: Any) -> None:
    only_coded_errors(_form_parse, form)


@FUZZ
@given(st.lists(mutate(PARTY), max_size=3))
def test_hostile_parties_are_refused_with_a_code(parties: list[Any]) -> None:
    only_coded_errors(_form_parse, {"parties": parties})


@FUZZ
@given(
    st.one_of(
        CALL_IDS,
        CALL_IDS.map(lambda c: c + "\n"),
        st.from_regex(r"[A-Za-z0-9_-]{8,40}\n?", fullmatch=True),
        EDGE_TEXT,
    )
)
def test_a_call_id_that_parses_has_the_minted_shape(call_id: str) -> None:
    # Ids go into log lines, room names and lookups: nothing but the URL-safe alphabet.
    parsed = only_coded_errors(schemas.parse_call_id, {"call_id": call_id})
    if parsed is not None:
        assert re.fullmatch(r"[A-Za-z0-9_-]{8,40}", parsed), repr(parsed)
