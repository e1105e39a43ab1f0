"""Rejoin links (issue 12): the officer's request and the driver's tap refuse what they must,
against a real server with aiortc/socket.io clients; the links themselves work once and
expire."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from kuaichu.calls.rejoin import RejoinLinks, RejoinTicket
from kuaichu.storage.casefiles import token_hash
from sim.client import SimDriver, SimOfficer
from tests.conftest import LIVE_SETTINGS
from tests.support.eventually import eventually


class _Bell:
    def ring(self) -> None:
        pass


def test_a_link_works_once_and_not_after_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two links as send() keeps them (by hash), without the database send() writes the SMS to.
    links = RejoinLinks(None, _Bell(), base_url="https://x.cn", signature="", ttl=60)  # type: ignore[arg-type]
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    links._tickets[token_hash("a" * 16)] = RejoinTicket("call-1", now[0] + 60)
    links._tickets[token_hash("b" * 16)] = RejoinTicket("call-2", now[0] + 60)
    assert links.valid("a" * 16)
    assert links.redeem("a" * 16) == "call-1"
    assert links.redeem("a" * 16) is None  # once
    now[0] += 61
    assert not links.valid("b" * 16)
    assert links.redeem("b" * 16) is None  # expired
    assert links.redeem("c" * 16) is None  # never made


async def test_the_rejoin_routes_refuse_what_they_must(server_factory: Any) -> None:
    server = await server_factory(**{**LIVE_SETTINGS, "driver_grace_seconds": 30})
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    other = SimOfficer(server.url, *server.extra_officers[0])
    await officer.connect()
    driver = await SimDriver(server.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report(phone="+86 139-0013-9000")
        call_id = ack["call_id"]
        await officer.accept((await officer.wait_offer())["call_id"])
        await driver.wait_state("in_call")
        path = f"/api/calls/{call_id}/rejoin"

        # Nobody without a session; not another officer; not while the driver is connected.
        async with aiohttp.ClientSession() as http, http.post(server.url + path, json={}) as r:
            assert r.status == 401
        status, body = await other.api("POST", path, {})
        assert status == 404, body
        status, body = await officer.api("POST", path, {})
        assert status == 409 and body["error"]["detail"]["reason"] == "driver_connected"
        status, body = await officer.api("POST", "/api/calls/not a call id/rejoin", {})
        assert status == 404
        status, body = await officer.api("POST", path, {"to": "13800000000"})
        assert status == 400  # no fields: the number is the one the driver gave

        await driver.sio.eio.disconnect(abort=True)  # the page is gone
        await officer.wait_event("driver_link")
        status, body = await officer.api("POST", path, {})
        assert status == 200 and body["sent_to"] == "139****9000", body
        rows = await eventually(
            lambda: server.rows("select phone from outbox where template = 'rejoin'")
        )
        assert rows[0]["phone"] == "13900139000"

        # The tap: nothing but a live link, and only as JSON.
        async with aiohttp.ClientSession() as http:
            for token in ("short", "x" * 20, "y" * 65):
                async with http.post(f"{server.url}/j/{token}", json={}) as r:
                    assert r.status == 404
            async with http.get(f"{server.url}/j/{'x' * 20}") as r:
                assert r.status == 404
            async with http.post(f"{server.url}/j/{'x' * 20}", data="call_id=1") as r:
                assert r.status in (400, 404)
    finally:
        for c in (driver, officer, other):
            await c.close()
