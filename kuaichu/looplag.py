"""How late the event loop runs: the one figure that says whether media and signaling are
being starved (aioice's consent checks, RTCP and every socket.io message share this loop).

A sampler sleeps a short interval and records how much later than asked it woke up. The
samples of the last few minutes are kept (bounded), so a supervisor (``GET /api/metrics``)
and the benchmarks can read p50/p99/max over any recent window. Beside it, the garbage
collector's pauses (one of the things that make the loop late) are timed the same way.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from dataclasses import dataclass
from typing import Final

INTERVAL: Final = 0.05  # 20 samples a second: a 50 ms stall is seen, the sampler costs ~0
KEEP_SECONDS: Final = 300.0


@dataclass(frozen=True)
class LagStats:
    """Lag over a window, in milliseconds."""

    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    window_s: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "samples": self.samples,
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "window_s": self.window_s,
        }


class LoopLag:
    """Samples the running loop's lag; run :meth:`run` as an owned task."""

    def __init__(self, interval: float = INTERVAL, keep_seconds: float = KEEP_SECONDS) -> None:
        self.interval = interval
        # (monotonic time of the wake-up, lag in seconds)
        self._samples: deque[tuple[float, float]] = deque(maxlen=int(keep_seconds / interval))

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            self._samples.append((now, max(0.0, now - asked - self.interval)))

    def add(self, at: float, lag: float) -> None:
        """Record one sample (for tests)."""
        self._samples.append((at, lag))

    def stats(self, window: float, now: float | None = None) -> LagStats:
        """p50/p99/max of the samples taken in the last ``window`` seconds."""
        end = time.monotonic() if now is None else now
        lags = sorted(lag for at, lag in self._samples if at >= end - window)
        if not lags:
            return LagStats(0, 0.0, 0.0, 0.0, window)

        def pick(q: float) -> float:
            return lags[min(len(lags) - 1, int(q * len(lags)))] * 1000

        return LagStats(len(lags), pick(0.50), pick(0.99), lags[-1] * 1000, window)


@dataclass(frozen=True)
class GcStats:
    """The collector's pauses over a window, per generation (0, 1, 2): every pause holds the
    interpreter lock, so it stalls the event loop whichever thread set it off."""

    counts: tuple[int, int, int]
    total_ms: tuple[float, float, float]
    max_ms: tuple[float, float, float]
    window_s: float

    def as_dict(self) -> dict[str, object]:
        return {
            "collections": list(self.counts),
            "total_ms": [round(t, 2) for t in self.total_ms],
            "max_ms": [round(t, 2) for t in self.max_ms],
            "window_s": self.window_s,
        }


class GcPauses:
    """Times every collection of the cyclic garbage collector (``gc.callbacks``) while
    installed. One per process at a time makes sense; :meth:`install` and :meth:`remove`
    pair up (the app does it for its lifetime)."""

    def __init__(self, keep: int = 20_000) -> None:
        # (monotonic time at the end, generation, seconds)
        self._pauses: deque[tuple[float, int, float]] = deque(maxlen=keep)
        self._started: float | None = None

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        elif self._started is not None:
            self._pauses.append((time.monotonic(), int(info["generation"]), now - self._started))
            self._started = None

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def stats(self, window: float, now: float | None = None) -> GcStats:
        end = time.monotonic() if now is None else now
        counts = [0, 0, 0]
        total = [0.0, 0.0, 0.0]
        worst = [0.0, 0.0, 0.0]
        for at, generation, seconds in self._pauses:
            if at >= end - window and 0 <= generation <= 2:
                counts[generation] += 1
                total[generation] += seconds * 1000
                worst[generation] = max(worst[generation], seconds * 1000)
        return GcStats(
            (counts[0], counts[1], counts[2]),
            (total[0], total[1], total[2]),
            (worst[0], worst[1], worst[2]),
            window,
        )
