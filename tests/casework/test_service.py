"""CaseWork built complete from its constructor: the step verbs reach the live pages and the
notifier's doorbell, and the call centre's reads go through the façade."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kuaichu.accounts.model import Officer, Role
from kuaichu.cases.states import AuditEntry, CaseEvent, CaseState, apply
from kuaichu.casework import PartyLink
from kuaichu.errors import Conflict, Forbidden
from kuaichu.notify import OutboxMessage, OutboxStatus, Template
from tests.casework.seed import CST, Bench, case_id, insert_cases

SUPERVISOR = Officer(id=7, username="chief", display_name="Chief", role=Role.SUPERVISOR)
OFFICER = Officer(id=8, username="li", display_name="Li", role=Role.OFFICER)


def queued_trail(at: datetime) -> list[AuditEntry]:
    trail = [apply([], CaseEvent.REPORT, "driver", at, zone=CST)]
    trail.append(apply(trail, CaseEvent.QUEUE, "system", at, zone=CST))
    return trail


async def test_a_step_rings_the_doorbell_and_tells_the_live_pages(bench: Bench) -> None:
    await insert_cases(bench.engine, {case_id(1): queued_trail(datetime.now(CST))})
    assert not bench.doorbell.rung

    entry = await bench.work.cancel(SUPERVISOR, case_id(1), "  sent to on-site handling ")

    assert entry.to_state is CaseState.CANCELLED
    assert entry.who == "officer:7"
    assert entry.detail == {"reason": "sent to on-site handling"}
    assert bench.doorbell.rung
    assert bench.live.states == [(case_id(1), CaseState.CANCELLED)]
    assert bench.live.pushed == [
        (case_id(1), "case_status", {"case_id": case_id(1), "status": CaseState.CANCELLED}),
        # issue 12: the driver's page says why.
        (
            case_id(1),
            "case_cancelled",
            {"case_id": case_id(1), "reason": "sent to on-site handling"},
        ),
    ]


async def test_the_form_cannot_change_once_the_case_has_ended(bench: Bench) -> None:
    await insert_cases(bench.engine, {case_id(1): queued_trail(datetime.now(CST))})
    await bench.work.cancel(SUPERVISOR, case_id(1), "duplicate")
    with pytest.raises(Conflict, match="cancelled"):
        await bench.work.save_form(SUPERVISOR, case_id(1), 0, {})


async def test_an_officer_who_did_not_answer_may_not_work_on_the_case(bench: Bench) -> None:
    await insert_cases(bench.engine, {case_id(1): queued_trail(datetime.now(CST))})
    with pytest.raises(Forbidden):
        await bench.work.cancel(OFFICER, case_id(1), "not mine")
    assert not bench.doorbell.rung


async def test_form_reads_the_stored_form_for_the_call_centre(bench: Bench) -> None:
    await insert_cases(
        bench.engine, {case_id(1): queued_trail(datetime.now(CST) - timedelta(minutes=1))}
    )
    stored = await bench.work.form(case_id(1))
    assert stored.revision == 0
    assert stored.form.parties == ()


def proposed_trail(at: datetime) -> list[AuditEntry]:
    """Report to a proposed agreement between parties A and B."""
    trail = queued_trail(at)
    for event in (CaseEvent.ANSWER, CaseEvent.COLLECT_EVIDENCE, CaseEvent.CLEAR_SCENE):
        trail.append(apply(trail, event, "officer:7", at, zone=CST))
    trail.append(
        apply(
            trail,
            CaseEvent.PROPOSE_AGREEMENT,
            "officer:7",
            at,
            {"liabilities": {"A": "full", "B": "none"}},
            zone=CST,
        )
    )
    return trail


async def test_the_last_confirmation_completes_the_agreement(bench: Bench) -> None:
    await insert_cases(bench.engine, {case_id(1): proposed_trail(datetime.now(CST))})

    first = await bench.work.confirm_agreement(PartyLink(case_id(1), "A"))
    assert (first.what, first.who, first.to_state) == (
        "confirm_agreement",
        "party:A",
        CaseState.AGREEMENT_PENDING,
    )
    last = await bench.work.confirm_agreement(PartyLink(case_id(1), "B"))
    assert (last.what, last.who, last.to_state) == (
        "complete_agreement",
        "system",
        CaseState.AGREEMENT_CONFIRMED,
    )


async def test_a_refused_confirmation_is_not_swallowed(bench: Bench) -> None:
    # Only the "others still have to confirm" refusal is expected; confirming twice is not.
    await insert_cases(bench.engine, {case_id(1): proposed_trail(datetime.now(CST))})
    await bench.work.confirm_agreement(PartyLink(case_id(1), "A"))
    with pytest.raises(Conflict) as refused:
        await bench.work.confirm_agreement(PartyLink(case_id(1), "A"))
    assert refused.value.detail["reason"] == "already_confirmed"


def determined_trail(at: datetime) -> list[AuditEntry]:
    """Report to a determination (version 1), not yet served."""
    trail = queued_trail(at)
    for event in (CaseEvent.ANSWER, CaseEvent.COLLECT_EVIDENCE, CaseEvent.CLEAR_SCENE):
        trail.append(apply(trail, event, "officer:7", at, zone=CST))
    detail = {"liabilities": {"A": "full", "B": "none"}, "version": 1}
    trail.append(apply(trail, CaseEvent.DETERMINE, "officer:7", at, detail, zone=CST))
    return trail


def sent(case: str, template: Template) -> OutboxMessage:
    return OutboxMessage(
        id=1,
        case_id=case,
        party="A",
        phone="13800000000",
        template=template,
        params={},
        body="",
        status=OutboxStatus.SENT,
        attempts=1,
        created_at=0.0,
        sent_at=1.0,
        last_error=None,
    )


async def test_the_last_determination_notice_sent_serves_it(bench: Bench) -> None:
    at = datetime.now(CST) - timedelta(minutes=5)
    await insert_cases(bench.engine, {case_id(1): determined_trail(at)})
    async with bench.engine.begin() as conn:
        await bench.store.add_determination(
            conn, case_id(1), "N1", 1, "CODE2345", at.timestamp(), "officer:7", {}, None, None
        )

    await bench.work.message_sent(sent(case_id(1), Template.LEAVE_SCENE))  # not a notice
    assert (await bench.db.case_trail(case_id(1)))[-1].what == "determine"

    await bench.work.message_sent(sent(case_id(1), Template.DETERMINATION_ISSUED))
    served = (await bench.db.case_trail(case_id(1)))[-1]
    assert (served.what, served.who, served.detail) == (
        "notify",
        "system",
        {"version": 1, "channel": "sms"},
    )
    assert bench.doorbell.rung
    # A second report of the same notice (another worker's) changes nothing.
    await bench.work.message_sent(sent(case_id(1), Template.DETERMINATION_ISSUED))
    assert len(await bench.db.case_trail(case_id(1))) == len(determined_trail(at)) + 1
