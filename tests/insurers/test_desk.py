"""The insurer seat over HTTP against a real in-process server: what an insurer's staff may
read (and that every read is in the case's audit trail), what they are refused, the claim's
statuses with bad input, the parties' claim button and SMS, and the event hook."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kuaichu.accounts.web import COOKIE
from kuaichu.appkeys import accounts_key, db_key, insurer_events_key
from kuaichu.insurers import InsurerEvent
from kuaichu.notify.messages import SINGLE_SEGMENT
from kuaichu.storage.tables import case_audit, claims, outbox
from tests.conftest import ServerFactory
from tests.insurers.seed import World, insurer_account, seed

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Client:
    """An HTTP client with one identity's session cookie (or none)."""

    def __init__(self, http: aiohttp.ClientSession, base: str, session: str | None) -> None:
        self.http = http
        self.base = base
        self.headers = {"Cookie": f"{COOKIE}={session}"} if session else {}

    async def get(self, path: str) -> tuple[int, Any, aiohttp.ClientResponse]:
        async with self.http.get(
            self.base + path, headers=self.headers, allow_redirects=False
        ) as resp:
            raw = await resp.read()
            body = json.loads(raw) if resp.content_type == "application/json" else raw
            return resp.status, body, resp

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        headers = {**self.headers, "Content-Type": "application/json"}
        async with self.http.post(self.base + path, data=json.dumps(body), headers=headers) as r:
            return r.status, await r.json()


@pytest.fixture
async def world(server_factory: ServerFactory) -> World:
    return await seed(await server_factory(progress_link_code=False))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def trail(world: World, case_id: str) -> list[dict[str, Any]]:
    assert world.server.app is not None
    async with world.server.app[db_key].engine.connect() as conn:
        rows = await conn.execute(
            select(case_audit).where(case_audit.c.case_id == case_id).order_by(case_audit.c.seq)
        )
        return [dict(r) for r in rows.mappings()]


async def texts(world: World, case_id: str, template: str) -> list[str]:
    assert world.server.app is not None
    async with world.server.app[db_key].engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.body).where(outbox.c.case_id == case_id, outbox.c.template == template)
        )
        return [r[0] for r in rows]


async def test_an_insurer_reads_its_policyholders_cases_after_liability_and_nothing_else(
    world: World, http: aiohttp.ClientSession
) -> None:
    picc_account, picc_session = await insurer_account(world.server, "picc", "picc.li")
    picc = Client(http, world.server.url, picc_session)

    status, listed, _ = await picc.get("/api/insurer/cases")
    assert status == 200
    assert {c["case_id"] for c in listed["cases"]} == {world.determined, world.agreed}

    status, case, _ = await picc.get(f"/api/insurer/cases/{world.determined}")
    assert status == 200
    assert case["policyholders"] == ["A"]
    parties = {p["key"]: p for p in case["parties"]}
    assert parties["A"]["liability"] == "full" and parties["B"]["liability"] == "none"
    assert parties["A"]["phone"] == "13800000001"  # its own policyholder, to call back
    assert parties["B"]["phone"] != "13900000002"  # the other party's, masked
    assert case["determination"]["version"] == 1
    assert [e["seq"] for e in case["evidence"]] == [world.evidence_seq]
    # The seeded cases share their plates: the fraud signals say so, without naming the
    # other cases (other insurers' among them).
    codes = {f["code"] for f in case["fraud_flags"]}
    assert "repeat_plate" in codes, case["fraud_flags"]
    assert all("cases" not in f["detail"] for f in case["fraud_flags"])

    status, data, resp = await picc.get(
        f"/api/insurer/cases/{world.determined}/evidence/{world.evidence_seq}"
    )
    assert status == 200
    assert resp.headers["X-Content-SHA256"] == hashlib.sha256(data).hexdigest()
    status, pdf, _ = await picc.get(
        f"/api/insurer/cases/{world.determined}/documents/determination.pdf"
    )
    assert status == 200 and pdf.startswith(b"%PDF")

    # Refusals: another insurer's case, a case before liability, evidence of a case it is
    # not party to, a case that does not exist.
    for path, code, reason in (
        (f"/api/insurer/cases/{world.others}", 403, "not_policyholder"),
        (f"/api/insurer/cases/{world.early}", 403, "liability_not_set"),
        (f"/api/insurer/cases/{world.others}/evidence/1", 403, "not_policyholder"),
        (f"/api/insurer/cases/{world.early}/documents/determination.pdf", 403, None),
        ("/api/insurer/cases/KC20260101ZZZZZZ", 404, None),
    ):
        status, body, _ = await picc.get(path)
        assert status == code, (path, body)
        if reason:
            assert body["error"]["detail"]["reason"] == reason
    # An evidence file it has no right to is not served even with a guessed number.
    status, _, _ = await picc.get(f"/api/insurer/cases/{world.determined}/evidence/999")
    assert status == 404

    # Every read is in the case's audit trail, under the insurer and the account.
    reads = [r for r in await trail(world, world.determined) if r["what"] == "insurer_read"]
    assert [json.loads(r["detail"])["read"] for r in reads] == ["case", "evidence", "determination"]
    assert {r["who"] for r in reads} == {f"insurer:picc:{picc_account.id}"}
    for refused in (world.others, world.early):
        assert not [r for r in await trail(world, refused) if r["what"] == "insurer_read"]


