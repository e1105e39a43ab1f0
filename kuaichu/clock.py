"""Time as a collaborator, so timing policy can be tested without waiting.

Services that read the time or schedule timers take a :class:`Clock` in their constructor.
:class:`SystemClock` is the real one; :class:`ManualClock` only moves when told to, which lets
a test step past a 30 s reservation timeout in no time (trio's ``MockClock`` and Twisted's
``task.Clock`` ship the same tool beside their real clocks).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback that can be called off (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Wall time, monotonic time and timers."""

    def now(self) -> float:
        """Wall-clock seconds since the epoch: for what people see and what is stored."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go backwards: for ordering and durations."""
        ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` on the event loop after ``delay`` seconds."""
        ...


class SystemClock:
    """The real clock: ``time.time``, ``time.monotonic`` and the running loop's timers."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)


@dataclass(order=True)
class _ManualTimer:
    when: float
    seq: int
    callback: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock for tests and simulations: time stands still until :meth:`advance`, which
    runs the timers that fall due, in order, each seeing the clock at its own due time."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall_offset = start
        self._mono = 0.0
        self._timers: list[_ManualTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._wall_offset + self._mono

    def monotonic(self) -> float:
        return self._mono

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        timer = _ManualTimer(self._mono + max(delay, 0.0), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def pending(self) -> int:
        """How many timers are still scheduled (cancelled ones excluded)."""
        return sum(1 for t in self._timers if not t.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every timer due by then (including
        timers those callbacks schedule within the window)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        target = self._mono + seconds
        while self._timers and self._timers[0].when <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._mono = timer.when
            timer.callback()
        self._mono = target
