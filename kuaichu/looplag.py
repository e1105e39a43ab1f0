"""How late the event loop runs: the one figure that says whether media and signaling are
being starved (aioice's consent checks, RTCP and every socket.io message share this loop).

A sampler sleeps a short interval and records how much later than asked it woke up. The
samples of the last few minutes are kept (bounded), so a supervisor (``GET /api/metrics``)
and the benchmarks can read p50/p99/max over any recent window.
"""

from __future__ import annotations

import asyncio
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
