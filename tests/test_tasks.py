"""TaskOwner: keeps tasks alive, logs failures, cancels and awaits everything on close."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from kuaichu.tasks import TaskOwner


async def test_spawned_task_runs_and_is_forgotten_when_done() -> None:
    owner = TaskOwner("t")
    task = owner.spawn(asyncio.sleep(0, result=42), "answer")
    assert task.get_name() == "answer"
    assert len(owner) == 1
    assert await task == 42
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert len(owner) == 0


async def test_owner_keeps_a_strong_reference() -> None:
    owner = TaskOwner("t")
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.01)
        done.set()

    owner.spawn(work(), "unreferenced")
    gc.collect()
    await asyncio.wait_for(done.wait(), 2)


async def test_failure_is_logged_with_the_task_name(caplog: pytest.LogCaptureFixture) -> None:
    owner = TaskOwner("owner-x")

    async def boom() -> None:
        raise ValueError("kaput")

    task = owner.spawn(boom(), "boomer")
    with caplog.at_level(logging.ERROR, logger="kuaichu.tasks"):
        await asyncio.wait([task])
        await asyncio.sleep(0)
    [record] = [r for r in caplog.records if r.name == "kuaichu.tasks"]
    assert "boomer" in record.getMessage() and "owner-x" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)
    assert len(owner) == 0


async def test_cancellation_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    owner = TaskOwner("t")
    task = owner.spawn(asyncio.sleep(10), "sleeper")
    with caplog.at_level(logging.DEBUG, logger="kuaichu.tasks"):
        await owner.close()
    assert task.cancelled()
    assert not [r for r in caplog.records if r.name == "kuaichu.tasks"]


async def test_close_cancels_and_awaits_every_task() -> None:
    owner = TaskOwner("t")
    cleaned: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits must get to finish
            cleaned.append(name)

    tasks = [owner.spawn(worker(str(i)), f"w{i}") for i in range(3)]
    await asyncio.sleep(0)
    await owner.close()
    assert all(t.done() for t in tasks)
    assert sorted(cleaned) == ["0", "1", "2"]
    assert len(owner) == 0 and owner.closing


async def test_tasks_spawned_while_closing_are_cancelled_and_awaited() -> None:
    owner = TaskOwner("t")
    late: list[asyncio.Task[None]] = []

    async def spawns_on_cancel() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            late.append(owner.spawn(asyncio.sleep(10), "late"))

    owner.spawn(spawns_on_cancel(), "parent")
    await asyncio.sleep(0)
    await owner.close()
    assert len(late) == 1 and late[0].cancelled()
    assert len(owner) == 0


async def test_spawn_after_close_never_runs_the_coroutine() -> None:
    owner = TaskOwner("t")
    await owner.close()
    ran: list[bool] = []

    async def work() -> None:
        ran.append(True)

    task = owner.spawn(work(), "too-late")
    await asyncio.wait([task])
    assert task.cancelled() and not ran


async def test_close_does_not_hang_on_a_task_that_ignores_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = TaskOwner("t", close_timeout=0.05)
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    task = owner.spawn(stubborn(), "stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="kuaichu.tasks"):
        await asyncio.wait_for(owner.close(), 2)
    assert "stubborn" in caplog.text
    release.set()
    await task


async def test_close_with_nothing_to_do_and_twice() -> None:
    owner = TaskOwner("t")
    await owner.close()
    await owner.close()


async def test_async_with_closes_on_exit() -> None:
    async with TaskOwner("t") as owner:
        task = owner.spawn(asyncio.sleep(10), "s")
    assert task.cancelled()
