"""Bad input at the socket.io edge: a clear error, nothing lost, other calls unaffected."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import socketio

from sim.client import SimDriver, SimOfficer


async def test_bad_messages_get_clear_errors_and_server_keeps_serving(live_server: Any) -> None:
    officer = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    good = await SimDriver(live_server.url).connect()
    bad = await SimDriver(live_server.url).connect()
    try:
        await officer.set_available()
        ack = await bad.call("no_such_event", {})
        assert ack["error"]["code"] == "unknown_event"
        err = await bad.wait_event("kc_error")
        assert err["event"] == "no_such_event"
        # An officer event from a driver socket is unknown there: drivers cannot accept calls.
        ack = await bad.call("accept", {"call_id": "abcdefghijkl"})
        assert ack["error"]["code"] == "unknown_event"
        ack = await bad.call("report", {"location": {"lat": 91, "lng": 0}})
        assert ack["error"]["code"] == "invalid_message" and "lat" in ack["error"]["message"]
        ack = await bad.call("report", {"location": {"lat": 1, "lng": 2}, "phone": "x" * 10})
        assert ack["error"]["code"] == "invalid_message"
        ack = await bad.call("report", {"extra": 1})
        assert ack["error"]["code"] == "invalid_message"
        ack = await bad.call("report", "not an object")
        assert ack["error"]["code"] == "invalid_message"
        ack = await bad.call(
            "report",
            {"phone": "1" * 10, "location": {"lat": 1, "lng": 2, "accuracy": 1}}
            | {"pad": "x" * 70_000},
        )
        assert ack["error"]["code"] == "message_too_large"
        # None of that queued a call for the bad client.
        ack = await bad.call("hangup", {})
        assert ack["error"]["code"] == "not_found"

        # A good call is still offered, answered and bridged.
        call_id = (await good.report())["call_id"]
        offer = await officer.wait_offer()
        assert offer["call_id"] == call_id
        await officer.accept(call_id)
        await good.wait_state("in_call")

        # Malformed SDP from the driver on a live call: refused, call stays up.
        ack = await good.call("sdp_answer", {"type": "answer", "sdp": "v=0\r\ngarbage"})
        assert ack["ok"] is False
        ack = await good.call("sdp_answer", {"type": "answer", "sdp": "hello"})
        assert ack["error"]["code"] == "invalid_message"
        n = officer.frames("video")
        await officer.wait_for(lambda: officer.frames("video") > n + 10)
        # Officer events about a call that is not theirs.
        ack = await officer.call("hangup", {"call_id": "not-a-real-call-id"})
        assert ack["error"]["code"] == "not_found"
        ack = await officer.call("accept", {"call_id": call_id})
        assert ack["error"]["code"] == "conflict"
        ack = await officer.call("set_status", {"status": "available"})
        assert ack["error"]["code"] == "conflict"  # busy on a call
    finally:
        for c in (officer, good, bad):
            await c.close()


async def test_officer_namespace_refuses_unauthenticated_sockets(live_server: Any) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    refusals: list[dict[str, Any]] = []
    sio.on("connect_error", refusals.append, namespace="/officer")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(live_server.url, namespaces=["/officer"], transports=["websocket"])
    assert refusals and refusals[0]["data"]["code"] == "not_authenticated"
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            live_server.url,
            namespaces=["/officer"],
            transports=["websocket"],
            headers={"Cookie": "kuaichu_session=forged-token"},
        )
    # An officer cannot open the supervisor wallboard.
    officer = SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    )
    cookie = await officer.login()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            live_server.url,
            namespaces=["/supervisor"],
            transports=["websocket"],
            headers={"Cookie": cookie},
        )
    if sio.connected:
        await sio.disconnect()


async def test_login_rejects_bad_passwords_and_foreign_redirects(live_server: Any) -> None:
    # unsafe=True: keep cookies for a bare IP host such as 127.0.0.1.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        r = await http.post(
            live_server.url + "/login",
            allow_redirects=False,
            data={"username": "zhang", "password": "wrong"},
        )
        assert r.status == 401 and "kuaichu_session" not in r.cookies
        r = await http.post(
            live_server.url + "/login",
            allow_redirects=False,
            data={
                "username": "zhang",
                "password": live_server.officer_password,
                "next": "https://evil.example/",
            },
        )
        assert r.status == 303 and r.headers["Location"] == "/console"
        r = await http.get(live_server.url + "/api/calls/abcdefghijkl")
        assert r.status == 404  # logged in now (cookie jar), but no such call
    async with aiohttp.ClientSession() as anon:
        r = await anon.get(live_server.url + "/api/calls/abcdefghijkl")
        assert r.status == 401
