"""Every SMS is one segment (issue 12): at most 70 characters with the signature and a
realistic link, for every kind of message and the longest values its parameters take."""

from __future__ import annotations

import secrets
from datetime import datetime

import pytest

from kuaichu.cases.states import CHINA_TIME
from kuaichu.notify import Template, format_deadline, render_text, sms_segments
from kuaichu.notify.messages import LINK_BUDGET, SINGLE_SEGMENT, required_params

BASE = "https://jj.hrb.gov.cn"


def longest_params() -> dict[str, str]:
    # A progress link as kuaichu.storage.casefiles makes its token (token_urlsafe(18)), a
    # rejoin link as kuaichu.calls.rejoin makes its one; the longest deadline the review
    # window gives (local midnight of a two-digit month and day) and the longest claim status.
    return {
        "case_id": "KC20261231ABCDEF",
        "link": f"{BASE}/p/{secrets.token_urlsafe(18)}",
        "number": "哈公交认字〔2026〕第000123号",
        "deadline": format_deadline(datetime(2027, 1, 1, tzinfo=CHINA_TIME)),
        "outcome": "revised",
        "code": "123456",
        "claim": "已派查勘员",
    }


def test_the_realistic_link_is_within_the_budget() -> None:
    assert len(longest_params()["link"]) == LINK_BUDGET
    assert longest_params()["deadline"] == "12月31日24时"


@pytest.mark.parametrize("template", list(Template))
def test_every_message_is_one_segment(template: Template) -> None:
    params = longest_params()
    if template is Template.REJOIN:
        params["link"] = f"{BASE}/j/{secrets.token_urlsafe(12)}"
    text = render_text(template, {k: params[k] for k in required_params(template)}, "【快处】")
    assert len(text) <= SINGLE_SEGMENT, (len(text), text)
    assert sms_segments(text) == 1
    if "link" in required_params(template):
        # Last, so a phone's link detection does not swallow the words after it.
        assert text.endswith(params["link"])
