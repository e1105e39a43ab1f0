"""Queries of the insurers' tables: claims, complaints and agreement documents.

Functions that take an ``AsyncConnection`` run inside a case step's transaction (the audit
action's ``extra``); the others open their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import Conflict
from ..storage.documents import (
    Determination,
    document_versions,
    find_document,
    insert_document_version,
)
from ..storage.tables import agreement_documents, claims, complaints
from .claims import ClaimStatus, ClaimUpdate


@dataclass(frozen=True)
class Claim:
    id: int
    case_id: str
    insurer: str
    parties: tuple[str, ...]
    status: ClaimStatus
    amount_fen: int | None
    reason: str | None
    assessor: str | None
    opened_at: float
    opened_by: str
    acted_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: RowMapping) -> Claim:
        return cls(
            id=row["id"],
            case_id=row["case_id"],
            insurer=row["insurer"],
            parties=tuple(p for p in row["parties"].split(",") if p),
            status=ClaimStatus(row["status"]),
            amount_fen=row["amount_fen"],
            reason=row["reason"],
            assessor=row["assessor"],
            opened_at=row["opened_at"],
            opened_by=row["opened_by"],
            acted_at=row["acted_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class Complaint:
    id: int
    case_id: str
    claim_id: int
    party: str
    insurer: str
    text: str
    filed_at: float
    due_at: float
    called_back_at: float | None
    called_back_by: str | None
    outcome: str | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Complaint:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


class InsurerStore:
    """The insurers' tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- claims -------------------------------------------------------------------------------

    async def claims_of_case(self, case_id: str) -> list[Claim]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(claims).where(claims.c.case_id == case_id).order_by(claims.c.id)
            )
            return [Claim.from_row(r) for r in rows.mappings()]

    async def claims_of_insurer(self, insurer: str, limit: int = 500) -> list[Claim]:
        """The insurer's claims, open ones first, each group oldest action first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(claims)
                .where(claims.c.insurer == insurer)
                .order_by(claims.c.status.in_(("paid", "refused")), claims.c.acted_at)
                .limit(limit)
            )
            return [Claim.from_row(r) for r in rows.mappings()]

    async def claim(self, case_id: str, insurer: str) -> Claim | None:
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(claims).where(
                            claims.c.case_id == case_id, claims.c.insurer == insurer
                        )
                    )
                )
                .mappings()
                .first()
            )
        return Claim.from_row(row) if row else None

    async def claim_by_id(self, claim_id: int) -> Claim | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(claims).where(claims.c.id == claim_id)))
                .mappings()
                .first()
            )
        return Claim.from_row(row) if row else None

    async def open_claim(
        self,
        conn: AsyncConnection,
        case_id: str,
        insurer: str,
        parties: Sequence[str],
        who: str,
        now: float,
    ) -> int | None:
        """A new claim in ``handed_off``; None when the insurer already has this case."""
        found = await conn.execute(
            select(claims.c.id).where(claims.c.case_id == case_id, claims.c.insurer == insurer)
        )
        if found.first() is not None:
            return None
        result = await conn.execute(
            insert(claims).values(
                case_id=case_id,
                insurer=insurer,
                parties=",".join(parties),
                status=ClaimStatus.HANDED_OFF.value,
                opened_at=now,
                opened_by=who,
                acted_at=now,
                updated_at=now,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def record_status(
        self,
        conn: AsyncConnection,
        claim: Claim,
        change: ClaimUpdate,
        amount_fen: int | None,
        now: float,
    ) -> None:
        """Store the insurer's status, only if the claim is still as it was read (two tabs
        of one insurer: the second is refused, 409)."""
        done = await conn.execute(
            update(claims)
            .where(claims.c.id == claim.id, claims.c.status == claim.status.value)
            .values(
                status=change.status.value,
                amount_fen=amount_fen,
                reason=change.reason,
                assessor=change.assessor or claim.assessor,
                acted_at=now,
                updated_at=now,
            )
        )
        if done.rowcount != 1:
            raise Conflict("the claim was changed meanwhile; reload it", reason="stale_claim")

    # -- complaints -----------------------------------------------------------------------------

    async def add_complaint(
        self,
        conn: AsyncConnection,
        claim: Claim,
        party: str,
        text: str,
        now: float,
        due: float,
    ) -> int:
        result = await conn.execute(
            insert(complaints).values(
                case_id=claim.case_id,
                claim_id=claim.id,
                party=party,
                insurer=claim.insurer,
                text=text,
                filed_at=now,
                due_at=due,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def complaints_of_case(self, case_id: str) -> list[Complaint]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(complaints).where(complaints.c.case_id == case_id).order_by(complaints.c.id)
            )
            return [Complaint.from_row(r) for r in rows.mappings()]

    async def complaint(self, complaint_id: int) -> Complaint | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(complaints).where(complaints.c.id == complaint_id)))
                .mappings()
                .first()
            )
        return Complaint.from_row(row) if row else None

    async def complaint_queue(self, since: float, limit: int = 200) -> list[Complaint]:
        """Open complaints (earliest deadline first), then those called back since ``since``."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(complaints)
                .where(
                    (complaints.c.called_back_at.is_(None)) | (complaints.c.called_back_at >= since)
                )
                .order_by(complaints.c.called_back_at.is_not(None), complaints.c.due_at)
                .limit(limit)
            )
            return [Complaint.from_row(r) for r in rows.mappings()]

    async def call_back(
        self, conn: AsyncConnection, complaint_id: int, who: str, outcome: str, now: float
    ) -> None:
        done = await conn.execute(
            update(complaints)
            .where(complaints.c.id == complaint_id, complaints.c.called_back_at.is_(None))
            .values(called_back_at=now, called_back_by=who, outcome=outcome)
        )
        if done.rowcount != 1:
            raise Conflict("this complaint was already called back", reason="called_back")

    async def complaint_counts(self, now: float) -> dict[str, int]:
        """For the wallboard: complaints awaiting a callback, and those past the deadline."""
        waiting = complaints.c.called_back_at.is_(None)
        async with self.engine.connect() as conn:
            open_ = (await conn.execute(select(func.count()).where(waiting))).scalar_one()
            overdue = (
                await conn.execute(
                    select(func.count()).where(waiting, complaints.c.due_at <= now)
                )
            ).scalar_one()
        return {"open": int(open_), "overdue": int(overdue)}

    # -- agreement documents ------------------------------------------------------------------

    async def add_agreement_document(
        self,
        conn: AsyncConnection,
        case_id: str,
        number: str,
        version: int,
        code: str,
        issued_at: float,
        issued_by: str,
        content: dict[str, Any],
        pdf_name: str,
        sha256: str,
    ) -> None:
        await insert_document_version(
            conn, agreement_documents, case_id, number=number, version=version, code=code,
            issued_at=issued_at, issued_by=issued_by, content=content, pdf_path=pdf_name,
            pdf_sha256=sha256,
        )

    async def agreement_documents(self, case_id: str) -> list[Determination]:
        """The case's agreement documents, oldest version first (the same shape as a
        determination's row, so the renderers and the document responses take them)."""
        return await document_versions(self.engine, agreement_documents, case_id)

    async def find_agreement_document(self, number: str, code: str) -> Determination | None:
        """By number and verification code, as a determination is found."""
        return await find_document(self.engine, agreement_documents, number, code)

