"""The administrator's commands, run as an administrator runs them (``python server.py apikey
…``, ``webhook …`` in a process of their own) against the data folder of a running server:
the key printed once works at once, the list shows it without the token, a revoked key is
refused at once; a webhook set by command gets the events, the log shows each try, and a
replay by command sends the event again with its id."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.api.cases import determined_case, id_number, party
from tests.casework.seed import case_id
from tests.support.eventually import eventually
from tests.support.servers import free_port, start_in_process

ROOT = Path(__file__).resolve().parents[2]


async def admin(data: Path, *argv: str) -> tuple[int, str, str]:
    """``python server.py <argv> --data-dir <data>``, in its own process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        *argv,
        "--data-dir",
        str(data),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_keys_and_webhooks_are_managed_by_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = await start_in_process(data, webhook_retry_seconds=0.2, webhook_poll_seconds=0.2)
    received: list[tuple[dict[str, Any], str, bytes]] = []
    port = free_port()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((json.loads(body), request.headers["Kuaichu-Signature"], body))
        return web.Response(status=200)

    receiver = web.Application()
    receiver.router.add_post("/events", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        code, out, err = await admin(
            data, "apikey", "create", "--insurer", "picc", "--label", "核赔"
        )
        assert code == 0, err
        token = out.strip().splitlines()[-1]
        assert token.startswith("kc_")

        code, listed, _ = await admin(data, "apikey", "list")
        assert code == 0 and "picc" in listed and "active" in listed and "核赔" in listed
        assert token not in listed  # the token is shown once, at creation, never again
        stored = server.rows("select token_hash from api_keys")
        assert [r["token_hash"] for r in stored] == [hashlib.sha256(token.encode()).hexdigest()]

        code, out, err = await admin(
            data, "webhook", "set", "--insurer", "picc", "--url", f"http://127.0.0.1:{port}/events"
        )
        assert code == 0, err
        secret = out.strip().splitlines()[-1].rsplit(" ", 1)[-1]
        assert secret.startswith("whsec_")

        assert server.app is not None
        case = case_id(9401)
        a = dict(licence=id_number("44030119900101001"), phone="13500000001", liability="full")
        b = dict(licence=id_number("44030119900101002"), phone="13500000002", liability="none")
        await determined_case(
            server.app,
            case,
            [
                party("A", "甲", "粤B·11111", "平安产险", **a),
                party("B", "乙", "粤B·22222", "人保财险", **b),
            ],
        )
        await eventually(lambda: len(received) == 1, 20, "the event did not arrive")
        event, header, body = received[0]
        assert event["case_id"] == case
        # Signed with the secret the command printed (the README's scheme).
        stamp, mac = (item.split("=", 1)[1] for item in header.split(","))
        want = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        assert hmac.compare_digest(want.hexdigest(), mac)
        event_id = event["id"]
        code, log, _ = await admin(data, "webhook", "log", "--insurer", "picc")
        assert code == 0 and event_id in log and "sent" in log and "case_ready" in log

        code, out, err = await admin(data, "webhook", "replay", event_id)
        assert code == 0, err
        await eventually(lambda: len(received) == 2, 20, "the replay did not arrive")
        assert received[1][0] == received[0][0]  # the same event, the same id

        async with aiohttp.ClientSession() as http:
            async def feed() -> int:
                async with http.get(
                    f"{server.url}/api/v1/cases", headers={"Authorization": f"Bearer {token}"}
                ) as resp:
                    return resp.status

            assert await feed() == 200
            key_id = listed.split("\t", 1)[0]
            code, out, err = await admin(data, "apikey", "revoke", key_id)
            assert code == 0 and "revoked" in out, err
            assert await feed() == 401
    finally:
        await runner.cleanup()
        await server.close()
    assert server.problems() == []
