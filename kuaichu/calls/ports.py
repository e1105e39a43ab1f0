"""What the call centre and start-up recovery need from the services above them (the case
work, the notifier, the evidence desk), as protocols: ``app.py`` hands in the real ones,
tests small fakes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from ..cases.eligibility import AccidentCause
from ..cases.states import CaseState
from .model import Call


class CaseIntake(Protocol):
    """The case work's part of a report: the case file, written in the report's transaction."""

    async def reported(
        self,
        conn: AsyncConnection,
        case_id: str,
        phone: str | None,
        cause: AccidentCause | None,
        at: datetime,
        location: Mapping[str, float] | None,
    ) -> str | None: ...


class CallbackAnswers(Protocol):
    """The video callbacks (issue 13, kuaichu.photoreports.callbacks): a driver page opened an
    officer's callback link."""

    async def answer(
        self, token: str, call_id: str, now: float, location: Mapping[str, float] | None
    ) -> tuple[str, CaseState, int]:
        """Spend the link and write the new call's row: the case, its state and the officer
        who sent the link (NotFound for a wrong, used or expired link)."""
        ...


class Bell(Protocol):
    """The notifier's doorbell (kuaichu.notify.doorbell): rung when an SMS was queued."""

    def ring(self) -> None: ...


class CallEvidence(Protocol):
    """Evidence from a live call (kuaichu.evidence.call_capture.CallCapture): the call
    centre only starts the plate patrol once the officer's video is up."""

    def start_patrol(self, call: Call) -> None:
        """The call is bridged: read plates unasked, if configured."""
        ...


class InterruptNotice(Protocol):
    """Tells a case's caller that their call was cut off (kuaichu.casework.CaseWork)."""

    async def call_interrupted(self, conn: AsyncConnection, case_id: str, key: str) -> None:
        """Inside the abandon's transaction: the SMS, if the caller gave a number."""
        ...
