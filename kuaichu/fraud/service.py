"""The fraud signals of stored cases: the facts loaded from the identity index
(:mod:`kuaichu.storage.caseindex`: plates, ID numbers, phones, declared place and time), the
cases' rows and their stills, then the rules (:mod:`.rules`) run in a worker thread. No form
is parsed: the repeat rules only need the cases that share an identity with the ones looked
at, and the index finds those by an indexed join.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..cases.identity import MATCH_KINDS, Kind, party_keys
from ..cases.plates import normalise_plate
from ..cases.transitions import CaseEvent
from ..errors import InvalidMessage, NotFound
from ..storage.tables import captures, case_audit, case_index, cases
from .rules import (
    CaseFacts,
    PartyFacts,
    PhotoFacts,
    PlateReading,
    Policy,
    distance_km,
    flag_cases,
)

logger = logging.getLogger(__name__)

MAX_LISTED: Final = 500
_CHUNK: Final = 100  # cases per query: each step of the loop builds a few hundred rows
_PAGE: Final = 500  # rows of (case, report position, declared place) per step of the loop
_MATCH: Final = [k.value for k in MATCH_KINDS]
_MATCH_SQL: Final = ", ".join(f"'{k}'" for k in _MATCH)  # constants of ours, not input

Key = tuple[str, str]  # (kind, value) of the index


def _shown_plate(value: str) -> str:
    # The index holds the plate without its separator; flags show it as the form does.
    try:
        return normalise_plate(value)
    except InvalidMessage:
        return value


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class FraudSignals:
    """Flags per case, and the flagged cases of a period, from the database."""

    def __init__(self, engine: AsyncEngine, policy: Policy) -> None:
        self.engine = engine
        self.policy = policy

    async def _merged(self, conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` that were linked into another case: a re-report of the same
        accident, cancelled with ``merged_into`` in its trail. It is not a second case (its
        calls, stills and parties moved into the surviving one), so no rule may count it,
        or every linked case would repeat itself."""
        out: set[str] = set()
        for part in _chunks(list(ids)):
            query = select(case_audit.c.case_id, case_audit.c.detail).where(
                case_audit.c.case_id.in_(part),
                case_audit.c.what == CaseEvent.CANCEL.value,
            )
            for case_id, detail in await conn.execute(query):
                try:
                    if json.loads(detail).get("merged_into"):
                        out.add(case_id)
                except (ValueError, AttributeError):
                    continue
        return out

    async def _facts(
        self, conn: AsyncConnection, ids: Sequence[str]
    ) -> tuple[dict[str, CaseFacts], dict[str, str]]:
        """The rules' facts of these cases, and their statuses: a few queries per few hundred
        cases (SQLAlchemy builds rows on the loop's thread; the chunks keep each step short)."""
        rows: dict[str, Any] = {}
        index: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        shots: dict[str, list[Any]] = defaultdict(list)
        for part in _chunks(list(ids)):
            query = select(
                cases.c.id, cases.c.created_at, cases.c.status, cases.c.lat, cases.c.lng
            ).where(cases.c.id.in_(part))
            for row in (await conn.execute(query)).mappings():
                rows[row["id"]] = row
            query = select(
                case_index.c.case_id, case_index.c.kind, case_index.c.value, case_index.c.party
            ).where(
                case_index.c.case_id.in_(part),
                case_index.c.kind.in_([*_MATCH, Kind.PLACE.value, Kind.OCCURRED.value]),
            )
            for found in await conn.execute(query):
                index[found[0]].append((found[1], found[2], found[3]))
            query = select(
                captures.c.id, captures.c.case_id, captures.c.source, captures.c.plate,
                captures.c.exif_taken_at, captures.c.exif_lat, captures.c.exif_lng,
            ).where(
                captures.c.case_id.in_(part),
                or_(
                    captures.c.plate.is_not(None),
                    captures.c.exif_taken_at.is_not(None),
                    captures.c.exif_lat.is_not(None),
                ),
            )
            for shot in (await conn.execute(query)).mappings():
                shots[shot["case_id"]].append(shot)

        def build() -> dict[str, CaseFacts]:
            return {
                case_id: _case_facts(row, index.get(case_id, ()), shots.get(case_id, ()))
                for case_id, row in rows.items()
            }

        # Hundreds of cases' facts (plates spelt back, stills' JSON): off the loop.
        facts = await asyncio.to_thread(build) if len(rows) > 20 else build()
        return facts, {case_id: row["status"] for case_id, row in rows.items()}

    async def _sharing(
        self, conn: AsyncConnection, keys: Iterable[Key], since: float, until: float
    ) -> set[str]:
        """The cases reported in [since, until] that hold one of ``keys``."""
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, value in sorted(set(keys)):
            by_kind[kind].append(value)
        out: set[str] = set()
        for kind, values in by_kind.items():
            # kind = ? AND value IN (…): a search of the (kind, value) index per value (a
            # row-value IN would scan the whole table).
            for part in _chunks(values, 200):
                query = (
                    select(case_index.c.case_id)
                    .join(cases, cases.c.id == case_index.c.case_id)
                    .where(
                        case_index.c.kind == kind,
                        case_index.c.value.in_(list(part)),
                        cases.c.created_at >= since,
                        cases.c.created_at <= until,
                    )
                    .distinct()
                )
                out.update(r[0] for r in await conn.execute(query))
        return out

    async def _population(
        self, conn: AsyncConnection, targets: dict[str, CaseFacts], since: float, until: float
    ) -> dict[str, CaseFacts]:
        """The targets and every case of [since, until] sharing a plate, an ID number or a
        phone with one of them: all the repeat rules can match."""
        keys = {
            (kind, value)
            for facts in targets.values()
            for kind, value in _match_keys(facts)
        }
        sharing = await self._sharing(conn, keys, since, until) - set(targets)
        others = sorted(sharing - await self._merged(conn, sorted(sharing)))
        population = dict(targets)
        if others:
            population.update((await self._facts(conn, others))[0])
        return population

    async def flags(self, case_id: str) -> list[dict[str, Any]]:
        """The case's flags against the cases within the window around it that share one of
        its plates, ID numbers or phones (found in the identity index)."""
        window = self.policy.window_days * 86400
        async with self.engine.connect() as conn:
            created = await conn.scalar(select(cases.c.created_at).where(cases.c.id == case_id))
            if created is None:
                raise NotFound(f"no case {case_id}")
            own, _status = await self._facts(conn, [case_id])
            population = await self._population(conn, own, created - window, created + window)

        def compute() -> list[dict[str, Any]]:
            found = flag_cases([own[case_id]], list(population.values()), self.policy)
            return [flag.to_dict() for flag in found.get(case_id, [])]

        return await asyncio.to_thread(compute)

    async def flagged(self, days: float = 30.0, now: float | None = None) -> list[dict[str, Any]]:
        """The cases of the last ``days`` that have at least one flag, newest first (at most
        500), each with its flags: the supervisor's list.

        Only cases that can have a flag are loaded: those sharing an identity with another
        case within the window (a self-join of the index), those whose phone reported from
        farther than the limit from the declared place, and those with stills that carry a
        plate reading or EXIF data."""
        now = time.time() if now is None else now
        window = self.policy.window_days * 86400
        since = now - days * 86400
        until = now + 1
        async with self.engine.connect() as conn:
            candidates = await self._repeats(conn, since, until, window)
            candidates |= await self._far(conn, since, until)
            candidates |= await self._with_stills(conn, since, until)
            candidates -= await self._merged(conn, sorted(candidates))
            targets, status = await self._facts(conn, sorted(candidates))
            population = await self._population(conn, targets, since - window, until)

        def compute() -> list[dict[str, Any]]:
            found = flag_cases(list(targets.values()), list(population.values()), self.policy)
            out = []
            for facts in sorted(targets.values(), key=lambda f: f.created_at, reverse=True):
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

    async def _repeats(
        self, conn: AsyncConnection, since: float, until: float, window: float
    ) -> set[str]:
        """Cases of [since, until] holding a plate, ID number or phone that another case
        reported within the window also holds (the index's (kind, value) index)."""
        # The join starts from the period's cases (CROSS JOIN fixes SQLite's join order;
        # without statistics it would walk every identity row of every case first), then
        # each of their identities' other holders through the (kind, value) index.
        query = text(
            "SELECT DISTINCT a.case_id FROM cases AS ca CROSS JOIN case_index AS a"
            " CROSS JOIN case_index AS b CROSS JOIN cases AS cb"
            " WHERE ca.created_at >= :since AND ca.created_at <= :until"
            " AND a.case_id = ca.id AND a.kind IN (" + _MATCH_SQL + ")"
            " AND b.kind = a.kind AND b.value = a.value AND b.case_id <> a.case_id"
            " AND cb.id = b.case_id AND cb.created_at <= :until"
            " AND cb.created_at >= ca.created_at - :window"
            " AND cb.created_at <= ca.created_at + :window"
        ).bindparams(since=since, until=until, window=window)
        return {r[0] for r in await conn.execute(query)}

    async def _far(self, conn: AsyncConnection, since: float, until: float) -> set[str]:
        """Cases of [since, until] whose phone reported farther than the limit from the
        declared place. A page at a time, by case id."""
        out: set[str] = set()
        last = ""
        while True:
            # From the period's cases in id order (CROSS JOIN keeps SQLite from starting at
            # every case's place row and sorting them all, once per page).
            query = text(
                "SELECT ca.id, ca.lat, ca.lng, p.value FROM cases AS ca"
                " CROSS JOIN case_index AS p"
                " WHERE ca.id > :last AND ca.created_at >= :since AND ca.created_at <= :until"
                " AND ca.lat IS NOT NULL AND ca.lng IS NOT NULL"
                " AND p.case_id = ca.id AND p.kind = :place"
                " ORDER BY ca.id LIMIT :page"
            ).bindparams(
                last=last, since=since, until=until, place=Kind.PLACE.value, page=_PAGE
            )
            page = (await conn.execute(query)).all()
            for case_id, lat, lng, place in page:
                declared = _place(place)
                if declared and distance_km(lat, lng, *declared) > self.policy.gps_km:
                    out.add(case_id)
            if len(page) < _PAGE:
                return out
            last = page[-1][0]

    async def _with_stills(self, conn: AsyncConnection, since: float, until: float) -> set[str]:
        query = (
            select(captures.c.case_id)
            .join(cases, cases.c.id == captures.c.case_id)
            .where(
                cases.c.created_at >= since,
                cases.c.created_at <= until,
                or_(
                    captures.c.plate.is_not(None),
                    captures.c.exif_taken_at.is_not(None),
                    captures.c.exif_lat.is_not(None),
                ),
            )
            .distinct()
        )
        return {r[0] for r in await conn.execute(query)}


