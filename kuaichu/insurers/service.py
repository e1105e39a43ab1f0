"""The insurer desk: what an insurer's staff read and record, the claim hand-off, and the
parties' complaint line. One service, built complete by ``app.py``; what it answers with is
:mod:`.views`.

Every method that an insurer's account calls checks the case against
:class:`~kuaichu.insurers.scope.InsurerScope` first and writes its read or its change into
the case's audit trail (``insurer_read``, ``claim_status``), so "who at which insurer saw
what when" is in the same trail as the officers' work. A list of the insurer's cases shows
ids, states and claim statuses only (no personal data): it is not a read of any case.

The claim (:mod:`.claims`) opens when a party presses 定损理赔 on the progress page or an
officer hands the case off; each change is one transaction: the audit action, the claim
row, the parties' SMS (the outbox) and the :class:`~.events.InsurerEvents` subscribers'
rows (webhooks), so a refused change writes none of them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from ..accounts.model import Officer
from ..cases.actions import AuditAction
from ..cases.actors import insurer_actor, officer_actor, party_actor
from ..cases.states import AuditEntry, CaseState
from ..casework import CaseWork, PartyLink
from ..casework.context import Access, CaseContext, written_reason
from ..errors import Conflict, Forbidden, InvalidMessage, NotFound
from ..evidence.ledger import Ledger, LedgerEntry
from ..notify import Template
from ..storage.casefiles import CaseStore
from ..storage.documents import Determination
from ..storage.numbers import stored_int
from . import views
from .claims import ClaimActor, ClaimStatus, check_move, parse_update
from .events import EventKind, InsurerEvent, InsurerEvents
from .model import Insurer, InsurerDirectory
from .scope import InsurerScope, VisibleCase, visible
from .store import Claim, Complaint, InsurerStore

logger = logging.getLogger(__name__)

CALLBACK_HOURS: Final = 24  # the complaint line's promise (Shenzhen)
# The console lists the reports of the last 90 days (benchmarks/insurer_scope.py).
LIST_DAYS: Final = 90
MAX_COMPLAINT: Final = 1000


@dataclass(frozen=True)
class InsurerConfig:
    complaint_after: timedelta  # --complaint-after-hours


class InsurerDesk:
    """Insurers' reads and claims, parties' claims and complaints, supervisors' callbacks."""

    def __init__(
        self,
        ctx: CaseContext,
        casework: CaseWork,
        directory: InsurerDirectory,
        events: InsurerEvents,
        ledger: Ledger,
        config: InsurerConfig,
    ) -> None:
        self.ctx = ctx
        self.casework = casework
        self.directory = directory
        self.events = events
        self.ledger = ledger
        self.config = config
        self.store = InsurerStore(ctx.store.engine)
        self.scope = InsurerScope(ctx.store.engine)

    @property
    def cases(self) -> CaseStore:
        return self.ctx.store

    # -- the insurer's account ---------------------------------------------------------------

    def insurer_of(self, account: Officer) -> Insurer:
        """The configured insurer of an insurer's account (403 if it is not one, or its
        company is no longer configured)."""
        insurer = self.directory.get(account.insurer or "") if account.is_insurer else None
        if insurer is None:
            raise Forbidden("this account belongs to no configured insurer", reason="not_insurer")
        return insurer

    def staff(self, account: Officer) -> ClaimActor:
        """An insurer's staff account as the actor of a claim status (403 as insurer_of)."""
        insurer = self.insurer_of(account)
        return ClaimActor(insurer.code, insurer_actor(insurer.code, account.id))

    async def _read(self, account: Officer, case_id: str, what: dict[str, Any]) -> VisibleCase:
        """The scope check and the read's audit entry, before anything is shown."""
        insurer = self.insurer_of(account)
        found = await self.scope.require(insurer, case_id)
        await self.ctx.action(
            case_id,
            AuditAction.INSURER_READ,
            insurer_actor(insurer.code, account.id),
            {"insurer": insurer.code, **what},
        )
        return found

    async def work_list(self, account: Officer) -> dict[str, Any]:
        """The insurer's console list: its work queue (claims, open first) and every case it
        may see. Ids, states and dates only."""
        insurer = self.insurer_of(account)
        # The last LIST_DAYS of reports, plus every case with a claim still open.
        since = time.time() - LIST_DAYS * 86400
        visible_cases = await self.scope.cases(insurer, since=since)
        claims = {c.case_id: c for c in await self.store.claims_of_insurer(insurer.code)}
        seen = {v.case_id for v in visible_cases}
        for claim in claims.values():
            if claim.case_id not in seen and not claim.status.final:
                with contextlib.suppress(NotFound, Forbidden):
                    visible_cases.append(await self.scope.require(insurer, claim.case_id))
                    seen.add(claim.case_id)
        return {
            "insurer": insurer.to_dict(),
            "queue": [
                views.claim_dict(c)
                for c in claims.values()
                if c.case_id in seen and not c.status.final
            ],
            "cases": [
                {
                    "case_id": v.case_id,
                    "status": v.status.value,
                    "created_at": v.created_at,
                    "policyholders": list(v.parties),
                    "claim": views.claim_dict(claims[v.case_id]) if v.case_id in claims else None,
                }
                for v in visible_cases
            ],
        }

    async def case_view(self, account: Officer, case_id: str) -> dict[str, Any]:
        """One case as its insurer sees it: accident, parties, liabilities, documents,
        evidence list, this insurer's claim. An audit entry first."""
        found = await self._read(account, case_id, {"read": "case"})
        insurer = self.insurer_of(account)
        form = (await self.cases.form(case_id)).form
        dets = await self.cases.determinations(case_id)
        agreements = await self.store.agreement_documents(case_id)
        claim = await self.store.claim(case_id, insurer.code)
        zone = self.ctx.config.zone
        return {
            "case_id": case_id,
            "status": found.status.value,
            "policyholders": list(found.parties),
            "accident": views.accident(form),
            "parties": [views.party(p, p.key in found.parties) for p in form.parties],
            "determination": views.doc(dets[-1], zone) if dets else None,
            "agreement": views.doc(agreements[-1], zone) if agreements else None,
            "evidence": [views.evidence(e) for e in await self._evidence(case_id)],
            "claim": views.claim_dict(claim) if claim else None,
            "statuses": [s.value for s in ClaimStatus],
        }

    async def _evidence(self, case_id: str) -> list[LedgerEntry]:
        return [e for e in await self.ledger.entries(case_id) if e["kind"] != "document"]

    async def evidence_file(self, account: Officer, case_id: str, seq: int) -> tuple[Path, str]:
        """An evidence file of a case the insurer may see: its path and SHA-256."""
        insurer = self.insurer_of(account)
        await self.scope.require(insurer, case_id)  # refused before the manifest is read
        entry = next((e for e in await self._evidence(case_id) if e["seq"] == seq), None)
        if entry is None:
            raise NotFound("no such evidence file in this case")
        folder = self.ledger.folder(case_id).resolve()
        path = (folder / entry["path"]).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            raise NotFound("the evidence file is missing")
        await self._read(account, case_id, {"read": "evidence", "seq": seq, "path": entry["path"]})
        return path, entry["sha256"]

    async def document(self, account: Officer, case_id: str, kind: str, fmt: str) -> Determination:
        """The current determination or agreement document of a case the insurer may see."""
        if kind not in ("determination", "agreement"):
            raise NotFound("no such document")
        insurer = self.insurer_of(account)
        await self.scope.require(insurer, case_id)
        docs = (
            await self.cases.determinations(case_id)
            if kind == "determination"
            else await self.store.agreement_documents(case_id)
        )
        if not docs:
            raise NotFound(f"this case has no {kind} document")
        read = {"read": kind, "format": fmt, "version": docs[-1].version}
        await self._read(account, case_id, read)
        return docs[-1]

    # -- the hand-off -----------------------------------------------------------------------------

    async def hand_off_by_party(self, link: PartyLink) -> list[dict[str, Any]]:
        """The party's 定损理赔 button: the case goes to the insurers of its parties."""
        return await self._hand_off(link.case_id, party_actor(link.party), None)

    async def hand_off_by_officer(
        self, officer: Officer, case_id: str, insurer_code: str | None = None
    ) -> list[dict[str, Any]]:
        """An officer hands the case to one insurer (or to every party's insurer)."""
        await self.casework.authorize(officer, case_id, action=Access.WORK)
        if insurer_code is not None:
            self.directory.require(insurer_code)
        return await self._hand_off(case_id, officer_actor(officer.id), insurer_code)

    async def _hand_off(
        self, case_id: str, who: str, only: str | None
    ) -> list[dict[str, Any]]:
        row = await self.cases.case_row(case_id)
        if not visible(CaseState(row["status"])):
            raise Conflict(
                "the claim can be handed off once liability is determined or agreed",
                reason="liability_not_set",
            )
        form = (await self.cases.form(case_id)).form
        wanted: dict[str, list[str]] = {}
        for party in form.parties:
            insurer = self.directory.match(party.insurer)
            if insurer is not None and (only is None or insurer.code == only):
                wanted.setdefault(insurer.code, []).append(party.key)
        if not wanted:
            raise Conflict(
                "no party of this case is insured by a configured insurer"
                if only is None
                else f"no party of this case is insured by {only}",
                reason="no_insurer",
            )
        opened: list[tuple[str, int, list[str]]] = []

        async def write(conn: AsyncConnection, entry: AuditEntry) -> None:
            now = entry.when.timestamp()
            for code, keys in wanted.items():
                claim_id = await self.store.open_claim(conn, case_id, code, keys, who, now)
                if claim_id is None:
                    continue  # already in that insurer's queue: pressing again changes nothing
                opened.append((code, claim_id, keys))
                await self.events.publish(
                    conn,
                    InsurerEvent(
                        EventKind.CLAIM_OPENED,
                        code,
                        case_id,
                        entry.when,
                        {"claim_id": claim_id, "parties": keys, "by": who},
                    ),
                )
            if opened:
                for party in form.parties:
                    await self.ctx.notify(conn, case_id, party, Template.CLAIM_OPENED, who)

        await self.ctx.action(
            case_id,
            AuditAction.CLAIM_HANDED_OFF,
            who,
            {"insurers": sorted(wanted)},
            extra=write,
        )
        self._committed()
        logger.info("case %s handed off to %s by %s", case_id, ",".join(sorted(wanted)), who)
        return [views.claim_dict(c) for c in await self.store.claims_of_case(case_id)]

    def _committed(self) -> None:
        self.ctx.doorbell.ring()
        self.events.committed()

    async def case_claims(self, case_id: str) -> list[dict[str, Any]]:
        """The case's claims with the insurers' names (the caller has authorized)."""
        out = []
        for claim in await self.store.claims_of_case(case_id):
            item = views.claim_dict(claim)
            insurer = self.directory.get(claim.insurer)
            item["insurer_name"] = insurer.name if insurer else claim.insurer
            out.append(item)
        return out

    # -- the insurer's claim status ---------------------------------------------------------------

    async def update_claim(
        self, actor: ClaimActor, case_id: str, raw: dict[str, Any]
    ) -> dict[str, Any]:
        """Record the status ``actor`` gives its insurer's claim of this case (validated; 409
        for a move the claim's status does not allow); the trail names ``actor.who``."""
        insurer = self.directory.get(actor.insurer)
        if insurer is None:
            raise Forbidden("this account belongs to no configured insurer", reason="not_insurer")
        await self.scope.require(insurer, case_id)
        claim = await self.store.claim(case_id, insurer.code)
        if claim is None:
            raise NotFound(
                "this case is not in your work queue: the party or an officer hands it off",
                reason="no_claim",
            )
        change = parse_update(raw)
        check_move(claim.status, change)
        amount = change.amount_fen
        if change.status is ClaimStatus.PAID and amount is None:
            amount = claim.amount_fen  # paid what was assessed
        if change.status is ClaimStatus.REFUSED:
            amount = None
        who = actor.who
        form = (await self.cases.form(case_id)).form
        detail = {
            **change.to_detail(),
            "insurer": insurer.code,
            "claim_id": claim.id,
            "previous": claim.status.value,
            **({"amount_fen": amount} if amount is not None else {}),
        }

        async def write(conn: AsyncConnection, entry: AuditEntry) -> None:
            await self.store.record_status(conn, claim, change, amount, entry.when.timestamp())
            for party in form.parties:
                await self.ctx.notify(
                    conn,
                    case_id,
                    party,
                    Template.CLAIM_STATUS,
                    f"{claim.id}:{entry.when.timestamp()}",
                    claim=change.status.zh,
                )
            await self.events.publish(
                conn,
                InsurerEvent(
                    EventKind.STATUS_CHANGED,
                    insurer.code,
                    case_id,
                    entry.when,
                    {k: v for k, v in detail.items() if k != "insurer"},
                ),
            )

        await self.ctx.action(case_id, AuditAction.CLAIM_STATUS, who, detail, extra=write)
        self._committed()
        logger.info(
            "case %s: insurer %s claim %s -> %s",
            case_id,
            insurer.code,
            claim.status.value,
            change.status.value,
        )
        updated = await self.store.claim(case_id, insurer.code)
        assert updated is not None
        return views.claim_dict(updated)

    # -- the parties: claims and complaints -----------------------------------------------------

    async def party_claims(self, link: PartyLink) -> dict[str, Any]:
        """What the progress page shows of the claims: each insurer's status, whether the
        claim button applies, and the complaints this party may file or has filed."""
        row = await self.cases.case_row(link.case_id)
        state = CaseState(row["status"])
        form = (await self.cases.form(link.case_id)).form
        own = {self._code_of(p.insurer) for p in form.parties if p.key == link.party}
        claims = await self.store.claims_of_case(link.case_id)
        complaints = [
            c for c in await self.store.complaints_of_case(link.case_id) if c.party == link.party
        ]
        insurers = {self._code_of(p.insurer) for p in form.parties} - {None}
        now = time.time()
        return {
            "can_claim": visible(state) and bool(insurers),
            "claims": [
                {
                    **views.claim_dict(c),
                    "insurer_name": self._name(c.insurer),
                    "own_insurer": c.insurer in own,
                    "complaint_from": self._complaint_from(c, own, complaints),
                    "may_complain": self._may_complain(c, own, complaints, now),
                }
                for c in claims
            ],
            "complaints": [views.complaint_dict(c, now) for c in complaints],
            "complaint_after_hours": self.config.complaint_after.total_seconds() / 3600,
        }

    async def party_agreement_document(self, link: PartyLink) -> Determination:
        """The approved agreement's current document, for a party of the case."""
        docs = await self.store.agreement_documents(link.case_id)
        if not docs:
            raise NotFound("no agreement document has been issued")
        return docs[-1]

    async def authenticity(self, number: str, code: str) -> dict[str, Any] | None:
        """The public check of an agreement document, as the determination's (None: no
        agreement document has this number and code)."""
        doc = await self.store.find_agreement_document(number, code)
        if doc is None:
            return None
        return {
            "found": True,
            "kind": "agreement",
            "number": doc.number,
            "version": doc.version,
            "issued_at": doc.content.get("issued_at"),
            "authority": doc.content.get("authority"),
            "status": "superseded" if doc.superseded_by else "current",
            "superseded_by_version": doc.superseded_by,
            "sha256": doc.pdf_sha256,
        }

    def _name(self, code: str) -> str:
        insurer = self.directory.get(code)
        return insurer.name if insurer else code

    def _code_of(self, text: str) -> str | None:
        found = self.directory.match(text)
        return found.code if found else None

    def _complaint_from(
        self, claim: Claim, own: set[str | None], complaints: list[Complaint]
    ) -> float | None:
        """When this party may complain about the claim (None: never)."""
        if claim.insurer in own or claim.status.final:
            return None
        if any(c.claim_id == claim.id and c.called_back_at is None for c in complaints):
            return None
        return claim.acted_at + self.config.complaint_after.total_seconds()

    def _may_complain(
        self, claim: Claim, own: set[str | None], complaints: list[Complaint], now: float
    ) -> bool:
        at = self._complaint_from(claim, own, complaints)
        return at is not None and now >= at

    async def file_complaint(
        self, link: PartyLink, claim_id: object, text: object
    ) -> dict[str, Any]:
        """A party complains that the counterpart's insurer has not acted on the claim for
        the configured time: the supervisors' queue, a callback due within 24 hours."""
        claim_id = stored_int(claim_id, "claim_id", "claim_id must be a claim's number")
        body = written_reason(text, "text")
        if len(body) > MAX_COMPLAINT:
            raise InvalidMessage("text is too long", field="text", limit=MAX_COMPLAINT)
        claim = await self.store.claim_by_id(claim_id)
        if claim is None or claim.case_id != link.case_id:
            raise NotFound("no such claim in this case")
        form = (await self.cases.form(link.case_id)).form
        own = {self._code_of(p.insurer) for p in form.parties if p.key == link.party}
        complaints = [
            c for c in await self.store.complaints_of_case(link.case_id) if c.party == link.party
        ]
        if claim.insurer in own:
            raise Conflict(
                "a complaint is about the other party's insurer", reason="own_insurer"
            )
        if claim.status.final:
            raise Conflict("this claim is already settled", reason="claim_final")
        at = self._complaint_from(claim, own, complaints)
        now = time.time()
        if at is None:
            raise Conflict(
                "your complaint about this claim is already open", reason="complaint_open"
            )
        if now < at:
            raise Conflict(
                "the insurer still has time to act on this claim",
                reason="too_early",
                from_at=at,
            )
        party = form.party(link.party)
        due = now + CALLBACK_HOURS * 3600
        made: list[int] = []

        async def write(conn: AsyncConnection, entry: AuditEntry) -> None:
            made.append(await self.store.add_complaint(conn, claim, link.party, body, now, due))
            if party is not None:
                await self.ctx.notify(
                    conn, link.case_id, party, Template.COMPLAINT_RECEIVED, str(claim.id)
                )

        await self.ctx.action(
            link.case_id,
            AuditAction.COMPLAINT_FILED,
            party_actor(link.party),
            {"claim_id": claim.id, "insurer": claim.insurer, "due_at": due},
            extra=write,
        )
        self.ctx.doorbell.ring()
        found = await self.store.complaint(made[0])
        assert found is not None
        return views.complaint_dict(found, now)

    # -- the supervisors ----------------------------------------------------------------------

    async def complaint_queue(self, supervisor: Officer) -> list[dict[str, Any]]:
        """Open complaints, earliest callback deadline first, then today's called back."""
        if not supervisor.is_supervisor:
            raise Forbidden("for supervisors only")
        now = time.time()
        out = []
        for c in await self.store.complaint_queue(now - 86400):
            item = views.complaint_dict(c, now)
            insurer = self.directory.get(c.insurer)
            item["insurer_name"] = insurer.name if insurer else c.insurer
            out.append(item)
        return out

    async def call_back(
        self, supervisor: Officer, complaint_id: int, outcome: object
    ) -> dict[str, Any]:
        """The supervisor called the party back: the outcome, and the complaint leaves the
        open queue."""
        if not supervisor.is_supervisor:
            raise Forbidden("for supervisors only")
        text = written_reason(outcome, "outcome")
        found = await self.store.complaint(complaint_id)
        if found is None:
            raise NotFound("no such complaint")
        if found.called_back_at is not None:
            raise Conflict("this complaint was already called back", reason="called_back")
        who = officer_actor(supervisor.id)

        async def write(conn: AsyncConnection, entry: AuditEntry) -> None:
            await self.store.call_back(conn, complaint_id, who, text, entry.when.timestamp())

        await self.ctx.action(
            found.case_id,
            AuditAction.COMPLAINT_CALLED_BACK,
            who,
            {"complaint_id": complaint_id},
            extra=write,
        )
        done = await self.store.complaint(complaint_id)
        assert done is not None
        return views.complaint_dict(done, time.time())

    async def complaint_counts(self) -> dict[str, int]:
        """The wallboard's figures: complaints awaiting a callback, and overdue ones."""
        return await self.store.complaint_counts(time.time())
