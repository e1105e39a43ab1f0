"""One poller for every "wait until the server has done it" in the tests."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

Message = str | Callable[[], str]


async def eventually(
    condition: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    message: Message = "condition not met",
    interval: float = 0.05,
) -> T:
    """Poll ``condition`` (sync or async) until it returns something truthy and return that.

    Raises AssertionError with ``message`` (a string, or a callable evaluated at the time of
    failure, e.g. to show the rows or the log as they are then) after ``timeout`` seconds.
    The condition is always tried once more at the deadline, so a slow machine that reaches
    the state just in time passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        late = loop.time() >= deadline
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if late:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (waited {timeout:g} s)")
        await asyncio.sleep(interval)
