"""Webhooks end to end: a real server delivers to a small aiohttp receiver in the test, which
checks each request the way the README tells an insurer to (HMAC-SHA256 over
"<t>.<body>" with its secret, a fresh timestamp, each event id processed once).

The events come from the real steps: the determination issued through CaseWork ("case
ready"), the claim status recorded through the open API ("status changed"). Retries are
made fast with the settings (--webhook-retry-seconds), not by faking time."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kuaichu.appkeys import (
    api_keys_key,
    casework_key,
    db_key,
    insurer_desk_key,
    webhooks_key,
)
from kuaichu.casework import PartyLink
from tests.api.cases import cleared_case, determined_case, id_number, party, supervisor
from tests.casework.seed import CST, case_id
from tests.conftest import ServerFactory
from tests.support.eventually import eventually
from tests.support.servers import InProcessServer, free_port, start_in_process

ROOT = Path(__file__).resolve().parents[2]


def readme_receiver() -> Any:
    """The receiver's ``accept`` exactly as the README documents it (run, not copied), with
    its own set of processed ids."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"A receiver:\n\n```python\n(.*?)```", text, re.S)
    assert found, "the README's webhook receiver snippet is missing"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), "README.md", "exec"), namespace)
    return namespace["accept"]


FAST = {
    "webhook_retry_seconds": 0.2,
    "webhook_retry_max_seconds": 1.0,
    "webhook_poll_seconds": 0.2,
    "webhook_timeout": 5.0,
}
SECRET = "whsec_test_0123456789abcdef"
A = dict(licence=id_number("31010119850505123"), phone="13700000001", liability="full")
B = dict(licence=id_number("31010119860606234"), phone="13700000002", liability="none")


def parties(n: int) -> list[dict[str, Any]]:
    return [
        party("A", "周一", f"沪A·{n:05d}", "平安产险", **A),
        party("B", "吴二", f"沪B·{n:05d}", "人保财险", **B),
    ]


@dataclass
class Receiver:
    """An insurer's endpoint running the README's snippet: verify, then dedupe."""

    secret: str
    accept: Any = field(default_factory=readme_receiver)
    fail_next: int = 0  # answer 500 to this many requests first
    requests: list[dict[str, Any]] = field(default_factory=list)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    def verify(self, header: str, body: bytes) -> bool:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        expected = hmac.new(
            self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - timestamp) < 300

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        event_id = request.headers.get("Kuaichu-Event-Id", "")
        signed = self.verify(request.headers.get("Kuaichu-Signature", ""), body)
        self.requests.append({"event_id": event_id, "signed": signed, "body": body})
        if self.fail_next > 0:  # down for now: not stored, so not marked seen either
            self.fail_next -= 1
            return web.Response(status=500)
        try:
            new = self.accept(self.secret, dict(request.headers), body)
        except PermissionError:
            return web.Response(status=401)
        if new:
            self.processed[event_id] = json.loads(body)
        else:
            self.duplicates.append(event_id)  # already stored: acknowledge, do nothing
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        self.port = self.port or free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(SECRET)
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


def rows(server: InProcessServer, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in server.rows(sql, *args)]


@dataclass
class ReplayingReceiver(Receiver):
    """Runs ``on_first(event_id)`` when the first request arrives, before answering it."""

    on_first: Any = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.on_first is not None:
            hook, self.on_first = self.on_first, None
            await hook(request.headers.get("Kuaichu-Event-Id", ""))
        return await super().handle(request)


async def test_a_replay_while_the_event_is_on_its_way_still_goes_out(
    server_factory: ServerFactory,
) -> None:
    # The admin replays the event while its first try is on the wire: the replay must go out
    # after it (the try's "sent" must not overwrite the replay's "due again").
    server = await server_factory(**FAST)
    app = server.app
    assert app is not None
    receiver = ReplayingReceiver(SECRET)

    async def replay(event_id: str) -> None:
        await app[webhooks_key].replay(event_id)

    receiver.on_first = replay
    await receiver.start()
    try:
        await app[webhooks_key].configure("picc", receiver.url, SECRET)
        await determined_case(app, case_id(9107), parties(7))
        await eventually(
            lambda: len(receiver.processed) == 1 and len(receiver.duplicates) == 1,
            15,
            lambda: f"processed {list(receiver.processed)}, duplicates {receiver.duplicates}",
        )
    finally:
        await receiver.stop()


