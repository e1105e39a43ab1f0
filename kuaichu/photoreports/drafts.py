"""The sweep that voids photo reports never sent (:meth:`PhotoReports.expire_drafts`).

A driver who starts a photo report and closes the page before "send" leaves a case nobody
works: it is not in the officers' queue (no "leave the scene" was given) and its token is
only on that page. The sweep runs once at start (a restart catches up) and then every
``period`` seconds on the :class:`~kuaichu.clock.Clock` it is given, each run a task of its
own :class:`~kuaichu.tasks.TaskOwner`; the next run is scheduled when one ends, so runs never
overlap. Tests drive it with a ManualClock.
"""

from __future__ import annotations

import logging
from typing import Final

from ..clock import Clock, Timer
from ..tasks import TaskOwner
from .service import PhotoReports

logger = logging.getLogger(__name__)

# How often the server sweeps: a report is void at most this long after its time is up.
DRAFT_SWEEP_SECONDS: Final = 60.0


class DraftSweeper:
    """Voids the unsent photo reports every ``period`` seconds."""

    def __init__(self, reports: PhotoReports, clock: Clock, period: float) -> None:
        if period <= 0:
            raise ValueError("the sweep period must be positive")
        self.reports = reports
        self.clock = clock
        self.period = period
        self._tasks = TaskOwner("photo-drafts")
        self._timer: Timer | None = None

    def start(self) -> None:
        """The first sweep now (in a task), the next ``period`` after each."""
        if self.reports.config.draft_expire_seconds > 0:
            self._schedule(0.0)

    def _schedule(self, delay: float) -> None:
        if not self._tasks.closing:
            self._timer = self.clock.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._tasks.spawn(self.sweep(), "photo-drafts-sweep")

    async def sweep(self) -> list[str]:
        """One run; the next is scheduled when it ends, whatever happened."""
        try:
            voided = await self.reports.expire_drafts(self.clock.now())
            if voided:
                logger.info("%d photo report(s) not sent in time: void", len(voided))
            return voided
        except Exception:
            logger.exception("photo report sweep failed")
            return []
        finally:
            self._schedule(self.period)

    async def close(self) -> None:
        """No further sweep; a running one is cancelled and awaited."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._tasks.close()
