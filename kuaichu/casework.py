"""The case after the report: form, verification, leave the scene, liability and the
electronic determination, the notices, the parties' progress page, review and agreement.

Every step is one database transaction holding the state-machine event (or the audit
action), the rows the step writes and the SMS it causes (the notifier's outbox), so a refused
step leaves nothing written and an accepted one cannot lose its notice. The HTTP edge
(kuaichu.casework_http) authorizes and validates; this module decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncConnection

from .auth import Officer
from .cases.eligibility import AccidentCause
from .cases.form import (
    VEHICLE_TYPES,
    CaseForm,
    Party,
    changed_fields,
    initial_form,
    mask_id_number,
    missing_for_information,
)
from .cases.liability import check_liabilities
from .cases.states import (
    CHINA_TIME,
    REVIEW_DAYS,
    AuditEntry,
    CaseEvent,
    CaseState,
    ReviewOutcome,
    allowed_events,
    case_timings,
    current_state,
    review_deadline,
    review_window_open,
    transition,
)
from .errors import Conflict, Forbidden, InvalidMessage, KuaichuError, NotFound
from .notify import Notifier, OutboxMessage, Template, enqueue, format_deadline, mask_phone
from .notify.messages import required_params
from .storage.casefiles import CaseStore, Determination, StoredForm
from .storage.db import Database
from .storage.files import write_new
from .verification import Item, ItemStatus, PartyFacts, Registry

logger = logging.getLogger(__name__)

MAX_REASON: Final = 1000
_CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_TERMINAL: Final = (CaseState.CLOSED, CaseState.ABANDONED, CaseState.CANCELLED)
# States from which the case has a determination the parties can read.
_HAS_DOCUMENT: Final = (
    CaseState.DETERMINED,
    CaseState.NOTIFIED,
    CaseState.REVIEW_REQUESTED,
    CaseState.REVIEW_DECIDED,
    CaseState.CLOSED,
)

LEGAL_BASIS_DEFAULT: Final = (
    "《中华人民共和国道路交通安全法》第七十条第二款、《道路交通事故处理程序规定》第十九条、"
    "第二十条、第六十条"
)
REVIEW_NOTICE: Final = (
    "当事人对本认定有异议的，可以自本认定书送达之日起三日内，通过进度页面或向作出认定的"
    "公安机关交通管理部门书面申请复核。复核以一次为限。"
)


class LiveCalls(Protocol):
    """What the call centre offers the case work: its live calls by case."""

    def push_to_case(self, case_id: str, event: str, payload: dict[str, Any]) -> int: ...

    def case_state_changed(self, case_id: str, state: CaseState) -> None: ...

    def relink(self, from_case: str, to_case: str) -> None: ...


class DocumentRenderer(Protocol):
    def render_html(
        self, content: Mapping[str, Any], *, superseded_by: int | None = None
    ) -> str: ...

    def render_pdf(
        self, content: Mapping[str, Any], *, superseded_by: int | None = None
    ) -> bytes: ...


class EvidenceLedger(Protocol):
    """Appends issued files to the case's signed manifest (kuaichu.storage.manifest)."""

    async def record(self, case_id: str, path: Path, kind: str, sha256: str) -> None: ...

    async def evidence_list(self, case_id: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class CaseWorkConfig:
    base_url: str
    authority: str
    document_prefix: str
    sms_signature: str
    recordings_dir: Path
    zone: tzinfo = CHINA_TIME


def _who(officer: Officer) -> str:
    return f"officer:{officer.id}"


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


class CaseWork:
    def __init__(
        self,
        db: Database,
        store: CaseStore,
        registry: Registry,
        renderer: DocumentRenderer,
        config: CaseWorkConfig,
        *,
        notifier: Notifier | None = None,
        ledger: EvidenceLedger | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.registry = registry
        self.renderer = renderer
        self.config = config
        self.notifier = notifier
        self.ledger = ledger
        self.live: LiveCalls | None = None
        self.on_changed: Callable[[str, CaseState], None] | None = None

    # -- helpers ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.now(self.config.zone)

    def link_url(self, token: str) -> str:
        return f"{self.config.base_url}/p/{token}"

    async def _event(
        self,
        case_id: str,
        event: CaseEvent,
        who: str,
        detail: dict[str, Any] | None = None,
        extra: Callable[[AsyncConnection, AuditEntry], Any] | None = None,
    ) -> AuditEntry:
        entry = await self.db.case_event(
            case_id, event, who, self._now(), detail, zone=self.config.zone, extra=extra
        )
        self._changed(case_id, entry.to_state)
        return entry

    async def _action(
        self,
        case_id: str,
        action: str,
        who: str,
        detail: dict[str, Any] | None = None,
        extra: Callable[[AsyncConnection, AuditEntry], Any] | None = None,
    ) -> AuditEntry:
        return await self.db.case_action(
            case_id, action, who, self._now(), detail, zone=self.config.zone, extra=extra
        )

    def _changed(self, case_id: str, state: CaseState) -> None:
        if self.live is not None:
            self.live.case_state_changed(case_id, state)
            self.live.push_to_case(case_id, "case_status", {"case_id": case_id, "status": state})
        if self.on_changed is not None:
            self.on_changed(case_id, state)
        if self.notifier is not None:
            self.notifier.wake()

    async def _notify(
        self,
        conn: AsyncConnection,
        case_id: str,
        party: Party,
        template: Template,
        key: str,
        **params: Any,
    ) -> None:
        """One SMS to one party, with a fresh progress link, inside the step's transaction."""
        if not party.phone:
            return
        wanted = required_params(template)
        offered: dict[str, Any] = {"case_id": case_id, **params}
        if "link" in wanted:
            token = await self.store.new_link(conn, case_id, party.key, party.phone)
            offered["link"] = self.link_url(token)
        await enqueue(
            conn,
            case_id=case_id,
            party=party.key,
            phone=party.phone,
            template=template,
            params={k: v for k, v in offered.items() if k in wanted},
            dedupe_key=f"{case_id}:{template}:{party.key}:{key}",
            now=time.time(),
            signature=self.config.sms_signature,
        )

    async def _state(self, case_id: str) -> CaseState:
        row = await self.store.case_row(case_id)
        return CaseState(row["status"])

    # -- authorization ------------------------------------------------------------------------

    async def authorize(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """The case row, if this officer may work on it: one who answered one of its calls,
        or a supervisor. A case id that does not exist is 404, another officer's case 403."""
        row = await self.store.case_row(case_id)
        if officer.is_supervisor or await self.store.officer_handled(case_id, officer.id):
            return row
        raise Forbidden("this case was handled by another officer")

    # -- the report ---------------------------------------------------------------------------

    async def reported(
        self,
        conn: AsyncConnection,
        case_id: str,
        phone: str | None,
        cause: AccidentCause | None,
        at: datetime,
        location: Mapping[str, float] | None,
    ) -> str:
        """Inside the report's transaction: the initial form (the caller is party A), the
        caller's progress link, and the "queued" SMS when the page gave a phone number."""
        loc = location or {}
        form = initial_form(phone, cause, at, loc.get("lat"), loc.get("lng"))
        await self.store.write_form(conn, case_id, 0, form, "driver")
        reporter = form.parties[0]
        token = await self.store.new_link(conn, case_id, reporter.key, reporter.phone or None)
        if reporter.phone:
            await self._notify(conn, case_id, reporter, Template.QUEUED, "report")
        return token

    # -- the form -----------------------------------------------------------------------------

    async def save_form(
        self, officer: Officer, case_id: str, revision: int, raw: object
    ) -> StoredForm:
        await self.authorize(officer, case_id)
        form = CaseForm.parse(raw)
        state = await self._state(case_id)
        if state in _TERMINAL:
            raise Conflict(f"the case is {state.value}; the form can no longer change")
        # After a determination the form may still change: the issued document is frozen in
        # its own row, and a correction is issued as a new version from the edited form.
        stored = await self.store.form(case_id)
        if stored.revision != revision:
            raise Conflict("the case form was changed meanwhile; reload it", reason="stale_form")
        changed = changed_fields(stored.form, form)
        if not changed:
            return stored
        new_revision = 0

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            nonlocal new_revision
            new_revision = await self.store.write_form(conn, case_id, revision, form, _who(officer))

        await self._action(
            case_id,
            "form_saved",
            _who(officer),
            {"revision": revision + 1, "changed": changed[:60]},
            extra=write,
        )
        return StoredForm(new_revision, form, time.time(), _who(officer))

    # -- verification -------------------------------------------------------------------------

    def _facts(self, form: CaseForm, party: Party) -> PartyFacts:
        day = (form.occurred_at or self._now()).astimezone(self.config.zone).date()
        return PartyFacts(
            name=party.name or None,
            licence_no=party.licence_no or None,
            plate=party.plate.replace("·", "") or None,
            accident_date=day,
        )

    async def verify(self, officer: Officer, case_id: str, party_key: str) -> dict[str, Any]:
        """Ask the registry about one party (licence, vehicle, insurance on the accident
        date). The registry may be slow or down: its answer says so item by item."""
        await self.authorize(officer, case_id)
        stored = await self.store.form(case_id)
        party = stored.form.party(party_key)
        if party is None:
            raise NotFound(f"no party {party_key} in this case")
        facts = self._facts(stored.form, party)
        result = await self.registry.verify(facts)
        facts_dict = _facts_dict(facts)
        result_dict = result.to_dict()

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await self.store.add_verification(
                conn,
                case_id,
                party_key,
                self.registry.name,
                facts_dict,
                result_dict,
                _who(officer),
            )

        await self._action(
            case_id,
            "verified",
            _who(officer),
            {
                "party": party_key,
                "registry": self.registry.name,
                "items": {i.item.value: i.status.value for i in result.items},
            },
            extra=write,
        )
        return {"party": party_key, "facts": facts_dict, "result": result_dict}

    async def decide_item(
        self,
        officer: Officer,
        case_id: str,
        party_key: str,
        item: str,
        decision: str,
        reason: str,
    ) -> None:
        """The officer's explicit decision on an item the registry did not confirm: accept
        (e.g. the policy was shown on the call while the registry was down) or reject."""
        await self.authorize(officer, case_id)
        try:
            which = Item(item)
        except ValueError:
            raise InvalidMessage("item must be licence, vehicle or insurance") from None
        if decision not in ("accept", "reject"):
            raise InvalidMessage("decision must be accept or reject", field="decision")
        reason = _reason(reason, "reason")
        checks = await self.store.latest_verifications(case_id)
        check = checks.get(party_key)
        if check is None:
            raise Conflict(f"party {party_key} has not been checked yet")
        status = _item_status(check["result"], which)
        if status == ItemStatus.VALID.value:
            raise Conflict(f"{which.value} of party {party_key} is verified; nothing to decide")
        await self._action(
            case_id,
            "verification_decision",
            _who(officer),
            {
                "party": party_key,
                "item": which.value,
                "status": status,
                "decision": decision,
                "reason": reason,
                "checked_at": check["checked_at"],
            },
        )

    # -- information collected, leave the scene -----------------------------------------------

    async def complete_information(self, officer: Officer, case_id: str) -> AuditEntry:
        """Information and evidence are fixed (信息采集完成): the form is complete and every
        party is verified against the current form, each unverified item accepted by the
        officer. This is the first of the two advertised timings."""
        await self.authorize(officer, case_id)
        stored = await self.store.form(case_id)
        missing = missing_for_information(stored.form)
        if missing:
            raise Conflict(
                "the case form is incomplete: " + ", ".join(missing[:8]),
                reason="form_incomplete",
                missing=missing,
            )
        blockers = await self._verification_blockers(case_id, stored.form)
        if blockers:
            raise Conflict(
                "verification is not settled: " + "; ".join(blockers[:6]),
                reason="verification_pending",
                blockers=blockers,
            )
        return await self._event(
            case_id,
            CaseEvent.COLLECT_EVIDENCE,
            _who(officer),
            {"form_revision": stored.revision},
        )

    async def _verification_blockers(self, case_id: str, form: CaseForm) -> list[str]:
        checks = await self.store.latest_verifications(case_id)
        decisions = _decisions(await self.db.case_trail(case_id))
        out: list[str] = []
        for party in form.parties:
            check = checks.get(party.key)
            if check is None:
                out.append(f"party {party.key}: not checked")
                continue
            if check["facts"] != _facts_dict(self._facts(form, party)):
                out.append(f"party {party.key}: form changed since the check; check again")
                continue
            for item in Item:
                status = _item_status(check["result"], item)
                if status == ItemStatus.VALID.value:
                    continue
                decided = decisions.get((party.key, item.value))
                if decided is None or decided["checked_at"] != check["checked_at"]:
                    out.append(f"party {party.key}: {item.value} {status} needs a decision")
                elif decided["decision"] == "reject":
                    out.append(
                        f"party {party.key}: {item.value} rejected; this accident cannot be "
                        "handled by video (cancel and send to on-site handling)"
                    )
        return out

    async def leave_scene(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """撤离现场: the evidence is fixed, the parties must clear the road now. Pushed to
        every driver page of the case still connected, and sent by SMS to every party."""
        await self.authorize(officer, case_id)
        stored = await self.store.form(case_id)

        async def sms(conn: AsyncConnection, entry: AuditEntry) -> None:
            for party in stored.form.parties:
                await self._notify(conn, case_id, party, Template.LEAVE_SCENE, "1")

        await self._event(case_id, CaseEvent.CLEAR_SCENE, _who(officer), {}, extra=sms)
        pushed = 0
        if self.live is not None:
            pushed = self.live.push_to_case(
                case_id,
                "leave_scene",
                {
                    "case_id": case_id,
                    "at": self._now().isoformat(),
                    "officer": officer.display_name,
                },
            )
        return {"pushed": pushed, "sms": sum(1 for p in stored.form.parties if p.phone)}

    # -- the determination --------------------------------------------------------------------

    async def issue(
        self, officer: Officer, case_id: str, correction_reason: str | None = None
    ) -> Determination:
        """Issue the electronic determination from the form's liabilities. A second issue is
        a new version that supersedes the old (a correction needs a written reason; after a
        review with outcome "revised" the review is the reason)."""
        row = await self.authorize(officer, case_id)
        state = CaseState(row["status"])
        stored = await self.store.form(case_id)
        form = stored.form
        liabilities = form.liabilities()
        check_liabilities(liabilities)
        transition(state, CaseEvent.DETERMINE)  # refuse before rendering a PDF for nothing
        missing = missing_for_information(form)
        if missing:
            raise Conflict(
                "the case form is incomplete: " + ", ".join(missing[:8]),
                reason="form_incomplete",
                missing=missing,
            )
        at_fault_without_text = [
            p.key for p in form.parties if p.liability and p.liability.at_fault and not p.fault
        ]
        if at_fault_without_text:
            raise InvalidMessage(
                "describe the fault behaviour of party " + ", ".join(at_fault_without_text),
                field=f"parties.{at_fault_without_text[0]}.fault",
                parties=at_fault_without_text,
            )
        previous = await self.store.determinations(case_id)
        if previous and state in (CaseState.DETERMINED, CaseState.NOTIFIED):
            correction_reason = _reason(correction_reason or "", "correction_reason")
        version = len(previous) + 1
        number = previous[0].number if previous else self._number(case_id, row["created_at"])
        issued = self._now()
        code = new_code()
        evidence = await self._evidence(case_id)
        content = self._content(
            case_id, form, number, version, code, issued, officer, evidence, previous
        )
        if correction_reason:
            content["correction_reason"] = correction_reason
        # Render before the transaction (seconds of CPU in a thread); the file only counts
        # once the transaction that issues it commits.
        pdf = await asyncio.to_thread(self.renderer.render_pdf, content)
        folder = self.config.recordings_dir / case_id
        path = folder / f"determination-v{version}.pdf"
        sha = await asyncio.to_thread(write_new, path, pdf)
        deadline = review_deadline(issued, self.config.zone)
        det_id = 0

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            nonlocal det_id
            det_id = await self.store.add_determination(
                conn,
                case_id,
                number,
                version,
                code,
                issued.timestamp(),
                _who(officer),
                content,
                path.name,
                sha,
            )
            for party in form.parties:
                await self._notify(
                    conn,
                    case_id,
                    party,
                    Template.DETERMINATION_ISSUED,
                    f"v{version}",
                    number=number,
                    deadline=format_deadline(deadline),
                )

        try:
            await self._event(
                case_id,
                CaseEvent.DETERMINE,
                _who(officer),
                {
                    "liabilities": {k: v.value for k, v in liabilities.items()},
                    "version": version,
                    "number": number,
                    "pdf_sha256": sha,
                    **({"correction_reason": correction_reason} if correction_reason else {}),
                },
                extra=write,
            )
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        if self.ledger is not None:
            try:
                await self.ledger.record(case_id, path, "document", sha)
            except KuaichuError:
                logger.exception("case %s: could not list the document in the manifest", case_id)
        logger.info("case %s: determination %s v%d issued", case_id, number, version)
        found = [d for d in await self.store.determinations(case_id) if d.version == version]
        return found[0]

    def _number(self, case_id: str, created_at: float) -> str:
        year = datetime.fromtimestamp(created_at, self.config.zone).year
        # The case id is already unique and readable over the phone; the number is that id
        # in the form printed documents use.
        return f"{self.config.document_prefix}[{year}]第{case_id}号"

    async def _evidence(self, case_id: str) -> list[dict[str, Any]]:
        if self.ledger is not None:
            return await self.ledger.evidence_list(case_id)
        return []

    def _content(
        self,
        case_id: str,
        form: CaseForm,
        number: str,
        version: int,
        code: str,
        issued: datetime,
        officer: Officer,
        evidence: list[dict[str, Any]],
        previous: list[Determination],
    ) -> dict[str, Any]:
        parties = []
        for p in form.parties:
            assert p.liability is not None
            parties.append(
                {
                    "key": p.key,
                    "name": p.name,
                    "phone": mask_phone(p.phone),
                    "licence_no": mask_id_number(p.licence_no),
                    "plate": p.plate,
                    "vehicle_type": VEHICLE_TYPES.get(p.vehicle_type, p.vehicle_type),
                    "insurer": p.insurer,
                    "policy_no": p.policy_no,
                    "liability": p.liability.value,
                    "liability_text": p.liability.zh,
                    "fault": p.fault,
                }
            )
        return {
            "number": number,
            "version": version,
            "supersedes": (
                {"number": previous[-1].number, "version": previous[-1].version}
                if previous
                else None
            ),
            "issued_at": issued.isoformat(timespec="seconds"),
            "verification_code": code,
            "verify_url": f"{self.config.base_url}/verify?n={quote(number)}&c={code}",
            "authority": self.config.authority,
            "case_id": case_id,
            "accident": {
                "occurred_at": form.occurred_at.isoformat(timespec="minutes")
                if form.occurred_at
                else None,
                "address": form.address,
                "lat": form.lat,
                "lng": form.lng,
                "cause": form.cause.value if form.cause else None,
                "cause_text": form.cause.zh if form.cause else "",
                "description": form.description,
            },
            "parties": parties,
            "legal_basis": form.legal_basis or LEGAL_BASIS_DEFAULT,
            "evidence": evidence,
            "officer": {"name": officer.display_name, "badge": officer.username},
            "review_notice": REVIEW_NOTICE,
        }

    async def message_sent(self, message: OutboxMessage) -> None:
        """The notifier delivered an SMS. When every determination notice of the current
        version has gone out, the determination counts as served (送达): the case becomes
        notified and the review window starts."""
        if message.template != Template.DETERMINATION_ISSUED or message.case_id is None:
            return
        case_id = message.case_id
        if await self._state(case_id) is not CaseState.DETERMINED:
            return
        dets = await self.store.determinations(case_id)
        if not dets:
            return
        current = dets[-1]
        if await self.store.unsent(
            case_id, Template.DETERMINATION_ISSUED.value, f"v{current.version}"
        ):
            return
        try:
            await self._event(
                case_id,
                CaseEvent.NOTIFY,
                "system",
                {"version": current.version, "channel": "sms"},
            )
        except KuaichuError:
            logger.info("case %s: already notified", case_id)

    # -- review (复核) ------------------------------------------------------------------------

    async def request_review(self, case_id: str, party_key: str, reason: str) -> AuditEntry:
        text = _reason(reason, "reason")
        stored = await self.store.form(case_id)
        party = stored.form.party(party_key)
        number = await self._current_number(case_id)

        async def sms(conn: AsyncConnection, _entry: AuditEntry) -> None:
            if party is not None:
                await self._notify(
                    conn, case_id, party, Template.REVIEW_RECEIVED, "1", number=number
                )

        return await self._event(
            case_id,
            CaseEvent.REQUEST_REVIEW,
            f"party:{party_key}",
            {"party": party_key, "reason": text},
            extra=sms,
        )

    async def decide_review(
        self, officer: Officer, case_id: str, outcome: str, text: str
    ) -> AuditEntry:
        if not officer.is_supervisor:
            raise Forbidden("reviews are decided by a supervisor")
        try:
            which = ReviewOutcome(outcome)
        except ValueError:
            raise InvalidMessage("outcome must be upheld or revised", field="outcome") from None
        body = _reason(text, "text")
        stored = await self.store.form(case_id)
        number = await self._current_number(case_id)

        async def sms(conn: AsyncConnection, _entry: AuditEntry) -> None:
            for party in stored.form.parties:
                await self._notify(
                    conn,
                    case_id,
                    party,
                    Template.REVIEW_OUTCOME,
                    "1",
                    outcome=which.value,
                    number=number,
                )

        entry = await self._event(
            case_id,
            CaseEvent.DECIDE_REVIEW,
            _who(officer),
            {"outcome": which.value, "text": body},
            extra=sms,
        )
        if which is ReviewOutcome.UPHELD:
            entry = await self._event(case_id, CaseEvent.CLOSE, "system", {"after": "review"})
        return entry

    async def _current_number(self, case_id: str) -> str:
        dets = await self.store.determinations(case_id)
        if not dets:
            raise Conflict("no determination has been issued for this case")
        return dets[-1].number

    async def review_queue(self) -> list[dict[str, Any]]:
        rows = await self.store.recent_cases(
            None, limit=200, status=(CaseState.REVIEW_REQUESTED.value,)
        )
        out = []
        for row in rows:
            trail = await self.db.case_trail(row["id"])
            request = next(e for e in reversed(trail) if e.what == CaseEvent.REQUEST_REVIEW)
            # Decide within the time the programmes promise for a review; shown, not enforced.
            due = request.when + timedelta(days=REVIEW_DAYS + 2)
            out.append(
                {
                    "case_id": row["id"],
                    "party": request.detail.get("party"),
                    "reason": request.detail.get("reason"),
                    "requested_at": request.when.isoformat(timespec="minutes"),
                    "decide_by": due.isoformat(timespec="minutes"),
                }
            )
        out.sort(key=lambda r: r["requested_at"])
        return out

    # -- agreement (自行协商) -----------------------------------------------------------------

    async def propose_agreement(self, officer: Officer, case_id: str) -> AuditEntry:
        await self.authorize(officer, case_id)
        stored = await self.store.form(case_id)
        liabilities = stored.form.liabilities()
        check_liabilities(liabilities)

        async def sms(conn: AsyncConnection, entry: AuditEntry) -> None:
            for party in stored.form.parties:
                await self._notify(
                    conn, case_id, party, Template.AGREEMENT_CONFIRM, entry.when.isoformat()
                )

        return await self._event(
            case_id,
            CaseEvent.PROPOSE_AGREEMENT,
            _who(officer),
            {"liabilities": {k: v.value for k, v in liabilities.items()}},
            extra=sms,
        )

    async def confirm_agreement(self, case_id: str, party_key: str) -> AuditEntry:
        entry = await self._event(
            case_id, CaseEvent.CONFIRM_AGREEMENT, f"party:{party_key}", {"party": party_key}
        )
        try:
            entry = await self._event(case_id, CaseEvent.COMPLETE_AGREEMENT, "system", {})
        except KuaichuError:
            pass  # others still have to confirm
        return entry

    async def withdraw_agreement(self, case_id: str, party_key: str) -> AuditEntry:
        return await self._event(
            case_id, CaseEvent.WITHDRAW_AGREEMENT, f"party:{party_key}", {"party": party_key}
        )

    async def approve_agreement(self, officer: Officer, case_id: str, approve: bool) -> AuditEntry:
        await self.authorize(officer, case_id)
        if not approve:
            return await self._event(case_id, CaseEvent.REJECT_AGREEMENT, _who(officer), {})
        stored = await self.store.form(case_id)

        async def sms(conn: AsyncConnection, _entry: AuditEntry) -> None:
            for party in stored.form.parties:
                await self._notify(conn, case_id, party, Template.AGREEMENT_APPROVED, "1")

        await self._event(case_id, CaseEvent.APPROVE_AGREEMENT, _who(officer), {}, extra=sms)
        return await self._event(case_id, CaseEvent.CLOSE, "system", {"after": "agreement"})

    # -- cancel, link, close ------------------------------------------------------------------

    async def cancel(self, officer: Officer, case_id: str, reason: str) -> AuditEntry:
        await self.authorize(officer, case_id)
        return await self._event(
            case_id, CaseEvent.CANCEL, _who(officer), {"reason": _reason(reason, "reason")}
        )

    async def link(self, officer: Officer, case_id: str, other_id: str) -> dict[str, Any]:
        """Two calls about one accident (each driver reported): the other case is merged
        into this one. Its calls and progress links move here, its caller becomes a party of
        this case, and it is cancelled with a pointer to this one."""
        await self.authorize(officer, case_id)
        if other_id == case_id:
            raise InvalidMessage("a case cannot be linked to itself", field="case_id")
        other = await self.store.case_row(other_id)
        other_state = CaseState(other["status"])
        if other_state not in (CaseState.QUEUED, CaseState.IN_CALL):
            raise Conflict(
                f"case {other_id} is {other_state.value}; only a case still in the queue or on "
                "a call can be linked"
            )
        state = await self._state(case_id)
        if state in _TERMINAL or state in _HAS_DOCUMENT:
            raise Conflict(f"this case is {state.value}; link before the determination")
        mine = await self.store.form(case_id)
        theirs = await self.store.form(other_id)
        party_map: dict[str, str] = {}
        form = mine.form
        for p in theirs.form.parties:
            if p.phone and any(q.phone == p.phone for q in form.parties):
                existing = next(q for q in form.parties if q.phone == p.phone)
                party_map[p.key] = existing.key
                continue
            key = form.next_key()
            party_map[p.key] = key
            form = form.with_party(
                Party(
                    key=key,
                    reporter=p.reporter,
                    name=p.name,
                    phone=p.phone,
                    licence_no=p.licence_no,
                    plate=p.plate,
                    vehicle_type=p.vehicle_type,
                    insurer=p.insurer,
                    policy_no=p.policy_no,
                )
            )
        who = _who(officer)

        async def cancel_other(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await self.store.move_links(conn, other_id, case_id, party_map)
            await self.store.move_calls(conn, other_id, case_id)

        await self._event(
            other_id,
            CaseEvent.CANCEL,
            who,
            {"reason": "linked", "merged_into": case_id},
            extra=cancel_other,
        )

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await self.store.write_form(conn, case_id, mine.revision, form, who)

        await self._action(
            case_id,
            "case_linked",
            who,
            {"case": other_id, "parties": party_map, "revision": mine.revision + 1},
            extra=write,
        )
        if self.live is not None:
            self.live.relink(other_id, case_id)
            self.live.case_state_changed(case_id, await self._state(case_id))
        return {"linked": other_id, "parties": party_map}

    async def close_expired(self) -> list[str]:
        """Close notified cases whose review window has passed (run periodically)."""
        closed = []
        now = self._now()
        for row in await self.store.recent_cases(
            None, limit=500, status=(CaseState.NOTIFIED.value,)
        ):
            trail = await self.db.case_trail(row["id"])
            if review_window_open(trail, now, self.config.zone):
                continue
            try:
                await self._event(row["id"], CaseEvent.CLOSE, "system", {"after": "review_window"})
                closed.append(row["id"])
            except KuaichuError:
                logger.exception("case %s: could not close", row["id"])
        return closed

    # -- views --------------------------------------------------------------------------------

    async def officer_view(self, officer: Officer, case_id: str) -> dict[str, Any]:
        row = await self.authorize(officer, case_id)
        state = CaseState(row["status"])
        stored = await self.store.form(case_id)
        trail = await self.db.case_trail(case_id)
        checks = await self.store.latest_verifications(case_id)
        decisions = _decisions(trail)
        verification = {}
        for key, check in checks.items():
            party = stored.form.party(key)
            verification[key] = {
                **check,
                "current": party is not None
                and check["facts"] == _facts_dict(self._facts(stored.form, party)),
                "decisions": {
                    item: d
                    for (p, item), d in decisions.items()
                    if p == key and d["checked_at"] == check["checked_at"]
                },
            }
        timings = case_timings(trail)
        messages = await self.notifier.messages(case_id) if self.notifier else []
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
            "blockers": await self._verification_blockers(case_id, stored.form),
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
                for d in await self.store.determinations(case_id)
            ],
            "messages": [
                {
                    "party": m.party,
                    "phone": mask_phone(m.phone),
                    "template": m.template,
                    "status": m.status,
                    "attempts": m.attempts,
                    "created_at": m.created_at,
                    "sent_at": m.sent_at,
                }
                for m in messages
            ],
            "trail": [e.to_dict() for e in trail],
            "timings": {
                "to_information_s": _secs(timings.to_information),
                "to_determination_s": _secs(timings.to_determination),
                "information_on_target": timings.information_on_target,
                "determination_on_target": timings.determination_on_target,
            },
            "calls": [
                {k: c[k] for k in ("id", "state", "queued_at", "answered_at", "ended_at")}
                for c in await self.store.case_calls(case_id)
            ],
            "agreement": _agreement(trail),
            "review": _review(trail, self._now(), self.config.zone),
        }

    async def party_view(self, case_id: str, party_key: str) -> dict[str, Any]:
        """What the progress page shows one party: no other party's contact details."""
        row = await self.store.case_row(case_id)
        state = CaseState(row["status"])
        trail = await self.db.case_trail(case_id)
        dets = await self.store.determinations(case_id)
        current = dets[-1] if dets and state in _HAS_DOCUMENT else None
        timeline = [
            {"what": e.what, "when": e.when.isoformat(timespec="minutes")}
            for e in trail
            if e.event is not None and e.what not in ("queue",)
        ]
        review = _review(trail, self._now(), self.config.zone)
        agreement = _agreement(trail)
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
                }
                if current
                else None
            ),
            "review": review,
            "agreement": agreement,
        }

    async def document(self, case_id: str, version: int | None) -> Determination:
        dets = await self.store.determinations(case_id)
        if not dets:
            raise NotFound("no determination has been issued for this case")
        if version is None:
            return dets[-1]
        for d in dets:
            if d.version == version:
                return d
        raise NotFound(f"no version {version}")

    def document_html(self, det: Determination) -> str:
        return self.renderer.render_html(det.content, superseded_by=det.superseded_by)

    def pdf_path(self, det: Determination) -> Path:
        assert det.pdf_path is not None
        return self.config.recordings_dir / det.case_id / det.pdf_path

    async def authenticity(self, number: str, code: str) -> dict[str, Any]:
        """The public check: by number and code, no personal data."""
        det = await self.store.find_determination(number, code)
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


