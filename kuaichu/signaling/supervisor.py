"""The supervisors' namespace: the wallboard, pushed on connect and then every few seconds."""

from __future__ import annotations

from typing import Any

from ..accounts.model import Role
from ..accounts.service import Accounts
from ..calls.wallboard import Wallboard
from .base import AuthenticatedNamespace
from .rooms import SUPERVISOR_NS


class SupervisorNamespace(AuthenticatedNamespace):
    """Supervisors only; receives ``wallboard`` snapshots, sends nothing."""

    role = Role.SUPERVISOR

    def __init__(self, wallboard: Wallboard, accounts: Accounts, max_message_bytes: int) -> None:
        super().__init__(SUPERVISOR_NS, accounts, max_message_bytes)
        self.wallboard = wallboard

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.officers[sid] = await self._authenticate(environ)
        await self.emit("wallboard", await self.wallboard.snapshot(), to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.officers.pop(sid, None)
