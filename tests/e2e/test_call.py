"""A whole call through the real server: aiortc driver and officer clients over loopback,
the real socket.io protocol, and the recording decoded with PyAV afterwards."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import av
import pytest

from sim.client import PatternVideoTrack, SimDriver, SimOfficer
from tests.support.eventually import eventually


async def answered_call(server: Any) -> tuple[SimDriver, SimOfficer, str]:
    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    await officer.set_available()
    # A full-size picture here (the other scenarios' default is a small one): the officer
    # must receive the driver's own size.
    driver = await SimDriver(server.url, video=PatternVideoTrack(640, 480, 30)).connect()
    ack = await driver.report(lat=45.7567, lng=126.6424, phone="13800138000")
    assert ack["ok"], ack
    offer = await officer.wait_offer()
    assert offer["call_id"] == ack["call_id"]
    assert offer["location"]["lat"] == pytest.approx(45.7567)
    assert (await officer.accept(offer["call_id"]))["ok"]
    await driver.wait_state("in_call")
    return driver, officer, ack["call_id"]


async def test_call_is_bridged_both_ways_and_recorded(live_server: Any) -> None:
    driver, officer, call_id = await answered_call(live_server)
    try:
        await officer.wait_for(lambda: officer.frames("video") >= 30, timeout=15)
        await officer.wait_for(lambda: officer.frames("audio") >= 50, timeout=15)
        await driver.wait_for(lambda: driver.frames("audio") >= 50, timeout=15)
        assert officer.sinks["video"].last_size == (640, 480)
        delay = officer.first_video_delay()
        assert delay is not None
        await asyncio.sleep(4)
        frames_before = officer.frames("video")
        await asyncio.sleep(1)
        assert officer.frames("video") > frames_before  # still flowing, not a burst
        assert isinstance(driver.video, PatternVideoTrack)
        assert (await officer.hangup(call_id))["ok"]
        sent = driver.video.frames
        ended = await driver.wait_state("ended")
        assert ended["reason"] == "officer_hangup"
        await officer.wait_status("wrapup")
    finally:
        await driver.close()
        await officer.close()

    rec = await live_server.wait_recording(call_id)
    path = Path(rec["path"])
    assert path.is_file() and path.parent.parent == live_server.data_dir / "recordings"

    assert hashlib.sha256(path.read_bytes()).hexdigest() == rec["sha256"]
    with av.open(str(path)) as container:
        kinds = sorted(s.type for s in container.streams)
        assert kinds == ["audio", "audio", "video"]
        video = container.streams.video[0]
        decoded = 0
        last_pts = 0.0
        for frame in container.decode(video):
            decoded += 1
            last_pts = float(frame.pts * frame.time_base)
        assert decoded > 60
    with av.open(str(path)) as container:
        # Driver audio and officer audio are both there, and they decode.
        for stream in container.streams.audio:
            samples = sum(f.samples for f in container.decode(stream))
            assert samples > 48_000 * 3, (stream.index, samples)
            container.seek(0)
    # The recording covers the answered call: within a second of what both sides saw.
    call_row = live_server.rows("select * from calls where id = ?", call_id)[0]
    answered_span = call_row["ended_at"] - call_row["answered_at"]
    assert abs(rec["duration_s"] - answered_span) < 1.0, (rec["duration_s"], answered_span)
    # And its video runs to the end of what the driver sent. The driver's frames are stamped
    # at 30 fps from its first; on a loaded machine its encoder falls behind the wall clock
    # (5.4 s of video in a 6.5 s answered span, 2026-12-03), so the measure is the frames
    # sent, not the span.
    assert last_pts > (sent - 1) / 30 - 1.0, (last_pts, sent)
    assert call_row["officer_id"] is not None and call_row["lat"] == pytest.approx(45.7567)
    assert json.loads(rec["streams"])[0].startswith("video:")


async def test_officer_disappears_mid_call_and_call_returns_to_head(live_server: Any) -> None:
    driver, officer, call_id = await answered_call(live_server)
    waiting = await SimDriver(live_server.url).connect()
    other = SimOfficer(live_server.url, *live_server.extra_officers[0])
    try:
        await waiting.report()
        await officer.wait_for(lambda: officer.frames("video") > 5)
        await officer.sio.eio.disconnect(abort=True)  # the browser vanished
        state = await driver.wait_state("reconnecting")
        assert state["reason"] == "officer_lost"
        await other.connect()
        await other.set_available()
        offer = await other.wait_offer()
        assert offer["call_id"] == call_id  # the dropped call went back ahead of the other
        await other.accept(call_id)
        await driver.wait_state("in_call", timeout=15)
        await other.wait_for(lambda: other.frames("video") > 10, timeout=15)
        q = waiting.last_queue()
        assert q is not None and q["position"] == 1
    finally:
        for c in (driver, waiting, other, officer):
            await c.close()


async def test_abandon_while_waiting_is_counted(live_server: Any) -> None:
    first = await SimDriver(live_server.url).connect()
    second = await SimDriver(live_server.url).connect()
    try:
        a = await first.report()
        await second.report()
        q = await second.wait_event("queue", where=lambda d: d["position"] == 2)
        assert q["waiting"] == 2 and q["estimated_wait_s"] > 0
        assert (await first.hangup())["ok"]
        q = await second.wait_event("queue", where=lambda d: d["position"] == 1)
        assert q["waiting"] == 1
    finally:
        await first.close()
        await second.close()
    row = live_server.rows("select state, end_reason from calls where id = ?", a["call_id"])[0]
    assert (row["state"], row["end_reason"]) == ("ended", "abandoned")

    # The second driver vanished while waiting: abandoned once the 1 s grace is over.
    def abandoned() -> int:
        kinds = [r["kind"] for r in live_server.rows("select kind from queue_events")]
        return kinds.count("call_abandoned")

    await eventually(lambda: abandoned() == 2, 5, lambda: f"{abandoned()} calls abandoned, not 2")


async def test_decline_and_timeout_reoffer_without_losing_place(server_factory: Any) -> None:
    server = await server_factory(reservation_timeout=1.5, wrapup_seconds=2, decline_cooldown=30)
    a = await SimOfficer(server.url, server.officer_username, server.officer_password).connect()
    b = SimOfficer(server.url, *server.extra_officers[0])
    d1 = await SimDriver(server.url).connect()
    d2 = await SimDriver(server.url).connect()
    try:
        await a.set_available()
        c1 = (await d1.report())["call_id"]
        c2 = (await d2.report())["call_id"]
        offer = await a.wait_offer()
        assert offer["call_id"] == c1
        n = len(a.events)
        seen = len(d1.events)
        assert (await a.decline(c1))["ok"]
        offer = await a.wait_offer(after=n)
        assert offer["call_id"] == c2  # a declined c1, so gets the next one
        # Nobody answers c2: the offer times out and a goes on break.
        await a.wait_event("offer_withdrawn", where=lambda d: d["reason"] == "timeout")
        await a.wait_status("break")
        # d1 is told no other place after the decline (the server sends nothing when a
        # position does not change); what proves the place is the next offer below.
        assert all(d["position"] == 1 for ev, d in d1.events[seen:] if ev == "queue")
        await b.connect()
        await b.set_available()
        offer = await b.wait_offer()
        assert offer["call_id"] == c1  # c1 kept its place at the head
    finally:
        for c in (a, b, d1, d2):
            await c.close()
