"""The read models of a case: the officer's case page, a party's progress page, the issued
documents and the public authenticity check."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.form import missing_for_information
from ..cases.states import (
    AuditEntry,
    CaseEvent,
    CaseState,
    allowed_events,
    case_timings,
    current_state,
    review_deadline,
    review_window_open,
)
from ..errors import NotFound
from ..notify import Outbox
from ..storage.documents import Determination
from ..verification import Item
from .context import HAS_DOCUMENT, CaseContext
from .merge import removable
from .notices import notice_view
from .ports import DocumentRenderer
from .verification import (
    VerificationStep,
    decision_applies,
    facts_as_dict,
    item_decisions,
    party_facts,
)


class CaseViews:
    """What the pages show; nothing here writes."""

    def __init__(
        self,
        ctx: CaseContext,
        renderer: DocumentRenderer,
        outbox: Outbox,
        verification: VerificationStep,
    ) -> None:
        self.ctx = ctx
        self.renderer = renderer
        self.outbox = outbox
        self.verification = verification

    async def officer_view(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """Everything the officer's case panel shows, for an officer allowed to see it."""
        ctx = self.ctx
        row = await ctx.authorize(officer, case_id)
        state = CaseState(row["status"])
        stored = await ctx.store.form(case_id)
        trail = await ctx.db.case_trail(case_id)
        checks = await ctx.store.latest_verifications(case_id)
        decisions = item_decisions(trail)
        verification = {}
        for key, check in checks.items():
            party = stored.form.party(key)
            verification[key] = {
                **check,
                "current": party is not None
                and check["facts"]
                == facts_as_dict(party_facts(stored.form, party, ctx.config.zone)),
                "decisions": {
                    item: d
                    for (p, item), d in decisions.items()
                    if p == key and decision_applies(d, check, Item(item), party)
                },
            }
        timings = case_timings(trail)
        messages = await self.outbox.messages(case_id)
        return {
            "case": {
                "id": row["id"],
                "status": state.value,
                "created_at": row["created_at"],
                "reporter_phone": row["reporter_phone"],
                "lat": row["lat"],
                "lng": row["lng"],
            },
            "allowed": [e.value for e in allowed_events(state)],
            "revision": stored.revision,
            "form": stored.form.to_dict(),
            "missing": missing_for_information(stored.form),
            "blockers": await self.verification.blockers(case_id, stored.form),
            "verification": verification,
            "determinations": [
                {
                    "number": d.number,
                    "version": d.version,
                    "code": d.code,
                    "issued_at": d.issued_at,
                    "superseded_by": d.superseded_by,
                    "pdf_sha256": d.pdf_sha256,
                    "html_url": f"/api/cases/{case_id}/documents/{d.version}.html",
                    "pdf_url": f"/api/cases/{case_id}/documents/{d.version}.pdf",
                }
                for d in await ctx.store.determinations(case_id)
            ],
            # With id, last error and "needs_attention": a failed legal notice shows on the
            # case page, and POST /api/notices/{id}/resend sends it again.
            "messages": [notice_view(m) for m in messages],
            "trail": [e.to_dict() for e in trail],
            "timings": {
                "to_information_s": _secs(timings.to_information),
                "to_determination_s": _secs(timings.to_determination),
                "information_on_target": timings.information_on_target,
                "determination_on_target": timings.determination_on_target,
            },
            "calls": [
                {
                    "id": c["id"],
                    "state": c["state"],
                    "queued_at": c["queued_at"],
                    "answered_at": c["answered_at"],
                    "ended_at": c["ended_at"],
                }
                for c in await ctx.store.case_calls(case_id)
            ],
            "agreement": agreement_view(trail),
            "review": review_view(trail, ctx.now(), ctx.config.zone),
            # Linking (issue 12): the reports merged into this case with their own trails,
            # the case this one was merged into, the parties the officer may remove.
            "linked_cases": [
                {
                    "id": str(e.detail["case"]),
                    "linked_at": e.when.isoformat(),
                    "trail": [t.to_dict() for t in await ctx.db.case_trail(str(e.detail["case"]))],
                }
                for e in trail
                if e.what == AuditAction.CASE_LINKED
            ],
            "merged_into": (
                await ctx.merged_into(case_id) if state is CaseState.CANCELLED else None
            ),
            "removable": removable(stored.form),
        }

    async def party_view(self, case_id: str, party_key: str) -> dict[str, Any]:
        """What the progress page shows one party: no other party's contact details."""
        ctx = self.ctx
        row = await ctx.store.case_row(case_id)
        state = CaseState(row["status"])
        trail = await ctx.db.case_trail(case_id)
        dets = await ctx.store.determinations(case_id)
        current = dets[-1] if dets and state in HAS_DOCUMENT else None
        timeline = [
            {"what": e.what, "when": e.when.isoformat(timespec="minutes")}
            for e in trail
            if e.event is not None and e.what not in ("queue",)
        ]
        review = review_view(trail, ctx.now(), ctx.config.zone)
        agreement = agreement_view(trail)
        if agreement is not None:
            agreement["mine_confirmed"] = party_key in agreement["confirmed"]
        return {
            "case_id": case_id,
            "party": party_key,
            "status": state.value,
            "timeline": timeline,
            "scene_cleared": any(e.what == CaseEvent.CLEAR_SCENE for e in trail),
            "determination": (
                {
                    "number": current.number,
                    "version": current.version,
                    "issued_at": current.issued_at,
                    # Issue 12: the page says when the document shown replaced an earlier
                    # version, and states this party's own outcome as written in it.
                    "replaces": current.version - 1 if current.version > 1 else None,
                    "liability": own_liability(current.content, party_key),
                }
                if current
                else None
            ),
            "review": review,
            "agreement": agreement,
        }

    async def document(self, case_id: str, version: int | None) -> Determination:
        """One issued version (the latest for ``None``)."""
        dets = await self.ctx.store.determinations(case_id)
        if not dets:
            raise NotFound("no determination has been issued for this case")
        if version is None:
            return dets[-1]
        for d in dets:
            if d.version == version:
                return d
        raise NotFound(f"no version {version}")

    def document_html(self, det: Determination) -> str:
        """The document as a web page (marked superseded when it is)."""
        return self.renderer.render_html(det.content, superseded_by=det.superseded_by)

    def pdf_path(self, det: Determination) -> Path:
        """Where the issued PDF lies."""
        assert det.pdf_path is not None
        return self.ctx.config.recordings_dir / det.case_id / det.pdf_path

    async def authenticity(self, number: str, code: str) -> dict[str, Any]:
        """The public check: by number and code, no personal data."""
        det = await self.ctx.store.find_determination(number, code)
        if det is None:
            return {"found": False, "number": number}
        return {
            "found": True,
            "number": det.number,
            "version": det.version,
            "issued_at": det.content.get("issued_at"),
            "authority": det.content.get("authority"),
            "status": "superseded" if det.superseded_by else "current",
            "superseded_by_version": det.superseded_by,
            "sha256": det.pdf_sha256,
        }


