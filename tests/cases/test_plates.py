"""Plate normalisation: literal inputs as people type them, and a round-trip property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaichu.cases.errors import InvalidPlate
from kuaichu.cases.plates import PROVINCES, PlateColour, PlateKind, normalise_plate, parse_plate


@pytest.mark.parametrize(
    ("raw", "canonical", "kind"),
    [
        ("京A·12345", "京A·12345", PlateKind.ORDINARY),
        ("京a12345", "京A·12345", PlateKind.ORDINARY),
        (" 京 A 123 45 ", "京A·12345", PlateKind.ORDINARY),
        ("京Ａ・１２３４５", "京A·12345", PlateKind.ORDINARY),  # full-width, katakana dot
        ("京A.b12c3", "京A·B12C3", PlateKind.ORDINARY),
        ("京A-1O3I5", "京A·10315", PlateKind.ORDINARY),  # no I/O in serials
        ("京O·12345", "京O·12345", PlateKind.ORDINARY),  # a letter position keeps its O
        ("滬A12345", "沪A·12345", PlateKind.ORDINARY),  # traditional province character
        ("粤B·D12345", "粤B·D12345", PlateKind.NEW_ENERGY_SMALL),
        ("粤b.d12345", "粤B·D12345", PlateKind.NEW_ENERGY_SMALL),
        ("粤BDA1234", "粤B·DA1234", PlateKind.NEW_ENERGY_SMALL),
        ("粤B·DO123I", "粤B·D01231", PlateKind.NEW_ENERGY_SMALL),
        ("粤B·F12345", "粤B·F12345", PlateKind.NEW_ENERGY_SMALL),
        ("粤B·12345D", "粤B·12345D", PlateKind.NEW_ENERGY_LARGE),
        ("粤B·O2345F", "粤B·02345F", PlateKind.NEW_ENERGY_LARGE),
        ("京A1234学", "京A·1234学", PlateKind.COACH),
        ("冀F·3456挂", "冀F·3456挂", PlateKind.TRAILER),
    ],
)
def test_accepted(raw: str, canonical: str, kind: PlateKind) -> None:
    plate = parse_plate(raw)
    assert plate.canonical == canonical == str(plate) == normalise_plate(raw)
    assert plate.kind is kind


def test_colours() -> None:
    assert parse_plate("京A12345").colour is PlateColour.BLUE_OR_YELLOW
    assert parse_plate("京A1234挂").colour is PlateColour.YELLOW
    assert parse_plate("粤BD12345").colour is PlateColour.GREEN
    assert parse_plate("粤B12345D").colour is PlateColour.YELLOW_GREEN
    assert parse_plate("粤B12345D").new_energy and not parse_plate("京A12345").new_energy


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        (" · ", "empty"),
        (12345, "not_text"),
        ("A12345", "missing_province"),
        ("台A12345", "unknown_province"),
        ("京112345", "authority_not_letter"),
        ("京", "bad_length"),
        ("京A1234", "bad_length"),
        ("京A·1234567", "bad_length"),
        ("京A·12#45", "bad_character"),
        ("粤B·X12345", "bad_new_energy"),
        ("粤B·D1234X", "bad_new_energy"),
        ("粤B·D12S45", "bad_character"),
        ("京A·1234警", "not_civil"),
        ("使123456", "not_civil"),
        ("粤Z·1234港", "not_civil"),
    ],
)
def test_refused(raw: object, reason: str) -> None:
    with pytest.raises(InvalidPlate) as caught:
        parse_plate(raw)
    assert caught.value.detail["reason"] == reason
    assert caught.value.code == "invalid_plate"


# --- property: messy spellings of a valid plate come back to it ---------------------------

SERIAL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
DIGITS = "0123456789"
ENERGY = "ABCDEFGHJK"
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in SERIAL}


@st.composite
def plates(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(sorted(PROVINCES))) + draw(st.sampled_from(SERIAL[:24]))
    kind = draw(st.sampled_from(["ordinary", "small", "large"]))
    if kind == "ordinary":
        serial = "".join(draw(st.lists(st.sampled_from(SERIAL), min_size=5, max_size=5)))
    elif kind == "small":
        serial = (
            draw(st.sampled_from(ENERGY))
            + draw(st.sampled_from(SERIAL))
            + "".join(draw(st.lists(st.sampled_from(DIGITS), min_size=4, max_size=4)))
        )
    else:
        serial = "".join(draw(st.lists(st.sampled_from(DIGITS), min_size=5, max_size=5)))
        serial += draw(st.sampled_from("DF"))
    return f"{head}·{serial}"


@given(plates(), st.data())
def test_messy_spellings_normalise_back(canonical: str, data: st.DataObject) -> None:
    messy = canonical
    if data.draw(st.booleans()):
        messy = messy.lower()
    if data.draw(st.booleans()):
        messy = messy.replace("·", data.draw(st.sampled_from(["", " ", ".", "-", "・"])))
    if data.draw(st.booleans()):
        messy = "".join(FULL_WIDTH.get(c.upper(), c) for c in messy)
    if data.draw(st.booleans()):
        messy = f"  {messy}\t"
    assert normalise_plate(messy) == canonical
    assert normalise_plate(canonical) == canonical  # canonical is a fixed point
