"""CaseWork built complete from its constructor: the step verbs reach the live pages and the
notifier's doorbell, and the call centre's reads go through the façade."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kuaichu.accounts.model import Officer, Role
from kuaichu.cases.states import AuditEntry, CaseEvent, CaseState, apply
from kuaichu.errors import Conflict, Forbidden
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
        (case_id(1), "case_status", {"case_id": case_id(1), "status": CaseState.CANCELLED})
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
