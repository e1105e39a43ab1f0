"""The composition root's lifecycle: one cleanup context per service, closed in reverse
order, every close failure reported, and the OCR warm-up's failure said in the log."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.web_app import CleanupError

from kuaichu.app import create_app
from kuaichu.calls.center import CallCenter
from kuaichu.media.plate_reader import PlateReader
from kuaichu.notify import Notifier
from kuaichu.queue.eventlog import EventLog
from kuaichu.settings import parse
from kuaichu.signaling.emitter import Emitter
from kuaichu.storage.db import Database
from kuaichu.verification import LocalRegistry

# Service close methods in the order shutdown must call them (the reverse of start-up).
CLOSE_ORDER: list[tuple[str, type[Any]]] = [
    ("calls", CallCenter),
    ("notifier", Notifier),
    ("registry", LocalRegistry),
    ("emitter", Emitter),
    ("event log", EventLog),
    ("database", Database),
]


def _app(tmp_path: Path) -> web.Application:
    return create_app(parse(["--data-dir", str(tmp_path / "data")]))


def _record_closes(
    monkeypatch: pytest.MonkeyPatch, closed: list[str], failing: frozenset[str] = frozenset()
) -> None:
    for name, cls in CLOSE_ORDER:
        original: Callable[[Any], Awaitable[None]] = cls.close

        async def close(self: Any, _name: str = name, _orig: Any = original) -> None:
            closed.append(_name)
            await _orig(self)
            if _name in failing:
                raise RuntimeError(f"{_name} would not close")

        monkeypatch.setattr(cls, "close", close)


@pytest.fixture(autouse=True)
def _no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OCR models take a second or two to load and play no part here.
    monkeypatch.setattr(PlateReader, "warm_up", lambda self: None)


async def test_services_close_in_reverse_order_of_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    _record_closes(monkeypatch, closed)
    runner = web.AppRunner(_app(tmp_path))
    await runner.setup()
    await runner.cleanup()
    assert closed == [name for name, _ in CLOSE_ORDER]


async def test_every_close_failure_is_reported_and_the_rest_still_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    _record_closes(monkeypatch, closed, failing=frozenset({"notifier", "emitter"}))
    runner = web.AppRunner(_app(tmp_path))
    await runner.setup()
    with pytest.raises(CleanupError) as info:
        await runner.cleanup()
    messages = sorted(str(e) for e in info.value.exceptions)
    assert messages == ["emitter would not close", "notifier would not close"]
    assert closed == [name for name, _ in CLOSE_ORDER]


async def test_a_failed_ocr_warm_up_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: PlateReader) -> None:
        raise OSError("model file missing")

    monkeypatch.setattr(PlateReader, "warm_up", broken)
    runner = web.AppRunner(_app(tmp_path))
    with caplog.at_level(logging.WARNING, logger="kuaichu"):
        await runner.setup()
        await runner.cleanup()
    warnings = [r.getMessage() for r in caplog.records if r.name == "kuaichu.app"]
    assert any("warm-up failed" in m and "model file missing" in m for m in warnings), warnings