# -- pure helpers -------------------------------------------------------------------------


def _reason(text: object, field: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidMessage(f"{field} must be a written text", field=field)
    text = text.strip()
    if len(text) > MAX_REASON:
        raise InvalidMessage(
            f"{field} is too long ({len(text)} characters, at most {MAX_REASON})",
            field=field,
            limit=MAX_REASON,
        )
    return text


def _facts_dict(facts: PartyFacts) -> dict[str, Any]:
    return {
        "name": facts.name,
        "licence_no": facts.licence_no,
        "plate": facts.plate,
        "accident_date": facts.accident_date.isoformat(),
    }


def _item_status(result: Mapping[str, Any], item: Item) -> str:
    for entry in result.get("items", []):
        if entry.get("item") == item.value:
            return str(entry.get("status"))
    return ItemStatus.UNAVAILABLE.value


def _decisions(trail: Iterable[AuditEntry]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for e in trail:
        if e.what == "verification_decision":
            out[(str(e.detail["party"]), str(e.detail["item"]))] = {
                **dict(e.detail),
                "who": e.who,
                "when": e.when.isoformat(),
            }
    return out


def _agreement(trail: list[AuditEntry]) -> dict[str, Any] | None:
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


def _review(trail: list[AuditEntry], now: datetime, zone: tzinfo) -> dict[str, Any]:
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
