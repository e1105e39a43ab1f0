"""Webhooks: an insurer's system is told when a case is ready for it and when a claim status
changes, signed (kuaichu.api.signature), retried with back-off, logged, replayable.

The outbox pattern, as the SMS: an event is a ``webhook_events`` row written inside the
transaction that makes the change (:class:`CaseReadyHook` for a determination or an approved
agreement, :meth:`WebhookHook.on_insurer_event` for the insurers' own events), so it exists if
and only if the change committed; :class:`WebhookSender` (a
:class:`~kuaichu.notify.worker.DeliveryWorker`) delivers the due rows, so an insurer that is
down, or a restart, only delays it. Every attempt is a ``webhook_attempts`` row (the admin's
``python server.py webhook log``); ``webhook replay`` sends an event again with its own id, which
a receiver that already has it ignores.

Event types: ``case_ready`` (liability set; ``data.reason``: ``determination_issued`` or
``agreement_approved``) and ``status_changed`` (the claim's status: ``handed_off`` when a
party or an officer hands the case to the insurer, then each status the insurer records).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..cases.form import CaseForm
from ..errors import InvalidMessage, NotFound
from ..insurers.events import InsurerEvent
from ..insurers.model import InsurerDirectory
from ..insurers.scope import policyholders
from ..notify import Doorbell
from ..notify.worker import PENDING, DeliveryFailed, DeliveryWorker
from ..storage.tables import webhook_attempts, webhook_events, webhooks
from .signature import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

CASE_READY: Final = "case_ready"
STATUS_CHANGED: Final = "status_changed"
EVENT_TYPES: Final = (CASE_READY, STATUS_CHANGED)
MAX_URL: Final = 2000
MIN_SECRET: Final = 16
MAX_SECRET: Final = 200
_EVENT_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_SECRET: Final = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


@dataclass(frozen=True)
class Webhook:
    """Where an insurer's events go. The secret stays out of the repr."""

    insurer: str
    url: str
    secret: str
    created_at: float
    updated_at: float

    def __repr__(self) -> str:
        return f"Webhook(insurer={self.insurer!r}, url={self.url!r})"