def _place(value: str | None) -> tuple[float, float] | None:
    if not value:
        return None
    try:
        lat, lng = (float(x) for x in value.split(","))
    except ValueError:
        return None
    return lat, lng


def _match_keys(facts: CaseFacts) -> set[Key]:
    return {
        (kind.value, value)
        for party in facts.parties
        for kind, value in party_keys(party.plate, party.licence_no, party.phone)
    }


def _case_facts(
    row: Any, index: Iterable[tuple[str, str, str]], shots: Sequence[Any]
) -> CaseFacts:
    parties: dict[str, dict[str, str]] = defaultdict(dict)
    place: tuple[float, float] | None = None
    occurred: float | None = None
    for kind, value, party in index:
        if kind == Kind.PLACE.value:
            place = _place(value)
        elif kind == Kind.OCCURRED.value:
            try:
                occurred = float(value)
            except ValueError:
                occurred = None
        else:
            parties[party][kind] = value
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
        declared_lat=place[0] if place else None,
        declared_lng=place[1] if place else None,
        occurred_at=occurred,
        parties=tuple(
            PartyFacts(
                key,
                _shown_plate(keys.get(Kind.PLATE.value, "")) if Kind.PLATE.value in keys else "",
                keys.get(Kind.ID.value, ""),
                keys.get(Kind.TEL.value, ""),
            )
            for key, keys in sorted(parties.items())
        ),
        photos=tuple(photos),
        readings=tuple(readings),
    )
