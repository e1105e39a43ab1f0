"""The recordings disk's free space, watched: below a threshold no new call is taken.

A call that starts on a nearly full disk records little before the disk fills, and then the
evidence is cut short. So the free space of the recordings directory is checked every
``period`` seconds (``statvfs`` in a thread: a hung network mount must not stall the loop);
below ``min_free`` bytes new reports are refused with ``disk_full``, the officers are told
once (``on_change``), and one line is logged. Calls already going on continue. When the space
is back (with a margin, so a disk hovering at the threshold does not flap) calls are taken
again, and that is said once too.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DiskFull
from ..tasks import TaskOwner

logger = logging.getLogger(__name__)

MIB = 1 << 20
# Space must come back this far above the threshold before calls are taken again.
RESUME_MARGIN = 0.1


def free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer can still use under ``directory`` (blocking)."""
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


class DiskWatch:
    """Watches the recordings directory's free space; ``admit()`` refuses new calls while
    it is below ``min_free``. ``on_change(state)`` hears every change of ``low``."""

    def __init__(
        self,
        directory: Path,
        min_free: int,
        period: float,
        on_change: Callable[[dict[str, Any]], None],
        *,
        measure: Callable[[Path], int] = free_bytes,
    ) -> None:
        self.directory = Path(directory)
        self.min_free = min_free
        self.period = period
        self.on_change = on_change
        self.measure = measure
        self.low = False
        self.free: int | None = None
        self._tasks = TaskOwner("diskspace")

    def state(self) -> dict[str, Any]:
        """What the consoles are sent (``disk_space``)."""
        return {"low": self.low, "free_bytes": self.free, "min_free_bytes": self.min_free}

    def admit(self) -> None:
        """Raise DiskFull while the disk is below its threshold (a new call would not be
        recorded whole)."""
        if self.low:
            raise DiskFull(
                "the server's recording disk is full; no new calls are taken right now",
                free_bytes=self.free,
            )

    async def check(self) -> bool:
        """Measure now (in a thread) and act on a change; returns ``low``."""
        try:
            free = await asyncio.to_thread(self.measure, self.directory)
        except OSError as exc:
            # Unknown is not full: a failing statvfs must not refuse every call. The
            # recorder still stops cleanly on a real write error.
            logger.warning("cannot measure free space of %s: %s", self.directory, exc)
            return self.low
        self.free = free
        if not self.low and free < self.min_free:
            self.low = True
            logger.error(
                "recordings disk %s has %d MiB free, below %d MiB: new calls are refused "
                "until space is freed",
                self.directory,
                free // MIB,
                self.min_free // MIB,
            )
            self.on_change(self.state())
        elif self.low and free >= self.min_free * (1 + RESUME_MARGIN):
            self.low = False
            logger.warning(
                "recordings disk %s has %d MiB free again: calls are taken",
                self.directory,
                free // MIB,
            )
            self.on_change(self.state())
        return self.low

    async def _loop(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.period)

    def start(self) -> None:
        """Check now and then every ``period`` seconds, until :meth:`close`."""
        self._tasks.spawn(self._loop(), "diskspace")

    async def close(self) -> None:
        """Stop watching."""
        await self._tasks.close()
