"""Failed notices: the supervisors' list of messages the gateway refused or that ran out of
attempts (legal notices above all: leave the scene, determination served), and resending one
as a new outbox row with an audit entry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.actors import officer_actor
from ..cases.states import AuditEntry
from ..errors import Conflict, NotFound
from ..notify import Outbox, OutboxMessage, OutboxStatus, Template, mask_phone
from ..storage.tables import outbox
from .context import CaseContext

# A code is worth nothing late (the party asks for a new one); the queue notice is moot.
_NOT_RESENT = frozenset({Template.LINK_CODE, Template.QUEUED})


def notice_view(m: OutboxMessage) -> dict[str, Any]:
    """A message as the case page and the failed list show it (the phone masked)."""
    return {
        "id": m.id,
        "case_id": m.case_id,
        "party": m.party,
        "phone": mask_phone(m.phone),
        "template": m.template.value,
        "status": m.status.value,
        "legal": m.legal,
        "needs_attention": m.needs_attention,
        "attempts": m.attempts,
        "created_at": m.created_at,
        "sent_at": m.sent_at,
        "last_error": m.last_error,
        "resent_as": m.resent_as,
        "resendable": m.needs_attention and m.template not in _NOT_RESENT,
    }


class NoticesStep:
    """The failed notices and their resending."""

    def __init__(self, ctx: CaseContext, outbox: Outbox) -> None:
        self.ctx = ctx
        self.outbox = outbox

    async def failed(self, officer: Officer) -> list[dict[str, Any]]:
        """Every failed, not yet resent message for a supervisor; an officer's own cases'."""
        if officer.is_supervisor:
            found = await self.outbox.needing_attention()
        else:
            mine = [c["id"] for c in await self.ctx.store.recent_cases(officer.id, limit=1000)]
            found = await self.outbox.needing_attention(mine)
        return [notice_view(m) for m in found]

    async def resend(self, officer: Officer, message_id: int) -> dict[str, Any]:
        """Send a failed message again to the party's current number, as a new outbox row
        (a fresh link in it) in one transaction with the audit entry."""
        ctx = self.ctx
        old = await self.outbox.message(message_id)
        if old is None or old.case_id is None or old.party is None:
            raise NotFound(f"no notice {message_id}")
        case_id = old.case_id
        await ctx.authorize(officer, case_id)
        if not old.needs_attention:
            raise Conflict("only a failed notice not yet resent can be resent", reason="not_failed")
        if old.template in _NOT_RESENT:
            raise Conflict("this message is not resent", reason="not_resendable")
        party = (await ctx.store.form(case_id)).form.party(old.party)
        if party is None or not party.phone:
            raise Conflict("the party has no phone number", reason="no_phone")
        # The old key's step suffix is kept (…:A:v1 -> …:A:r7.v1) so a step that waits for
        # its messages (the determination's "served") counts the new row.
        suffix = old.dedupe_key.rsplit(":", 1)[-1]
        key = f"r{old.id}.{suffix}"
        dedupe = f"{case_id}:{old.template}:{party.key}:{key}"
        new_id = 0

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            nonlocal new_id
            params = {k: v for k, v in old.params.items() if k not in ("link", "case_id")}
            await ctx.notify(conn, case_id, party, old.template, key, **params)
            new_id = int(
                await conn.scalar(select(outbox.c.id).where(outbox.c.dedupe_key == dedupe)) or 0
            )
            done = await conn.execute(
                update(outbox)
                .where(outbox.c.id == old.id, outbox.c.resent_as.is_(None))
                .values(resent_as=new_id)
            )
            if done.rowcount != 1 or not new_id:
                raise Conflict("this notice was resent meanwhile", reason="not_failed")

        await ctx.action(
            case_id,
            AuditAction.NOTICE_RESENT,
            officer_actor(officer.id),
            {"message": old.id, "template": old.template.value, "party": party.key},
            extra=write,
        )
        ctx.doorbell.ring()
        status = OutboxStatus.PENDING.value
        return {"id": new_id, "resent": old.id, "status": status, "phone": mask_phone(party.phone)}
