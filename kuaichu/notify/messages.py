"""The texts sent to parties: templates to zh-CN SMS text. Pure, no I/O.

Each template names exactly the parameters it needs; a missing or unexpected one is a
programming error (``ValueError``), caught by the first test that sends it rather than by a
party receiving a text with a hole in it. Texts are short because an SMS carries 70 Chinese
characters; longer texts are split into 67-character parts and each part is billed
(docs/notifications.md lists what each template takes).

Links go last: several phones' link detection swallows the Chinese characters after a URL.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final


class Template(enum.StrEnum):
    QUEUED = "queued"
    LEAVE_SCENE = "leave_scene"
    DETERMINATION_ISSUED = "determination_issued"
    REVIEW_RECEIVED = "review_received"
    REVIEW_OUTCOME = "review_outcome"
    AGREEMENT_CONFIRM = "agreement_confirm"
    AGREEMENT_APPROVED = "agreement_approved"
    LINK_REPLACED = "link_replaced"
    LINK_CODE = "link_code"
    CALL_INTERRUPTED = "call_interrupted"
    # issue 12: the officer brings a dropped driver back into the call (kuaichu.calls.rejoin).
    REJOIN = "rejoin"
    # Insurers (issue 13, kuaichu.insurers): the claim handed to the insurers, each status
    # the insurer records (claim: ClaimStatus.zh, at most 5 characters), a complaint filed.
    CLAIM_OPENED = "claim_opened"
    CLAIM_STATUS = "claim_status"
    COMPLAINT_RECEIVED = "complaint_received"
    # issue 13: an officer calls a photo report's driver back by video
    # (kuaichu.photoreports.callbacks).
    VIDEO_CALLBACK = "video_callback"
    # issue 13: a photo report whose photos were never sent is void (kuaichu.photoreports).
    PHOTO_NOT_SENT = "photo_not_sent"


# Legal notices: a failure to deliver one is never dropped silently; it waits on the
# supervisors' "failed, needs attention" list until someone resends it.
LEGAL_NOTICES: Final = frozenset({Template.LEAVE_SCENE, Template.DETERMINATION_ISSUED})


# Parameters: case_id (KC20240501ABC234), link (the party's progress page), number (the
# determination's document number), deadline (format_deadline), outcome (upheld/revised),
# code (a progress link's one-time code, six digits).
_TEXTS: Final[Mapping[Template, str]] = {
    Template.QUEUED: (
        "您的事故快处报警已受理，编号{case_id}，正在排队等待民警视频接听，请勿挂断。"
    ),
    # Every text with a link fits one SMS (70 characters with the signature) for links up
    # to LINK_BUDGET characters (issue 12): the case number and the document number are on
    # the page the link opens; the link goes last.
    Template.LEAVE_SCENE: "证据已固定，请立即撤离现场：{link}",
    Template.DETERMINATION_ISSUED: "已出认定书{deadline}前可复核{link}",
    Template.REVIEW_RECEIVED: "复核申请已收到，结果将短信告知：{link}",
    Template.REVIEW_OUTCOME: "认定书经复核{outcome}：{link}",
    Template.AGREEMENT_CONFIRM: "自行协商协议待您确认：{link}",
    Template.AGREEMENT_APPROVED: "协商协议已审核通过，可办理理赔：{link}",
    Template.LINK_REPLACED: "联系电话已改为本号码，旧链接已失效：{link}",
    Template.LINK_CODE: (
        "验证码{code}，用于查看事故{case_id}的办理进度，10分钟内有效，请勿告诉他人。"
    ),
    Template.CALL_INTERRUPTED: "系统重启报警中断，请重报或拨122：{link}",
    Template.REJOIN: "民警请您回到视频通话：{link}",
    # The insurers' texts fit one 70-character SMS with a 55-character link.
    Template.CLAIM_OPENED: "已交保险公司理赔{link}",
    Template.CLAIM_STATUS: "保险理赔{claim}{link}",
    Template.COMPLAINT_RECEIVED: "理赔投诉已受理{link}",
    Template.VIDEO_CALLBACK: "民警将视频核实事故，点此接通：{link}",
    Template.PHOTO_NOT_SENT: "拍照报警未提交，请重报或拨122：{link}",
}

# Parameters a caller hands over that the short text leaves out (kept with the outbox row).
_NOT_SHOWN: Final[Mapping[Template, frozenset[str]]] = {
    Template.LEAVE_SCENE: frozenset({"case_id"}),
    Template.DETERMINATION_ISSUED: frozenset({"number"}),
    Template.REVIEW_RECEIVED: frozenset({"number"}),
    Template.REVIEW_OUTCOME: frozenset({"number"}),
    Template.AGREEMENT_CONFIRM: frozenset({"case_id"}),
    Template.AGREEMENT_APPROVED: frozenset({"case_id"}),
    Template.LINK_REPLACED: frozenset({"case_id"}),
    Template.CALL_INTERRUPTED: frozenset({"case_id"}),
    Template.VIDEO_CALLBACK: frozenset({"case_id"}),
    Template.PHOTO_NOT_SENT: frozenset({"case_id"}),
}

# The longest link (base URL, /p/ and the 24-character token) with which every text is one
# SMS: ``https://jj.hrb.gov.cn/p/`` and a token is 48 (tests/notify/test_sms_length.py).
LINK_BUDGET: Final = 48

_OUTCOMES: Final[Mapping[str, str]] = {
    "upheld": "维持原认定",
    "revised": "已重新认定",
}

_FIELD = re.compile(r"\{(\w+)\}")
# A parameter must not break the text apart (line breaks) or carry invisible characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")

# One SMS holds 70 UCS-2 characters; a concatenated one loses 3 per part to the header.
SINGLE_SEGMENT: Final = 70
MULTI_SEGMENT: Final = 67


def required_params(template: Template) -> frozenset[str]:
    """The parameter names ``template`` takes, no more, no fewer."""
    template = Template(template)
    return frozenset(_FIELD.findall(_TEXTS[template])) | _NOT_SHOWN.get(template, frozenset())


def render_text(template: Template, params: Mapping[str, Any], signature: str) -> str:
    """The SMS text for ``template``: the signature (``【快处】``, which carriers require at the
    start) followed by the filled-in text. Raises ``ValueError`` for an unknown template, a
    missing, unexpected or empty parameter, a parameter with line breaks, or an outcome other
    than ``upheld``/``revised``."""
    try:
        template = Template(template)
    except ValueError:
        raise ValueError(f"unknown SMS template {template!r}") from None
    wanted = required_params(template)
    missing = sorted(wanted - params.keys())
    extra = sorted(params.keys() - wanted)
    if missing or extra:
        raise ValueError(
            f"SMS template {template.value!r} takes {sorted(wanted)}; "
            f"missing {missing}, unexpected {extra}"
        )
    values: dict[str, str] = {}
    for name in wanted:
        raw = params[name]
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise ValueError(f"SMS parameter {name!r} must be a string, got {type(raw).__name__}")
        value = str(raw).strip()
        if not value:
            raise ValueError(f"SMS parameter {name!r} is empty")
        if _CONTROL.search(value):
            raise ValueError(f"SMS parameter {name!r} contains line breaks or control characters")
        values[name] = value
    if "outcome" in values:
        try:
            values["outcome"] = _OUTCOMES[values["outcome"]]
        except KeyError:
            raise ValueError(
                f"SMS parameter 'outcome' must be one of {sorted(_OUTCOMES)}, "
                f"got {values['outcome']!r}"
            ) from None
    return signature + _FIELD.sub(lambda m: values[m.group(1)], _TEXTS[template])


def sms_segments(text: str) -> int:
    """How many SMS parts (and charges) ``text`` takes, counting as Chinese carriers do: one
    up to 70 characters, else one per 67. Characters outside the BMP count twice (UCS-2)."""
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    if units <= SINGLE_SEGMENT:
        return 1
    return math.ceil(units / MULTI_SEGMENT)


def format_deadline(deadline: datetime) -> str:
    """The ``deadline`` parameter from :func:`kuaichu.cases.states.review_deadline` (the first
    instant a review is refused, local midnight): ``5月4日24时`` for 00:00 on 5 May, the way
    the documents write it. Other instants print as ``5月4日18时30分``."""
    if (deadline.hour, deadline.minute, deadline.second, deadline.microsecond) == (0, 0, 0, 0):
        day = deadline - timedelta(days=1)
        return f"{day.month}月{day.day}日24时"
    minutes = f"{deadline.minute:02d}分" if deadline.minute else ""
    return f"{deadline.month}月{deadline.day}日{deadline.hour}时{minutes}"


def mask_phone(phone: str) -> str:
    """``138****5678``: enough for a party or an officer to recognise the number, not enough to
    call it. Used for every log line and page that shows a party's phone."""
    phone = phone.strip()
    n = len(phone)
    if n >= 11:
        return phone[:3] + "*" * (n - 7) + phone[-4:]
    if n >= 7:
        return phone[:2] + "*" * (n - 4) + phone[-2:]
    return "*" * n


# Runs of digits long enough to be a phone number (7+, spaces and dashes allowed inside), for
# scrubbing text that did not come from us (a gateway's error body may echo the number).
_PHONE_LIKE = re.compile(r"\+?\d[\d \-]{5,}\d")


def redact_phones(text: str) -> str:
    """``text`` with every phone-number-like run of digits masked."""
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)), text)


# A progress link's token in a text (…/p/<token>): secret, as a password is.
_LINK_TOKEN = re.compile(r"(/p/)[A-Za-z0-9_-]{8,}")


def redact_links(text: str) -> str:
    """``text`` with every progress link's token replaced by ``…``: what a log may show."""
    return _LINK_TOKEN.sub(r"\1…", text)
