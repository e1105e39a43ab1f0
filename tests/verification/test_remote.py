"""The HTTP registry: the real LocalRegistry behind real HTTP, and upstreams that misbehave."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kuaichu.verification import (
    Item,
    ItemStatus,
    LocalRegistry,
    PartyFacts,
    RemoteRegistry,
    VerificationResult,
    make_registry_app,
)

TODAY = date(2025, 6, 1)
TOKEN = "s3cret-registry-token"


def parties(people: Any) -> list[PartyFacts]:
    """One party per verdict of the fixture registry, and some bad inputs."""
    rows = [
        ("张三", people.ok, "京A·12345"),
        ("李四", people.ok, "京A12345"),
        ("李四", people.expired, "沪A·S0001"),
        ("王五", people.suspended, "沪A·S0002"),
        ("赵六", people.revoked, "沪A·S0003"),
        ("孙七", people.future, "沪A·S0004"),
        ("欧阳娜", people.long_term, "粤B·D12345"),
        ("周八", people.c1_trucker, "渝A·T0001"),
        ("吴九", people.a2_trucker, "沪A·L0001"),
        ("张三", people.ok, "沪A·N0001"),
        ("张三", people.ok, "沪A·F0001"),
        ("张三", people.ok, "京A·99999"),
        (None, None, None),
        ("张三", "12345", "not a plate"),
    ]
    return [PartyFacts(n, lic, p, TODAY) for n, lic, p in rows]


async def test_same_verdicts_as_local(local: LocalRegistry, serve: Any, people: Any) -> None:
    base = await serve(make_registry_app(local, TOKEN))
    remote = RemoteRegistry(base, timeout=3.0, token=TOKEN)
    try:
        for facts in parties(people):
            here = await local.verify(facts)
            there = await remote.verify(facts)
            assert [r.item for r in there.items] == [r.item for r in here.items]
            for a, b in zip(here.items, there.items, strict=True):
                assert (b.status, b.reason, dict(b.detail)) == (a.status, a.reason, dict(a.detail))
                assert b.source == "upstream"
            assert there.needs_decision == here.needs_decision
    finally:
        await remote.close()


async def test_health_and_refusals(local: LocalRegistry, serve: Any) -> None:
    base = await serve(make_registry_app(local, TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200 and await resp.json() == {"status": "ok", "registry": "local"}
        async with http.post(f"{base}/verify", json={"accident_date": "2025-06-01"}) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == "Bearer"
            assert (await resp.json())["code"] == "not_authenticated"
        async with http.post(f"{base}/verify", data=b"{nope", headers=auth) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == "invalid_message"
        bad_date = {"plate": "京A·12345", "accident_date": "1 June"}
        async with http.post(f"{base}/verify", json=bad_date, headers=auth) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["detail"]["field"] == "accident_date"
        async with http.post(f"{base}/verify", data=b"x" * 20_000, headers=auth) as resp:
            assert resp.status == 413


async def test_wrong_token_is_final_upstream_error(
    local: LocalRegistry, serve: Any, people: Any
) -> None:
    hits = 0

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        nonlocal hits
        hits += 1
        response: web.StreamResponse = await handler(request)
        return response

    app = make_registry_app(local, TOKEN)
    app.middlewares.append(count)
    base = await serve(app)
    remote = RemoteRegistry(base, timeout=2.0, retries=2, token="wrong", backoff=0.01)
    try:
        result = await remote.verify(PartyFacts("张三", people.ok, "京A·12345", TODAY))
    finally:
        await remote.close()
    assert {r.status for r in result.items} == {ItemStatus.UNAVAILABLE}
    assert {r.reason for r in result.items} == {"upstream_error"}
    assert result.get(Item.LICENCE).detail == {"attempts": 1, "http_status": 401}
    assert hits == 1  # a refusal is not retried


class Upstream:
    """A scripted upstream: each request takes the next behaviour of ``script`` (the last one
    repeats) and is counted."""

    def __init__(self, local: LocalRegistry, script: list[str]) -> None:
        self.local = local
        self.script = script
        self.hits = 0
        self.app = web.Application()
        self.app.router.add_post("/verify", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        what = self.script[min(self.hits, len(self.script) - 1)]
        self.hits += 1
        if what == "hang":
            await asyncio.sleep(60)
        if what.isdigit():
            return web.json_response({"code": "busy"}, status=int(what))
        if what == "garbage":
            return web.Response(text="<html>maintenance</html>", content_type="application/json")
        if what == "wrong-shape":
            return web.json_response({"items": [], "checked_at": "2025-06-01T00:00:00+00:00"})
        facts = PartyFacts.from_dict(await request.json())
        return web.json_response((await self.local.verify(facts)).to_dict())


async def run(
    local: LocalRegistry, serve: Any, script: list[str], facts: PartyFacts, **kw: Any
) -> tuple[VerificationResult, int]:
    upstream = Upstream(local, script)
    base = await serve(upstream.app)
    remote = RemoteRegistry(base, **kw)
    try:
        # A guard, not a measurement: verify must come back on its own, without raising.
        async with asyncio.timeout(10):
            result = await remote.verify(facts)
    finally:
        await remote.close()
    return result, upstream.hits


@pytest.fixture
def zhang(people: Any) -> PartyFacts:
    return PartyFacts("张三", people.ok, "京A·12345", TODAY)


async def test_hanging_upstream_is_unavailable(
    local: LocalRegistry, serve: Any, zhang: PartyFacts, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kuaichu.verification"):
        result, hits = await run(
            local, serve, ["hang"], zhang, timeout=0.3, retries=1, backoff=0.01
        )
    assert {r.status for r in result.items} == {ItemStatus.UNAVAILABLE}
    assert {r.reason for r in result.items} == {"upstream_timeout"}
    assert {r.source for r in result.items} == {"upstream"}
    assert result.needs_decision == (Item.LICENCE, Item.VEHICLE, Item.INSURANCE)
    assert hits == 2
    assert result.get(Item.VEHICLE).detail["attempts"] == 2
    # The log says what happened, but not who was checked.
    assert "attempt 1/2 failed: timeout" in caplog.text
    assert "unavailable after 2 attempt(s): upstream_timeout" in caplog.text
    for secret in (zhang.name, zhang.licence_no, zhang.plate, "12345"):
        assert secret is not None and secret not in caplog.text


async def test_500_then_200_succeeds_on_retry(
    local: LocalRegistry, serve: Any, zhang: PartyFacts
) -> None:
    result, hits = await run(local, serve, ["500", "ok"], zhang, timeout=2.0, backoff=0.01)
    assert hits == 2
    assert result.needs_decision == ()
    assert result.get(Item.INSURANCE).detail["policy_no"] == "PDZA202400000001"


async def test_5xx_until_retries_run_out(
    local: LocalRegistry, serve: Any, zhang: PartyFacts
) -> None:
    result, hits = await run(local, serve, ["503"], zhang, timeout=2.0, retries=2, backoff=0.01)
    assert hits == 3
    assert {r.reason for r in result.items} == {"upstream_error"}
    assert result.get(Item.LICENCE).detail == {"attempts": 3, "http_status": 503}


@pytest.mark.parametrize("script", [["garbage", "ok"], ["wrong-shape", "ok"]])
async def test_malformed_answer_is_upstream_error(
    local: LocalRegistry, serve: Any, zhang: PartyFacts, script: list[str]
) -> None:
    result, hits = await run(local, serve, script, zhang, timeout=2.0, backoff=0.01)
    assert hits == 1
    assert {r.status for r in result.items} == {ItemStatus.UNAVAILABLE}
    assert {r.reason for r in result.items} == {"upstream_error"}


async def test_401_is_not_retried(local: LocalRegistry, serve: Any, zhang: PartyFacts) -> None:
    result, hits = await run(local, serve, ["401", "ok"], zhang, timeout=2.0, backoff=0.01)
    assert hits == 1
    assert {r.reason for r in result.items} == {"upstream_error"}
    assert result.get(Item.INSURANCE).detail["http_status"] == 401


async def test_nobody_listening(zhang: PartyFacts) -> None:
    from socket import socket

    with socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = RemoteRegistry(f"http://127.0.0.1:{port}", timeout=1.0, retries=2, backoff=0.01)
    try:
        result = await remote.verify(zhang)
    finally:
        await remote.close()
    assert {r.reason for r in result.items} == {"upstream_error"}
    assert result.get(Item.LICENCE).detail == {"attempts": 3}


async def test_deadline_bounds_the_retries(
    local: LocalRegistry, serve: Any, zhang: PartyFacts
) -> None:
    # Five retries allowed, but the whole check may take only 1.8 s: two attempts of 1 s fit.
    # (Seconds, not tenths: on a loaded machine a 0.2 s second attempt ran out before its
    # request reached the upstream.)
    result, hits = await run(
        local, serve, ["hang"], zhang, timeout=1.0, retries=5, deadline=1.8, backoff=0.01
    )
    assert hits == 2
    assert {r.reason for r in result.items} == {"upstream_timeout"}
