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

from sqlalchemy import or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from ..cases.form import CaseForm
from ..errors import InvalidMessage, NotFound
from ..storage.tables import captures, case_files, cases
from .rules import CaseFacts, PartyFacts, PhotoFacts, PlateReading, Policy, flag_cases

logger = logging.getLogger(__name__)

MAX_LISTED: Final = 500
_CHUNK: Final = 400


def _needles(case: CaseFacts) -> list[str]:
    """The texts of the case's identities as a stored form spells them (``"plate": "…"``):
    a form holding one of them may name the same vehicle or person."""
    out = []
    for party in case.parties:
        for name, value in (
            ("plate", party.plate),
            ("licence_no", party.licence_no),
            ("phone", party.phone),
        ):
            if value:
                out.append(f"{json.dumps(name)}: {json.dumps(value, ensure_ascii=False)}")
    return out


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
        self, since: float, until: float, contains: Sequence[str] | None = None
    ) -> tuple[list[RowMapping], dict[str, list[RowMapping]]]:
        """The cases reported in [since, until] (only those whose stored form contains one of
        ``contains``, when given) and their stills. Fetched in chunks: SQLAlchemy builds the
        rows on the event loop's thread, so a window of thousands of forms is read a few
        hundred at a time, with the loop free in between."""
        where = [cases.c.created_at >= since, cases.c.created_at <= until]
        if contains is not None:
            if not contains:
                return [], {}
            where.append(
                or_(*(case_files.c.data.contains(text, autoescape=True) for text in contains))
            )
        rows: list[RowMapping] = []
        last = ""
        while True:
            query = (
                select(
                    cases.c.id, cases.c.created_at, cases.c.status, cases.c.lat, cases.c.lng,
                    case_files.c.data,
                )
                .outerjoin(case_files, case_files.c.case_id == cases.c.id)
                .where(*where, cases.c.id > last)
                .order_by(cases.c.id)
                .limit(_CHUNK)
            )
            async with self.engine.connect() as conn:
                chunk = list((await conn.execute(query)).mappings().all())
            rows.extend(chunk)
            if len(chunk) < _CHUNK:
                break
            last = chunk[-1]["id"]
        rows.sort(key=lambda r: r["created_at"], reverse=True)
        shots: dict[str, list[RowMapping]] = defaultdict(list)
        ids = [r["id"] for r in rows]
        for start in range(0, len(ids), _CHUNK):
            shots_query = select(
                captures.c.id, captures.c.case_id, captures.c.source, captures.c.plate,
                captures.c.exif_taken_at, captures.c.exif_lat, captures.c.exif_lng,
            ).where(captures.c.case_id.in_(ids[start : start + _CHUNK]))
            async with self.engine.connect() as conn:
                for shot in (await conn.execute(shots_query)).mappings():
                    shots[shot["case_id"]].append(shot)
        return rows, shots

    async def flags(self, case_id: str) -> list[dict[str, Any]]:
        """The case's flags against the cases within the window around it that share one of
        its plates, ID numbers or phones (found by their stored forms' text, so only those
        are loaded and parsed)."""
        async with self.engine.connect() as conn:
            created = await conn.scalar(select(cases.c.created_at).where(cases.c.id == case_id))
        if created is None:
            raise NotFound(f"no case {case_id}")
        own, own_shots = await self._rows(created, created, None)
        own = [r for r in own if r["id"] == case_id]
        target = await asyncio.to_thread(_facts, own[0], own_shots.get(case_id, ()))
        window = self.policy.window_days * 86400
        rows, shots = await self._rows(created - window, created + window, _needles(target))

        def compute() -> list[dict[str, Any]]:
            population = [_facts(r, shots.get(r["id"], ())) for r in rows if r["id"] != case_id]
            found = flag_cases([target], [target, *population], self.policy)
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
