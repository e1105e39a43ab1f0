"""Where the server's event loop spends its long turns (issue 9's loop-lag target): a
diagnostic loaded into the server process by ``benchmarks/call_load.py --stall-log FILE``.

* Every turn of the asyncio loop is timed from the moment its ``select`` returns to the end of
  the callbacks it ran: wall time, the loop thread's own CPU time over it (``thread_time``;
  the rest is time it waited for a core or for the GIL), the readiness events, the datagrams
  read (aioice's ``datagram_received``) and sent (``send_data``) in it.
* A ``select`` that returned more than 5 ms after its timeout with nothing to read is a
  late wake-up: the loop was ready but had no core.
* A watchdog thread looks every 2 ms; while a turn has worked for more than 10 ms it samples
  the loop thread's stack (``sys._current_frames()``), so the long turns are attributed to
  the functions running in them.

Everything goes to FILE as JSON every 5 s. It costs the loop about 2 µs a turn and a 500 Hz
thread on the server's core: figures taken with it are for attribution, not for the table.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from asyncio import base_events
from collections import Counter
from typing import Any

BUCKETS_MS = (1, 2, 5, 10, 15, 20, 30, 50, 100, 200, 500)
LONG_MS = 15.0
SAMPLE_AFTER_S = 0.010
SAMPLE_EVERY_S = 0.002


class _State:
    def __init__(self, path: str) -> None:
        self.path = path
        self.loop_ident: int | None = None
        self.working_since: float | None = None  # perf_counter when select returned
        self.cpu_start = 0.0
        self.schedstat_fd = -1
        self.delay_start = 0
        self.delay_s = 0.0  # runqueue wait inside turns
        self.events = 0
        self.dgrams_in = 0
        self.dgrams_out = 0
        self.turn_samples: list[tuple[str, ...]] = []
        self.turns = 0
        self.work_s = 0.0
        self.cpu_s = 0.0
        self.wall_hist = [0] * (len(BUCKETS_MS) + 1)
        self.cpu_hist = [0] * (len(BUCKETS_MS) + 1)
        self.late_wakeups = 0
        self.late_wakeup_s = 0.0
        self.late_hist = [0] * (len(BUCKETS_MS) + 1)
        self.long_turns: list[dict[str, Any]] = []
        self.inclusive: Counter[str] = Counter()
        self.leaf: Counter[str] = Counter()
        self.samples = 0
        self.started = time.monotonic()
        self.lock = threading.Lock()


_state: _State | None = None


def _bucket(hist: list[int], ms: float) -> None:
    for i, edge in enumerate(BUCKETS_MS):
        if ms < edge:
            hist[i] += 1
            return
    hist[-1] += 1


def _stack(frame: Any) -> tuple[str, ...]:
    out = []
    while frame is not None and len(out) < 40:
        code = frame.f_code
        name = code.co_filename
        cut = name.find("site-packages/")
        name = name[cut + 14 :] if cut >= 0 else name.rsplit("/kuaichu/", 1)[-1]
        out.append(f"{name}:{code.co_name}")
        frame = frame.f_back
    return tuple(out)


def _watch(state: _State) -> None:
    next_dump = time.monotonic() + 5
    while True:
        time.sleep(SAMPLE_EVERY_S)
        since = state.working_since
        if since is not None and time.perf_counter() - since > SAMPLE_AFTER_S:
            frame = sys._current_frames().get(state.loop_ident or 0)
            if frame is not None and state.working_since == since:
                stack = _stack(frame)
                state.turn_samples.append(stack)
        if time.monotonic() >= next_dump:
            next_dump += 5
            _dump(state)


def _dump(state: _State) -> None:
    with state.lock:
        data = {
            "seconds": time.monotonic() - state.started,
            "buckets_ms": list(BUCKETS_MS),
            "turns": state.turns,
            "work_s": state.work_s,
            "cpu_s": state.cpu_s,
            "runqueue_wait_in_turns_s": state.delay_s,
            "turn_wall_hist": state.wall_hist,
            "turn_cpu_hist": state.cpu_hist,
            "late_wakeups": state.late_wakeups,
            "late_wakeup_s": state.late_wakeup_s,
            "late_wakeup_hist": state.late_hist,
            "samples": state.samples,
            "inclusive": state.inclusive.most_common(80),
            "leaf": state.leaf.most_common(40),
            "long_turns": state.long_turns[-3000:],
        }
    tmp = state.path + ".part"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, state.path)


def _run_delay(fd: int) -> int:
    """Nanoseconds the thread has waited on a runqueue (schedstat's second field)."""
    return int(os.pread(fd, 100, 0).split()[1])


def install(path: str) -> None:
    global _state
    state = _state = _State(path)
    run_once = base_events.BaseEventLoop._run_once

    def _run_once(self: Any) -> None:
        if state.loop_ident is None:
            state.loop_ident = threading.get_ident()
            state.schedstat_fd = os.open(
                f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY
            )
            selector = self._selector
            select = selector.select

            def timed_select(timeout: float | None = None) -> Any:
                t0 = time.perf_counter()
                events = select(timeout)
                now = time.perf_counter()
                if not events and timeout is not None and now - t0 > timeout + 0.005:
                    late = (now - t0 - timeout) * 1000
                    state.late_wakeups += 1
                    state.late_wakeup_s += late / 1000
                    _bucket(state.late_hist, late)
                state.events = len(events)
                state.dgrams_in = state.dgrams_out = 0
                state.cpu_start = time.thread_time()
                state.delay_start = _run_delay(state.schedstat_fd)
                state.working_since = now
                return events

            selector.select = timed_select
            threading.Thread(target=_watch, args=(state,), daemon=True, name="stallwatch").start()
        state.working_since = None
        run_once(self)
        since = state.working_since
        state.working_since = None
        if since is None:
            return
        wall = time.perf_counter() - since
        cpu = time.thread_time() - state.cpu_start
        delay = (_run_delay(state.schedstat_fd) - state.delay_start) / 1e9
        state.delay_s += delay
        state.turns += 1
        state.work_s += wall
        state.cpu_s += cpu
        _bucket(state.wall_hist, wall * 1000)
        _bucket(state.cpu_hist, cpu * 1000)
        samples, state.turn_samples = state.turn_samples, []
        if wall * 1000 >= LONG_MS or samples:
            with state.lock:
                state.samples += len(samples)
                for stack in samples:
                    state.leaf[stack[0]] += 1
                    for name in set(stack):
                        state.inclusive[name] += 1
                state.long_turns.append(
                    {
                        "at": round(time.monotonic() - state.started, 3),
                        "wall_ms": round(wall * 1000, 2),
                        "cpu_ms": round(cpu * 1000, 2),
                        "runqueue_ms": round(delay * 1000, 2),
                        "events": state.events,
                        "dgrams_in": state.dgrams_in,
                        "dgrams_out": state.dgrams_out,
                        "samples": len(samples),
                    }
                )

    base_events.BaseEventLoop._run_once = _run_once  # type: ignore[method-assign]

    from aioice import ice

    received = ice.StunProtocol.datagram_received
    send_data = ice.StunProtocol.send_data

    def datagram_received(self: Any, data: bytes, addr: Any) -> None:
        state.dgrams_in += 1
        received(self, data, addr)

    async def counted_send(self: Any, data: bytes, addr: Any) -> None:
        state.dgrams_out += 1
        await send_data(self, data, addr)

    ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]
    ice.StunProtocol.send_data = counted_send  # type: ignore[method-assign]
