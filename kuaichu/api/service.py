"""What the open API answers, for one insurer's key: the change feed, one case, its documents,
its evidence files and manifest. Every case is looked up through the insurers' one rule
(:class:`~kuaichu.insurers.scope.InsurerScope`), and every read of a case's content goes into
the case's audit trail as ``api_read`` with the key as the actor.

The change feed returns ids and change times only (no content), so listing it is not a read
of a case; fetching the case is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Protocol

from sqlalchemy import literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from ..cases.actions import AuditAction
from ..cases.form import VEHICLE_TYPES, mask_id_number
from ..cases.identity import Kind
from ..cases.states import CaseState
from ..errors import NotFound
from ..evidence.ledger import Ledger
from ..evidence.manifest import MANIFEST_NAME
from ..insurers.claims import ClaimActor
from ..insurers.model import Insurer, InsurerDirectory
from ..insurers.scope import (
    VISIBLE_STATES,
    InsurerScope,
    VisibleCase,
    index_names,
    indexed_policyholders,
)
from ..notify import mask_phone
from ..storage.casefiles import CaseStore
from ..storage.db import Database
from ..storage.tables import agreement_documents, case_changes, case_index, cases, claims
from .cursor import Cursor, decode, encode
from .keys import ApiKey

logger = logging.getLogger(__name__)

MAX_PAGE: Final = 200


class FraudFlags(Protocol):
    """The fraud signals of a case (kuaichu.fraud), as the API shows them."""

    async def flags(self, case_id: str) -> list[dict[str, Any]]: ...


class ClaimDesk(Protocol):
    """The insurers' claim service (kuaichu.insurers.service.InsurerDesk): the one place a
    claim status is recorded (audit entry, SMS to the parties, webhook event)."""

    async def update_claim(
        self, actor: ClaimActor, case_id: str, raw: dict[str, Any]
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FileToSend:
    """A file an endpoint streams, with the SHA-256 it is announced with."""

    path: Path
    sha256: str
    content_type: str
    name: str


class OpenApi:
    """The API's reads, scoped to the key's insurer."""

    def __init__(
        self,
        engine: AsyncEngine,
        db: Database,
        store: CaseStore,
        scope: InsurerScope,
        insurers: InsurerDirectory,
        ledger: Ledger,
        fraud: FraudFlags,
        claims: ClaimDesk,
        *,
        recordings_dir: Path,
        zone: tzinfo,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.db = db
        self.store = store
        self.scope = scope
        self.insurers = insurers
        self.ledger = ledger
        self.fraud = fraud
        self.claims = claims
        self.recordings_dir = recordings_dir
        self.zone = zone
        self._now = now or (lambda: datetime.now(zone))

    def insurer(self, key: ApiKey) -> Insurer:
        return self.insurers.require(key.insurer)

    async def _visible(self, key: ApiKey, case_id: str, read: str, **detail: Any) -> VisibleCase:
        """The case if the key's insurer may see it (404/403 otherwise), with the read
        recorded in its trail."""
        found = await self.scope.require(self.insurer(key), case_id)
        await self.db.case_action(
            case_id,
            AuditAction.API_READ,
            key.actor,
            self._now(),
            {"read": read, "key": key.id, **detail},
            zone=self.zone,
        )
        return found

    # -- the change feed ------------------------------------------------------------------------

    async def changes(self, key: ApiKey, cursor: str | None, limit: int) -> dict[str, Any]:
        """The insurer's cases by their last change (not counting reads), oldest first, after
        ``cursor``: at most ``limit``, with the cursor of the page's last case. An empty page
        keeps the cursor it was asked with, so a client can poll with it.

        One query on the identity index (the insurer's policyholders' cases) and
        ``case_changes`` (each case's last change, indexed by (changed_at, case_id)): the
        page is read from the cursor on, no form and no trail is read."""
        after = decode(cursor) if cursor else None
        insurer = self.insurer(key)
        names = index_names(insurer)
        # Walk case_changes in (changed_at, case_id) order from the cursor, keeping the cases
        # with one of the insurer's policyholders (an index search per case): a page costs
        # about the rows it skips, wherever in the feed it starts.
        ours = (
            select(case_index.c.case_id)
            .where(
                case_index.c.kind == Kind.INSURER.value,
                case_index.c.value.in_(names),
                case_index.c.case_id == case_changes.c.case_id,
            )
            .exists()
        )
        # The status by a correlated lookup, not a join: with case_changes the only table
        # of the FROM, SQLite walks its (changed_at, case_id) index in order (a join lets it
        # start from every visible case and sort them all).
        status = (
            select(cases.c.status).where(cases.c.id == case_changes.c.case_id).scalar_subquery()
        )
        query = (
            select(case_changes.c.case_id, case_changes.c.changed_at, status)
            .where(ours, status.in_([s.value for s in VISIBLE_STATES]))
            .order_by(case_changes.c.changed_at, case_changes.c.case_id)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(
                tuple_(case_changes.c.changed_at, case_changes.c.case_id)
                > tuple_(literal(after.changed), literal(after.case_id))
            )
        async with self.engine.connect() as conn:
            rows = [(r[0], float(r[1]), r[2]) for r in (await conn.execute(query)).all()]
            page = rows[:limit]
            parties = await indexed_policyholders(conn, names, [r[0] for r in page])
        items = [
            {
                "case_id": case_id,
                "status": status,
                "changed_at": datetime.fromtimestamp(changed, self.zone).isoformat(),
                "policyholders": list(parties.get(case_id, ())),
            }
            for case_id, changed, status in page
        ]
        next_cursor = encode(Cursor(page[-1][1], page[-1][0])) if page else cursor
        return {"cases": items, "next_cursor": next_cursor, "has_more": len(rows) > limit}

    # -- one case ---------------------------------------------------------------------------------

    async def case(self, key: ApiKey, case_id: str) -> dict[str, Any]:
        """The case as the insurer needs it: accident, parties and vehicles with their
        liabilities, the documents' metadata, the insurer's claim, the fraud flags."""
        found = await self._visible(key, case_id, "case")
        row = await self.store.case_row(case_id)
        form = (await self.store.form(case_id)).form
        dets = await self.store.determinations(case_id)
        ours = set(found.parties)
        parties = [
            {
                "key": p.key,
                "policyholder": p.key in ours,
                "name": p.name,
                # As the insurer's console shows them (kuaichu.insurers.service): its own
                # policyholder's number in full (the assessor calls back), the others' masked;
                # ID numbers masked, as on the determination.
                "phone": p.phone if p.key in ours else mask_phone(p.phone),
                "licence_no": mask_id_number(p.licence_no) if p.licence_no else "",
                "insurer": p.insurer,
                "policy_no": p.policy_no,
                "vehicle": {
                    "plate": p.plate,
                    "type": p.vehicle_type,
                    "type_text": VEHICLE_TYPES.get(p.vehicle_type, p.vehicle_type),
                },
                "liability": p.liability.value if p.liability else None,
                "fault": p.fault,
            }
            for p in form.parties
        ]
        return {
            "case_id": case_id,
            "status": found.status.value,
            "reported_at": datetime.fromtimestamp(row["created_at"], self.zone).isoformat(),
            "accident": {
                "occurred_at": form.occurred_at.isoformat() if form.occurred_at else None,
                "address": form.address,
                "lat": form.lat,
                "lng": form.lng,
                "cause": form.cause.value if form.cause else None,
                "description": form.description,
            },
            "parties": parties,
            "determination": _determination(dets[-1]) if dets else None,
            "agreement": await self._agreement(case_id, found.status),
            "claim": await self._claim(case_id, key.insurer),
            "fraud_flags": [_for_insurer(f) for f in await self.fraud.flags(case_id)],
        }

    async def _agreement(self, case_id: str, status: CaseState) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(agreement_documents)
                        .where(agreement_documents.c.case_id == case_id)
                        .order_by(agreement_documents.c.version.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return {
            "number": row["number"],
            "version": row["version"],
            "issued_at": datetime.fromtimestamp(row["issued_at"], self.zone).isoformat(),
            "pdf_sha256": row["pdf_sha256"],
        }

    async def _claim(self, case_id: str, insurer: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(claims)
                        .where(claims.c.case_id == case_id, claims.c.insurer == insurer)
                        .order_by(claims.c.id.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return {
            "status": row["status"],
            "amount_fen": row["amount_fen"],
            "reason": row["reason"],
            "parties": [p for p in row["parties"].split(",") if p],
            "updated_at": datetime.fromtimestamp(row["updated_at"], self.zone).isoformat(),
        }

    # -- the claim ------------------------------------------------------------------------------

    async def update_claim(self, key: ApiKey, case_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Record the insurer's claim status through the insurers' own claim service (the one
        writer of a claim status: audit entry, SMS, webhook), as the key's insurer, with the
        key as the trail's actor (``api:<code>:<key id>``, as the key's reads)."""
        done = await self.claims.update_claim(ClaimActor(key.insurer, key.actor), case_id, raw)
        return {
            "status": done["status"],
            "amount_fen": done.get("amount_fen"),
            "reason": done.get("reason"),
            "parties": list(done.get("parties") or []),
            "updated_at": datetime.fromtimestamp(done["acted_at"], self.zone).isoformat(),
        }

    # -- files ----------------------------------------------------------------------------------

    async def determination_pdf(self, key: ApiKey, case_id: str, version: int | None) -> FileToSend:
        dets = await self.store.determinations(case_id)
        await self._visible(key, case_id, "determination", version=version)
        chosen = dets[-1] if version is None and dets else None
        for det in dets:
            if det.version == version:
                chosen = det
        if chosen is None or not chosen.pdf_path or not chosen.pdf_sha256:
            raise NotFound("no such determination for this case")
        return FileToSend(
            self.recordings_dir / case_id / chosen.pdf_path,
            chosen.pdf_sha256,
            "application/pdf",
            f"{case_id}-determination-v{chosen.version}.pdf",
        )

    async def agreement_pdf(self, key: ApiKey, case_id: str, version: int | None) -> FileToSend:
        await self._visible(key, case_id, "agreement", version=version)
        query = select(agreement_documents).where(agreement_documents.c.case_id == case_id)
        if version is not None:
            query = query.where(agreement_documents.c.version == version)
        query = query.order_by(agreement_documents.c.version.desc()).limit(1)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None or not row["pdf_path"] or not row["pdf_sha256"]:
            raise NotFound("no such agreement document for this case")
        return FileToSend(
            self.recordings_dir / case_id / row["pdf_path"],
            row["pdf_sha256"],
            "application/pdf",
            f"{case_id}-agreement-v{row['version']}.pdf",
        )

    async def evidence(self, key: ApiKey, case_id: str) -> list[dict[str, Any]]:
        """Every file the case's signed manifest lists, with its SHA-256."""
        await self._visible(key, case_id, "evidence_list")
        return [
            {
                "seq": e["seq"],
                "kind": e["kind"],
                "name": Path(e["path"]).name,
                "sha256": e["sha256"],
                "size": e["size"],
                "added_at": e["added_at"],
                "taken_at": e["meta"].get("taken_at"),
            }
            for e in await self.ledger.entries(case_id)
        ]

    async def evidence_file(self, key: ApiKey, case_id: str, seq: int) -> FileToSend:
        await self._visible(key, case_id, "evidence", seq=seq)
        entry = next((e for e in await self.ledger.entries(case_id) if e["seq"] == seq), None)
        if entry is None:
            raise NotFound(f"no evidence #{seq} in this case")
        folder = self.ledger.folder(case_id).resolve()
        path = (folder / entry["path"]).resolve()
        if not path.is_relative_to(folder):  # the manifest's paths are checked; still
            raise NotFound(f"no evidence #{seq} in this case")
        return FileToSend(path, entry["sha256"], _content_type(path), path.name)

    async def manifest(self, key: ApiKey, case_id: str) -> Path:
        """The case folder's signed manifest (JSON lines, Ed25519; the server's public key
        is GET /api/keys/evidence.pem)."""
        await self._visible(key, case_id, "manifest")
        path = self.ledger.folder(case_id) / MANIFEST_NAME
        if not path.exists():
            raise NotFound("this case has no evidence manifest")
        return path


def _for_insurer(flag: dict[str, Any]) -> dict[str, Any]:
    """A flag as an insurer gets it: how many other cases, not which (they may be another
    insurer's, or no insurer's business); the officers see the ids."""
    detail = dict(flag.get("detail") or {})
    others = detail.pop("cases", None)
    if others is not None:
        detail["other_cases"] = len(others)
    return {**flag, "detail": detail}


def _determination(det: Any) -> dict[str, Any]:
    content: Mapping[str, Any] = det.content
    return {
        "number": det.number,
        "version": det.version,
        "issued_at": content.get("issued_at"),
        "superseded_by": det.superseded_by,
        "pdf_sha256": det.pdf_sha256,
        "verify_url": content.get("verify_url"),
    }


_TYPES: Final = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".mp4": "video/mp4",
    ".mkv": "video/x-matroska",
    ".pdf": "application/pdf",
    ".json": "application/json",
}


def _content_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower(), "application/octet-stream")
