"""Fakes for CaseWork's ports, and a way to put many cases with valid trails straight into the
tables (no HTTP, no state-machine call per row)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.cases.states import AuditEntry, CaseEvent, CaseState, apply
from kuaichu.casework import CaseWork
from kuaichu.notify import Doorbell
from kuaichu.storage.casefiles import CaseStore
from kuaichu.storage.db import Database
from kuaichu.storage.tables import case_audit, cases
from kuaichu.verification import PartyFacts, VerificationResult

CST = timezone(timedelta(hours=8))


@dataclass
class FakeLive:
    """The call centre's live calls, recorded."""

    pushed: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    states: list[tuple[str, CaseState]] = field(default_factory=list)
    relinked: list[tuple[str, str]] = field(default_factory=list)

    def push_to_case(self, case_id: str, event: str, payload: dict[str, Any]) -> int:
        self.pushed.append((case_id, event, payload))
        return 1

    def case_state_changed(self, case_id: str, state: CaseState) -> None:
        self.states.append((case_id, state))

    def relink(self, from_case: str, to_case: str) -> None:
        self.relinked.append((from_case, to_case))


class FakeLedger:
    async def record(self, case_id: str, path: Path, kind: str, sha256: str) -> None:
        pass

    async def evidence_list(self, case_id: str) -> Sequence[Mapping[str, Any]]:
        return []


class FakeRenderer:
    def render_html(self, content: Mapping[str, Any], *, superseded_by: int | None = None) -> str:
        return "<p>document</p>"

    def render_pdf(self, content: Mapping[str, Any], *, superseded_by: int | None = None) -> bytes:
        return b"%PDF-1.4 test"


class FakeRegistry:
    name = "fake"

    async def verify(self, facts: PartyFacts) -> VerificationResult:
        raise AssertionError("not used here")

    async def close(self) -> None:
        pass


@dataclass
class Bench:
    engine: AsyncEngine
    db: Database
    store: CaseStore
    work: CaseWork
    live: FakeLive
    doorbell: Doorbell


LIABILITIES = {"A": "full", "B": "none"}


def notified_trail(delivered: datetime) -> list[AuditEntry]:
    """A valid trail from the report to the delivery of the determination at ``delivered``."""
    at = delivered - timedelta(hours=1)
    steps: list[tuple[CaseEvent, str, dict[str, Any]]] = [
        (CaseEvent.REPORT, "driver", {}),
        (CaseEvent.QUEUE, "system", {}),
        (CaseEvent.ANSWER, "officer:1", {}),
        (CaseEvent.COLLECT_EVIDENCE, "officer:1", {}),
        (CaseEvent.CLEAR_SCENE, "officer:1", {}),
        (CaseEvent.DETERMINE, "officer:1", {"liabilities": LIABILITIES, "version": 1}),
    ]
    trail: list[AuditEntry] = []
    for i, (event, who, detail) in enumerate(steps):
        trail.append(apply(trail, event, who, at + timedelta(minutes=i), detail, zone=CST))
    trail.append(apply(trail, CaseEvent.NOTIFY, "system", delivered, {"version": 1}, zone=CST))
    return trail


def review_requested_trail(delivered: datetime, requested: datetime) -> list[AuditEntry]:
    """A notified trail followed by party A's review request at ``requested``."""
    trail = notified_trail(delivered)
    trail.append(
        apply(
            trail,
            CaseEvent.REQUEST_REVIEW,
            "party:A",
            requested,
            {"party": "A", "reason": "the other car braked"},
            zone=CST,
        )
    )
    return trail


async def insert_cases(engine: AsyncEngine, trails: Mapping[str, list[AuditEntry]]) -> None:
    """Each case with its trail, in bulk: one executemany per table."""
    case_rows = []
    audit_rows = []
    for case_id, trail in trails.items():
        case_rows.append(
            {
                "id": case_id,
                "created_at": trail[0].when.timestamp(),
                "status": trail[-1].to_state.value,
            }
        )
        for seq, entry in enumerate(trail):
            row = entry.to_dict()
            audit_rows.append(
                {
                    "case_id": case_id,
                    "seq": seq,
                    "who": row["who"],
                    "when": row["when"],
                    "what": row["what"],
                    "from_state": row["from"],
                    "to_state": row["to"],
                    "detail": json.dumps(row["detail"], ensure_ascii=False, sort_keys=True),
                }
            )
    async with engine.begin() as conn:
        await conn.execute(insert(cases), case_rows)
        await conn.execute(insert(case_audit), audit_rows)


def case_id(n: int) -> str:
    """A valid-looking case id, distinct per ``n`` (the letters avoid look-alikes)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    tail = ""
    for _ in range(6):
        n, digit = divmod(n, len(alphabet))
        tail = alphabet[digit] + tail
    return f"KC20260101{tail}"
