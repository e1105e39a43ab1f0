"""The adapters against a real HTTP gateway, and the log adapter."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kuaichu.notify import HttpSms, LogSms, SmsError, make_adapter
from kuaichu.notify.sms import parse_body_template, render_body
from kuaichu.settings import Settings

PHONE = "13812345678"
NASTY = '他说："快走"\n第二行 \\ 结尾 {phone} ", "phone": "10086'


async def test_default_body_carries_text_phone_signature_and_id(gateway: Any) -> None:
    sms = HttpSms(gateway.url, token="s3cret", signature="【快处】")
    try:
        gateway_id = await sms.send(PHONE, "【快处】你好", 7)
    finally:
        await sms.close()
    assert gateway_id == "gw-7"
    assert gateway.requests == [
        {"phone": PHONE, "text": "【快处】你好", "signature": "【快处】", "id": "7"}
    ]
    assert gateway.headers[0]["Authorization"] == "Bearer s3cret"


async def test_quotes_and_newlines_in_the_text_cannot_change_the_body(gateway: Any) -> None:
    template = (
        '{"to": [{phone}], "sign": "{signature}", '
        '"content": "{signature}{text}", "meta": {"ref": "msg-{id}", "raw": {text}}}'
    )
    sms = HttpSms(gateway.url, body_template=template, signature="【快处】")
    try:
        await sms.send(PHONE, NASTY, 42)
    finally:
        await sms.close()
    assert gateway.requests == [
        {
            "to": [PHONE],
            "sign": "【快处】",
            "content": "【快处】" + NASTY,
            "meta": {"ref": "msg-42", "raw": NASTY},
        }
    ]
    # No token configured: no Authorization header at all.
    assert "Authorization" not in gateway.headers[0]


def test_body_template_errors_name_the_setting() -> None:
    with pytest.raises(ValueError, match=r"sms-body-template.*not JSON"):
        parse_body_template('{"phone": {phone}, "text": {text}')
    with pytest.raises(ValueError, match=r"\{text\}"):
        parse_body_template('{"phone": {phone}}')
    # Braces of JSON objects are not placeholders; quoted and bare placeholders both work.
    body = render_body(
        parse_body_template('{"a": {"b": "{phone}"}, "t": {text}}'),
        phone="1",
        text='"',
        signature="",
        message_id=1,
    )
    assert json.loads(body) == {"a": {"b": "1"}, "t": '"'}


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (503, True),
        (429, True),
        (401, True),
        (403, True),
        (408, True),
        (400, False),
        (413, False),
        (422, False),
    ],
)
async def test_gateway_answers_decide_whether_to_retry(
    gateway_factory: Callable[..., Awaitable[Any]], status: int, retryable: bool
) -> None:
    gateway = await gateway_factory(status=status)
    sms = HttpSms(gateway.url)
    try:
        with pytest.raises(SmsError) as err:
            await sms.send(PHONE, "x", 1)
    finally:
        await sms.close()
    assert err.value.retryable is retryable
    assert err.value.detail["status"] == status
    assert PHONE not in err.value.message


async def test_unreachable_and_slow_gateways_are_retryable(
    gateway_factory: Callable[..., Awaitable[Any]], dead_url: str
) -> None:
    sms = HttpSms(dead_url)
    with pytest.raises(SmsError, match="unreachable") as err:
        await sms.send(PHONE, "x", 1)
    assert err.value.retryable
    await sms.close()

    slow = await gateway_factory(delay=2.0)
    sms = HttpSms(slow.url, timeout=0.2)
    with pytest.raises(SmsError, match="timed out") as err:
        await sms.send(PHONE, "x", 1)
    assert err.value.retryable
    await sms.close()


async def test_gateway_id_from_message_id_or_none(
    gateway_factory: Callable[..., Awaitable[Any]],
) -> None:
    gw = await gateway_factory(answer={"code": 0, "message_id": 998877})
    sms = HttpSms(gw.url)
    assert await sms.send(PHONE, "x", 1) == "998877"
    gw.answer = {"code": 0}
    assert await sms.send(PHONE, "x", 2) is None
    await sms.close()


async def test_log_adapter_masks_the_phone(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kuaichu.notify")
    assert await LogSms().send(PHONE, "【快处】事故已受理", 5) is None
    assert "138****5678" in caplog.text
    assert "【快处】事故已受理" in caplog.text
    assert PHONE not in caplog.text


def test_make_adapter_follows_the_settings() -> None:
    assert isinstance(make_adapter(Settings()), LogSms)
    http = make_adapter(Settings(sms_gateway_url="http://gw.example/sms", sms_token="t"))
    assert isinstance(http, HttpSms)
    assert http.url == "http://gw.example/sms"
    with pytest.raises(ValueError, match="sms-body-template"):
        make_adapter(Settings(sms_gateway_url="http://gw", sms_body_template="{phone"))