async def test_case_ready_arrives_signed_after_two_failures_and_a_replay_is_ignored(
    server_factory: ServerFactory, receiver: Receiver
) -> None:
    server = await server_factory(**FAST)
    app = server.app
    assert app is not None
    await app[webhooks_key].configure("picc", receiver.url, SECRET)
    receiver.fail_next = 2
    case = case_id(9101)
    await determined_case(app, case, parties(1))

    await eventually(lambda: len(receiver.processed) == 1, 20, lambda: str(receiver.requests))
    (event_id, event), = receiver.processed.items()
    assert event["type"] == "case_ready" and event["case_id"] == case
    assert event["insurer"] == "picc" and event["id"] == event_id
    assert event["data"]["reason"] == "determination_issued"
    assert event["data"]["policyholders"] == ["B"] and event["data"]["version"] == 1
    # Three tries of the same event, each signed; the first two answered 500.
    assert [r["event_id"] for r in receiver.requests] == [event_id] * 3
    assert all(r["signed"] for r in receiver.requests)
    assert len({r["body"] for r in receiver.requests}) == 1  # the same body every time

    def log() -> list[tuple[int, int]]:
        return [
            (r["attempt"], r["http_status"])
            for r in rows(
                server,
                "select a.attempt, a.http_status from webhook_attempts a join webhook_events e "
                "on e.id = a.event where e.event_id = ? order by a.id",
                event_id,
            )
        ]

    # The log row of a try is written once its answer is in: after the receiver stored it.
    await eventually(lambda: len(log()) == 3, 10, lambda: str(log()))
    assert log() == [(1, 500), (2, 500), (3, 204)]
    # Only PICC has a webhook: Ping An (A's insurer) gets no event row.
    assert [r["insurer"] for r in rows(server, "select insurer from webhook_events")] == ["picc"]

    # The admin replays it: the receiver gets the same id again and ignores it.
    await app[webhooks_key].replay(event_id)
    await eventually(lambda: receiver.duplicates == [event_id], 10, lambda: str(receiver.requests))
    assert len(receiver.processed) == 1
    await eventually(
        lambda: [(r["status"], r["replays"]) for r in rows(server, "select * from webhook_events")]
        == [("sent", 1)],
        10,
        "the replay was not marked sent",
    )

    # The README's check refuses a forged request (wrong secret) and a stale one.
    body = b'{"id":"ev_forged"}'
    now = int(time.time())
    forged = hmac.new(b"not the secret", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    stale = hmac.new(SECRET.encode(), f"{now - 600}.".encode() + body, hashlib.sha256).hexdigest()
    for header in (f"t={now},v1={forged}", f"t={now - 600},v1={stale}"):
        with pytest.raises(PermissionError):
            receiver.accept(
                SECRET, {"Kuaichu-Signature": header, "Kuaichu-Event-Id": "ev_forged"}, body
            )


async def test_a_claim_status_from_the_api_reaches_the_webhook(
    server_factory: ServerFactory, receiver: Receiver
) -> None:
    server = await server_factory(**FAST)
    app = server.app
    assert app is not None
    await app[webhooks_key].configure("picc", receiver.url, SECRET)
    case = case_id(9102)
    await determined_case(app, case, parties(2))
    await app[insurer_desk_key].hand_off_by_officer(await supervisor(app), case, "picc")
    key, token = await app[api_keys_key].create("picc")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.url}/api/v1/cases/{case}/claim",
            json={"status": "received"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            claim = await resp.json()
            assert resp.status == 200, claim
        assert claim["status"] == "received"
        async with http.post(
            f"{server.url}/api/v1/cases/{case}/claim",
            json={"status": "paid"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            refused = await resp.json()
            assert resp.status == 409, refused
            assert refused["error"]["code"] == "illegal_transition"

    def types() -> list[tuple[str, Any]]:
        return sorted(
            (e["type"], e["data"].get("status") or e["data"].get("reason"))
            for e in receiver.processed.values()
        )

    # Recorded by the insurer desk, in the case's trail, with the key as the actor (as its
    # reads), never a staff account.
    trail = await app[db_key].case_trail(case)
    (recorded,) = [e for e in trail if e.what == "claim_status"]
    assert recorded.who == f"api:picc:{key.id}" and recorded.detail["status"] == "received"

    want = [
        ("case_ready", "determination_issued"),
        ("status_changed", "handed_off"),
        ("status_changed", "received"),
    ]
    await eventually(lambda: types() == want, 20, lambda: f"{types()} {receiver.requests}")


async def test_nothing_is_lost_while_the_receiver_is_down_and_the_server_restarts(
    tmp_path: Path,
) -> None:
    receiver = Receiver(SECRET)
    receiver.port = free_port()  # down: nothing listens there yet
    data = tmp_path / "data"
    first = await start_in_process(data, **FAST)
    try:
        assert first.app is not None
        await first.app[webhooks_key].configure("picc", receiver.url, SECRET)
        for n in range(3):
            await determined_case(first.app, case_id(9200 + n), parties(10 + n))
        await eventually(
            lambda: all(
                r["attempts"] >= 2 for r in rows(first, "select attempts from webhook_events")
            ),
            20,
            "the events were not tried while the receiver was down",
        )
        assert {r["status"] for r in rows(first, "select status from webhook_events")} == {
            "pending"
        }
    finally:
        await first.close()
    assert first.problems() == []

    # The server restarts on the same data, then the receiver comes up.
    second = await start_in_process(data, **FAST)
    try:
        await receiver.start()
        await eventually(lambda: len(receiver.processed) == 3, 20, lambda: str(receiver.requests))
        assert sorted(e["case_id"] for e in receiver.processed.values()) == [
            case_id(9200),
            case_id(9201),
            case_id(9202),
        ]
        await eventually(
            lambda: {r["status"] for r in rows(second, "select status from webhook_events")}
            == {"sent"},
            10,
            "the sent events were not marked sent",
        )
        failures = rows(
            second, "select count(*) as n from webhook_attempts where error is not null"
        )
        assert failures[0]["n"] >= 6  # three events, at least two refused tries each
    finally:
        await receiver.stop()
        await second.close()
    assert second.problems() == []


async def test_an_approved_agreement_is_case_ready_and_its_document_is_served(
    server_factory: ServerFactory, receiver: Receiver
) -> None:
    server = await server_factory(**FAST)
    app = server.app
    assert app is not None
    await app[webhooks_key].configure("picc", receiver.url, SECRET)
    case = case_id(9103)
    await cleared_case(app, case, parties(3), at=datetime.now(CST) - timedelta(minutes=20))
    boss = await supervisor(app)
    work = app[casework_key]
    await work.propose_agreement(boss, case)
    await work.confirm_agreement(PartyLink(case, "A"))
    await work.confirm_agreement(PartyLink(case, "B"))
    await work.approve_agreement(boss, case, True)

    await eventually(lambda: len(receiver.processed) == 1, 20, lambda: str(receiver.requests))
    (event,) = receiver.processed.values()
    assert (event["type"], event["case_id"]) == ("case_ready", case)
    assert event["data"] == {"reason": "agreement_approved", "policyholders": ["B"]}

    _, token = await app[api_keys_key].create("picc")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(f"{server.url}/api/v1/cases/{case}") as resp:
            view = await resp.json()
            assert resp.status == 200, view
        assert view["status"] == "closed" and view["determination"] is None
        assert view["agreement"]["version"] == 1
        async with http.get(f"{server.url}/api/v1/cases/{case}/agreement.pdf") as resp:
            pdf = await resp.read()
            assert resp.status == 200 and pdf.startswith(b"%PDF")
            assert resp.headers["X-Content-SHA256"] == hashlib.sha256(pdf).hexdigest()
        assert view["agreement"]["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
        async with http.get(f"{server.url}/api/v1/cases/{case}/determination.pdf") as resp:
            assert resp.status == 404
