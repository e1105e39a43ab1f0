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
the state and the form. Against the database, rule 1 is answered by the identity index
(:mod:`kuaichu.storage.caseindex`), never by parsing forms. This module reads only;
recording the read in the case's audit trail is the caller's (the console does it in
:mod:`kuaichu.insurers.service`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..cases.form import CaseForm
from ..cases.identity import Kind
from ..cases.states import CaseState
from ..errors import Forbidden, NotFound
from ..storage.tables import case_index, cases
from .model import Insurer

logger = logging.getLogger(__name__)

_CHUNK: Final = 500

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

        Rule 1 is looked up in the identity index (:mod:`kuaichu.storage.caseindex`: each
        party's insurer, normalised as :meth:`Insurer.matches` compares it, kept in step with
        the form in the form write's transaction): no form is read."""
        names = index_names(insurer)
        ours = select(case_index.c.case_id).where(
            case_index.c.kind == Kind.INSURER.value, case_index.c.value.in_(names)
        )
        query = (
            select(cases.c.id, cases.c.status, cases.c.created_at)
            .where(
                cases.c.id.in_(ours), cases.c.status.in_([s.value for s in VISIBLE_STATES])
            )
            .order_by(cases.c.created_at.desc(), cases.c.id)
            .limit(limit)
        )
        if since is not None:
            query = query.where(cases.c.created_at >= since)
        async with self.engine.connect() as conn:
            rows = [tuple(r) for r in (await conn.execute(query)).all()]
            keys = await indexed_policyholders(conn, names, [r[0] for r in rows])
        return [
            VisibleCase(case_id, CaseState(status), created_at, keys[case_id])
            for case_id, status, created_at in rows
            if keys.get(case_id)
        ]

    async def require(self, insurer: Insurer, case_id: str) -> VisibleCase:
        """The case if ``insurer`` may see it. NotFound when there is no such case;
        :class:`NotYourCase` (403) with ``reason`` ``not_policyholder`` (no party is this
        insurer's) or ``liability_not_set`` (its policyholder's case, but too early)."""
        query = select(cases.c.status, cases.c.created_at).where(cases.c.id == case_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
            if row is None:
                raise NotFound(f"no case {case_id}")
            found = await indexed_policyholders(conn, index_names(insurer), [case_id])
        keys = found.get(case_id, ())
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


def index_names(insurer: Insurer) -> list[str]:
    # The normalised spellings Insurer.matches accepts: the index holds the same of a form.
    return sorted(insurer._keys)


async def indexed_policyholders(
    conn: AsyncConnection, names: list[str], case_ids: list[str]
) -> dict[str, tuple[str, ...]]:
    """{case: the keys of its parties insured under one of ``names``}, in party-key order."""
    found: dict[str, list[str]] = {}
    for start in range(0, len(case_ids), _CHUNK):
        query = select(case_index.c.case_id, case_index.c.party).where(
            case_index.c.kind == Kind.INSURER.value,
            case_index.c.value.in_(names),
            case_index.c.case_id.in_(case_ids[start : start + _CHUNK]),
        )
        for case_id, party in await conn.execute(query):
            found.setdefault(case_id, []).append(party)
    return {case_id: tuple(sorted(keys)) for case_id, keys in found.items()}
