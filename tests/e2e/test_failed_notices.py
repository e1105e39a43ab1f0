"""Failed legal notices through the real server and a real HTTP gateway: a gateway that
refuses a message (4xx) fails it for good, but a legal notice is never dropped silently: it
waits on the failed notices list (supervisors, and the officer of the case) until someone
resends it as a new outbox row with an audit entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sim.client import SimOfficer
from tests.e2e.conftest import PARTY_A, fill_and_verify, report_and_answer, seed_registry
from tests.notify.conftest import Gateway
from tests.support.eventually import eventually
from tests.support.servers import SUPERVISOR, extra_officer, free_port


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    """A real HTTP gateway that refuses every message until the test says otherwise."""
    gw = Gateway(port=free_port(), status=400)
    await gw.start()
    yield gw
    await gw.stop()


async def _login(server: Any, username: str, password: str) -> SimOfficer:
    return await SimOfficer(server.url, username, password).connect()


async def test_a_refused_legal_notice_waits_on_the_list_and_is_resent(
    server_factory: Any, gateway: Gateway, tmp_path: Path
) -> None:
    server = await server_factory(sms_gateway_url=gateway.url)
    await seed_registry(server.data_dir, tmp_path)
    supervisor = await _login(server, SUPERVISOR[0], SUPERVISOR[1])
    other = await _login(server, *extra_officer(2)[:2])
    driver, officer, ack = await report_and_answer(server, PARTY_A["phone"])
    try:
        case_id = ack["case_id"]
        await fill_and_verify(officer, case_id)
        for step in ("information", "leave-scene"):
            status, body = await officer.api("POST", f"/api/cases/{case_id}/{step}", {})
            assert status == 200, (step, body)

        def failed_leave() -> list[Any]:
            return list(
                server.rows(
                    "select id, party from outbox where case_id = ? and template = 'leave_scene'"
                    " and status = 'failed'",
                    case_id,
                )
            )

        await eventually(lambda: len(failed_leave()) == 2, 15, "leave-scene SMS not failed")
        # Refused once, never retried: a 400 is about the message.
        assert sum(1 for r in gateway.requests if "撤离现场" in r["text"]) == 2

        status, body = await supervisor.api("GET", "/api/notices/failed")
        assert status == 200, body
        legal = [n for n in body["notices"] if n["template"] == "leave_scene"]
        assert {n["party"] for n in legal} == {"A", "B"}
        assert all(n["legal"] and n["needs_attention"] and n["resendable"] for n in legal)
        assert all("HTTP 400" in n["last_error"] for n in legal)
        assert all("*" in n["phone"] for n in legal)
        # The officer of the case sees them; another officer sees none and cannot resend.
        status, mine = await officer.api("GET", "/api/notices/failed")
        assert {n["id"] for n in mine["notices"]} == {n["id"] for n in body["notices"]}
        status, theirs = await other.api("GET", "/api/notices/failed")
        assert theirs["notices"] == []
        target = next(n for n in legal if n["party"] == "B")
        status, refused = await other.api("POST", f"/api/notices/{target['id']}/resend", {})
        assert status == 403, refused
        # The case page shows the failed messages with their status.
        status, view = await officer.api("GET", f"/api/cases/{case_id}")
        shown = {m["id"]: m for m in view["messages"]}
        assert shown[target["id"]]["status"] == "failed"
        assert shown[target["id"]]["needs_attention"] is True

        gateway.status = 200
        status, resent = await supervisor.api("POST", f"/api/notices/{target['id']}/resend", {})
        assert status == 201, resent
        assert resent["resent"] == target["id"] and resent["id"] != target["id"]
        await eventually(
            lambda: (
                server.rows("select status from outbox where id = ?", resent["id"])[0][0] == "sent"
            ),
            15,
            "the resent notice was not sent",
        )
        # Resent once only; the list lets it go; the trail says who resent what.
        status, again = await supervisor.api("POST", f"/api/notices/{target['id']}/resend", {})
        assert status == 409, again
        status, body = await supervisor.api("GET", "/api/notices/failed")
        assert target["id"] not in {n["id"] for n in body["notices"]}
        status, view = await officer.api("GET", f"/api/cases/{case_id}")
        entry = [e for e in view["trail"] if e["what"] == "notice_resent"]
        assert len(entry) == 1 and entry[0]["detail"]["message"] == target["id"]
        assert {m["id"]: m for m in view["messages"]}[target["id"]]["resent_as"] == resent["id"]
    finally:
        await driver.close()
        for o in (officer, supervisor, other):
            await o.close()
