"""A declared vehicle type the registry does not hold for the plate (a 大型客车 declared for a
car registered as a 小型轿车) holds "information complete" until the officer corrects the form
or records a decision on the vehicle; a decision is about the type it was made on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.conftest import PARTY_A, fill_and_verify, report_and_answer


@pytest.fixture
async def checked_case(case_server: Any) -> AsyncIterator[tuple[Any, str]]:
    """The officer and a case whose form is complete (both parties declaring a 小型轿车, as
    registered), both parties checked and B's lapsed policy accepted."""
    driver, officer, ack = await report_and_answer(case_server, PARTY_A["phone"])
    try:
        await fill_and_verify(officer, ack["case_id"])
        yield officer, ack["case_id"]
    finally:
        await driver.close()
        await officer.close()


async def declare_b(officer: Any, case_id: str, vehicle_type: str) -> None:
    """B's declared type changed in the form (the checks stay current: the registry is
    asked about the name, the licence and the plate)."""
    _, view = await officer.api("GET", f"/api/cases/{case_id}")
    form = dict(view["form"])
    form["parties"] = [dict(p) for p in form["parties"]]
    form["parties"][1]["vehicle_type"] = vehicle_type
    status, saved = await officer.api(
        "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    assert status == 200, saved


async def information(
    officer: Any, case_id: str, b_declares: str | None = None
) -> tuple[int, dict[str, Any]]:
    """The officer fixes the information (信息采集完成), B declaring ``b_declares`` first."""
    if b_declares is not None:
        await declare_b(officer, case_id, b_declares)
    status, body = await officer.api("POST", f"/api/cases/{case_id}/information", {})
    return int(status), body


async def decide_vehicle(officer: Any, case_id: str, reason: str) -> tuple[int, dict[str, Any]]:
    body = {"party": "B", "item": "vehicle", "decision": "accept", "reason": reason}
    status, answer = await officer.api("POST", f"/api/cases/{case_id}/decisions", body)
    return int(status), answer


async def test_a_declared_type_unlike_the_registered_one_blocks_until_corrected(
    checked_case: tuple[Any, str],
) -> None:
    officer, case_id = checked_case
    blocker = "party B: vehicle type 大型客车 declared, 小型轿车 registered"
    status, body = await information(officer, case_id, b_declares="large_bus")
    assert status == 409, body
    detail = body["error"]["detail"]
    assert detail["reason"] == "verification_pending", body
    assert detail["blockers"] == [blocker], body
    _, view = await officer.api("GET", f"/api/cases/{case_id}")
    assert view["blockers"] == [blocker]

    # The registry's type taken into the form (the panel's "use"): nothing stands in the way.
    status, body = await information(officer, case_id, b_declares="small_car")
    assert status == 200, body


async def test_an_accepted_mismatch_unblocks_for_the_type_it_was_made_on(
    checked_case: tuple[Any, str],
) -> None:
    officer, case_id = checked_case
    status, body = await information(officer, case_id, b_declares="large_bus")
    assert status == 409, body
    status, body = await decide_vehicle(officer, case_id, "登记信息未更新")
    assert status == 200, body
    # A re-check of the same facts (the panel checks on its own) keeps the decision.
    await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": "B"})
    _, view = await officer.api("GET", f"/api/cases/{case_id}")
    assert view["verification"]["B"]["decisions"]["vehicle"]["decision"] == "accept"
    assert view["blockers"] == [], view["blockers"]

    # Another declared type is not what was decided on.
    status, body = await information(officer, case_id, b_declares="medium_bus")
    assert status == 409, body
    assert body["error"]["detail"]["blockers"] == [
        "party B: vehicle type 中型客车 declared, 小型轿车 registered"
    ], body
    _, view = await officer.api("GET", f"/api/cases/{case_id}")
    assert "vehicle" not in view["verification"]["B"]["decisions"]

    status, body = await information(officer, case_id, b_declares="large_bus")
    assert status == 200, body


async def test_a_vehicle_confirmed_as_declared_leaves_nothing_to_decide(
    checked_case: tuple[Any, str],
) -> None:
    officer, case_id = checked_case
    status, body = await decide_vehicle(officer, case_id, "无")
    assert status == 409, body
    status, body = await information(officer, case_id)
    assert status == 200, body
