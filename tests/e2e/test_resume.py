"""A driver's connection drops on the road and comes back: the call keeps its place, or its
officer, for the grace period; a wrong token or a late return does not get it back."""

from __future__ import annotations

import asyncio
from typing import Any

from kuaichu.simclient import SimDriver, SimOfficer


async def test_driver_resumes_waiting_and_in_call(server_factory: Any) -> None:
    server = server_factory(driver_grace_seconds=8, reservation_timeout=10)
    first = await SimDriver(server.url).connect()
    second = await SimDriver(server.url).connect()
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    try:
        await first.report()
        await second.report()
        await first.drop_connection()
        await asyncio.sleep(0.5)
        ack = await second.resume(token="x" * 32)  # someone guessing: refused
        assert ack["error"]["code"] == "not_found"
        ack = await second.resume()  # second's socket was replaced, its own token works
        assert ack["ok"] and ack["state"] == "waiting"
        seen = len(first.events)
        ack = await first.resume()
        assert ack["ok"] and ack["state"] == "waiting"
        q = await first.wait_event("queue", after=seen)
        assert q["position"] == 1
        assert q["waiting"] == 2  # nobody lost their place

        await officer.connect()
        await officer.set_available()
        offer = await officer.wait_offer()
        assert offer["call_id"] == first.call_id
        await officer.accept(first.call_id)
        await first.wait_state("in_call")
        await officer.wait_for(lambda: officer.frames("video") > 10)
        await first.drop_connection()
        await asyncio.sleep(1)
        # Media does not ride on the socket: the officer keeps seeing the driver.
        n = officer.frames("video")
        await officer.wait_for(lambda: officer.frames("video") > n + 15)
        assert (await first.resume())["state"] == "in_call"
        assert (await first.hangup())["ok"]
        await officer.wait_event("call_ended", where=lambda d: d["reason"] == "driver_hangup")
    finally:
        for c in (first, second, officer):
            await c.close()


async def test_driver_who_does_not_come_back_is_dropped(server_factory: Any) -> None:
    server = server_factory(driver_grace_seconds=1, reservation_timeout=10)
    driver = await SimDriver(server.url).connect()
    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    try:
        await officer.set_available()
        await driver.report()
        await officer.accept((await officer.wait_offer())["call_id"])
        await driver.wait_state("in_call")
        await driver.drop_connection()
        ended = await officer.wait_event("call_ended", timeout=10)
        assert ended["reason"] == "driver_lost"
        ack = await driver.resume()
        assert ack["error"]["code"] == "not_found"
    finally:
        await driver.close()
        await officer.close()
