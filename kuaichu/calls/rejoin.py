"""Rejoin links: an SMS that brings a dropped driver back into the same call.

A driver's page can vanish (the phone locked, the browser killed, the battery). The officer
sends the number the driver gave a link; opening it on any phone takes the call back with the
call's resume token, as a reloaded page does. A link works once and for ``ttl`` seconds, and
while it is out the call waits for the driver that long instead of the short reconnection
grace. Only a hash of the token is kept (in memory: the call it leads to lives in memory too;
after a restart the page's own "report again" rejoins the case, kuaichu.calls.restart).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from ..notify import Template, enqueue, mask_phone
from ..storage.casefiles import token_hash
from .ports import Bell

logger = logging.getLogger(__name__)

REJOIN_TTL: Final = 600.0  # seconds a link works (and the call waits for its driver)
_TOKEN_BYTES: Final = 12  # 16 URL-safe characters: short enough for a one-part SMS


@dataclass(frozen=True)
class RejoinTicket:
    """What an opened link leads to."""

    call_id: str
    expires_at: float  # monotonic


class RejoinLinks:
    """Mints, sends and redeems rejoin links."""

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
        self._tickets: dict[str, RejoinTicket] = {}  # token hash -> ticket
        self._sent = 0

    def _sweep(self, now: float) -> None:
        for key in [k for k, t in self._tickets.items() if t.expires_at <= now]:
            del self._tickets[key]

    async def send(self, call_id: str, case_id: str, phone: str) -> str:
        """Queue the SMS with a fresh link (earlier links of the call stop working); returns
        the masked number it goes to."""
        now = time.monotonic()
        self._sweep(now)
        for key in [k for k, t in self._tickets.items() if t.call_id == call_id]:
            del self._tickets[key]
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        self._tickets[token_hash(token)] = RejoinTicket(call_id, now + self.ttl)
        self._sent += 1
        async with self.engine.begin() as conn:
            await enqueue(
                conn,
                case_id=case_id,
                party="A",
                phone=phone,
                template=Template.REJOIN,
                params={"link": f"{self.base_url}/j/{token}"},
                dedupe_key=f"{case_id}:{Template.REJOIN}:{call_id}:{self._sent}:{token[:4]}",
                now=time.time(),
                signature=self.signature,
            )
        self.doorbell.ring()
        logger.info("call %s: rejoin link sent to %s", call_id, mask_phone(phone))
        return mask_phone(phone)

    def valid(self, token: str) -> bool:
        """Whether the link would still take its call back (the page before the tap)."""
        ticket = self._tickets.get(token_hash(token))
        return ticket is not None and ticket.expires_at > time.monotonic()

    def redeem(self, token: str) -> str | None:
        """The call the link leads to, once: a second tap (or an old link) gets None."""
        ticket = self._tickets.pop(token_hash(token), None)
        if ticket is None or ticket.expires_at <= time.monotonic():
            return None
        return ticket.call_id

    def forget(self, call_id: str) -> None:
        """The call ended: its links lead nowhere."""
        for key in [k for k, t in self._tickets.items() if t.call_id == call_id]:
            del self._tickets[key]
