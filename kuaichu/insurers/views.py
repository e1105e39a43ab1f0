"""What the insurer desk answers with: claims, complaints, a case's accident, parties,
documents and evidence as the insurer's staff and the API see them (pure functions)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from ..cases.form import VEHICLE_TYPES, CaseForm, mask_id_number
from ..evidence.kinds import ledger_text
from ..evidence.ledger import LedgerEntry
from ..notify import mask_phone
from ..storage.documents import Determination
from .claims import yuan
from .store import Claim, Complaint


def claim_dict(c: Claim) -> dict[str, Any]:
    return {
        "id": c.id,
        "case_id": c.case_id,
        "insurer": c.insurer,
        "parties": list(c.parties),
        "status": c.status.value,
        "status_text": c.status.zh,
        "amount_fen": c.amount_fen,
        "amount": yuan(c.amount_fen) if c.amount_fen is not None else None,
        "reason": c.reason,
        "assessor": c.assessor,
        "opened_at": c.opened_at,
        "acted_at": c.acted_at,
        "final": c.status.final,
    }


def complaint_dict(c: Complaint, now: float) -> dict[str, Any]:
    return {
        "id": c.id,
        "case_id": c.case_id,
        "claim_id": c.claim_id,
        "party": c.party,
        "insurer": c.insurer,
        "text": c.text,
        "filed_at": c.filed_at,
        "due_at": c.due_at,
        "overdue": c.called_back_at is None and now >= c.due_at,
        "called_back_at": c.called_back_at,
        "outcome": c.outcome,
    }


def accident(form: CaseForm) -> dict[str, Any]:
    return {
        "occurred_at": form.occurred_at.isoformat() if form.occurred_at else None,
        "address": form.address,
        "cause": form.cause.value if form.cause else None,
        "cause_text": form.cause.zh if form.cause else "",
        "description": form.description,
    }


def party(p: Any, policyholder: bool) -> dict[str, Any]:
    # The insurer's own policyholder's number in full (its assessor calls them back); the
    # other parties' masked, as on the determination.
    return {
        "key": p.key,
        "name": p.name,
        "phone": p.phone if policyholder else mask_phone(p.phone),
        "licence_no": mask_id_number(p.licence_no) if p.licence_no else "",
        "plate": p.plate,
        "vehicle_type": VEHICLE_TYPES.get(p.vehicle_type, p.vehicle_type),
        "insurer": p.insurer,
        "policy_no": p.policy_no,
        "liability": p.liability.value if p.liability else None,
        "liability_text": p.liability.zh if p.liability else "",
        "fault": p.fault,
        "policyholder": policyholder,
    }


def doc(d: Determination, zone: tzinfo) -> dict[str, Any]:
    return {
        "number": d.number,
        "version": d.version,
        "issued_at": datetime.fromtimestamp(d.issued_at, zone).isoformat(timespec="seconds"),
        "sha256": d.pdf_sha256,
    }


def evidence(e: LedgerEntry) -> dict[str, Any]:
    return {
        "seq": e["seq"],
        "kind": e["kind"],
        "kind_text": ledger_text(e["kind"]),
        "name": e["path"],
        "sha256": e["sha256"],
        "size": e["size"],
        "taken_at": e["meta"].get("taken_at") or e["added_at"],
    }
