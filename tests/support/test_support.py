"""The test helpers prove what they claim: the log check catches an exception the server
logged, the page check catches uncaught errors and unexpected console errors, and
eventually() both waits and gives up with its message."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest

from tests.support.eventually import eventually
from tests.support.pagecheck import page_problems
from tests.support.servers import start_in_process


async def test_a_logged_exception_is_a_problem_and_info_is_not(tmp_path: Path) -> None:
    server = await start_in_process(tmp_path / "data")
    try:
        async with aiohttp.ClientSession() as http, http.get(server.url + "/healthz") as r:
            assert r.status == 200
        logger = logging.getLogger("kuaichu.somewhere")
        logger.info("an ordinary line")
        assert server.problems() == []
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("something failed")
        logger.error("a pass failed\nTraceback (most recent call last):\n  ...")
    finally:
        await server.close()
    problems = server.problems()
    assert len(problems) == 2
    assert "RuntimeError: boom" in problems[0] and "a pass failed" in problems[1]
    assert "an ordinary line" in server.log()
    # Closed: the capture is gone, later records are not this server's.
    logging.getLogger("kuaichu.somewhere").error("later", exc_info=RuntimeError("x"))
    assert len(server.problems()) == 2


def test_page_errors_fail_unless_expected() -> None:
    entries = [
        ("page1", "log", "hello"),
        ("page1", "error", "Failed to load resource: ... status of 401 ... /login'"),
        ("page2", "pageerror", "TypeError: x is undefined"),
    ]
    assert page_problems(entries, []) == [
        "[page1 error] Failed to load resource: ... status of 401 ... /login'",
        "[page2 pageerror] TypeError: x is undefined",
    ]
    # An expected console error is allowed; an uncaught exception never is.
    assert page_problems(entries, [r"status of 401 .*/login'"]) == [
        "[page2 pageerror] TypeError: x is undefined"
    ]


async def test_eventually_returns_the_value_or_fails_with_the_message() -> None:
    box: list[int] = []
    asyncio.get_running_loop().call_later(0.1, box.append, 7)
    assert await eventually(lambda: box, 2) == [7]

    async def never() -> bool:
        return False

    with pytest.raises(AssertionError, match=r"still nothing \(waited 0.2 s\)"):
        await eventually(never, 0.2, lambda: "still nothing")
