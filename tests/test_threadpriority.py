"""kuaichu.threadpriority: worker threads drop below the loop's priority, the loop's does not."""

from __future__ import annotations

import asyncio
import os
import threading

import aiosqlite
import pytest

from kuaichu.tasks import TaskOwner
from kuaichu.threadpriority import BackgroundThreads, supported
from tests.support.eventually import eventually

pytestmark = pytest.mark.skipif(not supported(), reason="per-thread nice values are Linux's")


async def test_workers_run_below_the_loop() -> None:
    loop_tid = threading.get_native_id()
    base = os.getpriority(os.PRIO_PROCESS, loop_tid)
    stop = threading.Event()
    tids: list[int] = []

    def work() -> None:
        tids.append(threading.get_native_id())
        stop.wait(10)

    worker = threading.Thread(target=work)
    worker.start()
    async with TaskOwner("test") as tasks:
        keeper = BackgroundThreads(nice=5, every=0.05)
        tasks.spawn(keeper.run(), "thread-priority")
        try:
            await eventually(lambda: tids, 5)
            await eventually(
                lambda: os.getpriority(os.PRIO_PROCESS, tids[0]) == min(19, base + 5),
                5,
                "the worker thread kept the loop's priority",
            )
            # A thread started later (the executor of to_thread) is caught too.
            later = await asyncio.to_thread(threading.get_native_id)
            await eventually(lambda: later in keeper.lowered, 5)
            assert os.getpriority(os.PRIO_PROCESS, loop_tid) == base  # the loop keeps its own
            # So does the database's thread: the loop awaits every query.
            async with aiosqlite.connect(":memory:") as db:
                await db.execute("select 1")
                db_tid = db._thread.native_id
                assert db_tid is not None
                keeper.scan(loop_tid)
                assert db_tid not in keeper.lowered
                assert os.getpriority(os.PRIO_PROCESS, db_tid) == base
        finally:
            stop.set()
            worker.join()


async def test_a_short_lived_worker_lowers_itself_at_once() -> None:
    """An evidence capture's thread lives less than a scan's period: it enters the background
    itself, before its first frame, while the keeper runs; without a keeper it changes
    nothing."""
    from kuaichu.threadpriority import enter_background

    loop_tid = threading.get_native_id()
    base = os.getpriority(os.PRIO_PROCESS, loop_tid)
    policy = os.sched_getscheduler(0)  # this thread's, whatever the test process made it

    def short() -> int:
        enter_background()
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def in_new_thread() -> int:
        seen: list[int] = []
        t = threading.Thread(target=lambda: seen.append(short()))
        t.start()
        t.join()
        return seen[0]

    assert in_new_thread() == base
    async with TaskOwner("test") as tasks:
        keeper = BackgroundThreads(nice=5, every=60)  # no scan will see the thread
        tasks.spawn(keeper.run(), "thread-priority")
        await asyncio.sleep(0.05)
        assert in_new_thread() == min(19, base + 5)
        # Called on the loop's own thread (inline, not in a worker), it changes nothing.
        short()
        assert os.getpriority(os.PRIO_PROCESS, loop_tid) == base
        assert os.sched_getscheduler(0) == policy



def _priority_seen_by_a_new_thread(*, idle: bool) -> int:
    from kuaichu.threadpriority import enter_background

    seen: list[int] = []

    def short() -> None:
        enter_background(idle=idle)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    t = threading.Thread(target=short)
    t.start()
    t.join()
    return seen[0]


async def test_idle_work_goes_furthest_below_the_loop() -> None:
    """Work nobody waits for (the plate patrol) enters the background as far below the loop as
    nice goes; other work the keeper's number of steps."""
    from kuaichu.threadpriority import IDLE_NICE

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    async with TaskOwner("test") as tasks:
        tasks.spawn(BackgroundThreads(nice=5, every=60).run(), "thread-priority")
        await asyncio.sleep(0.05)
        assert _priority_seen_by_a_new_thread(idle=True) == min(19, base + IDLE_NICE)
        assert _priority_seen_by_a_new_thread(idle=False) == min(19, base + 5)


def test_workers_follow_the_loop_when_its_priority_changes() -> None:
    """The steps count from the loop's nice value as it is now (benchmarks/call_load.py --nice
    shifts a running server's), not as it was when the keeper started."""
    seen: list[int] = []
    start = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def loop_lowered_after_start() -> None:
        async with TaskOwner("test") as tasks:
            tasks.spawn(BackgroundThreads(nice=5, every=60).run(), "thread-priority")
            await asyncio.sleep(0.05)
            # Lowering its own priority needs no privilege; this thread ends with the test.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), start + 2)
            seen.append(_priority_seen_by_a_new_thread(idle=False))

    loop_thread = threading.Thread(target=lambda: asyncio.run(loop_lowered_after_start()))
    loop_thread.start()
    loop_thread.join()
    assert seen == [min(19, start + 2 + 5)]
