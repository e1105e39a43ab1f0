"""The parties' progress links: replaced when a party's phone changes, and opened on a new
device only with a one-time code sent to the party's phone.

A link is a password to the party's case. The officer's correction of a phone number
revokes every link the party held (the old number may be someone else's) and sends a new one
to the new number, in the form save's transaction. A link opens directly on the device that
reported (it proved itself with the report's resume token) and on devices that entered a
six-digit code sent by SMS to the number the link belongs to; any other browser is asked for
the code first.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ..cases.form import CaseForm
from ..errors import Conflict, KuaichuError, NotFound
from ..notify import Template, enqueue, mask_phone
from ..storage.casefiles import token_hash
from ..storage.links import Link, LinkStore, secret_hash
from .context import CaseContext

CODE_DIGITS: Final = 6
CODE_TTL: Final = 600.0  # seconds: "10分钟内有效" in the text
RESEND_AFTER: Final = 60.0  # seconds between two codes to one party
MAX_FAILURES: Final = 5  # wrong entries before the code is dead
FREE_FAILURES: Final = 2  # wrong entries before the back-off starts
BACKOFF: Final = 5.0  # seconds after the third wrong entry, doubling after each more


class TryLater(KuaichuError):
    """Too soon: a new code, or another guess, only after ``retry_after`` seconds."""

    code = "try_later"
    http_status = 429


@dataclass(frozen=True)
class LinkAccess:
    """What a browser may do with a link: ``allowed`` to open it, or prove the number first."""

    case_id: str
    party: str
    allowed: bool
    masked_phone: str


def replaced_phones(before: CaseForm, after: CaseForm) -> list[str]:
    """The parties whose phone the save changes (a number that was there and now differs)."""
    out = []
    for party in after.parties:
        old = before.party(party.key)
        if old is not None and old.phone and old.phone != party.phone:
            out.append(party.key)
    return out


class LinkGuard:
    """Rotation of a party's links, and which devices may open them."""

    def __init__(self, ctx: CaseContext, links: LinkStore) -> None:
        self.ctx = ctx
        self.links = links

    async def rotate(
        self, conn: AsyncConnection, case_id: str, form: CaseForm, parties: list[str], key: str
    ) -> None:
        """Inside the form save's transaction: the parties' old links stop working and each
        new number gets a new link (``link_replaced``)."""
        now = time.time()
        for key_ in parties:
            await self.links.revoke(conn, case_id, key_, now)
            party = form.party(key_)
            if party is not None and party.phone:
                await self.ctx.notify(conn, case_id, party, Template.LINK_REPLACED, key)

    async def _live(self, token: str) -> tuple[Link, str | None]:
        """The link (404 unknown, 404 ``link_replaced``) and the number a code goes to: the
        one the link was sent to, or for the report's own link (made before anyone typed a
        number) the party's number on the form now, if it has one."""
        link = await self.links.link(token_hash(token))
        if link is None:
            raise NotFound("this link is not valid")
        if link.revoked:
            raise NotFound("this link was replaced by a newer one", reason="link_replaced")
        if link.phone:
            return link, link.phone
        party = (await self.ctx.store.form(link.case_id)).form.party(link.party)
        return link, (party.phone if party is not None and party.phone else None)

    async def access(self, token: str, device: str | None) -> LinkAccess:
        """Whether the browser holding ``device`` (its cookie) may open the link; 404 for an
        unknown link, 404 ``link_replaced`` for a revoked one. A link with no number to prove
        (a report without a phone, nothing on the form yet) only ever lived on the reporting
        page: it opens."""
        link, phone = await self._live(token)
        allowed = phone is None or (
            device is not None
            and await self.links.trusted(secret_hash(device), link.case_id, link.party, phone)
        )
        return LinkAccess(link.case_id, link.party, allowed, mask_phone(phone or ""))

    async def trust_reporting_device(self, token: str, device: str) -> None:
        """The device that reported opens its link without a code (the caller checked the
        report's resume token)."""
        link, _phone = await self._live(token)
        await self.links.trust(secret_hash(device), link.case_id, link.party, None, time.time())

    async def send_code(self, token: str) -> dict[str, object]:
        """A new six-digit code by SMS to the link's number (not more than one a minute)."""
        link, phone = await self._live(token)
        if phone is None:
            raise Conflict("this party has no phone number to send a code to", reason="no_phone")
        now = time.time()
        last = await self.links.latest_code(link.case_id, link.party)
        if last is not None and now < last.created_at + RESEND_AFTER:
            wait = round(last.created_at + RESEND_AFTER - now, 1)
            raise TryLater(f"a code was sent just now; ask again in {wait:.0f} s", retry_after=wait)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        party = link.party

        async with self.links.engine.begin() as conn:
            code_id = await self.links.add_code(
                conn, link.case_id, party, phone, secret_hash(code), now, now + CODE_TTL
            )
            await enqueue(
                conn,
                case_id=link.case_id,
                party=party,
                phone=phone,
                template=Template.LINK_CODE,
                params={"code": code, "case_id": link.case_id},
                dedupe_key=f"{link.case_id}:{Template.LINK_CODE}:{party}:c{code_id}",
                now=now,
                signature=self.ctx.config.sms_signature,
            )
        self.ctx.doorbell.ring()
        return {"sent_to": mask_phone(phone), "expires_in": CODE_TTL}

    async def verify_code(self, token: str, code: str, device: str) -> None:
        """Admit ``device`` to the party's links if ``code`` is the live one. Wrong entries
        count; after the second each costs a growing wait, after the fifth the code is dead."""
        link, phone = await self._live(token)
        if phone is None:
            raise Conflict("this party has no phone number to send a code to", reason="no_phone")
        now = time.time()
        live = await self.links.latest_code(link.case_id, link.party)
        if live is None or live.used_at is not None or live.phone != phone:
            raise Conflict("ask for a code first", reason="no_code")
        if now >= live.expires_at:
            raise Conflict("the code has expired; ask for a new one", reason="code_expired")
        if live.failures >= MAX_FAILURES:
            raise Conflict("too many wrong codes; ask for a new one", reason="code_exhausted")
        if now < live.next_try_at:
            wait = round(live.next_try_at - now, 1)
            raise TryLater(f"wait {wait:.0f} s before trying again", retry_after=wait)
        if not secrets.compare_digest(live.code_hash, secret_hash(code)):
            failures = live.failures + 1
            delay = BACKOFF * 2 ** (failures - FREE_FAILURES - 1) if failures > FREE_FAILURES else 0
            await self.links.code_failed(live.id, failures, now + delay)
            raise Conflict(
                "the code is not right",
                reason="code_wrong",
                left=max(0, MAX_FAILURES - failures),
                retry_after=delay,
            )
        if not await self.links.code_used(live.id, now):
            raise Conflict("ask for a code first", reason="no_code")
        await self.links.trust(secret_hash(device), link.case_id, link.party, phone, now)