async def test_insurer_and_police_accounts_keep_to_their_own_pages_and_the_hand_off(
    world: World, http: aiohttp.ClientSession
) -> None:
    _, picc_session = await insurer_account(world.server, "picc", "picc.wang")
    picc = Client(http, world.server.url, picc_session)
    for path in ("/api/cases", f"/api/cases/{world.determined}", "/api/reviews", "/api/complaints",
                 f"/api/cases/{world.determined}/claims", f"/api/cases/{world.determined}/fraud"):
        status, body, _ = await picc.get(path)
        assert status == 403, path
        assert body["error"]["code"] == "forbidden"
    pages = ("/console", "/cases", f"/cases/{world.determined}", "/wallboard", "/reviews",
             "/complaints", "/fraud")
    for page in pages:
        status, _, resp = await picc.get(page)
        assert (status, resp.headers.get("Location")) == (302, "/insurer"), page
    status, page_html, _ = await picc.get("/insurer")
    assert status == 200 and "中国人民财产保险".encode() in page_html
    sio = socketio.AsyncClient(reconnection=False)
    for namespace in ("/officer", "/supervisor"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                world.server.url,
                namespaces=[namespace],
                transports=["websocket"],
                headers={"Cookie": f"{COOKIE}={picc_session}"},
            )
    # And the other way round: a police officer is no insurer.
    assert world.server.app is not None
    officer_session = await world.server.app[accounts_key].open_session(world.supervisor)
    police = Client(http, world.server.url, officer_session)
    status, body, _ = await police.get("/api/insurer/cases")
    assert status == 403 and body["error"]["detail"]["reason"] == "not_insurer"
    status, _, resp = await police.get("/insurer")
    assert (status, resp.headers.get("Location")) == (302, "/console")
    # An officer hands the agreed case off to one insurer.
    status, body = await police.post(f"/api/cases/{world.agreed}/handoff", {"insurer": "cpic"})
    assert status == 200
    assert [(c["insurer"], c["parties"]) for c in body["claims"]] == [("cpic", ["B"])]
    status, body = await police.post(f"/api/cases/{world.agreed}/handoff", {"insurer": "nosuch"})
    assert status == 400 and "unknown insurer" in body["error"]["message"]
    status, body = await police.post(f"/api/cases/{world.early}/handoff", {})
    assert status == 409
    status, body, _ = await police.get(f"/api/cases/{world.agreed}/claims")
    assert [c["insurer_name"] for c in body["claims"]] == ["中国太平洋财产保险"]


