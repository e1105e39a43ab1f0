"""A declared vehicle type the registry does not hold for the plate (a 大型客车 declared for a
car registered as a 小型轿车) holds "information complete" until the officer corrects the form
or records a decision on the vehicle; a decision is about the type it was made on."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import rear_end_form, report_and_answer


async def _save_b_type(officer: Any, case_id: str, vehicle_type: str) -> None:
    _, view = await officer.api("GET", f"/api/cases/{case_id}")
    form = dict(view["form"])
    form["parties"] = [dict(p) for p in form["parties"]]
    form["parties"][1]["vehicle_type"] = vehicle_type
    status, saved = await officer.api(
        "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    assert status == 200, saved


async def _information(officer: Any, case_id: str) -> tuple[int, dict[str, Any]]:
    status, body = await officer.api("POST", f"/api/cases/{case_id}/information", {})
    return int(status), body


async def _verified_case_with_b_declared(
    server: Any, parties: tuple[dict[str, str], dict[str, str]], vehicle_type: str
) -> tuple[Any, Any, str]:
    """A case whose form is complete, B declaring ``vehicle_type``, both parties checked and
    B's lapsed policy accepted: only the vehicle type can stand in the way."""
    a, b = parties
    driver, officer, ack = await report_and_answer(server, a["phone"])
    case_id = ack["case_id"]
    _, view = await officer.api("GET", f"/api/cases/{case_id}")
    form = rear_end_form(view["form"], a, b)
    form["parties"][1]["vehicle_type"] = vehicle_type
    status, saved = await officer.api(
        "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    assert status == 200, saved
    for key in ("A", "B"):
        status, body = await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": key})
        assert status == 200, body
    status, body = await officer.api(
        "POST",
        f"/api/cases/{case_id}/decisions",
        {"party": "B", "item": "insurance", "decision": "accept", "reason": "已出示新保单"},
    )
    assert status == 200, body
    return driver, officer, case_id


async def test_a_declared_type_unlike_the_registered_one_blocks_until_corrected(
    case_server: Any, parties: tuple[dict[str, str], dict[str, str]]
) -> None:
    driver, officer, case_id = await _verified_case_with_b_declared(
        case_server, parties, "large_bus"
    )
    try:
        blocker = "party B: vehicle type 大型客车 declared, 小型轿车 registered"
        status, body = await _information(officer, case_id)
        assert status == 409, body
        detail = body["error"]["detail"]
        assert detail["reason"] == "verification_pending", body
        assert detail["blockers"] == [blocker], body
        _, view = await officer.api("GET", f"/api/cases/{case_id}")
        assert view["blockers"] == [blocker]

        # The registry's type taken into the form (the panel's "use"): nothing stands in the way.
        await _save_b_type(officer, case_id, "small_car")
        status, body = await _information(officer, case_id)
        assert status == 200, body
    finally:
        await driver.close()
        await officer.close()


async def test_an_accepted_mismatch_unblocks_for_the_type_it_was_made_on(
    case_server: Any, parties: tuple[dict[str, str], dict[str, str]]
) -> None:
    driver, officer, case_id = await _verified_case_with_b_declared(
        case_server, parties, "large_bus"
    )
    try:
        status, body = await _information(officer, case_id)
        assert status == 409, body
        status, body = await officer.api(
            "POST",
            f"/api/cases/{case_id}/decisions",
            {"party": "B", "item": "vehicle", "decision": "accept", "reason": "登记信息未更新"},
        )
        assert status == 200, body
        # A re-check of the same facts (the panel checks on its own) keeps the decision.
        await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": "B"})
        _, view = await officer.api("GET", f"/api/cases/{case_id}")
        assert view["verification"]["B"]["decisions"]["vehicle"]["decision"] == "accept"
        assert view["blockers"] == [], view["blockers"]

        # Another declared type is not what was decided on.
        await _save_b_type(officer, case_id, "medium_bus")
        status, body = await _information(officer, case_id)
        assert status == 409, body
        assert body["error"]["detail"]["blockers"] == [
            "party B: vehicle type 中型客车 declared, 小型轿车 registered"
        ], body
        _, view = await officer.api("GET", f"/api/cases/{case_id}")
        assert "vehicle" not in view["verification"]["B"]["decisions"]

        await _save_b_type(officer, case_id, "large_bus")
        status, body = await _information(officer, case_id)
        assert status == 200, body
    finally:
        await driver.close()
        await officer.close()


async def test_a_vehicle_confirmed_as_declared_leaves_nothing_to_decide(
    case_server: Any, parties: tuple[dict[str, str], dict[str, str]]
) -> None:
    driver, officer, case_id = await _verified_case_with_b_declared(
        case_server, parties, "small_car"
    )
    try:
        status, body = await officer.api(
            "POST",
            f"/api/cases/{case_id}/decisions",
            {"party": "B", "item": "vehicle", "decision": "accept", "reason": "无"},
        )
        assert status == 409, body
        status, body = await _information(officer, case_id)
        assert status == 200, body
    finally:
        await driver.close()
        await officer.close()
