"""The local registry: three tables in the server's own database (:mod:`.records`), and the
rules that turn their rows into verdicts (:mod:`.rules`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .model import PartyFacts, Reason, VerificationResult, unavailable
from .records import (
    KINDS,
    RECORD_TYPES,
    SOURCE,
    TABLES,
    Kind,
    PolicyKind,
    PolicyRecord,
    Record,
    licence_from_row,
    policy_from_row,
    record_row,
    registry_licences,
    registry_metadata,
    registry_policies,
    registry_vehicles,
    vehicle_from_row,
)
from .rules import canonical_plate, clean_licence_no, judge

logger = logging.getLogger(__name__)


def _upsert_statement(conn: AsyncConnection, kind: Kind) -> Any:
    table = TABLES[kind]
    key = RECORD_TYPES[kind].KEY
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:
        raise NotImplementedError(f"registry upsert is not written for {dialect}")
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[key],
        set_={c.name: stmt.excluded[c.name] for c in table.c if c.name != key},
    )


async def upsert_rows(
    engine: AsyncEngine,
    kind: Kind,
    rows: Sequence[Mapping[str, Any]],
    progress: Callable[[int], None] | None = None,
    batch: int = 5000,
) -> None:
    """Insert or replace ``rows`` (:func:`record_row` dicts) in batches of ``batch``: one
    executemany and one short transaction each, ``progress(rows_done)`` after each.

    Short transactions because the server shares the database: SQLite has one writer at a
    time, and a 250k-row import in one transaction would hold the lock for seconds, longer
    than the server's busy timeout, failing its case writes. Callers validate everything
    before the first batch, so a bad file still changes nothing; an import interrupted
    half-way is completed by running it again (upsert)."""
    for start in range(0, len(rows), batch):
        chunk = list(rows[start : start + batch])
        async with engine.begin() as conn:
            await conn.execute(_upsert_statement(conn, kind), chunk)
        if progress is not None:
            progress(start + len(chunk))


class LocalRegistry:
    """Verdicts from the registry tables in the server's database. The engine belongs to
    the caller (the server disposes it); :meth:`close` does nothing."""

    name = "local"

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    async def ensure_schema(self) -> None:
        """Create the registry tables if they do not exist."""
        async with self.engine.begin() as conn:
            await conn.run_sync(registry_metadata.create_all)

    async def close(self) -> None:
        """Nothing to close: the engine belongs to the caller."""
        return None

    async def counts(self) -> dict[Kind, int]:
        """How many records of each kind the registry holds."""
        async with self.engine.connect() as conn:
            return {
                kind: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
                for kind, t in TABLES.items()
            }

    async def load(
        self,
        records: Mapping[Kind, Sequence[Record]],
        progress: Callable[[Kind, int, int], None] | None = None,
    ) -> None:
        """Upsert whole record lists, kind by kind (see :func:`upsert_rows`)."""
        now = time.time()
        for kind in KINDS:
            rows = [record_row(r, now) for r in records.get(kind, ())]

            def step(done: int, kind: Kind = kind, total: int = len(rows)) -> None:
                if progress is not None:
                    progress(kind, done, total)

            step(0)
            await upsert_rows(self.engine, kind, rows, step)

    async def verify(self, facts: PartyFacts) -> VerificationResult:
        """All three verdicts for a party, from the records found."""
        licence_no = clean_licence_no(facts.licence_no)
        plate, _ = canonical_plate(facts.plate)
        try:
            async with self.engine.connect() as conn:
                licence = vehicle = None
                policies: list[PolicyRecord] = []
                if licence_no is not None:
                    row = (
                        (
                            await conn.execute(
                                select(registry_licences).where(
                                    registry_licences.c.licence_no == licence_no
                                )
                            )
                        )
                        .mappings()
                        .first()
                    )
                    licence = None if row is None else licence_from_row(row)
                if plate is not None:
                    row = (
                        (
                            await conn.execute(
                                select(registry_vehicles).where(registry_vehicles.c.plate == plate)
                            )
                        )
                        .mappings()
                        .first()
                    )
                    vehicle = None if row is None else vehicle_from_row(row)
                    rows = (
                        (
                            await conn.execute(
                                select(registry_policies).where(
                                    registry_policies.c.plate == plate,
                                    registry_policies.c.kind == PolicyKind.COMPULSORY.value,
                                )
                            )
                        )
                        .mappings()
                        .all()
                    )
                    policies = [policy_from_row(r) for r in rows]
        except (SQLAlchemyError, ValueError) as exc:
            # A missing table or a corrupt row must not end the officer's call: every item
            # becomes UNAVAILABLE and the officer decides. No facts in the log line.
            # SQLAlchemy's own message carries the bound parameters (ID numbers): log the
            # driver's message only.
            cause = getattr(exc, "orig", None) or type(exc).__name__
            logger.error("local registry lookup failed: %s", cause)
            return unavailable(Reason.UPSTREAM_ERROR, SOURCE, self._clock(), error="registry")
        return judge(facts, licence, vehicle, policies, self._clock())
