"""Every body is read to its end within its limit, through a real server and hostile clients
(issue 10, High #1): a raw socket sends a 2 MB phone still in small pieces with pauses, both
chunked and with a Content-Length, and the stored file is the one sent; a JSON body in two
writes is read whole; a body over the limit is 413 and nothing is stored."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image

from kuaichu.errors import InvalidMessage
from kuaichu.evidence.manifest import MANIFEST_NAME
from kuaichu.evidence.stills import MAX_STILL_BYTES
from kuaichu.web.common import parse_json
from sim.client import SimDriver, SimOfficer


def big_jpeg(width: int = 1600, height: int = 1100) -> bytes:
    """A JPEG of noise, about 2 MB: far more than one socket read."""
    pixels = np.random.default_rng(10).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def chunked(data: bytes, size: int) -> list[bytes]:
    """The body in chunked transfer encoding, one chunk per piece, then the last chunk."""
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces(data, size)] + [b"0\r\n\r\n"]


async def raw_request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    body: list[bytes],
    pause: float = 0.005,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request over a bare socket: the head, then each body piece in its own
    write with a pause between, so the server sees the body arrive bit by bit."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode())
        await writer.drain()
        for piece in body:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(pause)
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head_bytes, _, payload = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    got = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if got.get("transfer-encoding") == "chunked":
        payload = dechunk(payload)
    return status, got, payload


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


async def start_call(server: Any) -> tuple[SimDriver, SimOfficer, str, str]:
    """A driver's call, answered: stills are taken while the officer is on it."""
    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    driver = await SimDriver(server.url).connect()
    await officer.set_available()
    ack = await driver.report(phone="13800138000")
    offer = await officer.wait_offer()
    assert (await officer.accept(offer["call_id"]))["ok"]
    return driver, officer, offer["call_id"], ack["case_id"]


async def ask_for(officer: SimOfficer, driver: SimDriver, call_id: str, kind: str) -> None:
    seen = len(driver.events)
    assert (await officer.call("request_still", {"call_id": call_id, "kind": kind}))["ok"]
    await driver.wait_event("still_requested", where=lambda m: m["kind"] == kind, after=seen)


async def upload(
    server: Any,
    driver: SimDriver,
    call_id: str,
    framing: dict[str, str],
    body: list[bytes],
    pause: float = 0.005,
) -> tuple[int, bytes]:
    """The driver page's photo upload, sent over a bare socket with this framing."""
    headers = {"X-Call-Token": driver.resume_token or "", "Content-Type": "image/jpeg"}
    status, _, answer = await raw_request(
        server.port,
        "POST",
        f"/api/calls/{call_id}/stills?kind=damage",
        {**headers, **framing},
        body,
        pause,
    )
    return status, answer


CHUNKED = {"Transfer-Encoding": "chunked"}


def length(data: bytes) -> dict[str, str]:
    return {"Content-Length": str(len(data))}


def manifest_hashes(server: Any, case_id: str) -> list[str]:
    path = server.data_dir / "recordings" / case_id / MANIFEST_NAME
    return [json.loads(line)["sha256"] for line in path.read_text().splitlines() if line]


async def test_a_still_sent_in_pieces_is_stored_whole(live_server: Any) -> None:
    driver, officer, call_id, case_id = await start_call(live_server)
    photo = big_jpeg()
    assert len(photo) > 1_500_000
    sent = hashlib.sha256(photo).hexdigest()
    try:
        # Chunked, in 16 KiB chunks (each written alone, with a pause).
        await ask_for(officer, driver, call_id, "damage")
        status, body = await upload(
            live_server, driver, call_id, CHUNKED, chunked(photo, 16 * 1024)
        )
        assert status == 201, body
        assert json.loads(body)["sha256"] == sent
        # With a Content-Length, the body split over many writes.
        await ask_for(officer, driver, call_id, "damage")
        status, body = await upload(
            live_server, driver, call_id, length(photo), pieces(photo, 50_000)
        )
        assert status == 201, body
        assert json.loads(body)["sha256"] == sent

        rows = live_server.rows("select path, sha256 from captures order by id")
        assert [r["sha256"] for r in rows] == [sent, sent]
        for row in rows:
            stored = (live_server.data_dir / "recordings" / row["path"]).read_bytes()
            assert hashlib.sha256(stored).hexdigest() == sent
            assert len(stored) == len(photo)
        assert manifest_hashes(live_server, case_id).count(sent) == 2
    finally:
        await driver.close()
        await officer.close()