async def test_the_claim_from_the_party_button_to_paid_with_bad_input_refused(
    world: World, http: aiohttp.ClientSession
) -> None:
    assert world.server.app is not None
    events: list[InsurerEvent] = []

    async def record(_conn: AsyncConnection, event: InsurerEvent) -> None:
        events.append(event)

    world.server.app[insurer_events_key].subscribe(record)
    picc_account, picc_session = await insurer_account(world.server, "picc", "picc.zhao")
    pingan_account, pingan_session = await insurer_account(world.server, "pingan", "pingan.sun")
    picc = Client(http, world.server.url, picc_session)
    pingan = Client(http, world.server.url, pingan_session)
    anyone = Client(http, world.server.url, None)
    case = world.determined
    claim_url = f"/api/insurer/cases/{case}/claim"

    # Not in the work queue before a party or an officer hands it off.
    status, body = await picc.post(claim_url, {"status": "received"})
    assert (status, body["error"]["detail"]["reason"]) == (404, "no_claim")
    # A case before liability has no claim button.
    status, body = await anyone.post(f"/p/{world.tokens[world.early]['A']}/claim", {})
    assert (status, body["error"]["detail"]["reason"]) == (409, "liability_not_set")

    # Party A presses 定损理赔: both parties' insurers get the case.
    status, view = await anyone.post(f"/p/{world.tokens[case]['A']}/claim", {})
    assert status == 200
    assert {c["insurer"]: c["status"] for c in view["claims"]} == {
        "picc": "handed_off",
        "pingan": "handed_off",
    }
    assert len(await texts(world, case, "claim_opened")) == 2  # one SMS per party
    status, again = await anyone.post(f"/p/{world.tokens[case]['B']}/claim", {})
    assert status == 200 and len(again["claims"]) == 2  # pressing again opens nothing new
    assert [e.kind.value for e in events] == ["claim_opened", "claim_opened"]

    # Bad input: a clear error each, and nothing written.
    for body, code, says in (
        ({"status": "approved"}, 400, "status must be one of"),
        ({"status": "assessed"}, 400, "needs the amount"),
        ({"status": "received", "amount": "12"}, 400, "takes no amount"),
        ({"status": "refused"}, 400, "written reason"),
        ({"status": "refused", "reason": "   "}, 400, "written reason"),
        ({"status": "paid", "amount": "-5"}, 400, "more than 0"),
        ({"status": "paid", "amount": "12.345"}, 400, "two decimals"),
        ({"status": "paid", "amount": "abc"}, 400, "number of yuan"),
        ({"status": "paid", "amount": True}, 400, "number of yuan"),
        ({"status": "paid", "amount": "1e400"}, 400, "amount"),
        ({"status": "paid"}, 409, "cannot become paid"),
        ({"status": "assessed", "amount": "10"}, 409, "cannot become assessed"),
        ({"status": "received", "extra": 1}, 400, "unexpected field"),
    ):
        status, answer = await picc.post(claim_url, body)
        assert status == code, (body, answer)
        assert says in answer["error"]["message"], (body, answer)
    status, view, _ = await picc.get(f"/api/insurer/cases/{case}")
    assert view["claim"]["status"] == "handed_off"
    assert not [r for r in await trail(world, case) if r["what"] == "claim_status"]
    assert await texts(world, case, "claim_status") == []

    # The statuses in order.
    for body, status_after in (
        ({"status": "received"}, "received"),
        ({"status": "assessor_assigned", "assessor": "李查勘"}, "assessor_assigned"),
        ({"status": "assessed", "amount": "1234.5"}, "assessed"),
        ({"status": "paid"}, "paid"),
    ):
        status, claim = await picc.post(claim_url, body)
        assert status == 200, claim
        assert claim["status"] == status_after
    assert (claim["amount_fen"], claim["amount"]) == (123450, "1234.50")  # paid what was assessed
    status, answer = await picc.post(claim_url, {"status": "refused", "reason": "too late"})
    assert status == 409 and answer["error"]["detail"]["reason"] == "claim_transition"
    # The other insurer refuses its own claim, with its reason.
    status, claim = await pingan.post(
        f"/api/insurer/cases/{case}/claim", {"status": "refused", "reason": "本方无责，不予赔付"}
    )
    assert status == 200 and claim["reason"] == "本方无责，不予赔付"

    # The parties see it on the progress page and by SMS (one text each, within 70).
    status, seen, _ = await anyone.get(f"/p/{world.tokens[case]['B']}/claims")
    assert status == 200
    by_insurer = {c["insurer"]: c for c in seen["claims"]}
    assert (by_insurer["picc"]["status"], by_insurer["picc"]["amount"]) == ("paid", "1234.50")
    assert by_insurer["pingan"]["status"] == "refused" and by_insurer["pingan"]["own_insurer"]
    sms = await texts(world, case, "claim_status")
    assert len(sms) == 2 * 5  # five statuses, two parties
    assert any("已赔付" in text for text in sms)
    assert max(len(text) for text in sms) <= SINGLE_SEGMENT
    statuses = [(json.loads(r["detail"])["status"], r["who"]) for r in await trail(world, case)
                if r["what"] == "claim_status"]
    # Each in the trail as the staff account that recorded it.
    zhao, sun = f"insurer:picc:{picc_account.id}", f"insurer:pingan:{pingan_account.id}"
    assert statuses == [
        ("received", zhao), ("assessor_assigned", zhao), ("assessed", zhao), ("paid", zhao),
        ("refused", sun),
    ]
    changed = [e for e in events if e.kind.value == "status_changed"]
    assert [(e.insurer, e.detail["status"]) for e in changed][-2:] == [
        ("picc", "paid"),
        ("pingan", "refused"),
    ]
    assert len({e.event_id for e in events}) == len(events)
    # Still one row per insurer.
    async with world.server.app[db_key].engine.connect() as conn:
        rows = (await conn.execute(select(claims.c.insurer).where(claims.c.case_id == case))).all()
    assert sorted(r[0] for r in rows) == ["picc", "pingan"]
