"""The one rule of who may act on a case (CaseContext.authorize, docs/cases.md "Who may act
on a case"), and that every case an action names is checked: the link's both."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from sqlalchemy import insert, select

from kuaichu.accounts.model import Officer, Role
from kuaichu.cases.states import AuditEntry, CaseEvent, apply
from kuaichu.casework import Access
from kuaichu.errors import Forbidden, NotFound
from kuaichu.storage.tables import calls, cases, officers
from tests.casework.seed import CST, Bench, case_id, insert_cases

A = Officer(id=1, username="a", display_name="A", role=Role.OFFICER)
B = Officer(id=2, username="b", display_name="B", role=Role.OFFICER)
CHIEF = Officer(id=3, username="chief", display_name="Chief", role=Role.SUPERVISOR)
W, Y, Q = case_id(1), case_id(2), case_id(3)  # A's case, B's case, a report nobody answered


def trail(officer: Officer | None) -> list[AuditEntry]:
    at = datetime.now(CST)
    entries = [apply([], CaseEvent.REPORT, "driver", at, zone=CST)]
    entries.append(apply(entries, CaseEvent.QUEUE, "system", at, zone=CST))
    if officer is not None:
        entries.append(apply(entries, CaseEvent.ANSWER, f"officer:{officer.id}", at, zone=CST))
    return entries


@pytest.fixture
async def world(bench: Bench) -> Bench:
    held: dict[str, Officer | None] = {W: A, Y: B, Q: None}
    await insert_cases(bench.engine, {c: trail(o) for c, o in held.items()})
    async with bench.engine.begin() as conn:
        for person in (A, B, CHIEF):
            await conn.execute(
                insert(officers).values(
                    id=person.id,
                    username=person.username,
                    display_name=person.display_name,
                    password_hash="-",
                    role=person.role.value,
                    created_at=time.time(),
                )
            )
        for n, (c, o) in enumerate(held.items()):
            await conn.execute(
                insert(calls).values(
                    id=f"call{n:012d}",
                    case_id=c,
                    state="in_call" if o else "queued",
                    queued_at=time.time(),
                    officer_id=o.id if o else None,
                )
            )
    return bench


async def test_an_officer_acts_on_the_cases_they_answered(world: Bench) -> None:
    assert (await world.work.authorize(A, W))["id"] == W
    with pytest.raises(Forbidden):
        await world.work.authorize(B, W)
    with pytest.raises(Forbidden):
        await world.work.authorize(A, Q)  # nobody's yet is not anybody's to work on
    for case in (W, Y, Q):
        assert (await world.work.authorize(CHIEF, case))["id"] == case


async def test_every_case_named_is_checked_and_a_missing_one_is_404(world: Bench) -> None:
    with pytest.raises(Forbidden):
        await world.work.authorize(A, W, Y, action=Access.LINK)
    with pytest.raises(NotFound):
        await world.work.authorize(A, W, case_id(99), action=Access.LINK)
    with pytest.raises(NotFound):
        await world.work.authorize(CHIEF, case_id(99))


async def test_a_link_needs_both_cases(world: Bench) -> None:
    # The IDOR of issue #10: B takes A's live case into B's own, or gives B's to A's.
    for into, other in ((Y, W), (W, Y)):
        with pytest.raises(Forbidden):
            await world.work.link(B, into, other)
    async with world.engine.connect() as conn:
        status = dict((await conn.execute(select(cases.c.id, cases.c.status))).all())
        moved = (await conn.execute(select(calls.c.case_id).where(calls.c.officer_id == 1))).all()
    assert status == {W: "in_call", Y: "in_call", Q: "queued"}
    assert moved == [(W,)]
    assert world.live.relinked == []
    # A report nobody answered yet may be linked by the officer holding the other case.
    assert (await world.work.link(A, W, Q))["linked"] == Q
    # A supervisor may link any two.
    assert (await world.work.link(CHIEF, Y, W))["linked"] == W


async def test_only_a_supervisor_decides_a_review(world: Bench) -> None:
    with pytest.raises(Forbidden, match="supervisor"):
        await world.work.decide_review(A, W, "upheld", "checked")
