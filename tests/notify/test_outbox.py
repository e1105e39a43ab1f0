"""The outbox and its worker against a real SQLite file and a real HTTP gateway."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.notify import HttpSms, LogSms, Notifier, Outbox, OutboxMessage, Template, enqueue
from kuaichu.storage.db import create_schema, make_engine
from kuaichu.storage.tables import cases, outbox
from tests.support.eventually import eventually

CASE_ID = "KC20240501ABC234"
PHONE = "13812345678"
LINK = "https://kuaichu.example.gov.cn/p/AbCdEfGhIjKlMnOpQrStUv"
T0 = 1_714_530_000.0  # 2024-05-01 10:20 in China


async def add(
    engine: AsyncEngine,
    key: str = "leave:KC20240501ABC234:A",
    *,
    now: float = T0,
    phone: str = PHONE,
    template: Template = Template.LEAVE_SCENE,
) -> bool:
    params = (
        {"case_id": CASE_ID, "link": LINK}
        if template is Template.LEAVE_SCENE
        else {"case_id": CASE_ID}
    )
    async with engine.begin() as conn:
        return await enqueue(
            conn,
            case_id=CASE_ID,
            party="A",
            phone=phone,
            template=template,
            params=params,
            dedupe_key=key,
            now=now,
            signature="【快处】",
        )


async def rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(outbox).order_by(outbox.c.id))
        return [dict(r) for r in result.mappings()]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[OutboxMessage] = []

    async def __call__(self, message: OutboxMessage) -> None:
        self.sent.append(message)


async def test_message_exists_only_if_the_step_committed(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(update(cases).values(status="scene_cleared"))
            await enqueue(
                conn,
                case_id=CASE_ID,
                party="A",
                phone=PHONE,
                template=Template.LEAVE_SCENE,
                params={"case_id": CASE_ID, "link": LINK},
                dedupe_key="leave:A",
                now=T0,
                signature="【快处】",
            )
            raise RuntimeError("the step failed after writing")
    assert await rows(engine) == []


async def test_duplicate_dedupe_key_is_one_message(engine: AsyncEngine) -> None:
    assert await add(engine, "leave:A") is True
    assert await add(engine, "leave:A", now=T0 + 5) is False
    assert await add(engine, "leave:B", phone="139 0000 1111") is True
    stored = await rows(engine)
    assert [(r["dedupe_key"], r["phone"], r["status"]) for r in stored] == [
        ("leave:A", PHONE, "pending"),
        ("leave:B", "13900001111", "pending"),
    ]
    assert stored[0]["body"].startswith("【快处】证据已固定，请立即撤离现场")
    assert stored[0]["created_at"] == T0


async def test_bad_input_is_refused_before_anything_is_written(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="missing"):
        async with engine.begin() as conn:
            await enqueue(
                conn,
                case_id=CASE_ID,
                party="A",
                phone=PHONE,
                template=Template.LEAVE_SCENE,
                params={"case_id": CASE_ID},
                dedupe_key="k",
                now=T0,
                signature="",
            )
    with pytest.raises(ValueError, match="phone") as err:
        await add(engine, phone="138-1234-56x8")
    assert "12345" not in str(err.value)
    assert await rows(engine) == []


async def test_gateway_down_then_back_up(
    engine: AsyncEngine, gateway_factory: Callable[..., Awaitable[Any]]
) -> None:
    gateway = await gateway_factory(start=False)  # the port is closed
    recorder = Recorder()
    notifier = Notifier(engine, HttpSms(gateway.url), on_sent=recorder)
    await add(engine)
    assert await notifier.deliver_due(now=T0) == 0
    [row] = await rows(engine)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    # Back-off: 5 s after the first failure, less up to 20 % jitter.
    assert T0 + 4.0 <= row["next_attempt_at"] <= T0 + 5.0
    assert "unreachable" in row["last_error"]
    assert recorder.sent == []
    # Not due yet: nothing is tried.
    assert await notifier.deliver_due(now=T0 + 3.9) == 0

    await gateway.start()
    assert await notifier.deliver_due(now=T0 + 5.0) == 1
    [row] = await rows(engine)
    assert (row["status"], row["attempts"], row["gateway_id"]) == ("sent", 2, f"gw-{row['id']}")
    assert row["sent_at"] == T0 + 5.0
    assert row["last_error"] is None
    assert [(m.id, m.status, m.gateway_id) for m in recorder.sent] == [
        (row["id"], "sent", f"gw-{row['id']}")
    ]
    # Sent once; a later pass sends nothing and calls nobody.
    assert await notifier.deliver_due(now=T0 + 1000) == 0
    assert len(gateway.requests) == 1
    assert len(recorder.sent) == 1
    await notifier.close()


async def test_server_error_is_retried_with_growing_back_off(
    engine: AsyncEngine, gateway_factory: Callable[..., Awaitable[Any]]
) -> None:
    gateway = await gateway_factory(status=500)
    notifier = Notifier(engine, HttpSms(gateway.url), base_backoff=10, max_backoff=30)
    await add(engine)
    now = T0
    waits = []
    for attempt in (1, 2, 3, 4):
        assert await notifier.deliver_due(now=now) == 0
        [row] = await rows(engine)
        assert (row["status"], row["attempts"]) == ("pending", attempt)
        waits.append(row["next_attempt_at"] - now)
        now = row["next_attempt_at"]
    # 10, 20, then capped at 30 s, each less up to 20 % jitter.
    for wait, full in zip(waits, (10, 20, 30, 30), strict=True):
        assert full * 0.8 <= wait <= full
    # The gateway echoed the number; what the supervisor sees does not carry it.
    assert "HTTP 500" in row["last_error"]
    assert "138****5678" in row["last_error"]
    assert PHONE not in row["last_error"]

    gateway.status = 200
    assert await notifier.deliver_due(now=now) == 1
    [row] = await rows(engine)
    assert (row["status"], row["attempts"]) == ("sent", 5)
    assert len(gateway.requests) == 5
    await notifier.close()


async def test_refused_message_fails_at_once_and_is_not_retried(
    engine: AsyncEngine,
    gateway_factory: Callable[..., Awaitable[Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = await gateway_factory(status=400)
    notifier = Notifier(engine, HttpSms(gateway.url))
    await add(engine)
    assert await notifier.deliver_due(now=T0) == 0
    assert await notifier.deliver_due(now=T0 + 100_000) == 0
    [row] = await rows(engine)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "HTTP 400" in row["last_error"]
    assert len(gateway.requests) == 1
    # A legal notice (leave the scene) is not dropped silently: an error naming the list
    # where it waits, and the list has it.
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "138****5678" in errors[0].getMessage()
    assert CASE_ID in errors[0].getMessage()
    assert "failed notices list" in errors[0].getMessage()
    assert await notifier.counts() == {"pending": 0, "sent": 0, "failed": 1}
    [waiting] = await Outbox(engine).needing_attention()
    assert (waiting.id, waiting.legal, waiting.needs_attention) == (row["id"], True, True)
    assert await Outbox(engine).needing_attention(["KC20990101ZZZ999"]) == []
    await notifier.close()


async def test_gives_up_after_max_attempts(
    engine: AsyncEngine,
    gateway_factory: Callable[..., Awaitable[Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = await gateway_factory(status=503)
    notifier = Notifier(engine, HttpSms(gateway.url), max_attempts=3)
    await add(engine)
    for hour in range(6):
        await notifier.deliver_due(now=T0 + 3600 * hour)
    [row] = await rows(engine)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert len(gateway.requests) == 3
    assert [r.levelno for r in caplog.records].count(logging.ERROR) == 1  # a legal notice
    [message] = await notifier.messages(CASE_ID)
    assert (message.status, message.attempts, message.masked_phone) == ("failed", 3, "138****5678")
    assert PHONE not in repr(message)
    await notifier.close()


async def test_a_restarted_server_delivers_what_was_pending(
    db_url: str,
    engine: AsyncEngine,
    gateway_factory: Callable[..., Awaitable[Any]],
    dead_url: str,
) -> None:
    await add(engine, "a")
    await add(engine, "b", template=Template.QUEUED)
    before = Notifier(engine, HttpSms(dead_url))
    assert await before.deliver_due(now=T0) == 0
    await before.close()
    await engine.dispose()

    gateway = await gateway_factory()
    fresh = make_engine(db_url)
    after = Notifier(fresh, HttpSms(gateway.url))
    try:
        assert await after.counts() == {"pending": 2, "sent": 0, "failed": 0}
        assert await after.deliver_due(now=T0 + 60) == 2
        assert await after.counts() == {"pending": 0, "sent": 2, "failed": 0}
        assert sorted(gateway.texts_per_id.values()) == [1, 1]
    finally:
        await after.close()
        await fresh.dispose()


async def test_two_workers_send_each_message_exactly_once(
    db_url: str, engine: AsyncEngine, gateway_factory: Callable[..., Awaitable[Any]]
) -> None:
    gateway = await gateway_factory(delay=0.005)
    for i in range(40):
        await add(engine, f"m{i}")
    # Two engines on one file: two server processes as far as the database can tell.
    other = make_engine(db_url)
    first = Notifier(engine, HttpSms(gateway.url), batch=7)
    second = Notifier(other, HttpSms(gateway.url), batch=7)
    try:
        counts = await asyncio.gather(first.deliver_due(now=T0), second.deliver_due(now=T0))
    finally:
        await first.close()
        await second.close()
        await other.dispose()
    assert sum(counts) == 40
    assert len(gateway.texts_per_id) == 40
    assert set(gateway.texts_per_id.values()) == {1}
    stored = await rows(engine)
    assert {(r["status"], r["attempts"]) for r in stored} == {("sent", 1)}


async def test_on_sent_failure_keeps_the_message_sent(
    engine: AsyncEngine, gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(message: OutboxMessage) -> None:
        raise RuntimeError("the audit write failed")

    notifier = Notifier(engine, HttpSms(gateway.url), on_sent=broken)
    await add(engine)
    assert await notifier.deliver_due(now=T0) == 1
    assert await notifier.deliver_due(now=T0 + 10_000) == 0
    [row] = await rows(engine)
    assert row["status"] == "sent"
    assert len(gateway.requests) == 1
    assert "on_sent failed" in caplog.text
    await notifier.close()


class Exploding:
    """An adapter with a bug: not an SmsError, so the outbox cannot know it is permanent."""

    name = "exploding"

    async def send(self, phone: str, text: str, message_id: int) -> str | None:
        raise KeyError(phone)

    async def close(self) -> None:
        return None


async def test_an_adapter_bug_is_retried_without_the_number(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(engine, Exploding())
    await add(engine)
    assert await notifier.deliver_due(now=T0) == 0
    [row] = await rows(engine)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"].startswith("KeyError")
    assert PHONE not in row["last_error"]
    # The traceback is logged for whoever fixes the adapter, with the number masked.
    assert "raised unexpectedly" in caplog.text
    assert "Traceback" in caplog.text
    assert PHONE not in caplog.text


async def test_worker_sends_when_woken(engine: AsyncEngine, gateway: Any) -> None:
    recorder = Recorder()
    # A poll interval of an hour: only wake() can explain a prompt delivery.
    notifier = Notifier(engine, HttpSms(gateway.url), on_sent=recorder, poll_interval=3600)
    notifier.start()
    try:
        await eventually(lambda: notifier.passes == 1, 10, "the first pass did not run")
        assert recorder.sent == []  # the first pass has found nothing, and now it waits
        await add(engine, now=time.time())
        notifier.wake()
        await eventually(lambda: recorder.sent, 10, "the woken notifier sent nothing")
        assert [m.template for m in recorder.sent] == [Template.LEAVE_SCENE]
        assert len(gateway.requests) == 1
        assert notifier.passes <= 2  # sent by the pass the doorbell started, not a poll
    finally:
        await notifier.close()


async def test_worker_survives_database_errors(
    tmp_path: Any, gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'later.sqlite3'}")  # no schema yet
    recorder = Recorder()
    notifier = Notifier(engine, HttpSms(gateway.url), on_sent=recorder, poll_interval=0.05)
    notifier.start()
    try:
        for _ in range(200):
            if "delivery pass failed" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "delivery pass failed" in caplog.text
        await create_schema(engine)
        async with engine.begin() as conn:
            await conn.execute(insert(cases).values(id=CASE_ID, created_at=T0, status="queued"))
        await add(engine, now=time.time())
        notifier.wake()
        for _ in range(200):
            if recorder.sent:
                break
            await asyncio.sleep(0.05)
        assert len(recorder.sent) == 1
    finally:
        await notifier.close()
        await engine.dispose()


async def test_log_adapter_end_to_end_never_logs_the_number(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kuaichu")
    notifier = Notifier(engine, LogSms())
    await add(engine, "a")
    await add(engine, "b", template=Template.QUEUED)
    assert await notifier.deliver_due(now=T0) == 2
    await notifier.close()
    assert "138****5678" in caplog.text
    assert "【快处】您的事故快处报警已受理" in caplog.text
    ours = [r for r in caplog.records if r.name.startswith("kuaichu.")]
    assert ours
    assert all(PHONE not in r.getMessage() for r in ours)
    messages = await notifier.messages(CASE_ID)
    assert [(m.template, m.status, m.params["case_id"]) for m in messages] == [
        (Template.LEAVE_SCENE, "sent", CASE_ID),
        (Template.QUEUED, "sent", CASE_ID),
    ]
    assert await notifier.messages("KC-none") == []


def test_an_echoed_text_leaves_neither_number_nor_link_in_the_error() -> None:
    from kuaichu.notify.outbox import _clean_error

    echoed = f"HTTP 400: refused {PHONE}: 【快处】事故证据已固定，请立即撤离现场。进度：{LINK}"
    cleaned = _clean_error(echoed, PHONE)
    assert PHONE not in cleaned
    assert LINK.rsplit("/", 1)[-1] not in cleaned
    assert "/p/…" in cleaned
