"""Leave the scene (撤离现场): the evidence is fixed, the parties clear the road now."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actors import officer_actor
from ..cases.states import AuditEntry, CaseEvent
from ..notify import Template
from .context import CaseContext


class SceneStep:
    """Tells every party to leave the scene: live on the call and by SMS."""

    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx

    async def leave_scene(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """撤离现场: the evidence is fixed, the parties must clear the road now. Pushed to
        every driver page of the case still connected, and sent by SMS to every party."""
        ctx = self.ctx
        await ctx.authorize(officer, case_id)
        stored = await ctx.store.form(case_id)

        async def sms(conn: AsyncConnection, entry: AuditEntry) -> None:
            for party in stored.form.parties:
                await ctx.notify(conn, case_id, party, Template.LEAVE_SCENE, "1")

        await ctx.event(case_id, CaseEvent.CLEAR_SCENE, officer_actor(officer.id), {}, extra=sms)
        pushed = ctx.live.push_to_case(
            case_id,
            "leave_scene",
            {
                "case_id": case_id,
                "at": ctx.now().isoformat(),
                "officer": officer.display_name,
            },
        )
        return {"pushed": pushed, "sms": sum(1 for p in stored.form.parties if p.phone)}
