"""The texts parties receive, and the masking of their numbers."""

from __future__ import annotations

from datetime import datetime

import pytest

from kuaichu.cases.states import CHINA_TIME, review_deadline
from kuaichu.notify import Template, format_deadline, mask_phone, render_text, sms_segments
from kuaichu.notify.messages import redact_links, redact_phones, required_params

LINK = "https://kuaichu.example.gov.cn/p/AbCdEfGhIjKlMnOpQrStUv"
NUMBER = "京公交认字〔2024〕第000123号"
PARAMS = {
    "case_id": "KC20240501ABC234",
    "link": LINK,
    "number": NUMBER,
    "deadline": "5月4日24时",
    "outcome": "upheld",
    "code": "123456",
    "claim": "已派查勘员",  # the longest claim status (kuaichu.insurers.claims)
}


def params_for(template: Template) -> dict[str, str]:
    return {k: PARAMS[k] for k in required_params(template)}


@pytest.mark.parametrize("template", list(Template))
def test_every_template_starts_with_the_signature_and_carries_its_facts(
    template: Template,
) -> None:
    text = render_text(template, params_for(template), "【快处】")
    assert text.startswith("【快处】")
    # The case and document numbers are on the page the link opens (one-segment texts).
    for name in ("link", "deadline"):
        if name in required_params(template):
            assert PARAMS[name] in text
    # Links go last so the phone's link detection does not take the Chinese after them.
    if "link" in required_params(template):
        assert text.endswith(LINK)
    # The figures in docs/notifications.md: at most two parts with a 55-character link.
    assert sms_segments(text) <= 2


def test_every_text_needs_a_link_except_the_queue_notice() -> None:
    # The one-time code goes to a device that has no access yet: it carries no link either.
    assert {t for t in Template if "link" not in required_params(t)} == {
        Template.QUEUED,
        Template.LINK_CODE,
    }


def test_determination_text_tells_the_review_deadline() -> None:
    text = render_text(Template.DETERMINATION_ISSUED, params_for(Template.DETERMINATION_ISSUED), "")
    assert "5月4日24时前可复核" in text


def test_review_outcome_in_words() -> None:
    upheld = render_text(Template.REVIEW_OUTCOME, {**params_for(Template.REVIEW_OUTCOME)}, "")
    revised = render_text(
        Template.REVIEW_OUTCOME, {**params_for(Template.REVIEW_OUTCOME), "outcome": "revised"}, ""
    )
    assert "维持原认定" in upheld
    assert "重新认定" in revised
    with pytest.raises(ValueError, match="outcome"):
        render_text(
            Template.REVIEW_OUTCOME, {**params_for(Template.REVIEW_OUTCOME), "outcome": "maybe"}, ""
        )


def test_missing_and_extra_parameters_are_programming_errors() -> None:
    with pytest.raises(ValueError, match=r"missing \['link'\]"):
        render_text(Template.LEAVE_SCENE, {"case_id": "KC1"}, "【快处】")
    with pytest.raises(ValueError, match=r"unexpected \['number'\]"):
        render_text(Template.QUEUED, {"case_id": "KC1", "number": "x"}, "【快处】")
    with pytest.raises(ValueError, match="empty"):
        render_text(Template.QUEUED, {"case_id": " "}, "【快处】")
    with pytest.raises(ValueError, match="line breaks"):
        render_text(Template.QUEUED, {"case_id": "KC1\n请拨打"}, "【快处】")
    with pytest.raises(ValueError, match="must be a string"):
        render_text(Template.QUEUED, {"case_id": None}, "【快处】")
    with pytest.raises(ValueError, match="unknown SMS template"):
        render_text("birthday", {}, "")  # type: ignore[arg-type]


def test_segments_count_as_carriers_bill() -> None:
    assert sms_segments("字" * 70) == 1
    assert sms_segments("字" * 71) == 2
    assert sms_segments("字" * 134) == 2
    assert sms_segments("字" * 135) == 3


def test_deadline_text_from_the_review_deadline() -> None:
    served = datetime(2024, 5, 1, 10, 0, tzinfo=CHINA_TIME)
    assert format_deadline(review_deadline(served)) == "5月4日24时"
    assert format_deadline(datetime(2024, 5, 4, 18, 30, tzinfo=CHINA_TIME)) == "5月4日18时30分"
    assert format_deadline(datetime(2024, 5, 4, 18, 0, tzinfo=CHINA_TIME)) == "5月4日18时"


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86*******5678"
    assert mask_phone("1234567") == "12***67"
    assert mask_phone("110") == "***"
    assert redact_phones("HTTP 400: bad number 13812345678 (code 42)") == (
        "HTTP 400: bad number 138****5678 (code 42)"
    )


def test_link_tokens_are_cut_from_text_meant_for_a_log() -> None:
    text = render_text(Template.LEAVE_SCENE, params_for(Template.LEAVE_SCENE), "【快处】")
    shown = redact_links(text)
    assert "AbCdEfGhIjKlMnOpQrStUv" not in shown
    assert shown.endswith("/p/…")
    # A one-time code is not a link: it stays (the log adapter's development use).
    code = render_text(Template.LINK_CODE, params_for(Template.LINK_CODE), "")
    assert "123456" in redact_links(code)
