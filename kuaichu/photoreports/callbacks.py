"""Video callbacks: the officer working a photo report calls its driver back by video.

The officer sends the reporter an SMS (``video_callback``) whose link opens the driver page
straight into a video call of this case: the page connects and sends the link's token
(socket.io ``callback``, docs/protocol.md); the call centre asks :meth:`VideoCallbacks.answer`
for the case, which in one transaction spends the token, writes the new call's row and the
trail's ``video_callback_joined`` entry; the call then waits at the head of the queue and the
next available officer gets it (the officer who sent the link should be available in the
console: the dispatcher has no per-officer queue).

A link works once and for :data:`CALLBACK_TTL` seconds; only its token's SHA-256 is stored
(``video_callbacks``). Sending a new link does not revoke an older one that is still valid:
both lead into the same case.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.actors import DRIVER, officer_actor
from ..cases.states import AuditEntry, CaseState
from ..casework.context import Access, CaseContext
from ..errors import Conflict, NotFound
from ..notify import Template, enqueue, mask_phone
from ..storage.tables import photo_reports, video_callbacks

logger = logging.getLogger(__name__)

CALLBACK_TTL: Final = 1800.0
_TOKEN_BYTES: Final = 16


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class VideoCallbacks:
    """Sends callback links and spends them when the driver's page answers."""

    def __init__(self, ctx: CaseContext, ttl: float = CALLBACK_TTL) -> None:
        self.ctx = ctx
        self.ttl = ttl

    def url(self, token: str) -> str:
        return f"{self.ctx.config.base_url}/driver?callback={token}"

    async def send(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """The SMS with a fresh link to the reporter of a photo report the officer works."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id, action=Access.WORK)
        async with ctx.store.engine.connect() as conn:
            is_photo = await conn.scalar(
                select(photo_reports.c.case_id).where(photo_reports.c.case_id == case_id)
            )
        if is_photo is None:
            raise NotFound("this case was not reported with photos")
        state = await ctx.state(case_id)
        if state.terminal:
            raise Conflict(f"the case is {state.value}", reason="case_closed")
        reporter = (await ctx.store.form(case_id)).form.party("A")
        if reporter is None or not reporter.phone:
            raise Conflict("the reporter has no mobile number", reason="no_phone")
        phone = reporter.phone
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        now = time.time()

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await conn.execute(
                insert(video_callbacks).values(
                    case_id=case_id,
                    token_hash=_hash(token),
                    officer_id=officer.id,
                    phone=phone,
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
            await enqueue(
                conn,
                case_id=case_id,
                party="A",
                phone=phone,
                template=Template.VIDEO_CALLBACK,
                params={"case_id": case_id, "link": self.url(token)},
                dedupe_key=f"{case_id}:{Template.VIDEO_CALLBACK}:A:{token[:8]}",
                now=now,
                signature=ctx.config.sms_signature,
            )

        await ctx.action(
            case_id,
            AuditAction.VIDEO_CALLBACK_SENT,
            officer_actor(officer.id),
            {"channel": "photo", "template": Template.VIDEO_CALLBACK.value},
            extra=write,
        )
        ctx.doorbell.ring()
        logger.info("case %s: video callback sent to %s", case_id, mask_phone(phone))
        return {"phone": mask_phone(phone), "expires_in_s": int(self.ttl)}

    async def answer(
        self, token: str, call_id: str, now: float, location: Mapping[str, float] | None
    ) -> tuple[str, CaseState, int]:
        """The driver's page opened a callback link: the link is spent, the new call's row
        and the trail's entry are written, in one transaction. The case, its state and the
        officer who sent the link (the call is offered to them first); a wrong, used or
        expired link is NotFound (the same answer for all three)."""
        ctx = self.ctx
        async with ctx.store.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(video_callbacks).where(video_callbacks.c.token_hash == _hash(token))
                    )
                )
                .mappings()
                .first()
            )
        if row is None or row["used_at"] is not None or row["expires_at"] <= now:
            raise NotFound("this callback link is not valid (used or expired)")
        case_id = str(row["case_id"])

        async def spend(conn: AsyncConnection, _entry: AuditEntry) -> None:
            done = await conn.execute(
                update(video_callbacks)
                .where(video_callbacks.c.id == row["id"], video_callbacks.c.used_at.is_(None))
                .values(used_at=now, call_id=call_id)
            )
            if done.rowcount != 1:
                raise NotFound("this callback link is not valid (used or expired)")
            await ctx.db.insert_call(conn, call_id, case_id, now, location)

        entry = await ctx.action(
            case_id,
            AuditAction.VIDEO_CALLBACK_JOINED,
            DRIVER,
            {"call_id": call_id, "callback": int(row["id"])},
            extra=spend,
        )
        return case_id, entry.to_state, int(row["officer_id"])
