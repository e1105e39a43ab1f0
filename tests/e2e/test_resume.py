"""A driver's connection drops on the road and comes back: the call keeps its place, or its
officer, for the grace period; a wrong token or a late return does not get it back; a dead
media connection is re-offered while the officer leg and the recording go on."""

from __future__ import annotations

from typing import Any

import av

from sim.client import PatternVideoTrack, SimDriver, SimOfficer
from tests.support.eventually import eventually


async def server_saw_the_drop(server: Any, call_id: str | None, times: int = 1) -> None:
    """Wait until the server has noticed the driver's socket is gone (it logs each one)."""
    line = f"call {call_id}: driver connection lost"
    await eventually(
        lambda: server.log().count(line) >= times,
        10,
        lambda: f"the server did not see the drop of {call_id}:\n{server.log()[-3000:]}",
    )


async def test_driver_resumes_waiting_and_in_call(server_factory: Any) -> None:
    server = await server_factory(driver_grace_seconds=8, reservation_timeout=10)
    first = await SimDriver(server.url).connect()
    second = await SimDriver(server.url).connect()
    officer = SimOfficer(server.url, server.officer_username, server.officer_password)
    try:
        await first.report()
        await second.report()
        await first.drop_connection()
        await server_saw_the_drop(server, first.call_id)
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
        await server_saw_the_drop(server, first.call_id, times=2)
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
    server = await server_factory(driver_grace_seconds=1, reservation_timeout=10)
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


async def test_driver_media_drop_is_rejoined_and_recording_continues(server_factory: Any) -> None:
    server = await server_factory(driver_grace_seconds=8, reservation_timeout=10)
    # 30 frames a second: the recording's frame count below is a phone's rate.
    driver = await SimDriver(server.url, video=PatternVideoTrack(fps=30)).connect()
    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    try:
        await officer.set_available()
        await driver.report()
        call_id = (await officer.wait_offer())["call_id"]
        await officer.accept(call_id)
        await driver.wait_state("in_call")
        await officer.wait_for(lambda: officer.frames("video") > 20)
        offers = sum(1 for ev, _ in driver.events if ev == "sdp_offer")
        # The phone's media path dies (network switch): its peer connection is gone, the
        # socket is not. New tracks, as a page re-opening the camera would have.
        driver.video = driver.audio = None
        await driver._close_pc()
        await driver.wait_for(
            lambda: sum(1 for ev, _ in driver.events if ev == "sdp_offer") > offers
        )
        await officer.wait_event("driver_media", where=lambda d: d["state"] == "reconnecting")
        await officer.wait_event("driver_media", where=lambda d: d["state"] == "connected")
        n = officer.frames("video")
        # The officer's leg was never touched: the same video element keeps playing.
        await officer.wait_for(lambda: officer.frames("video") > n + 30, timeout=15)
        await driver.wait_for(lambda: driver.frames("audio") > 25)
        assert driver.state() == "in_call"
        assert (await officer.hangup(call_id))["ok"]
    finally:
        await driver.close()
        await officer.close()
    rec = await server.wait_recording(call_id)
    with av.open(rec["path"]) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
    assert frames > 60  # one file across both driver legs, decodable throughout
