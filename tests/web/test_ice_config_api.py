"""/api/config with TURN configured (issue 9): who gets TURN credentials. An officer and a
driver naming its live call get them without limit; a page that names nobody gets a few per
address and is then refused (429) until the window moves on; a wrong call token is refused
(403), never treated as anonymous. Every credential handed out is the HMAC coturn checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import aiohttp

from sim.client import SimDriver, SimOfficer
from tests.conftest import ServerFactory

SECRET = "a-secret-shared-with-coturn"
ICE = "stun:127.0.0.1:3478,turn:127.0.0.1:3478?transport=udp"


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers or {}) as resp:
        return resp.status, await resp.json()


def _turn(body: dict[str, Any]) -> dict[str, Any]:
    [turn] = [s for s in body["ice_servers"] if "credential" in s]
    # What coturn's use-auth-secret recomputes: base64(HMAC-SHA1(secret, username)).
    mac = hmac.new(SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(mac).decode()
    expiry = int(turn["username"].split(":")[0])
    assert expiry == body["expires_at"] and 3500 < expiry - time.time() <= 3600
    return turn


async def test_turn_credentials_by_caller(server_factory: ServerFactory) -> None:
    server = await server_factory(ice_servers=ICE, turn_secret=SECRET, turn_ttl=3600)
    config = server.url + "/api/config"
    driver = await SimDriver(server.url).connect()
    try:
        ack = await driver.report()
        assert ack["ok"], ack
        call = {"X-Call-Id": ack["call_id"], "X-Call-Token": ack["resume_token"]}

        # Anonymous pages: up to the limit per address, then 429 with when to retry.
        for _ in range(20):
            status, body = await _get(config)
            assert status == 200 and _turn(body)["username"].endswith(":page")
            assert body["ice_servers"][0] == {"urls": ["stun:127.0.0.1:3478"]}
        status, body = await _get(config)
        assert status == 429 and body["error"]["code"] == "rate_limited"
        assert 1 <= body["error"]["detail"]["retry_after"] <= 600

        # The driver of a live call and a logged-in officer are not limited.
        for _ in range(3):
            status, body = await _get(config, call)
            assert status == 200 and _turn(body)["username"].endswith(":driver")
        officer = SimOfficer(server.url, server.officer_username, server.officer_password)
        status, body = await _get(config, {"Cookie": await officer.login()})
        assert status == 200 and ":officer" in _turn(body)["username"]

        # A token that is not the call's (or too long, or for no call) is refused.
        for headers in (
            {**call, "X-Call-Token": "A" * 32},
            {**call, "X-Call-Token": "A" * 5000},
            {**call, "X-Call-Id": "no-such-call"},
            {"X-Call-Id": ack["call_id"]},
            {"X-Call-Token": ack["resume_token"]},
        ):
            status, body = await _get(config, headers)
            assert status == 403 and body["error"]["code"] == "forbidden", headers

        # Once the call has ended its token no longer opens TURN.
        assert (await driver.hangup())["ok"]
        status, _body = await _get(config, call)
        assert status == 403
    finally:
        await driver.close()
    assert SECRET not in server.log()
