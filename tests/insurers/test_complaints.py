"""The claim-complaint line: a party whose counterpart's insurer has not acted within the
configured time complains from the progress page; the complaint waits in the supervisors'
queue with a 24-hour callback deadline, which the wallboard counts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import socketio
from sqlalchemy import update

from kuaichu.accounts.web import COOKIE
from kuaichu.appkeys import accounts_key, db_key
from kuaichu.storage.tables import claims, complaints
from tests.conftest import ServerFactory
from tests.insurers.seed import World, seed
from tests.insurers.test_desk import Client, texts, trail


async def test_a_complaint_after_the_insurer_stays_silent_and_its_callback(
    server_factory: ServerFactory,
) -> None:
    # The insurer has 0.001 h (3.6 s) to act before a complaint is accepted.
    world = await seed(
        await server_factory(progress_link_code=False, complaint_after_hours=0.001)
    )
    app = world.server.app
    assert app is not None
    case = world.determined
    async with aiohttp.ClientSession() as http:
        a = Client(http, world.server.url, None)  # party A: insured by picc, at fault
        token_a, token_b = (f"/p/{world.tokens[case][k]}" for k in ("A", "B"))
        session = await app[accounts_key].open_session(world.supervisor)
        supervisor = Client(http, world.server.url, session)
        status, view = await a.post(f"{token_a}/claim", {})
        assert status == 200
        picc = next(c for c in view["claims"] if c["insurer"] == "picc")
        pingan = next(c for c in view["claims"] if c["insurer"] == "pingan")

        # Too early: the insurer still has time.
        status, body = await a.post(f"{token_b}/complaint", {"claim_id": picc["id"], "text": "x"})
        assert (status, body["error"]["detail"]["reason"]) == (409, "too_early")
        status, seen, _ = await a.get(f"{token_b}/claims")
        assert not next(c for c in seen["claims"] if c["id"] == picc["id"])["may_complain"]
        # Past the time (the hand-off moved back 10 s rather than the test waiting).
        async with app[db_key].engine.begin() as conn:
            await conn.execute(update(claims).values(acted_at=time.time() - 10))
        status, seen, _ = await a.get(f"{token_b}/claims")
        assert next(c for c in seen["claims"] if c["id"] == picc["id"])["may_complain"]

        # Bad complaints: about one's own insurer, empty, another case's claim, not a number.
        for body, code, reason in (
            ({"claim_id": pingan["id"], "text": "slow"}, 409, "own_insurer"),
            ({"claim_id": picc["id"], "text": "  "}, 400, None),
            ({"claim_id": picc["id"], "text": "x" * 1001}, 400, None),
            ({"claim_id": 99999, "text": "slow"}, 404, None),
            ({"claim_id": "1", "text": "slow"}, 400, None),
            # Beyond a 64-bit integer (the fuzzer's find: a 500 from the database driver).
            ({"claim_id": 2**64, "text": "slow"}, 400, None),
            ({"claim_id": -1, "text": "slow"}, 400, None),
            ({"claim_id": picc["id"], "text": "slow", "more": 1}, 400, None),
        ):
            status, answer = await a.post(f"{token_b}/complaint", body)
            assert status == code, (body, answer)
            if reason:
                assert answer["error"]["detail"]["reason"] == reason
        status, queue, _ = await supervisor.get("/api/complaints")
        assert queue["complaints"] == []

        # Party B complains about party A's insurer.
        before = time.time()
        status, filed = await a.post(
            f"{token_b}/complaint", {"claim_id": picc["id"], "text": "保险公司一直没有联系我"}
        )
        assert status == 200, filed
        assert filed["party"] == "B" and filed["insurer"] == "picc"
        assert before + 24 * 3600 - 5 <= filed["due_at"] <= time.time() + 24 * 3600
        status, again = await a.post(f"{token_b}/complaint", {"claim_id": picc["id"], "text": "!"})
        assert (status, again["error"]["detail"]["reason"]) == (409, "complaint_open")
        assert len(await texts(world, case, "complaint_received")) == 1

        status, queue, _ = await supervisor.get("/api/complaints")
        assert [(c["case_id"], c["overdue"]) for c in queue["complaints"]] == [(case, False)]
        assert queue["complaints"][0]["insurer_name"] == "中国人民财产保险"
        center_wallboard = await _wallboard(world, session)
        assert center_wallboard["complaints"] == {"open": 1, "overdue": 0}
        # 24 hours later without a callback: overdue on the wallboard.
        async with app[db_key].engine.begin() as conn:
            await conn.execute(update(complaints).values(due_at=time.time() - 1))
        assert (await _wallboard(world, session))["complaints"] == {"open": 1, "overdue": 1}

        # A callback needs its outcome written down.
        status, body = await supervisor.post(
            f"/api/complaints/{filed['id']}/callback", {"outcome": ""}
        )
        assert status == 400
        status, done = await supervisor.post(
            f"/api/complaints/{filed['id']}/callback", {"outcome": "已联系保险公司，今日派查勘员"}
        )
        assert status == 200 and done["called_back_at"]
        status, body = await supervisor.post(
            f"/api/complaints/{filed['id']}/callback", {"outcome": "again"}
        )
        assert status == 409
        assert (await _wallboard(world, session))["complaints"] == {"open": 0, "overdue": 0}
        status, seen, _ = await a.get(f"{token_b}/claims")
        assert seen["complaints"][0]["outcome"] == "已联系保险公司，今日派查勘员"
        whats = [r["what"] for r in await trail(world, case)]
        assert whats.count("complaint_filed") == 1 and whats.count("complaint_called_back") == 1



async def _wallboard(world: World, session: str) -> dict[str, Any]:
    """The snapshot a supervisor's wallboard receives on connecting."""
    sio = socketio.AsyncClient(reconnection=False)
    got: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    sio.on("wallboard", lambda data: got.done() or got.set_result(data), namespace="/supervisor")
    await sio.connect(
        world.server.url,
        namespaces=["/supervisor"],
        transports=["websocket"],
        headers={"Cookie": f"{COOKIE}={session}"},
    )
    try:
        return await asyncio.wait_for(got, 10)
    finally:
        await sio.disconnect()
