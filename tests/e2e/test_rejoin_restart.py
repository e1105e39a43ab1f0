"""A rejoin link (issue 12) outlives a server restart: the officer sent the dropped driver the
SMS, the server was stopped (SIGTERM, its drain) and started again on the same data folder,
and the link still opens once, and only once, leading the page to its case: the resume says
the call was interrupted, and the report from that page rejoins the same case."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from sim.client import SimDriver, SimOfficer
from tests.conftest import LIVE_SETTINGS
from tests.e2e.test_restart import report_again
from tests.support.eventually import eventually

SETTINGS = {**LIVE_SETTINGS, "driver_grace_seconds": 30}


async def test_a_rejoin_link_opens_once_after_a_restart(process_server_factory: Any) -> None:
    first = process_server_factory(**SETTINGS)
    officer = await SimOfficer(first.url, first.officer_username, first.officer_password).connect()
    driver = await SimDriver(first.url).connect()
    try:
        await officer.set_available()
        ack = await driver.report(phone="13900139000")
        call_id, case_id = ack["call_id"], ack["case_id"]
        await officer.accept((await officer.wait_offer())["call_id"])
        await driver.wait_state("in_call")
        await driver.sio.eio.disconnect(abort=True)  # the driver's page is gone
        await officer.wait_event("driver_link")
        status, body = await officer.api("POST", f"/api/calls/{call_id}/rejoin", {})
        assert status == 200, body
        sms = await eventually(
            lambda: first.rows("select body from outbox where template = 'rejoin'")
        )
        found = re.search(r"/j/([A-Za-z0-9_-]{16,64})", sms[0]["body"])
        assert found, sms[0]["body"]
        token = found.group(1)
        # Only the token's hash is in the database.
        assert token not in repr(first.rows("select * from rejoin_links"))
        # Stopped while the officer is still on the call (a console that left first would
        # put the call back in the queue, and a restart abandons a queued case).
        first.stop()
        assert first.proc is not None and first.proc.returncode == 0, first.log()[-3000:]
    finally:
        await officer.close()
        await driver.close()

    second = process_server_factory(data_dir=first.data_dir, **SETTINGS)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{second.url}/j/{token}") as r:
            assert r.status == 200  # the page with the "back to the call" button
            assert "data-rejoin" in await r.text()
        async with http.post(f"{second.url}/j/{token}", json={}) as r:
            assert r.status == 200, await r.text()
            target = await r.json()
        assert target["call_id"] == call_id and target["case_id"] == case_id
        # Once only: a second tap and a second look find the link spent.
        async with http.post(f"{second.url}/j/{token}", json={}) as r:
            assert r.status == 404
            assert (await r.json())["error"]["detail"]["reason"] == "rejoin_expired"
        async with http.get(f"{second.url}/j/{token}") as r:
            assert r.status == 404

    # What the page does with the answer: resume (the call was cut off by the restart), then
    # the report from the ended screen, which rejoins the same case.
    driver = SimDriver(second.url)
    driver.call_id = target["call_id"]
    driver.resume_token = target["resume_token"]
    try:
        resumed = await driver.resume()
        assert resumed["ok"] is False, resumed
        assert resumed["error"]["code"] == "call_interrupted"
        assert resumed["error"]["detail"]["case_id"] == case_id
        again = await report_again(driver)
        assert again["ok"], again
        assert again["case_id"] == case_id
    finally:
        await driver.close()
