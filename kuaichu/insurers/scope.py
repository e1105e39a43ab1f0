"""What an insurer may see: the one rule, for the insurer's console, the open API and the photo
channel alike.

**Rule.** Insurer X may see case C when

1. one of C's parties is X's policyholder: the party's insurer on the case form
   (``Party.insurer``) names X (:meth:`InsurerDirectory.match`, aliases and company suffixes
   included), and
2. liability is set: a determination has been issued, or the parties' self-negotiated
   agreement approved by an officer. In states: :data:`VISIBLE_STATES` (every state after
   a determination or an approved agreement; ``closed`` is reachable only from those).

Nothing else: not another insurer's case, not a case still in the call or before the
officer's decision, not a cancelled one. The party keys that satisfy (1) are returned with the
case, so a caller can show "your policyholder: party B".

Use::

    scope = InsurerScope(engine, directory)
    await scope.cases(insurer)            # every case X may see, newest first
    await scope.require(insurer, case_id) # the case, or NotFound / Forbidden (reason code)
    await scope.may_see(insurer, case_id) # bool

:func:`visible` and :func:`policyholders` are the pure halves, for code that already holds
the state and the form. This module reads only; recording the read in the case's audit trail
is the caller's (the console does it in :mod:`kuaichu.insurers.service`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..cases.form import CaseForm
from ..cases.states import CaseState
from ..errors import Forbidden, InvalidMessage, NotFound
from ..storage.tables import case_files, cases
from .model import Insurer

logger = logging.getLogger(__name__)

# Liability is set: a determination exists (and every state after it), or an agreement was
# approved. CLOSED is reached only from NOTIFIED, REVIEW_DECIDED and AGREEMENT_APPROVED.
VISIBLE_STATES: Final = frozenset(
    {
        CaseState.DETERMINED,
        CaseState.NOTIFIED,
        CaseState.REVIEW_REQUESTED,
        CaseState.REVIEW_DECIDED,
        CaseState.AGREEMENT_APPROVED,
        CaseState.CLOSED,
    }
)


class NotYourCase(Forbidden):
    """403 with a reason: ``not_policyholder`` or ``liability_not_set``."""

    code = "forbidden"


def visible(state: CaseState) -> bool:
    """Whether liability is set in this state (rule 2)."""
    return state in VISIBLE_STATES


def policyholders(form: CaseForm, insurer: Insurer) -> tuple[str, ...]:
    """The keys of the parties insured by ``insurer`` according to the form (rule 1)."""
    return tuple(p.key for p in form.parties if insurer.matches(p.insurer))


@dataclass(frozen=True)
class VisibleCase:
    """A case an insurer may see, and which of its parties are that insurer's."""

    case_id: str
    status: CaseState
    created_at: float
    parties: tuple[str, ...]  # the insurer's policyholders among the parties (never empty)


class InsurerScope:
    """The rule above against the database (read-only)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def cases(
        self, insurer: Insurer, limit: int = 500, since: float | None = None
    ) -> list[VisibleCase]:
        """Every case ``insurer`` may see, newest first, at most ``limit``, reported at or
        after ``since`` (epoch seconds) if given.

        The form is JSON, so the policyholder test parses each case in a visible state (one
        indexed scan of ``cases.status``), in a worker thread: ~benchmarks/insurer_scope.py
        for the cost at a centre's volume."""
        query = (
            select(cases.c.id, cases.c.status, cases.c.created_at, case_files.c.data)
            .join(case_files, case_files.c.case_id == cases.c.id)
            .where(cases.c.status.in_([s.value for s in VISIBLE_STATES]))
            .order_by(cases.c.created_at.desc(), cases.c.id)
        )
        if since is not None:
            query = query.where(cases.c.created_at >= since)
        async with self.engine.connect() as conn:
            rows = [tuple(r) for r in (await conn.execute(query)).all()]
        # Parsing thousands of forms is CPU work: off the event loop.
        return await asyncio.to_thread(_match, rows, insurer, limit)

    async def require(self, insurer: Insurer, case_id: str) -> VisibleCase:
        """The case if ``insurer`` may see it. NotFound when there is no such case;
        :class:`NotYourCase` (403) with ``reason`` ``not_policyholder`` (no party is this
        insurer's) or ``liability_not_set`` (its policyholder's case, but too early)."""
        query = (
            select(cases.c.id, cases.c.status, cases.c.created_at, case_files.c.data)
            .outerjoin(case_files, case_files.c.case_id == cases.c.id)
            .where(cases.c.id == case_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound(f"no case {case_id}")
        form = _form(case_id, row["data"]) if row["data"] is not None else None
        keys = policyholders(form, insurer) if form is not None else ()
        if not keys:
            logger.info("insurer %s refused case %s: not a policyholder's", insurer.code, case_id)
            raise NotYourCase(
                "none of this case's parties is insured by your company", reason="not_policyholder"
            )
        state = CaseState(row["status"])
        if not visible(state):
            logger.info("insurer %s refused case %s: liability not set", insurer.code, case_id)
            raise NotYourCase(
                "liability has not been determined for this case yet",
                reason="liability_not_set",
            )
        return VisibleCase(case_id, state, row["created_at"], keys)

    async def may_see(self, insurer: Insurer, case_id: str) -> bool:
        """Whether ``insurer`` may see ``case_id`` (False for an unknown case)."""
        try:
            await self.require(insurer, case_id)
        except (NotFound, Forbidden):
            return False
        return True


def _match(
    rows: list[tuple[Any, ...]], insurer: Insurer, limit: int
) -> list[VisibleCase]:
    out: list[VisibleCase] = []
    for case_id, status, created_at, data in rows:
        # Only the parties' keys and insurers are needed; the form was validated when it was
        # saved, so a full CaseForm.parse (plates, ID numbers) per case is not.
        keys = tuple(key for key, text in _insurers_of(case_id, data) if insurer.matches(text))
        if keys:
            out.append(VisibleCase(case_id, CaseState(status), created_at, keys))
            if len(out) >= limit:
                break
    return out


def _insurers_of(case_id: str, data: str) -> list[tuple[str, str]]:
    """(party key, insurer text) of a stored form, without validating the rest."""
    try:
        parties = json.loads(data).get("parties", [])
        return [
            (str(p["key"]), p.get("insurer") or "")
            for p in parties
            if isinstance(p, dict) and isinstance(p.get("insurer") or "", str)
        ]
    except (ValueError, AttributeError, KeyError, TypeError):
        logger.warning("case %s: stored form does not parse; hidden from insurers", case_id)
        return []


def _form(case_id: str, data: str) -> CaseForm | None:
    try:
        return CaseForm.parse(json.loads(data))
    except (ValueError, InvalidMessage):
        # A stored form that no longer parses shows nothing to anyone outside.
        logger.warning("case %s: stored form does not parse; hidden from insurers", case_id)
        return None
