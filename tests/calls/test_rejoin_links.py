"""Rejoin links (issue 12): the officer's request and the driver's tap refuse what they must,
against a real server with aiortc/socket.io clients; the links themselves work once and
expire."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kuaichu.calls.rejoin import RejoinLinks
from kuaichu.storage.casefiles import token_hash
from kuaichu.storage.db import create_schema, make_engine
from kuaichu.storage.tables import calls, cases, outbox, rejoin_links
from sim.client import SimDriver, SimOfficer
from tests.conftest import LIVE_SETTINGS
from tests.support.eventually import eventually


class _Bell:
    def ring(self) -> None:
        pass


async def test_a_link_works_once_and_not_after_it_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    await create_schema(engine)
    now = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(cases).values(id="case-1", created_at=now[0], status="in_call")
            )
            for call_id in ("call-1", "call-2"):
                await conn.execute(
                    insert(calls).values(
                        id=call_id, case_id="case-1", state="in_call", queued_at=now[0]
                    )
                )
        links = RejoinLinks(engine, _Bell(), base_url="https://x.cn", signature="", ttl=60)
        await links.send("call-1", "case-1", "13900139000")
        first = await _sent_token(engine, 1)
        await links.send("call-1", "case-1", "13900139000")
        second = await _sent_token(engine, 2)
        await links.send("call-2", "case-1", "13900139000")
        other = await _sent_token(engine, 3)
        # Only hashes are stored.
        async with engine.connect() as conn:
            stored = (await conn.execute(select(rejoin_links))).mappings().all()
        assert {r["token_hash"] for r in stored} == {token_hash(second), token_hash(other)}

        assert not await links.valid(first)  # a newer link for the same call replaced it
        assert await links.redeem(first) is None
        assert await links.valid(second)
        taps = await asyncio.gather(*(links.redeem(second) for _ in range(4)))
        assert taps.count("call-1") == 1 and taps.count(None) == 3  # once, of four at once
        assert not await links.valid(second)

        now[0] += 61
        assert not await links.valid(other)
        assert await links.redeem(other) is None  # expired
        assert await links.redeem("c" * 16) is None  # never made
        assert await links.sweep() == 2  # the spent and the expired link
        await links.send("call-2", "case-1", "13900139000")
        await links.forget("call-2")  # the call ended: its link leads nowhere
        assert await links.redeem(await _sent_token(engine, 4)) is None
    finally:
        await engine.dispose()


async def _sent_token(engine: AsyncEngine, nth: int) -> str:
    """The token in the ``nth`` rejoin SMS queued (what the driver's phone receives)."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.body).where(outbox.c.template == "rejoin").order_by(outbox.c.id)
            )
        ).all()
    match = re.search(r"/j/([A-Za-z0-9_-]+)", rows[nth - 1][0])
    assert match, rows[nth - 1][0]
    return match.group(1)


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