async def test_an_over_limit_body_is_413_and_nothing_is_stored(live_server: Any) -> None:
    driver, officer, call_id, case_id = await start_call(live_server)
    too_big = b"\xff\xd8\xff" + bytes(MAX_STILL_BYTES)
    try:
        await ask_for(officer, driver, call_id, "damage")
        # No length declared: refused once more than the limit has arrived.
        status, body = await upload(
            live_server, driver, call_id, CHUNKED, chunked(too_big, 256 * 1024), pause=0
        )
        assert status == 413, body
        assert json.loads(body)["error"]["code"] == "message_too_large"
        # Declared: refused before the body is read.
        status, body = await upload(live_server, driver, call_id, length(too_big), [])
        assert status == 413, body
        assert live_server.rows("select count(*) from captures")[0][0] == 0
        folder = live_server.data_dir / "recordings" / case_id
        assert not list(folder.glob("still-*"))
        # The request is still open: a photo of the right size is taken.
        photo = big_jpeg(400, 300)
        status, body = await upload(live_server, driver, call_id, CHUNKED, chunked(photo, 4096))
        assert status == 201, body
    finally:
        await driver.close()
        await officer.close()


async def test_a_json_body_in_two_writes_is_read_whole(live_server: Any) -> None:
    driver, officer, call_id, _ = await start_call(live_server)
    try:
        await ask_for(officer, driver, call_id, "damage")
        photo = big_jpeg(320, 240)
        status, body = await upload(live_server, driver, call_id, length(photo), [photo])
        assert status == 201, body
        capture_id = json.loads(body)["id"]
        await officer.login()

        async def annotate(
            body: list[bytes], framing: dict[str, str], pause: float = 0
        ) -> tuple[int, Any]:
            status, _, answer = await raw_request(
                live_server.port,
                "PUT",
                f"/api/captures/{capture_id}/annotation",
                {"Cookie": officer.cookie or "", "Content-Type": "application/json", **framing},
                body,
                pause,
            )
            return status, json.loads(answer)

        note = {"regions": [{"x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}], "note": "前保险杠" * 40}
        raw = json.dumps(note, ensure_ascii=False).encode()
        cut = len(raw) // 2
        for body_pieces, framing in (
            ([raw[:cut], raw[cut:]], length(raw)),
            (chunked(raw, cut), CHUNKED),
        ):
            status, answer = await annotate(body_pieces, framing, pause=0.2)
            assert status == 200, answer
            assert answer["note"] == note["note"]
        # Nested deeper than any body we take: a clear 400, not a 500.
        deep = b'{"note": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        status, answer = await annotate([deep], length(deep))
        assert status == 400, answer
        assert "nests deeper" in answer["error"]["message"]
        # A lone surrogate is no text: refused naming where it is, not a 500 further on.
        lone = b'{"note": "\\ud800", "regions": []}'
        status, answer = await annotate([lone], length(lone))
        assert status == 400, answer
        assert answer["error"]["detail"]["field"] == "note"
    finally:
        await driver.close()
        await officer.close()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"[" * 17 + b"]" * 17, "nests deeper than 16"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than 16"),
        (b'{"form": {"parties": [{"name": "\\udcff"}]}}', "form.parties[0].name holds"),
        (b'{"\\ud800": 1}', "a field name holds a lone surrogate"),
        (b'{"a": 1', "not valid JSON"),
    ],
)
def test_json_that_no_handler_could_use_is_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidMessage, match=re.escape(problem)):
        parse_json(raw)


def test_chinese_text_emoji_and_sixteen_levels_pass() -> None:
    assert parse_json('{"a": "张三\\ud83d\\ude00"}'.encode()) == {"a": "张三😀"}
    assert parse_json(b"[" * 16 + b"]" * 16) is not None
