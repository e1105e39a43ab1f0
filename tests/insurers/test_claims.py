"""The claim's statuses and the validation of an insurer's update (pure), and the insurers'
SMS texts: within one 70-character message with the link."""

from __future__ import annotations

import pytest

from kuaichu.cases.errors import IllegalTransition
from kuaichu.errors import InvalidMessage
from kuaichu.insurers.claims import ClaimStatus, check_move, parse_amount, parse_update
from kuaichu.notify import Template, render_text
from kuaichu.notify.messages import SINGLE_SEGMENT, required_params

S = ClaimStatus


@pytest.mark.parametrize(
    ("raw", "fen"),
    [("1234.5", 123450), ("0.01", 1), (88, 8800), (12.3, 1230), (" 7 ", 700), ("1000000", 10**8)],
)
def test_amounts_in_yuan_become_fen(raw: object, fen: int) -> None:
    assert parse_amount(raw) == fen


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("-1", "more than 0"),
        (0, "more than 0"),
        ("0.001", "two decimals"),
        ("1000000.01", "above 1000000"),
        ("NaN", "finite"),
        (float("inf"), "finite"),
        ("1e3000", "above"),
        ("一百", "number of yuan"),
        (None, "number of yuan"),
        ([1], "number of yuan"),
        (False, "number of yuan"),
        ("9" * 30, "too long"),
    ],
)
def test_bad_amounts_say_why(raw: object, says: str) -> None:
    with pytest.raises(InvalidMessage, match=says):
        parse_amount(raw)


def test_every_move_the_table_allows_and_refuses() -> None:
    allowed = {
        (S.HANDED_OFF, S.RECEIVED),
        (S.HANDED_OFF, S.REFUSED),
        (S.RECEIVED, S.ASSESSOR_ASSIGNED),
        (S.RECEIVED, S.ASSESSED),
        (S.RECEIVED, S.REFUSED),
        (S.ASSESSOR_ASSIGNED, S.ASSESSED),
        (S.ASSESSOR_ASSIGNED, S.REFUSED),
        (S.ASSESSED, S.ASSESSED),
        (S.ASSESSED, S.PAID),
        (S.ASSESSED, S.REFUSED),
    }
    bodies = {
        S.RECEIVED: {},
        S.ASSESSOR_ASSIGNED: {"assessor": "李"},
        S.ASSESSED: {"amount": "10"},
        S.PAID: {},
        S.REFUSED: {"reason": "no cover"},
    }
    for current in S:
        for target, extra in bodies.items():
            update = parse_update({"status": target.value, **extra})
            if (current, target) in allowed:
                check_move(current, update)
            else:
                with pytest.raises(IllegalTransition) as refused:
                    check_move(current, update)
                assert refused.value.detail["reason"] == "claim_transition"


def test_handed_off_is_not_the_insurers_to_record() -> None:
    with pytest.raises(InvalidMessage, match="status must be one of") as bad:
        parse_update({"status": "handed_off"})
    assert bad.value.detail["reason"] == "bad_status"


@pytest.mark.parametrize("template", [Template.CLAIM_OPENED, Template.CLAIM_STATUS,
                                      Template.COMPLAINT_RECEIVED])
def test_insurer_texts_fit_one_sms_with_the_link(template: Template) -> None:
    link = "https://kuaichu.example.gov.cn/p/" + "A" * 24  # a 24-character token
    params = {"link": link, "claim": max((s.zh for s in S), key=len)}
    text = render_text(template, {k: params[k] for k in required_params(template)}, "【快处】")
    assert text.endswith(link)
    assert len(text) <= SINGLE_SEGMENT, text
