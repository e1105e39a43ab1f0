"""Rejoin links: an SMS that brings a dropped driver back into the same call.

A driver's page can vanish (the phone locked, the browser killed, the battery). The officer
sends the number the driver gave a link; opening it on any phone takes the call back with the
call's resume token, as a reloaded page does. A link works once and for ``ttl`` seconds, and
while it is out the call waits for the driver that long instead of the short reconnection
grace. Only a hash of the token is kept, in the database (``rejoin_links``): a restart keeps
the link, which then leads, as a reloaded page does, to the call the restart cut off, whose
page offers to report again into the same case (kuaichu.calls.restart).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..notify import Template, enqueue, mask_phone
from ..storage.casefiles import token_hash
from ..storage.tables import rejoin_links
from .ports import Bell

logger = logging.getLogger(__name__)

REJOIN_TTL: Final = 600.0  # seconds a link works (and the call waits for its driver)
_TOKEN_BYTES: Final = 12  # 16 URL-safe characters: short enough for a one-part SMS


@dataclass(frozen=True)
class RejoinTarget:
    """What a spent link answers the page: what resumes the call, as a reload would."""

    call_id: str
    resume_token: str
    case_id: str


class RejoinLinks:
    """Mints, sends, redeems and sweeps rejoin links."""

    def __init__(
        self,
        engine: AsyncEngine,
        doorbell: Bell,
        *,
        base_url: str,
        signature: str,
        ttl: float = REJOIN_TTL,
    ) -> None:
        self.engine = engine
        self.doorbell = doorbell
        self.base_url = base_url.rstrip("/")
        self.signature = signature
        self.ttl = ttl

    async def send(self, call_id: str, case_id: str, phone: str) -> str:
        """Queue the SMS with a fresh link (earlier links of the call stop working); returns
        the masked number it goes to."""
        now = time.time()
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        async with self.engine.begin() as conn:
            await conn.execute(delete(rejoin_links).where(rejoin_links.c.call_id == call_id))
            await conn.execute(
                insert(rejoin_links).values(
                    token_hash=token_hash(token),
                    call_id=call_id,
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
            await enqueue(
                conn,
                case_id=case_id,
                party="A",
                phone=phone,
                template=Template.REJOIN,
                params={"link": f"{self.base_url}/j/{token}"},
                dedupe_key=f"{case_id}:{Template.REJOIN}:{call_id}:{token_hash(token)[:16]}",
                now=now,
                signature=self.signature,
            )
        self.doorbell.ring()
        logger.info("call %s: rejoin link sent to %s", call_id, mask_phone(phone))
        return mask_phone(phone)

    async def valid(self, token: str) -> bool:
        """Whether the link would still take its call back (the page before the tap)."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(rejoin_links.c.call_id).where(
                    and_(
                        rejoin_links.c.token_hash == token_hash(token),
                        rejoin_links.c.used_at.is_(None),
                        rejoin_links.c.expires_at > time.time(),
                    )
                )
            )
        return found is not None

    async def redeem(self, token: str) -> str | None:
        """The call the link leads to, once: a second tap (or an old link) gets None. The
        link is spent by one conditional update, so two taps at once cannot both win."""
        digest = token_hash(token)
        now = time.time()
        async with self.engine.begin() as conn:
            spent = await conn.execute(
                update(rejoin_links)
                .where(
                    and_(
                        rejoin_links.c.token_hash == digest,
                        rejoin_links.c.used_at.is_(None),
                        rejoin_links.c.expires_at > now,
                    )
                )
                .values(used_at=now)
            )
            if spent.rowcount != 1:
                return None
            call_id = await conn.scalar(
                select(rejoin_links.c.call_id).where(rejoin_links.c.token_hash == digest)
            )
        return str(call_id) if call_id is not None else None

    async def forget(self, call_id: str) -> None:
        """The call ended for good: its links lead nowhere."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(rejoin_links).where(rejoin_links.c.call_id == call_id))

    async def sweep(self, now: float | None = None) -> int:
        """Delete the links past their expiry (spent or not); how many went."""
        at = time.time() if now is None else now
        async with self.engine.begin() as conn:
            gone = await conn.execute(delete(rejoin_links).where(rejoin_links.c.expires_at <= at))
        return int(gone.rowcount or 0)
