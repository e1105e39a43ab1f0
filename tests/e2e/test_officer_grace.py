"""The officer's grace: a console that drops mid-call holds its call for a while; with the
call's officer token it takes the call back (a fresh media leg, the driver never re-queued);
without it, the call goes back to the head of the queue once the grace is over."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sim.client import SimOfficer
from tests.conftest import LIVE_SETTINGS
from tests.e2e.conftest import report_and_answer


async def test_a_dropped_console_takes_its_call_back_with_its_token(server_factory: Any) -> None:
    server = await server_factory(**{**LIVE_SETTINGS, "officer_grace_seconds": 10})
    driver, officer, ack = await report_and_answer(server, None)
    again = SimOfficer(server.url, server.officer_username, server.officer_password)
    try:
        started = await officer.wait_event("call_started")
        token = started["resume_token"]
        await officer.wait_for(lambda: officer.frames("video") > 5)
        await officer.sio.eio.disconnect(abort=True)  # the tab reloads
        held = await driver.wait_state("reconnecting")
        assert held["reason"] == "officer_lost"
        await again.connect()
        # Still busy with the call: no offer, no wrap-up, while the console is away.
        await again.wait_status("busy")
        wrong = await again.call("resume", {"call_id": ack["call_id"], "resume_token": "x" * 32})
        assert wrong["error"]["code"] == "not_found"
        again.current_call = ack["call_id"]
        ok = await again.call("resume", {"call_id": ack["call_id"], "resume_token": token})
        assert ok["ok"] and ok["case_id"] == ack["case_id"]
        await driver.wait_state("in_call")
        await again.wait_for(lambda: again.frames("video") > 10)
        # Never back in the queue: the only position the driver heard is the report's.
        assert [d["position"] for e, d in driver.events if e == "queue"] == [1]
    finally:
        for c in (driver, officer, again):
            await c.close()


async def test_a_console_that_does_not_come_back_sends_the_call_to_the_head(
    server_factory: Any,
) -> None:
    server = await server_factory(**{**LIVE_SETTINGS, "officer_grace_seconds": 1})
    driver, officer, ack = await report_and_answer(server, None)
    other = SimOfficer(server.url, *server.extra_officers[0])
    try:
        await officer.wait_for(lambda: officer.frames("video") > 5)
        await officer.sio.eio.disconnect(abort=True)
        await other.connect()
        await other.set_available()
        # Offered to someone else once the grace is over; the driver heard "reconnecting"
        # for the console that went away, and again for the re-queue.
        offer = await other.wait_offer()
        assert offer["call_id"] == ack["call_id"]
        states = [d for e, d in driver.events if e == "call_state" and d["state"] == "reconnecting"]
        assert len(states) == 2
        await other.accept(ack["call_id"])
        await driver.wait_state("in_call")
        await other.wait_for(lambda: other.frames("video") > 10)
    finally:
        for c in (driver, other, officer):
            await c.close()


async def test_both_pages_reloading_at_once_keep_the_call(server_factory: Any) -> None:
    # The console comes back while the driver's media is still gone: its leg is offered once
    # the driver's is back, and the call is not re-queued when the officer's grace runs out.
    # The grace must outlast the console's reconnection and resume: at 2 s, a machine loaded
    # by the rest of the suite took longer, and the call was (rightly) re-queued first.
    grace = 5.0
    server = await server_factory(
        **{**LIVE_SETTINGS, "officer_grace_seconds": grace, "driver_grace_seconds": 20}
    )
    driver, officer, ack = await report_and_answer(server, None)
    again = SimOfficer(server.url, server.officer_username, server.officer_password)
    try:
        token = (await officer.wait_event("call_started"))["resume_token"]
        await officer.wait_for(lambda: officer.frames("video") > 5)
        answer = driver._answer

        async def away(_offer: Any) -> None:
            """The driver's page is reloading: nobody answers."""

        driver._answer = away  # type: ignore[method-assign]
        await driver._close_pc()
        await officer.sio.eio.disconnect(abort=True)
        gone = asyncio.get_running_loop().time()
        await again.connect()
        again.current_call = ack["call_id"]
        ok = await again.call("resume", {"call_id": ack["call_id"], "resume_token": token})
        assert ok["ok"], ok
        # Past the officer's grace: the console is back, so nothing is re-queued.
        past_grace = gone + grace + 1.0 - asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await again.wait_event("sdp_offer", timeout=max(past_grace, 1.0))
        driver._answer = answer  # type: ignore[method-assign]
        assert (await driver.resume())["ok"]  # the reloaded page: the pending offer comes
        await again.wait_for(lambda: again.frames("video") > 10)
        await driver.wait_state("in_call")
        assert [d["position"] for e, d in driver.events if e == "queue"] == [1]
    finally:
        for c in (driver, officer, again):
            await c.close()
