"""GET /api/todo and GET /api/case-list (issue 12) against the real server: an officer's lists
hold their own cases only, with what each waits for; every case is a supervisor's view."""

from __future__ import annotations

from typing import Any

from sim.client import SimDriver, SimOfficer


async def test_the_lists_are_the_officers_own_and_say_what_waits(live_server: Any) -> None:
    server = live_server
    zhang = SimOfficer(server.url, server.officer_username, server.officer_password)
    other = SimOfficer(server.url, *server.extra_officers[0])
    boss = SimOfficer(server.url, server.supervisor_username, server.supervisor_password)
    driver = await SimDriver(server.url).connect()
    try:
        await zhang.connect()
        await zhang.set_available()
        ack = await driver.report(lat=45.7567, lng=126.6424, phone="13800138000")
        case_id = ack["case_id"]
        await zhang.accept((await zhang.wait_offer())["call_id"])
        status, _ = await zhang.api("POST", f"/api/cases/{case_id}/information", {})
        assert status == 409  # the form is not complete: nothing waits for a determination yet

        status, data = await zhang.api("GET", "/api/case-list")
        assert status == 200
        (row,) = data["cases"]
        assert row["id"] == case_id and row["action"] is None
        assert row["parties"] == [{"key": "A", "name": "", "plate": ""}]
        status, data = await zhang.api("GET", "/api/todo")
        assert status == 200 and data == {"items": []}

        # Another officer sees none of it, and may not ask for every case.
        assert await other.api("GET", "/api/todo") == (200, {"items": []})
        assert await other.api("GET", "/api/case-list") == (200, {"cases": []})
        status, data = await other.api("GET", "/api/case-list?scope=all")
        assert status == 403, data
        # A supervisor may.
        status, data = await boss.api("GET", "/api/case-list?scope=all")
        assert status == 200 and [c["id"] for c in data["cases"]] == [case_id]
    finally:
        await driver.close()
        for officer in (zhang, other, boss):
            await officer.close()