@dataclass(frozen=True)
class WebhookEvent:
    """One event for one insurer, and its delivery state."""

    id: int
    event_id: str
    insurer: str
    type: str
    case_id: str | None
    body: bytes
    status: str
    attempts: int
    created_at: float
    sent_at: float | None
    last_error: str | None
    replays: int

    @classmethod
    def from_row(cls, row: RowMapping) -> WebhookEvent:
        return cls(
            id=row["id"],
            event_id=row["event_id"],
            insurer=row["insurer"],
            type=row["type"],
            case_id=row["case_id"],
            body=row["body"].encode(),
            status=row["status"],
            attempts=row["attempts"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            last_error=row["last_error"],
            replays=row["replays"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "insurer": self.insurer,
            "type": self.type,
            "case_id": self.case_id,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "sent_at": self.sent_at,
            "last_error": self.last_error,
            "replays": self.replays,
        }


def check_url(url: str) -> str:
    """A webhook URL: http or https with a host, bounded."""
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidMessage("a webhook URL is http(s)://host/..., at most 2000 characters")
    return url


def check_secret(secret: str) -> str:
    if not MIN_SECRET <= len(secret) <= MAX_SECRET or not _SECRET.match(secret):
        raise InvalidMessage(
            f"a webhook secret is {MIN_SECRET}-{MAX_SECRET} printable ASCII characters"
        )
    return secret


def new_event_id() -> str:
    return "ev_" + secrets.token_hex(12)


async def enqueue_event(
    conn: AsyncConnection,
    *,
    insurer: str,
    kind: str,
    case_id: str | None,
    data: Mapping[str, Any],
    at: datetime,
    dedupe_key: str,
    event_id: str | None = None,
) -> bool:
    """Write one event into the webhooks' outbox inside the caller's transaction, if the
    insurer has a webhook (nothing is queued for one that has none). A ``dedupe_key`` seen
    before (a step retried) is a no-op. Returns whether a row was written."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {kind!r}")
    has_hook = await conn.scalar(select(webhooks.c.insurer).where(webhooks.c.insurer == insurer))
    if has_hook is None:
        return False
    event_id = event_id if event_id and _EVENT_ID.match(event_id) else new_event_id()
    body = json.dumps(
        {
            "id": event_id,
            "type": kind,
            "insurer": insurer,
            "case_id": case_id,
            "at": at.isoformat(),
            "data": dict(data),
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    now = time.time()
    values = {
        "event_id": event_id,
        "dedupe_key": dedupe_key[:160],
        "insurer": insurer,
        "type": kind,
        "case_id": case_id,
        "body": body,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "replays": 0,
    }
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect == "sqlite" else postgresql
        result = await conn.execute(
            module.insert(webhook_events)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[webhook_events.c.dedupe_key])
        )
        return bool(result.rowcount == 1)
    seen = await conn.scalar(
        select(webhook_events.c.id).where(webhook_events.c.dedupe_key == values["dedupe_key"])
    )
    if seen is not None:
        return False
    await conn.execute(insert(webhook_events).values(**values))
    return True


class WebhookHook:
    """The producing side: writes events inside the steps' transactions. It is the case
    work's :class:`~kuaichu.casework.ports.LiabilityListener` and a subscriber of the
    insurers' event hub (:class:`~kuaichu.insurers.events.InsurerEvents`); after a commit the
    sender's doorbell is rung (the case work rings the shared one; the hub calls
    :meth:`ring`)."""

    def __init__(self, insurers: InsurerDirectory, doorbell: Doorbell) -> None:
        self.insurers = insurers
        self.doorbell = doorbell

    def ring(self) -> None:
        self.doorbell.ring()

    async def liability_set(
        self,
        conn: AsyncConnection,
        case_id: str,
        form: CaseForm,
        reason: str,
        detail: Mapping[str, Any],
    ) -> None:
        """``case_ready`` to every configured insurer with a policyholder among the parties."""
        at = datetime.now().astimezone()
        key = f"{reason}:{detail.get('version', 1)}"
        for insurer in self.insurers:
            parties = policyholders(form, insurer)
            if not parties:
                continue
            await enqueue_event(
                conn,
                insurer=insurer.code,
                kind=CASE_READY,
                case_id=case_id,
                data={"reason": reason, "policyholders": list(parties), **detail},
                at=at,
                dedupe_key=f"{case_id}:{insurer.code}:{CASE_READY}:{key}",
            )

    async def on_insurer_event(self, conn: AsyncConnection, event: InsurerEvent) -> None:
        """The hub's events: a claim opened (``case_ready``, reason ``claim_opened``) or a
        claim status recorded (``status_changed``); the hub's event id is the webhook's."""
        # A claim opened is its first status (handed_off): one event type for the claim.
        kind = STATUS_CHANGED
        data = dict(event.detail)
        if event.kind.value != STATUS_CHANGED:
            data = {"status": "handed_off", "previous": None, **data}
        await enqueue_event(
            conn,
            insurer=event.insurer,
            kind=kind,
            case_id=event.case_id,
            data=data,
            at=event.at,
            dedupe_key=f"hub:{event.event_id}",
            event_id=event.event_id,
        )


class WebhookStore:
    """The admin's side: webhooks configured per insurer, the delivery log, replays."""

    def __init__(self, engine: AsyncEngine, insurers: InsurerDirectory) -> None:
        self.engine = engine
        self.insurers = insurers

    async def configure(self, insurer: str, url: str, secret: str | None = None) -> Webhook:
        """Set (or replace) ``insurer``'s webhook; a new random secret unless one is given."""
        self.insurers.require(insurer)
        url = check_url(url)
        secret = check_secret(secret) if secret else "whsec_" + secrets.token_urlsafe(32)
        now = time.time()
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(webhooks)
                .where(webhooks.c.insurer == insurer)
                .values(url=url, secret=secret, updated_at=now)
            )
            if done.rowcount == 0:
                await conn.execute(
                    insert(webhooks).values(
                        insurer=insurer, url=url, secret=secret, created_at=now, updated_at=now
                    )
                )
        logger.info("webhook of insurer %s set to %s", insurer, url)
        found = await self.get(insurer)
        assert found is not None
        return found

    async def remove(self, insurer: str) -> None:
        async with self.engine.begin() as conn:
            done = await conn.execute(delete(webhooks).where(webhooks.c.insurer == insurer))
        if done.rowcount == 0:
            raise NotFound(f"insurer {insurer} has no webhook")

    async def get(self, insurer: str) -> Webhook | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(webhooks).where(webhooks.c.insurer == insurer)))
                .mappings()
                .first()
            )
        return Webhook(**dict(row)) if row is not None else None

    async def all(self) -> list[Webhook]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(webhooks).order_by(webhooks.c.insurer))).mappings()
            return [Webhook(**dict(r)) for r in rows]

    async def events(
        self, insurer: str | None = None, limit: int = 50, status: str | None = None
    ) -> list[WebhookEvent]:
        """The newest events first (of one insurer, of one status)."""
        query = select(webhook_events).order_by(webhook_events.c.id.desc()).limit(limit)
        if insurer is not None:
            query = query.where(webhook_events.c.insurer == insurer)
        if status is not None:
            query = query.where(webhook_events.c.status == status)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [WebhookEvent.from_row(r) for r in rows]

    async def attempts(self, event: int) -> list[dict[str, Any]]:
        """Every delivery attempt of an event (its ``id``), oldest first."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(webhook_attempts)
                    .where(webhook_attempts.c.event == event)
                    .order_by(webhook_attempts.c.id)
                )
            ).mappings()
            return [dict(r) for r in rows]

    async def counts(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(webhook_events.c.status, func.count()).group_by(webhook_events.c.status)
            )
            return {status: int(n) for status, n in rows}

    async def replay(self, ref: str) -> WebhookEvent:
        """Send an event again (its row id or its event id), with the same event id and
        body: due now, its attempts counted from zero again, ``replays`` + 1."""
        column = webhook_events.c.id if ref.isdigit() else webhook_events.c.event_id
        key: int | str = int(ref) if ref.isdigit() else ref
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(webhook_events)
                .where(column == key)
                .values(
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=time.time(),
                    last_error=None,
                    replays=webhook_events.c.replays + 1,
                )
            )
            if done.rowcount == 0:
                raise NotFound(f"no webhook event {ref[:40]}")
            row = (await conn.execute(select(webhook_events).where(column == key))).mappings().one()
        logger.info("webhook event %s of %s queued for replay", row["event_id"], row["insurer"])
        return WebhookEvent.from_row(row)


class WebhookSender(DeliveryWorker[WebhookEvent]):
    """Delivers the webhooks' outbox: POSTs each event's body, signed with the insurer's
    current secret, to its current URL; a 2xx answer is delivered, anything else (or no
    answer within ``timeout``) is tried again with back-off."""

    name = "webhooks"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        doorbell: Doorbell | None = None,
        timeout: float = 10.0,
        poll_interval: float = 5.0,
        base_backoff: float = 5.0,
        max_backoff: float = 3600.0,
        max_attempts: int = 15,
        lease: float = 60.0,
    ) -> None:
        super().__init__(
            engine,
            webhook_events,
            doorbell=doorbell,
            poll_interval=poll_interval,
            base_backoff=base_backoff,
            max_backoff=max_backoff,
            max_attempts=max_attempts,
            lease=max(lease, timeout * 2),
        )
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        await super().close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    def item(self, row: RowMapping) -> WebhookEvent:
        return WebhookEvent.from_row(row)

    def describe(self, item: WebhookEvent) -> str:
        return f"event {item.event_id} ({item.type}, case {item.case_id}) to {item.insurer}"

    async def send(self, item: WebhookEvent, attempt: int) -> Mapping[str, Any]:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(webhooks).where(webhooks.c.insurer == item.insurer)))
                .mappings()
                .first()
            )
        if row is None:
            raise DeliveryFailed("the insurer has no webhook any more", retryable=False)
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "kuaichu-webhooks/1",
            EVENT_ID_HEADER: item.event_id,
            EVENT_TYPE_HEADER: item.type,
            SIGNATURE_HEADER: signature_header(row["secret"], stamp, item.body),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            async with self._http.post(
                row["url"], data=item.body, headers=headers, allow_redirects=False
            ) as resp:
                status = resp.status
                await resp.content.read(4096)  # enough to free the connection; not kept
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(webhook_attempts).values(
                    event=item.id,
                    attempt=attempt,
                    at=time.time(),
                    url=row["url"],
                    http_status=status,
                    error=error,
                    duration_ms=int((time.monotonic() - started) * 1000),
                )
            )
        if error is not None:
            raise DeliveryFailed(error)
        logger.info(
            "webhook %s delivered (attempt %d, HTTP %s)", self.describe(item), attempt, status
        )
        return {}
