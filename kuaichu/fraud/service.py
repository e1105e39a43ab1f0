"""The fraud signals of stored cases: the facts loaded by a few queries, the rules
(:mod:`.rules`) run in a worker thread (the forms are JSON to parse, and the supervisor's list
compares a whole window of cases), never on the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from ..cases.form import CaseForm
from ..errors import InvalidMessage, NotFound
from ..storage.tables import captures, case_files, cases
from .rules import CaseFacts, PartyFacts, PhotoFacts, PlateReading, Policy, flag_cases

logger = logging.getLogger(__name__)

MAX_LISTED: Final = 500


def _facts(row: RowMapping, shots: Sequence[RowMapping]) -> CaseFacts:
    form: CaseForm | None = None
    if row["data"] is not None:
        try:
            form = CaseForm.parse(json.loads(row["data"]))
        except (ValueError, InvalidMessage):
            form = None
    photos = []
    readings = []
    for shot in shots:
        if shot["exif_taken_at"] is not None or shot["exif_lat"] is not None:
            photos.append(
                PhotoFacts(shot["id"], shot["exif_taken_at"], shot["exif_lat"], shot["exif_lng"])
            )
        if shot["plate"]:
            try:
                proposal = json.loads(shot["plate"])
            except ValueError:
                proposal = None
            if isinstance(proposal, dict) and isinstance(proposal.get("plate"), str):
                readings.append(PlateReading(shot["id"], proposal["plate"], shot["source"]))
    return CaseFacts(
        case_id=row["id"],
        created_at=row["created_at"],
        report_lat=row["lat"],
        report_lng=row["lng"],
        declared_lat=form.lat if form else None,
        declared_lng=form.lng if form else None,
        occurred_at=form.occurred_at.timestamp() if form and form.occurred_at else None,
        parties=tuple(
            PartyFacts(p.key, p.plate, p.licence_no, p.phone)
            for p in (form.parties if form else ())
        ),
        photos=tuple(photos),
        readings=tuple(readings),
    )


class FraudSignals:
    """Flags per case, and the flagged cases of a period, from the database."""

    def __init__(self, engine: AsyncEngine, policy: Policy) -> None:
        self.engine = engine
        self.policy = policy

    async def _rows(
        self, since: float, until: float
    ) -> tuple[list[RowMapping], dict[str, list[RowMapping]]]:
        query = (
            select(
                cases.c.id, cases.c.created_at, cases.c.status, cases.c.lat, cases.c.lng,
                case_files.c.data,
            )
            .outerjoin(case_files, case_files.c.case_id == cases.c.id)
            .where(cases.c.created_at >= since, cases.c.created_at <= until)
            .order_by(cases.c.created_at.desc())
        )
        shots_query = (
            select(
                captures.c.id, captures.c.case_id, captures.c.source, captures.c.plate,
                captures.c.exif_taken_at, captures.c.exif_lat, captures.c.exif_lng,
            )
            .join(cases, cases.c.id == captures.c.case_id)
            .where(cases.c.created_at >= since, cases.c.created_at <= until)
        )
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(query)).mappings().all())
            shots: dict[str, list[RowMapping]] = defaultdict(list)
            for shot in (await conn.execute(shots_query)).mappings():
                shots[shot["case_id"]].append(shot)
        return rows, shots

    async def flags(self, case_id: str) -> list[dict[str, Any]]:
        """The case's flags against every case within the window around it."""
        async with self.engine.connect() as conn:
            created = await conn.scalar(select(cases.c.created_at).where(cases.c.id == case_id))
        if created is None:
            raise NotFound(f"no case {case_id}")
        window = self.policy.window_days * 86400
        rows, shots = await self._rows(created - window, created + window)

        def compute() -> list[dict[str, Any]]:
            population = [_facts(r, shots.get(r["id"], ())) for r in rows]
            target = [f for f in population if f.case_id == case_id]
            found = flag_cases(target, population, self.policy)
            return [flag.to_dict() for flag in found.get(case_id, [])]

        return await asyncio.to_thread(compute)

    async def flagged(self, days: float = 30.0, now: float | None = None) -> list[dict[str, Any]]:
        """The cases of the last ``days`` that have at least one flag, newest first (at most
        500), each with its flags: the supervisor's list."""
        now = time.time() if now is None else now
        window = self.policy.window_days * 86400
        since = now - days * 86400
        rows, shots = await self._rows(since - window, now + 1)

        def compute() -> list[dict[str, Any]]:
            population = [_facts(r, shots.get(r["id"], ())) for r in rows]
            targets = [f for f in population if f.created_at >= since]
            found = flag_cases(targets, population, self.policy)
            status = {r["id"]: r["status"] for r in rows}
            out = []
            for facts in targets:  # newest first, as loaded
                flags = found.get(facts.case_id) or []
                if flags:
                    out.append(
                        {
                            "case_id": facts.case_id,
                            "status": status[facts.case_id],
                            "created_at": facts.created_at,
                            "reported": datetime.fromtimestamp(facts.created_at).isoformat(
                                timespec="minutes"
                            ),
                            "flags": [flag.to_dict() for flag in flags],
                        }
                    )
                    if len(out) >= MAX_LISTED:
                        break
            return out

        return await asyncio.to_thread(compute)
