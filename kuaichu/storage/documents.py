"""Issued documents: the determinations (认定书) and the agreement documents (协议书).

Both are numbered, versioned and frozen as issued: a correction or a review outcome inserts a
new version, and the versions before it only learn their successor (``superseded_by``). The
two tables have one shape (kuaichu.storage.tables), so one row type, one insert and one pair
of queries serve both (the agreement documents' store is the insurer store,
kuaichu.insurers.store).

Apart from the case file's queries (kuaichu.storage.casefiles), which are about the case
being worked on; :class:`~.casefiles.CaseStore` extends :class:`DeterminationStore`, so its
callers keep one store for the case.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .tables import determinations


@dataclass(frozen=True)
class Determination:
    """One issued version of a determination (its content frozen as issued)."""

    id: int
    case_id: str
    number: str
    version: int
    code: str
    issued_at: float
    issued_by: str
    content: dict[str, Any]
    pdf_path: str | None
    pdf_sha256: str | None
    superseded_by: int | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Determination:
        """The determination of a ``determinations`` row."""
        return cls(
            id=row["id"],
            case_id=row["case_id"],
            number=row["number"],
            version=row["version"],
            code=row["code"],
            issued_at=row["issued_at"],
            issued_by=row["issued_by"],
            content=json.loads(row["content"]),
            pdf_path=row["pdf_path"],
            pdf_sha256=row["pdf_sha256"],
            superseded_by=row["superseded_by"],
        )


class DeterminationStore:
    """The issued determinations' queries."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_determination(
        self,
        conn: AsyncConnection,
        case_id: str,
        number: str,
        version: int,
        code: str,
        issued_at: float,
        issued_by: str,
        content: dict[str, Any],
        pdf_path: str | None,
        pdf_sha256: str | None,
    ) -> int:
        """Store a new version; the previous one points to it as its successor."""
        return await insert_document_version(
            conn, determinations, case_id, number=number, version=version, code=code,
            issued_at=issued_at, issued_by=issued_by, content=content, pdf_path=pdf_path,
            pdf_sha256=pdf_sha256,
        )

    async def next_sequence(self, conn: AsyncConnection, year: int) -> int:
        """The running number of the year's first versions (documents keep their number
        across versions). Called under the case's lock; the unique index on (number, version)
        turns a cross-case race into a retry, never into two documents with one number."""
        prefix = f"%[{year}]%"
        count = await conn.execute(
            select(func.count())
            .select_from(determinations)
            .where(determinations.c.version == 1, determinations.c.number.like(prefix))
        )
        return int(count.scalar() or 0) + 1

    async def determinations(self, case_id: str) -> list[Determination]:
        """Every issued version of the case, oldest first."""
        return await document_versions(self.engine, determinations, case_id)

    async def find_determination(self, number: str, code: str) -> Determination | None:
        """By number and verification code (each version has its own code)."""
        return await find_document(self.engine, determinations, number, code)


async def document_versions(engine: AsyncEngine, table: Table, case_id: str) -> list[Determination]:
    """Every issued version of a case's document in ``table`` (determinations or agreement
    documents), oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(table).where(table.c.case_id == case_id).order_by(table.c.version)
        )
        return [Determination.from_row(r) for r in rows.mappings()]


async def find_document(
    engine: AsyncEngine, table: Table, number: str, code: str
) -> Determination | None:
    """The version of the document ``number`` in ``table`` whose verification code is
    ``code`` (as typed from the paper: any case), compared in constant time."""
    if not code.isascii():  # compare_digest raises on such text; no code is like it
        return None
    async with engine.connect() as conn:
        rows = await conn.execute(select(table).where(table.c.number == number))
        found = [Determination.from_row(r) for r in rows.mappings()]
    for item in found:
        if secrets.compare_digest(item.code, code.upper()):
            return item
    return None


async def insert_document_version(
    conn: AsyncConnection,
    table: Table,
    case_id: str,
    *,
    number: str,
    version: int,
    code: str,
    issued_at: float,
    issued_by: str,
    content: dict[str, Any],
    pdf_path: str | None,
    pdf_sha256: str | None,
) -> int:
    """A new version of an issued document (a determination, an agreement document: tables
    of one shape); the versions before it point to it as their successor and otherwise stay
    as they were issued. Returns the new row's id."""
    result = await conn.execute(
        insert(table).values(
            case_id=case_id,
            number=number,
            version=version,
            code=code,
            issued_at=issued_at,
            issued_by=issued_by,
            content=json.dumps(content, ensure_ascii=False, sort_keys=True),
            pdf_path=pdf_path,
            pdf_sha256=pdf_sha256,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    new_id = int(key[0])
    await conn.execute(
        update(table)
        .where(
            table.c.case_id == case_id,
            table.c.id != new_id,
            table.c.superseded_by.is_(None),
        )
        .values(superseded_by=version)
    )
    return new_id
