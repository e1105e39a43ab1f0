"""The insurer events other parts subscribe to (the open API's webhooks): one hook, called
inside the transaction that makes the change.

Signature a subscriber implements::

    async def on_insurer_event(conn: AsyncConnection, event: InsurerEvent) -> None

``conn`` is the open transaction of the claim step that caused the event: write your own
rows (a webhook delivery in an outbox table) with it, and they commit or roll back with the
change itself, so an insurer that is down loses nothing and a refused step sends nothing.
Do no network I/O in a subscriber; raise only to refuse the whole step. After the commit
the hub rings each subscriber's optional doorbell (:meth:`InsurerEvents.committed`), as the
SMS outbox's worker is woken.

Kinds (``InsurerEvent.kind``):

* ``claim_opened`` — the case entered the insurer's work queue (the party's 定损理赔 button
  or an officer's hand-off). ``detail``: ``{"claim_id": 7, "parties": ["B"], "by":
  "party:B" | "officer:3"}``. (The case becoming visible at all — liability set — is the
  case work's ``LiabilityListener``, not this hub.)
* ``status_changed`` — the insurer recorded a claim status. ``detail``: ``{"status":
  "assessed", "previous": "assessor_assigned", "claim_id": 7, "amount_fen": 123400 (only
  with an amount), "reason": "…" (refused only), "assessor": "…" (when given)}``.

``event_id`` is unique per event (idempotency key for receivers); ``insurer`` is the
:class:`~kuaichu.insurers.model.Insurer` code the event belongs to.

Wiring: ``app.py`` builds one :class:`InsurerEvents` before the services that publish or
subscribe; a subscriber registers once at its own construction with :meth:`subscribe`.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

logger = logging.getLogger(__name__)


class EventKind(enum.StrEnum):
    CLAIM_OPENED = "claim_opened"
    STATUS_CHANGED = "status_changed"


@dataclass(frozen=True)
class InsurerEvent:
    kind: EventKind
    insurer: str  # Insurer.code
    case_id: str
    at: datetime  # aware
    detail: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: "ev_" + secrets.token_hex(12))

    def to_dict(self) -> dict[str, Any]:
        """The JSON body a webhook may send as is."""
        return {
            "id": self.event_id,
            "type": self.kind.value,
            "insurer": self.insurer,
            "case_id": self.case_id,
            "at": self.at.isoformat(),
            "detail": dict(self.detail),
        }


Subscriber = Callable[[AsyncConnection, InsurerEvent], Awaitable[None]]
Doorbell = Callable[[], None]


class InsurerEvents:
    """The hub: publishers call :meth:`publish` inside their transaction."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[Subscriber, Doorbell | None]] = []

    def subscribe(self, subscriber: Subscriber, doorbell: Doorbell | None = None) -> None:
        """Register ``subscriber`` (in-transaction) and ``doorbell`` (after commit)."""
        self._subscribers.append((subscriber, doorbell))

    async def publish(self, conn: AsyncConnection, event: InsurerEvent) -> None:
        """Hand ``event`` to every subscriber inside the caller's transaction."""
        logger.info("insurer %s: %s on case %s", event.insurer, event.kind.value, event.case_id)
        for subscriber, _ in self._subscribers:
            await subscriber(conn, event)

    def committed(self) -> None:
        """The publishing transaction committed: wake the subscribers' workers."""
        for _, doorbell in self._subscribers:
            if doorbell is not None:
                doorbell()
