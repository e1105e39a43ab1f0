"""A real SQLite database with the schema and a real HTTP SMS gateway on a free port."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.storage.db import create_schema, make_engine
from kuaichu.storage.tables import cases

CASE_ID = "KC20240501ABC234"
PHONE = "13812345678"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'kuaichu.sqlite3'}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    await create_schema(eng)
    async with eng.begin() as conn:
        await conn.execute(
            insert(cases).values(id=CASE_ID, created_at=time.time(), status="queued")
        )
    yield eng
    await eng.dispose()


@dataclass
class Gateway:
    """An SMS gateway that answers ``status`` (and ``answer`` as JSON) and records what it got."""

    port: int
    status: int = 200
    answer: dict[str, Any] | None = None
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    @property
    def texts_per_id(self) -> Counter[str]:
        return Counter(r["id"] for r in self.requests)

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status >= 300:
            # Gateways like to echo the request in errors; the outbox must not keep the number.
            return web.Response(status=self.status, text=f"rejected {body.get('phone')}")
        answer = self.answer if self.answer is not None else {"id": f"gw-{body.get('id')}"}
        return web.json_response(answer, status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/sms", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def gateway_factory() -> AsyncIterator[Callable[..., Awaitable[Gateway]]]:
    made: list[Gateway] = []

    async def factory(start: bool = True, **kwargs: Any) -> Gateway:
        gw = Gateway(port=free_port(), **kwargs)
        made.append(gw)
        if start:
            await gw.start()
        return gw

    yield factory
    for gw in made:
        await gw.stop()


@pytest.fixture
def dead_url() -> str:
    """A gateway URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/sms"


@pytest.fixture
async def gateway(gateway_factory: Callable[..., Awaitable[Gateway]]) -> Gateway:
    return await gateway_factory()
