"""Issue #10, High 3, through the real server: linking names two cases, and both are
authorized. Officer B may not take officer A's live case into B's own (nor B's into A's);
nothing changes, and A keeps the case. A supervisor may link any two."""

from __future__ import annotations

from typing import Any

import aiohttp

from sim.client import SimDriver, SimOfficer
from tests.support.servers import InProcessServer

# What a link would change, one query per kind of row of a case.
QUERIES = {
    "status": "select status from cases where id = ?",
    "calls": "select id, case_id, officer_id, state from calls where case_id = ? order by id",
    "links": "select token_hash, party from party_links where case_id = ? order by 1",
    "trail": "select seq, who, what, to_state from case_audit where case_id = ? order by 1",
    "form": "select revision, data from case_files where case_id = ?",
}


def snapshot(server: InProcessServer, *case_ids: str) -> dict[tuple[str, str], Any]:
    """The rows a link would change, read from the database as an operator would."""
    return {
        (case_id, kind): [tuple(r) for r in server.rows(sql, case_id)]
        for case_id in case_ids
        for kind, sql in QUERIES.items()
    }


async def answered(officer: SimOfficer, driver: SimDriver, phone: str) -> dict[str, Any]:
    """The driver reports and this officer (the only one available) answers."""
    await officer.set_available()
    ack = await driver.report(phone=phone)
    assert ack["ok"], ack
    offer = await officer.wait_offer()
    assert offer["call_id"] == ack["call_id"]
    assert (await officer.accept(ack["call_id"]))["ok"]
    return ack


async def test_an_officer_cannot_link_another_officers_case(live_server: InProcessServer) -> None:
    url = live_server.url
    a = await SimOfficer(url, live_server.officer_username, live_server.officer_password).connect()
    b = await SimOfficer(url, *live_server.extra_officers[0]).connect()
    chief = SimOfficer(url, live_server.supervisor_username, live_server.supervisor_password)
    first, second = SimDriver(url), SimDriver(url)
    try:
        await first.connect()
        await second.connect()
        ack_w = await answered(a, first, "13800000001")  # A's live case W
        ack_y = await answered(b, second, "13800000002")  # B's live case Y
        w, y = ack_w["case_id"], ack_y["case_id"]
        before = snapshot(live_server, w, y)
        assert before[w, "status"] == [("in_call",)] and before[w, "links"]

        # B names A's case as the one to merge into B's, and the other way round.
        for target, other in ((y, w), (w, y)):
            status, body = await b.api("POST", f"/api/cases/{target}/link", {"case_id": other})
            assert status == 403, body
            assert body["error"]["code"] == "forbidden"

        # Nothing moved: W's state, call, parties, progress link and trail, and Y's form.
        assert snapshot(live_server, w, y) == before
        # A still works on W, and W's driver's progress link still shows W.
        status, view = await a.api("GET", f"/api/cases/{w}")
        assert status == 200, view
        assert view["case"]["status"] == "in_call"
        assert [c["id"] for c in view["calls"]] == [ack_w["call_id"]]
        assert [p["phone"] for p in view["form"]["parties"]] == ["13800000001"]
        async with aiohttp.ClientSession() as http:
            async with http.get(url + ack_w["progress_url"] + "/status") as r:
                assert r.status == 200
                progress = await r.json()
        assert progress["case_id"] == w and progress["party"] == "A"
        # B cannot see W either.
        status, _ = await b.api("GET", f"/api/cases/{w}")
        assert status == 403

        # A supervisor may link any two cases.
        status, body = await chief.api("POST", f"/api/cases/{y}/link", {"case_id": w})
        assert status == 200, body
        assert live_server.rows("select status from cases where id = ?", w)[0][0] == "cancelled"
    finally:
        for client in (first, second, a, b, chief):
            await client.close()
