"""The server the fuzz tests talk to (the ``served`` fixture, through conftest.py).

``create_app`` in-process on a real port (tests/support/servers.py), in an event loop of the
test module's own, so that hypothesis's synchronous examples can each run a request to
completion in it; with an HTTP session logged in as the supervisor (who may act on every
case)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import pytest

from tests.support.servers import InProcessServer, start_in_process

T = TypeVar("T")


@dataclass
class Served:
    """The running server, its loop, and the supervisor's HTTP session."""

    loop: asyncio.AbstractEventLoop
    server: InProcessServer
    http: aiohttp.ClientSession
    cookie: str

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` in the server's loop, to its end."""
        return self.loop.run_until_complete(work)


async def _serve(tmp: pytest.TempPathFactory, loop: asyncio.AbstractEventLoop) -> Served:
    server = await start_in_process(
        tmp.mktemp("fuzz") / "data", reservation_timeout=5, driver_grace_seconds=60
    )
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # 127.0.0.1
    resp = await http.post(
        server.url + "/login",
        data={"username": server.supervisor_username, "password": server.supervisor_password},
        allow_redirects=False,
    )
    assert resp.status == 303, resp.status
    cookie = f"kuaichu_session={resp.cookies['kuaichu_session'].value}"
    return Served(loop, server, http, cookie)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    s = loop.run_until_complete(_serve(tmp_path_factory, loop))
    try:
        yield s
    finally:

        async def close() -> None:
            await s.http.close()
            await s.server.close()

        loop.run_until_complete(close())
        # As asyncio.run ends: what the server left running (engine.io's ping tasks) is
        # cancelled and awaited, not destroyed pending.
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
