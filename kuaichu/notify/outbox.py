"""The outbox: every message to a party is a row written in the same transaction as the step
that causes it, and one worker per server process delivers the rows through an SMS adapter.

So a message exists if and only if its step committed, a gateway outage only delays it, and
a restart loses nothing. Two server processes may share the database: each row is claimed
with a compare-and-set on ``next_attempt_at`` before it is sent, and only the winner sends.
Delivery is at least once: a process that dies between the gateway's answer and the ``sent``
update leaves the row to be sent again once its lease runs out.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..storage.tables import outbox
from .doorbell import Doorbell
from .messages import (
    LEGAL_NOTICES,
    Template,
    mask_phone,
    redact_links,
    redact_phones,
    render_text,
)
from .sms import SmsAdapter, SmsError
from .worker import DeliveryFailed, DeliveryWorker

logger = logging.getLogger(__name__)


class OutboxStatus(enum.StrEnum):
    """A message's delivery status (``outbox.status``)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


_PHONE: Final = re.compile(r"^\+?\d{5,20}$")
_MAX_ERROR: Final = 500


@dataclass(frozen=True)
class OutboxMessage:
    """One outbox row: a rendered text to one phone and its delivery state."""

    id: int
    case_id: str | None
    party: str | None
    # Kept out of repr so a message that ends up in a log line does not carry the number.
    phone: str = field(repr=False)
    template: Template
    params: dict[str, Any]
    body: str
    status: OutboxStatus
    attempts: int
    created_at: float
    sent_at: float | None
    last_error: str | None
    gateway_id: str | None = None
    next_attempt_at: float = 0.0
    dedupe_key: str = ""
    resent_as: int | None = None

    @property
    def legal(self) -> bool:
        """A legal notice (leave the scene, determination served): never dropped silently."""
        return self.template in LEGAL_NOTICES

    @property
    def needs_attention(self) -> bool:
        """Failed and not resent yet: on the supervisors' attention list."""
        return self.status is OutboxStatus.FAILED and self.resent_as is None

    @property
    def masked_phone(self) -> str:
        """The number as logs and pages show it."""
        return mask_phone(self.phone)

    @classmethod
    def from_row(cls, row: RowMapping) -> OutboxMessage:
        """The message of an ``outbox`` row."""
        return cls(
            id=row["id"],
            case_id=row["case_id"],
            party=row["party"],
            phone=row["phone"],
            template=Template(row["template"]),
            params=json.loads(row["params"]),
            body=row["body"],
            status=OutboxStatus(row["status"]),
            attempts=row["attempts"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            last_error=row["last_error"],
            gateway_id=row["gateway_id"],
            next_attempt_at=row["next_attempt_at"],
            dedupe_key=row["dedupe_key"],
            resent_as=row["resent_as"],
        )


def normalize_phone(phone: str) -> str:
    """Digits (and a leading +) only; spaces and dashes as people type them are dropped.
    Raises ``ValueError``: callers validate a party's number before a step commits."""
    cleaned = re.sub(r"[\s\-]", "", phone)
    if not _PHONE.match(cleaned):
        raise ValueError(f"not a phone number: {mask_phone(phone)!r}")
    return cleaned


async def enqueue(
    conn: AsyncConnection,
    *,
    case_id: str | None,
    party: str | None,
    phone: str,
    template: Template,
    params: Mapping[str, Any],
    dedupe_key: str,
    now: float,
    signature: str,
) -> bool:
    """Write one message into the outbox inside the caller's transaction (``conn`` must be in
    one; nothing is committed here). The text is rendered now, so a later change of wording
    or signature does not alter a queued message. A ``dedupe_key`` seen before (a step retried,
    two tabs) is a no-op returning ``False``. Ring the notifier's :class:`Doorbell` after the
    commit.

    Raises ``ValueError`` for bad parameters or phone (programming errors)."""
    body = render_text(template, params, signature)
    if not dedupe_key or len(dedupe_key) > 128:
        raise ValueError("dedupe_key must be 1 to 128 characters")
    values = {
        "case_id": case_id,
        "party": party,
        "phone": normalize_phone(phone),
        "template": Template(template).value,
        "params": json.dumps(dict(params), ensure_ascii=False, sort_keys=True),
        "body": body,
        "dedupe_key": dedupe_key,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect == "sqlite" else postgresql
        stmt = (
            module.insert(outbox)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[outbox.c.dedupe_key])
        )
        result = await conn.execute(stmt)
        return bool(result.rowcount == 1)
    # Other databases: look first. A concurrent insert of the same key then fails on the
    # unique constraint, which rolls the caller's step back rather than sending twice.
    seen = await conn.scalar(select(outbox.c.id).where(outbox.c.dedupe_key == dedupe_key))
    if seen is not None:
        return False
    await conn.execute(insert(outbox).values(**values))
    return True


def _clean_error(text: str, phone: str) -> str:
    # last_error is shown to supervisors and logged: never the number nor a link's token (a
    # gateway may echo the text), never unbounded.
    text = text.replace(phone, mask_phone(phone))
    return redact_links(redact_phones(text))[:_MAX_ERROR]


class Outbox:
    """Reads the outbox (a case's messages, the counts per status); the writing side is
    :func:`enqueue`, inside the step's own transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def messages(self, case_id: str) -> list[OutboxMessage]:
        """A case's messages, oldest first (the case page, the supervisor)."""
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(outbox).where(outbox.c.case_id == case_id).order_by(outbox.c.id)
                    )
                )
                .mappings()
                .all()
            )
        return [OutboxMessage.from_row(r) for r in rows]

    async def message(self, message_id: int) -> OutboxMessage | None:
        """One message by its id."""
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(outbox).where(outbox.c.id == message_id)))
                .mappings()
                .first()
            )
        return OutboxMessage.from_row(row) if row is not None else None

    async def needing_attention(self, case_ids: Sequence[str] | None = None) -> list[OutboxMessage]:
        """Failed messages nobody has resent yet, oldest first (legal notices and the rest);
        only those of ``case_ids`` when given (an officer's own cases)."""
        query = (
            select(outbox)
            .where(outbox.c.status == OutboxStatus.FAILED.value, outbox.c.resent_as.is_(None))
            .order_by(outbox.c.id)
        )
        if case_ids is not None:
            query = query.where(outbox.c.case_id.in_(list(case_ids)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [OutboxMessage.from_row(r) for r in rows]

    async def counts(self) -> dict[OutboxStatus, int]:
        """Messages per status, every status present (the supervisor's figures)."""
        out = dict.fromkeys(OutboxStatus, 0)
        async with self.engine.connect() as conn:
            for status, n in await conn.execute(
                select(outbox.c.status, func.count()).group_by(outbox.c.status)
            ):
                out[OutboxStatus(status)] = int(n)
        return out


class Notifier(DeliveryWorker[OutboxMessage]):
    """Delivers the SMS outbox through an adapter: the outbox pattern's worker
    (:class:`~kuaichu.notify.worker.DeliveryWorker`) with the SMS's send, redaction and
    ``on_sent`` (the determination's service counts its sent notices)."""

    name = "notifier"

    def __init__(
        self,
        engine: AsyncEngine,
        adapter: SmsAdapter,
        *,
        doorbell: Doorbell | None = None,
        on_sent: Callable[[OutboxMessage], Awaitable[None]] | None = None,
        poll_interval: float = 5.0,
        base_backoff: float = 5.0,
        max_backoff: float = 900.0,
        max_attempts: int = 10,
        lease: float = 60.0,
        batch: int = 50,
    ) -> None:
        super().__init__(
            engine,
            outbox,
            doorbell=doorbell,
            poll_interval=poll_interval,
            base_backoff=base_backoff,
            max_backoff=max_backoff,
            max_attempts=max_attempts,
            lease=lease,
            batch=batch,
        )
        self.adapter = adapter
        self._on_sent = on_sent
        self._outbox = Outbox(engine)

    async def close(self) -> None:
        """Cancel and await the delivery task, then close the adapter."""
        await super().close()
        await self.adapter.close()

    def item(self, row: RowMapping) -> OutboxMessage:
        return OutboxMessage.from_row(row)

    def describe(self, item: OutboxMessage) -> str:
        return f"SMS {item.id} (case {item.case_id}, {item.template.value}) to {item.masked_phone}"

    def scrub(self, text: str, item: OutboxMessage | None) -> str:
        # last_error is shown to supervisors and logged: never the number nor a link's token
        # (a gateway may echo the text).
        return _clean_error(text, item.phone) if item is not None else redact_links(
            redact_phones(text)
        )

    def gave_up(self, item: OutboxMessage) -> tuple[int, str]:
        # A legal notice the party has not received is an error: someone must resend it
        # (the failed notices list, GET /api/notices/failed).
        if item.legal:
            return (
                logging.ERROR,
                "; a legal notice: it waits on the failed notices list to be resent",
            )
        return logging.WARNING, ""

    async def send(self, item: OutboxMessage, attempt: int) -> Mapping[str, Any]:
        try:
            gateway_id = await self.adapter.send(item.phone, item.body, item.id)
        except SmsError as exc:
            raise DeliveryFailed(exc.message, retryable=exc.retryable) from exc
        logger.info(
            "%s sent via %s after %d attempt(s)", self.describe(item), self.adapter.name, attempt
        )
        return {"gateway_id": gateway_id}

    async def sent(
        self, item: OutboxMessage, attempts: int, sent_at: float, values: Mapping[str, Any]
    ) -> None:
        if self._on_sent is not None:
            await self._on_sent(
                dataclasses.replace(
                    item,
                    status=OutboxStatus.SENT,
                    attempts=attempts,
                    sent_at=sent_at,
                    last_error=None,
                    gateway_id=values.get("gateway_id"),
                )
            )

    async def messages(self, case_id: str) -> list[OutboxMessage]:
        """A case's messages, oldest first (see :meth:`Outbox.messages`)."""
        return await self._outbox.messages(case_id)

    async def counts(self) -> dict[OutboxStatus, int]:
        """Messages per status (see :meth:`Outbox.counts`)."""
        return await self._outbox.counts()
