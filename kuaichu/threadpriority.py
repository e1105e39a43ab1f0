"""The event loop's thread comes first: every other thread of the process runs at a lower CPU
priority (a higher nice value).

Media, consent checks, RTCP and signaling all run on the one loop thread; the heavy work runs
in threads (plate reading with onnxruntime's own thread pool, evidence decoding, recording,
password hashing). Those threads release the GIL, so they do not block the loop through it,
but they compete with it for the CPU: on a machine whose cores are all busy (or a server
pinned to one core), the scheduler shares a core evenly between the loop and a burst of OCR,
and the loop runs late by tens to hundreds of ms. At nice +10 a worker gets about a tenth of
the loop's share when both want the same core (Linux CFS weights 1024 vs 110), and all of it
when the loop is idle: nothing is slower on an idle machine.

The database's thread (aiosqlite runs each connection in a thread of its own) keeps the loop's
priority: the loop awaits every query, so a query starved on a busy core would hold up the
accept or the hang-up that waits for it.

Linux only (a thread's nice value is its own there); elsewhere this does nothing. Lowering a
priority needs no privilege.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

BACKGROUND_NICE: Final = 10
# Work nobody waits for (the plate patrol's reads): as far below the loop as nice goes.
IDLE_NICE: Final = 19
SCAN_EVERY: Final = 1.0  # a new thread runs at the loop's priority at most this long
_TASKS = Path("/proc/self/task")


# Threads whose work the loop awaits on its critical path, by the module of their target.
_KEEP_MODULES: Final = ("aiosqlite",)


def _kept(thread: threading.Thread) -> bool:
    target = getattr(thread, "_target", None)  # set until the thread's run() returns
    module = getattr(target, "__module__", None) or ""
    return module.startswith(_KEEP_MODULES)


def supported() -> bool:
    return sys.platform.startswith("linux") and _TASKS.is_dir()


def lower_priority(tid: int, nice: int) -> bool:
    """Thread ``tid``'s nice value to at least ``nice`` (at most 19; a thread already lower
    stays as it is). False if the thread is gone.

    Tried and left out (2026-11-30): SCHED_IDLE as well. At 10 calls pinned to one core it
    halved the loop's wait for the CPU (50 -> 22-26 ms/s; lag p99 37-58 -> 19-29 ms, two runs
    each), but such threads get nothing while any other process wants the core: in the one
    suite run with it (three workers on two cores) a reloaded driver page's new leg was
    declared dead for want of media (not proven to be the cause), and a server that shares
    its machine (PostgreSQL, coturn) would starve its own recorders."""
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, nice))
    except (ProcessLookupError, PermissionError):
        return False
    return True


# How many steps the running BackgroundThreads keeps other threads below the loop (0: none
# runs), and the thread it keeps first. Process-wide facts, like the nice values themselves;
# one server per process.
_background_nice = 0
_loop_tid = 0


def enter_background(*, idle: bool = False) -> None:
    """Call first thing in a short-lived worker thread (an evidence capture's decoding): it
    would otherwise run at the loop's priority until the next scan, and a thread that lives
    0.1-0.3 s is done before any scan sees it. A new thread inherits the nice value of the
    thread that started it, and short-lived ones are started from the loop's.

    ``idle``: work nobody waits for, IDLE_NICE steps below the loop (weight 15 against the
    loop's 1024, where +10 is 110): a burst of it then takes ~1.5 % of a busy core from the loop
    instead of ~10 % a thread. Only against the server's own threads: with the kernel's
    autogroups or a service's cgroup, other processes share the CPU with the server as a
    whole, whatever its threads' nice values."""
    tid = threading.get_native_id()
    # Never the loop's own thread (a helper that is usually run in a worker, called inline).
    if _background_nice > 0 and tid != _loop_tid and supported():
        lower_priority(tid, _below_loop(IDLE_NICE if idle else _background_nice))


def _below_loop(steps: int) -> int:
    """The nice value ``steps`` below the loop's current one (it may have been changed from
    outside, as benchmarks/call_load.py --nice does)."""
    try:
        return min(19, os.getpriority(os.PRIO_PROCESS, _loop_tid) + steps)
    except (ProcessLookupError, PermissionError):
        return min(19, steps)


class BackgroundThreads:
    """Keeps every thread but the loop's ``nice`` steps below it; run :meth:`run` as an owned
    task on the loop whose thread is to come first."""

    def __init__(self, nice: int = BACKGROUND_NICE, every: float = SCAN_EVERY) -> None:
        self.nice = nice
        self.every = every
        self.lowered: set[int] = set()

    def target(self, loop_tid: int) -> int:
        """The nice value of the others: ``nice`` steps below the loop's own."""
        try:
            return min(19, os.getpriority(os.PRIO_PROCESS, loop_tid) + self.nice)
        except (ProcessLookupError, PermissionError):
            return self.nice

    def scan(self, loop_tid: int) -> int:
        """Lower the threads not seen before; returns how many were lowered now."""
        count = 0
        try:
            tids = {int(p.name) for p in _TASKS.iterdir()}
        except OSError:
            return 0
        self.lowered &= tids  # forget threads that ended (their ids may come back)
        keep = {loop_tid} | {t.native_id for t in threading.enumerate() if _kept(t)}
        target = self.target(loop_tid)
        for tid in tids - self.lowered - keep:
            if lower_priority(tid, target):
                count += 1
            self.lowered.add(tid)
        return count

    async def run(self) -> None:
        if self.nice <= 0 or not supported():
            return
        global _background_nice, _loop_tid
        loop_tid = threading.get_native_id()
        logger.info("threads other than the event loop's run at nice +%d", self.nice)
        _background_nice, _loop_tid = self.nice, loop_tid
        try:
            while True:
                self.scan(loop_tid)
                await asyncio.sleep(self.every)
        finally:
            _background_nice, _loop_tid = 0, 0