def agreement_view(trail: list[AuditEntry]) -> dict[str, Any] | None:
    """The current agreement (liabilities, who confirmed, approved), if there is one."""
    state = current_state(trail)
    if state not in (
        CaseState.AGREEMENT_PENDING,
        CaseState.AGREEMENT_CONFIRMED,
        CaseState.AGREEMENT_APPROVED,
    ) and not (
        state is CaseState.CLOSED and any(e.what == CaseEvent.APPROVE_AGREEMENT for e in trail)
    ):
        return None
    start = max(i for i, e in enumerate(trail) if e.what == CaseEvent.PROPOSE_AGREEMENT)
    proposal = trail[start]
    confirmed = [
        str(e.detail["party"]) for e in trail[start:] if e.what == CaseEvent.CONFIRM_AGREEMENT
    ]
    return {
        "liabilities": dict(proposal.detail["liabilities"]),
        "confirmed": confirmed,
        "approved": any(e.what == CaseEvent.APPROVE_AGREEMENT for e in trail[start:]),
    }


def review_view(trail: list[AuditEntry], now: datetime, zone: tzinfo) -> dict[str, Any]:
    """The review window and the request and decision, if any."""
    delivered = next((e for e in reversed(trail) if e.what == CaseEvent.NOTIFY), None)
    request = next((e for e in reversed(trail) if e.what == CaseEvent.REQUEST_REVIEW), None)
    decision = next((e for e in reversed(trail) if e.what == CaseEvent.DECIDE_REVIEW), None)
    deadline = review_deadline(delivered.when, zone) if delivered else None
    return {
        "open": review_window_open(trail, now, zone),
        "deadline": deadline.isoformat(timespec="minutes") if deadline else None,
        "requested": request is not None,
        "requested_by": request.detail.get("party") if request else None,
        "outcome": decision.detail.get("outcome") if decision else None,
        "text": decision.detail.get("text") if decision else None,
    }


def _secs(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 1)


def own_liability(content: Mapping[str, Any], party_key: str) -> str | None:
    """A party's liability code in an issued determination (None when it names none)."""
    for p in content.get("parties") or ():
        if isinstance(p, Mapping) and p.get("key") == party_key:
            value = p.get("liability")
            return value if isinstance(value, str) and value else None
    return None
