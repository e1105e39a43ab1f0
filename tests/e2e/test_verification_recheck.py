"""An officer's decision on what the registry did not confirm survives a second check of the
same facts (the console checks on its own; two consoles may be open on one case), and does not
survive a change of the facts it was made on."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import fill_and_verify, report_and_answer


async def test_a_decision_outlives_a_recheck_of_the_same_facts_only(
    case_server: Any, parties: tuple[dict[str, str], dict[str, str]]
) -> None:
    a, b = parties
    driver, officer, ack = await report_and_answer(case_server, a["phone"])
    case_id = ack["case_id"]
    try:
        await fill_and_verify(officer, case_id)  # B's lapsed policy accepted
        # The same facts checked again (another console, the panel's own check): the registry
        # answers the same, and the decision stands.
        await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": "B"})
        _, view = await officer.api("GET", f"/api/cases/{case_id}")
        decided = view["verification"]["B"]["decisions"]
        assert decided["insurance"]["decision"] == "accept", view["verification"]["B"]

        # Another plate for B, checked: the decision was about another car and no longer holds.
        form = dict(view["form"])
        form["parties"] = [dict(p) for p in form["parties"]]
        form["parties"][1]["plate"] = "黑A·99999"
        status, saved = await officer.api(
            "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 200, saved
        await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": "B"})
        _, view = await officer.api("GET", f"/api/cases/{case_id}")
        assert view["verification"]["B"]["decisions"] == {}
        status, body = await officer.api("POST", f"/api/cases/{case_id}/information", {})
        assert status == 409, body
        assert body["error"]["detail"]["reason"] == "verification_pending", body

        # Back to the plate the decision was made on: it holds again, information completes.
        form = dict(view["form"])
        form["parties"] = [dict(p) for p in form["parties"]]
        form["parties"][1]["plate"] = b["plate"]
        status, saved = await officer.api(
            "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
        )
        assert status == 200, saved
        await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": "B"})
        status, body = await officer.api("POST", f"/api/cases/{case_id}/information", {})
        assert status == 200, body
    finally:
        await driver.close()
        await officer.close()
