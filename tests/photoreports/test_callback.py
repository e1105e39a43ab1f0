"""The officer working a photo report calls its driver back by video: an SMS link that opens a
call in the same case, answered over real aiortc peers; the link works once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aiohttp

from sim.client import SimDriver, SimOfficer
from tests.photoreports.test_api import PHOTOS, Driver
from tests.support.eventually import eventually


async def test_video_callback_of_a_photo_report(server_factory: Callable[..., Any]) -> None:
    server = await server_factory(wrapup_seconds=1, driver_grace_seconds=1)
    async with aiohttp.ClientSession() as http:
        page = Driver(server, http)
        status, _ = await page.report()
        assert status == 201
        for shot, make in PHOTOS.items():
            status, body = await page.put(shot, make())
            assert status == 201, body
        status, _ = await page.submit()
        assert status == 200
    case_id = page.case_id
    zhang = SimOfficer(server.url, server.officer_username, server.officer_password)
    other = SimOfficer(server.url, *server.extra_officers[0])
    callback_path = f"/api/cases/{case_id}/photo-report/callback"

    # Only the officer who took the report (or a supervisor) may call its driver back.
    status, body = await zhang.api("POST", callback_path, {})
    assert status == 403  # nobody's case yet
    status, _ = await zhang.api("POST", f"/api/cases/{case_id}/photo-report/take", {})
    assert status == 200
    status, _ = await other.api("POST", callback_path, {})
    assert status == 403
    status, body = await zhang.api("POST", callback_path, {})
    assert status == 200 and body["phone"].endswith("8000") and "*" in body["phone"]
    [sms] = server.rows(
        "select phone, body from outbox where case_id = ? and template = 'video_callback'",
        case_id,
    )
    assert sms["phone"] == "13800138000"
    match = re.search(r"/driver\?callback=([A-Za-z0-9_-]+)$", sms["body"])
    assert match, sms["body"]
    token = match.group(1)

    # The officer is in the console; the driver's page opens the link: the call is offered,
    # answered, and media flows both ways.
    await zhang.connect()
    await zhang.set_available()
    driver = await SimDriver(server.url).connect()
    stranger = await SimDriver(server.url).connect()
    try:
        ack = await driver.call("callback", {"token": token})
        assert ack["ok"] and ack["case_id"] == case_id, ack
        offer = await zhang.wait_offer()
        assert offer["case_id"] == case_id
        assert (await zhang.accept(offer["call_id"]))["ok"]
        await driver.wait_state("in_call")
        await eventually(lambda: zhang.frames("video") > 10, 20, "no video from the driver")
        # The link is spent: a second opening gets nothing.
        again = await stranger.call("callback", {"token": token})
        assert again["ok"] is False and again["error"]["code"] == "not_found", again
        bad = await stranger.call("callback", {"token": "x"})
        assert bad["ok"] is False and bad["error"]["code"] == "invalid_message", bad
        assert (await zhang.hangup())["ok"]
    finally:
        await driver.close()
        await stranger.close()
        await zhang.close()
    trail = [
        r["what"]
        for r in server.rows("select what from case_audit where case_id = ? order by seq", case_id)
    ]
    assert trail[-4:-1] == ["video_callback_sent", "video_callback_joined", "call_answered"], trail
    [call] = server.rows(
        "select officer_id, answered_at from calls where case_id = ? and state != 'photo'",
        case_id,
    )
    assert call["answered_at"] is not None


async def test_a_callback_is_offered_first_to_the_officer_who_sent_it(
    server_factory: Callable[..., Any],
) -> None:
    server = await server_factory(wrapup_seconds=1, reservation_timeout=3)
    async with aiohttp.ClientSession() as http:
        page = Driver(server, http)
        status, _ = await page.report()
        assert status == 201
        for shot, make in PHOTOS.items():
            status, body = await page.put(shot, make())
            assert status == 201, body
        status, _ = await page.submit()
        assert status == 200
    case_id = page.case_id
    zhang = SimOfficer(server.url, server.officer_username, server.officer_password)
    other = SimOfficer(server.url, *server.extra_officers[0])
    status, _ = await zhang.api("POST", f"/api/cases/{case_id}/photo-report/take", {})
    assert status == 200
    status, _ = await zhang.api("POST", f"/api/cases/{case_id}/photo-report/callback", {})
    assert status == 200
    [sms] = server.rows(
        "select body from outbox where case_id = ? and template = 'video_callback'", case_id
    )
    match = re.search(r"/driver\?callback=([A-Za-z0-9_-]+)$", sms["body"])
    assert match, sms["body"]

    # The other officer has been available longer: any other call would be theirs.
    await other.connect()
    await other.set_available()
    await zhang.connect()
    await zhang.set_available()
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.call("callback", {"token": match.group(1)})
        assert ack["ok"] and ack["case_id"] == case_id, ack
        offer = await zhang.wait_offer()
        assert offer["case_id"] == case_id
        assert not [e for e, _ in other.events if e == "call_offered"]
        # Zhang does not answer within the reservation timeout: the shared queue takes over.
        offered = await other.wait_offer()
        assert offered["call_id"] == offer["call_id"]
        assert (await other.accept(offered["call_id"]))["ok"]
        await driver.wait_state("in_call")
    finally:
        await driver.close()
        await other.close()
        await zhang.close()
    ids = {
        r["username"]: r["id"]
        for r in server.rows("select id, username from officers")
    }
    zhang_id, other_id = ids[server.officer_username], ids[server.extra_officers[0][0]]

    def offers() -> list[tuple[str, int | None]]:
        rows = server.rows(
            "select kind, officer_id from queue_events where call_id = ? order by id",
            offer["call_id"],
        )
        return [(r["kind"], r["officer_id"]) for r in rows if r["kind"].startswith("call_")]

    # The queue's event log (written a moment later) tells the same story.
    await eventually(lambda: ("call_answered", other_id) in offers(), 10, offers)
    assert offers() == [
        ("call_requeued", None),
        ("call_offered", zhang_id),
        ("call_offered", other_id),
        ("call_answered", other_id),
    ]
