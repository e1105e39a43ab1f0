"""The registry client reads an answer to its end, however the upstream writes it (issue 10,
High #1): a raw-socket upstream that answers in two writes, with a Content-Length or chunked,
is read correctly; an answer over the limit or nested too deep is refused as the upstream's
error, never a crash. And the served API compares any bearer token without raising."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import pytest

from kuaichu.verification import (
    ItemStatus,
    LocalRegistry,
    PartyFacts,
    RemoteRegistry,
    VerificationResult,
    make_registry_app,
)
from kuaichu.verification.model import Reason
from kuaichu.verification.remote import MAX_RESPONSE

TODAY = date(2025, 6, 1)  # the fixture registry's day

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def upstream() -> AsyncIterator[Callable[[Answer], Awaitable[str]]]:
    """``await upstream(answer)``: a bare-socket HTTP server whose ``answer`` writes the
    response as it likes; returns its base URL."""
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            size = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(size)
            try:
                await answer(writer)
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def in_two(head: bytes, body: bytes) -> Answer:
    """The head and the first half of the body in one write, the rest after a pause."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        cut = len(body) // 2
        writer.write(head + body[:cut])
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(body[cut:])
        await writer.drain()

    return answer


def with_length(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )


CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


def chunks(body: bytes, size: int) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


async def verdict(local: LocalRegistry, people: Any) -> tuple[PartyFacts, bytes]:
    facts = PartyFacts("张三", people.ok, "京A·12345", TODAY)
    return facts, json.dumps((await local.verify(facts)).to_dict(), ensure_ascii=False).encode()


async def ask(base: str, facts: PartyFacts) -> VerificationResult:
    remote = RemoteRegistry(base, timeout=5.0, retries=0)
    try:
        return await remote.verify(facts)
    finally:
        await remote.close()


async def test_an_answer_in_two_writes_is_read_whole(
    local: LocalRegistry, people: Any, upstream: Any
) -> None:
    facts, body = await verdict(local, people)
    # Whitespace inside the JSON makes the answer far bigger than one read.
    padded = body[:1] + b" " * 100_000 + body[1:]
    expected = [(r.item, r.status) for r in (await local.verify(facts)).items]
    for answer in (
        in_two(with_length(padded), padded),
        in_two(CHUNKED_HEAD, chunks(padded, 7000)),
    ):
        result = await ask(await upstream(answer), facts)
        assert [(r.item, r.status) for r in result.items] == expected
        assert all(r.status is not ItemStatus.UNAVAILABLE for r in result.items)


async def test_an_answer_over_the_limit_or_too_deep_is_the_upstreams_error(
    local: LocalRegistry, people: Any, upstream: Any
) -> None:
    facts, _ = await verdict(local, people)
    huge = b'{"items": [], "padding": "' + b"x" * (MAX_RESPONSE + 10) + b'"}'
    deep = b"[" * 100_000 + b"]" * 100_000
    for answer in (
        in_two(with_length(huge), huge),  # declared
        in_two(CHUNKED_HEAD, chunks(huge, 16_000)),  # found out while reading
        in_two(CHUNKED_HEAD, chunks(deep, 16_000)),
    ):
        result = await ask(await upstream(answer), facts)
        assert {r.status for r in result.items} == {ItemStatus.UNAVAILABLE}
        assert {r.reason for r in result.items} == {Reason.UPSTREAM_ERROR}


async def test_any_bearer_token_is_compared_without_raising(
    local: LocalRegistry, serve: Any
) -> None:
    base = await serve(make_registry_app(local, "s3cret"))
    port = int(base.rsplit(":", 1)[1].split("/")[0])
    for token in ("Bearer 令牌".encode(), b"Bearer \xff\xfe", b"Bearer s3cret\xc3\xa9"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n"
            b"Content-Type: application/json\r\nAuthorization: " + token + b"\r\n\r\n{}"
        )
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
