"""Failed legal notices through the real server and a real HTTP gateway: a gateway that
refuses a message (4xx) fails it for good, but a legal notice is never dropped silently: it
waits on the failed notices list (supervisors, and the officer of the case) until someone
resends it as a new outbox row with an audit entry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from sim.client import SimDriver, SimOfficer
from tests.e2e.conftest import PARTY_A, PARTY_B, seed_registry
from tests.support.eventually import eventually
from tests.support.servers import SUPERVISOR, extra_officer, free_port


class Gateway:
    """An SMS gateway whose answer the test switches (400: refused, 200: accepted)."""

    def __init__(self) -> None:
        self.status = 400
        self.port = free_port()
        self.received: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(json.loads(await request.read()))
        if self.status >= 300:
            return web.json_response({"error": "number refused"}, status=self.status)
        return web.json_response({"id": f"gw-{len(self.received)}"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/sms", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    await gw.start()
    yield gw
    assert gw.runner is not None
    await gw.runner.cleanup()


async def _login(server: Any, username: str, password: str) -> SimOfficer:
    return await SimOfficer(server.url, username, password).connect()


async def _to_scene_cleared(officer: SimOfficer, case_id: str) -> None:
    status, view = await officer.api("GET", f"/api/cases/{case_id}")
    assert status == 200, view
    form = dict(view["form"])
    form.update(address="红军街15号", description="追尾")
    form["parties"] = [
        {
            **{k: PARTY_A[k] for k in ("name", "phone", "licence_no", "plate")},
            "key": "A",
            "reporter": True,
            "vehicle_type": "small_car",
            "liability": "full",
            "fault": "未保持安全距离",
        },
        {
            **{k: PARTY_B[k] for k in ("name", "phone", "licence_no", "plate")},
            "key": "B",
            "vehicle_type": "small_car",
            "liability": "none",
        },
    ]
    status, body = await officer.api(
        "PUT", f"/api/cases/{case_id}/form", {"revision": view["revision"], "form": form}
    )
    assert status == 200, body
    for key in ("A", "B"):
        status, body = await officer.api("POST", f"/api/cases/{case_id}/verify", {"party": key})
        assert status == 200, body
    status, body = await officer.api(
        "POST",
        f"/api/cases/{case_id}/decisions",
        {"party": "B", "item": "insurance", "decision": "accept", "reason": "出示了新保单"},
    )
    assert status == 200, body
    for step in ("information", "leave-scene"):
        status, body = await officer.api("POST", f"/api/cases/{case_id}/{step}", {})
        assert status in (200, 201), (step, body)


async def test_a_refused_legal_notice_waits_on_the_list_and_is_resent(
    server_factory: Any, gateway: Gateway, tmp_path: Path
) -> None:
    server = await server_factory(sms_gateway_url=gateway.url)
    await seed_registry(server.data_dir, tmp_path)
    officer = await _login(server, server.officer_username, server.officer_password)
    supervisor = await _login(server, SUPERVISOR[0], SUPERVISOR[1])
    other = await _login(server, *extra_officer(2)[:2])
    driver = await SimDriver(server.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report(lat=45.7567, lng=126.6424, phone=PARTY_A["phone"])
        assert ack["ok"], ack
        offer = await officer.wait_offer()
        assert (await officer.accept(offer["call_id"]))["ok"]
        case_id = ack["case_id"]
        await _to_scene_cleared(officer, case_id)

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
        assert sum(1 for r in gateway.received if "撤离现场" in r["text"]) == 2

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
