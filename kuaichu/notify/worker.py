"""The outbox pattern's delivering half, for any outbox table: the SMS outbox (its
:class:`~kuaichu.notify.outbox.Notifier`) and the insurers' webhooks
(:class:`kuaichu.api.webhooks.WebhookSender`) are two subclasses of :class:`DeliveryWorker`.

A row is written in the transaction of the step that causes it; the worker finds the due rows
(``status = 'pending'`` and ``next_attempt_at <= now``), claims each with a compare-and-set on
``next_attempt_at`` (so two processes sharing the database never both send it), sends it, and
marks it ``sent``, or counts the failed attempt and sets the next one with exponential
back-off, or gives up (``failed``) after ``max_attempts`` or a failure that retrying cannot
fix. A process that dies between the send and the ``sent`` update leaves the row to be sent
again once its lease runs out: delivery is at least once, and receivers dedupe.

The table needs the columns ``id``, ``status``, ``attempts``, ``next_attempt_at``,
``last_error`` and ``sent_at``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import Table, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from ..tasks import TaskOwner
from .doorbell import Doorbell

logger = logging.getLogger(__name__)

PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"
MAX_ERROR: Final = 500
_RNG: Final = random.Random()

Item = TypeVar("Item")


class DeliveryFailed(Exception):
    """A send that did not go through: ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def backoff_delay(
    attempts: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds before the next try after ``attempts`` failed tries: ``base * 2**(attempts-1)``
    up to ``cap``, less up to 20 % at random so messages that failed together (a gateway
    outage) do not all come back in the same second."""
    delay = min(cap, base * 2.0 ** max(0, attempts - 1))
    return delay * (rng or _RNG).uniform(0.8, 1.0)


def clean_traceback(exc: BaseException, scrub: Callable[[str], str] = lambda t: t) -> str:
    """An exception's traceback for a log line, through ``scrub`` (numbers, tokens)."""
    return scrub("".join(traceback.format_exception(exc)).rstrip())


class DeliveryWorker(ABC, Generic[Item]):
    """Delivers one outbox table. One owned task (:meth:`start` / :meth:`close`); it waits on
    the ``doorbell`` between passes, so ringing it after committing a row sends the row at
    once rather than at the next poll."""

    name = "delivery"

    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        *,
        doorbell: Doorbell | None = None,
        poll_interval: float = 5.0,
        base_backoff: float = 5.0,
        max_backoff: float = 900.0,
        max_attempts: int = 10,
        lease: float = 60.0,
        batch: int = 50,
    ) -> None:
        self.engine = engine
        self.table = table
        self.poll_interval = poll_interval
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        # How long a claimed row stays invisible to other workers: longer than any send takes
        # (the adapters give up after their time-out), short enough that a row claimed by a
        # process that died is picked up again soon.
        self.lease = lease
        self.batch = batch
        self.doorbell = doorbell if doorbell is not None else Doorbell()
        self._tasks = TaskOwner(self.name)
        self._task: asyncio.Task[None] | None = None
        # Delivery passes finished by the task: lets a caller (a test) know a pass has run.
        self.passes = 0

    # -- what a subclass says -------------------------------------------------------------------

    @abstractmethod
    def item(self, row: RowMapping) -> Item:
        """The row as the subclass's item."""

    @abstractmethod
    async def send(self, item: Item, attempt: int) -> Mapping[str, Any]:
        """Send ``item`` (``attempt`` counts from 1); return more column values for the sent
        row. Raise :class:`DeliveryFailed` for a failure the worker should count."""

    async def sent(
        self, item: Item, attempts: int, sent_at: float, values: Mapping[str, Any]
    ) -> None:
        """After the row is marked sent (a follow-up; its failure never resends the item)."""

    def describe(self, item: Item) -> str:
        """How log lines name the item (no secrets, no phone numbers)."""
        return f"{self.name} row"

    def scrub(self, text: str, item: Item | None) -> str:
        """``text`` (an error, a traceback) made fit for a log line and ``last_error``."""
        return text

    def gave_up(self, item: Item) -> tuple[int, str]:
        """The log level of "failed for good", and what to add to the line."""
        return logging.WARNING, ""

    # -- the worker ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery task (once)."""
        if self._task is None:
            self._task = self._tasks.spawn(self._run(), self.name)

    def wake(self) -> None:
        """Ring the doorbell (for callers that hold the worker itself)."""
        self.doorbell.ring()

    async def close(self) -> None:
        """Cancel and await the delivery task."""
        await self._tasks.close()
        self._task = None

    async def _run(self) -> None:
        while True:
            # Cleared before the pass: a wake during the pass means another pass right after.
            self.doorbell.clear()
            try:
                await self.deliver_due()
            except Exception as exc:
                # A locked or unreachable database must not end delivery for the process.
                logger.error(
                    "%s: delivery pass failed; trying again in %.0f s\n%s",
                    self.name,
                    self.poll_interval,
                    clean_traceback(exc, lambda t: self.scrub(t, None)),
                )
            self.passes += 1
            try:
                await asyncio.wait_for(self.doorbell.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def deliver_due(self, now: float | None = None) -> int:
        """One pass over the due rows, oldest first; returns how many were sent. ``now``
        fixes the clock for the pass (tests); by default each step reads the wall clock."""
        clock: Callable[[], float] = (lambda: now) if now is not None else time.time
        t = self.table
        sent = 0
        last_id = 0
        while True:
            async with self.engine.connect() as conn:
                rows = (
                    (
                        await conn.execute(
                            select(t)
                            .where(
                                t.c.status == PENDING,
                                t.c.next_attempt_at <= clock(),
                                t.c.id > last_id,
                            )
                            .order_by(t.c.id)
                            .limit(self.batch)
                        )
                    )
                    .mappings()
                    .all()
                )
            for row in rows:
                last_id = row["id"]
                if await self._deliver(row, clock):
                    sent += 1
            if len(rows) < self.batch:
                return sent

    async def _claim(self, row: RowMapping, now: float) -> float | None:
        """Take the row for one attempt: its lease's end (which marks the claim), or None."""
        t = self.table
        lease = now + self.lease
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(t)
                .where(
                    t.c.id == row["id"],
                    t.c.status == PENDING,
                    t.c.next_attempt_at == row["next_attempt_at"],
                )
                .values(next_attempt_at=lease)
            )
            return lease if result.rowcount == 1 else None

    async def _deliver(self, row: RowMapping, clock: Callable[[], float]) -> bool:
        lease = await self._claim(row, clock())
        if lease is None:
            return False  # another worker has it, or it changed since we looked
        item = self.item(row)
        attempts = int(row["attempts"]) + 1
        try:
            values = dict(await self.send(item, attempts))
        except DeliveryFailed as exc:
            await self._failed_attempt(
                row["id"], item, attempts, exc.message, exc.retryable, clock()
            )
            return False
        except Exception as exc:
            # A bug or an unexpected library error: keep the row, try again.
            logger.error(
                "%s: %s: the send raised unexpectedly\n%s",
                self.name,
                self.describe(item),
                clean_traceback(exc, lambda t: self.scrub(t, item)),
            )
            await self._failed_attempt(
                row["id"], item, attempts, f"{type(exc).__name__}: {exc}", True, clock()
            )
            return False
        sent_at = clock()
        async with self.engine.begin() as conn:
            # Only while the claim is still ours: an admin's replay meanwhile (it makes the row
            # due again) must not be overwritten as sent, or it would never go out.
            done = await conn.execute(
                update(self.table)
                .where(self.table.c.id == row["id"], self.table.c.next_attempt_at == lease)
                .values(status=SENT, attempts=attempts, sent_at=sent_at, last_error=None, **values)
            )
        if done.rowcount != 1:
            logger.info("%s: %s was queued again while it went out", self.name, self.describe(item))
        try:
            await self.sent(item, attempts, sent_at, values)
        except Exception as exc:
            # The item has gone out; a failing follow-up must not send it again.
            logger.error(
                "%s: %s: on_sent failed; it stays sent\n%s",
                self.name,
                self.describe(item),
                clean_traceback(exc, lambda t: self.scrub(t, item)),
            )
        return True

    async def _failed_attempt(
        self, row_id: int, item: Item, attempts: int, error: str, retryable: bool, now: float
    ) -> None:
        error = self.scrub(error, item)[:MAX_ERROR]
        give_up = not retryable or attempts >= self.max_attempts
        values: dict[str, Any] = {"attempts": attempts, "last_error": error}
        if give_up:
            values["status"] = FAILED
        else:
            values["next_attempt_at"] = now + backoff_delay(
                attempts, self.base_backoff, self.max_backoff
            )
        async with self.engine.begin() as conn:
            await conn.execute(
                update(self.table).where(self.table.c.id == row_id).values(**values)
            )
        if give_up:
            level, note = self.gave_up(item)
            logger.log(
                level,
                "%s: %s failed for good after %d attempt(s): %s%s",
                self.name,
                self.describe(item),
                attempts,
                error,
                note,
            )
        else:
            logger.info(
                "%s: %s: attempt %d failed (%s); next in %.0f s",
                self.name,
                self.describe(item),
                attempts,
                error,
                values["next_attempt_at"] - now,
            )
