"""The open API as an insurer's system uses it, against a real server: keys made by the admin
command's service, cases determined by the real case work. An insurer reads its
policyholders' cases (the case, the PDF, each evidence file with its SHA-256, the signed
manifest) and nothing else; a revoked key is refused; every read is in the case's trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from kuaichu.appkeys import api_keys_key, db_key
from kuaichu.cases.states import CaseEvent
from kuaichu.evidence.manifest.entry import parse_entry
from tests.api.cases import cleared_case, determined_case, id_number, party
from tests.casework.seed import CST, case_id
from tests.support.servers import InProcessServer, start_in_process

OURS = case_id(7001)  # B is insured by PICC: PICC's case
THEIRS = case_id(7002)  # nobody insured by PICC
EARLY = case_id(7003)  # PICC's policyholder, liability not set yet

A = dict(licence=id_number("23010319900101123"), phone="13800000001", liability="full")
B = dict(licence=id_number("23010319920202234"), phone="13800000002", liability="none")


async def get(
    http: aiohttp.ClientSession, server: InProcessServer, path: str, token: str | None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(server.url + path, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def error_code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


# One server for the module: its cases are only read (each test makes its own keys).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    server = await start_in_process(tmp_path_factory.mktemp("access") / "data")
    app = server.app
    assert app is not None
    sha = await determined_case(
        app,
        OURS,
        [
            party("A", "张三", "黑A·12345", "中国平安财产保险", **A),
            party("B", "李四", "黑A·67890", "中国人保财险", **B),
        ],
    )
    await determined_case(
        app,
        THEIRS,
        [
            party("A", "王五", "黑B·11111", "中国平安财产保险", **A),
            party("B", "赵六", "黑B·22222", "太平洋产险", **B),
        ],
    )
    await cleared_case(
        app,
        EARLY,
        [
            party("A", "钱七", "黑C·33333", "人保财险", **A),
            party("B", "孙八", "黑C·44444", "平安产险", **B),
        ],
        at=datetime.now(CST),
    )
    try:
        yield {"server": server, "sha": sha}
    finally:
        await server.close()
    assert server.problems() == []


async def key(world: dict[str, Any], insurer: str) -> tuple[int, str]:
    """A new key of ``insurer`` (its id and token)."""
    made, token = await world["server"].app[api_keys_key].create(insurer)
    return made.id, token


async def test_an_insurer_reads_its_policyholders_case_and_every_read_is_in_the_trail(
    world: dict[str, Any],
) -> None:
    server: InProcessServer = world["server"]
    key_id, picc = await key(world, "picc")
    async with aiohttp.ClientSession() as http:
        status, _, body = await get(http, server, f"/api/v1/cases/{OURS}", picc)
        assert status == 200, body
        case = json.loads(body)
        assert case["case_id"] == OURS and case["status"] in ("determined", "notified")
        by_key = {p["key"]: p for p in case["parties"]}
        assert by_key["B"]["policyholder"] is True and by_key["A"]["policyholder"] is False
        assert by_key["A"]["liability"] == "full" and by_key["B"]["vehicle"]["plate"] == "黑A·67890"
        # The policyholder's number in full, the other party's masked; ID numbers masked.
        assert by_key["B"]["phone"] == B["phone"] and by_key["A"]["phone"] == "138****0001"
        assert A["licence"] not in body.decode() and B["licence"] not in body.decode()
        assert case["determination"]["version"] == 1

        status, headers, pdf = await get(
            http, server, f"/api/v1/cases/{OURS}/determination.pdf", picc
        )
        assert status == 200 and pdf.startswith(b"%PDF")
        assert headers["X-Content-SHA256"] == hashlib.sha256(pdf).hexdigest()
        assert headers["X-Content-SHA256"] == case["determination"]["pdf_sha256"]

        status, _, body = await get(http, server, f"/api/v1/cases/{OURS}/evidence", picc)
        assert status == 200
        listed = json.loads(body)["evidence"]
        still = next(e for e in listed if e["kind"] == "damage")
        assert still["sha256"] == world["sha"]
        status, headers, data = await get(
            http, server, f"/api/v1/cases/{OURS}/evidence/{still['seq']}", picc
        )
        assert status == 200 and hashlib.sha256(data).hexdigest() == world["sha"]
        assert headers["X-Content-SHA256"] == world["sha"]

        status, _, manifest = await get(http, server, f"/api/v1/cases/{OURS}/manifest", picc)
        assert status == 200
        entries = [parse_entry(line) for line in manifest.splitlines() if line.strip()]
        assert {e.sha256 for e in entries} >= {world["sha"], case["determination"]["pdf_sha256"]}

    trail = await server.app[db_key].case_trail(OURS)  # type: ignore[index]
    reads = [e for e in trail if e.what == "api_read" and e.who == f"api:picc:{key_id}"]
    assert [e.detail["read"] for e in reads] == [
        "case",
        "determination",
        "evidence_list",
        "evidence",
        "manifest",
    ]
    assert {e.detail["key"] for e in reads} == {key_id}
    # The reads come after the determination and its service.
    first_read = next(i for i, e in enumerate(trail) if e.what == "api_read")
    assert CaseEvent.DETERMINE in [e.what for e in trail[:first_read]]


async def test_another_insurers_case_a_case_before_liability_and_their_evidence_are_refused(
    world: dict[str, Any],
) -> None:
    server: InProcessServer = world["server"]
    _, picc = await key(world, "picc")
    _, pingan = await key(world, "pingan")
    async with aiohttp.ClientSession() as http:
        for path in (
            f"/api/v1/cases/{THEIRS}",
            f"/api/v1/cases/{THEIRS}/determination.pdf",
            f"/api/v1/cases/{THEIRS}/evidence",
            f"/api/v1/cases/{THEIRS}/evidence/1",
            f"/api/v1/cases/{THEIRS}/manifest",
            f"/api/v1/cases/{EARLY}",
            f"/api/v1/cases/{EARLY}/evidence/1",
        ):
            status, _, body = await get(http, server, path, picc)
            assert status == 403, (path, body)
            assert error_code(body) == "forbidden"
        reason = json.loads((await get(http, server, f"/api/v1/cases/{EARLY}", picc))[2])
        assert reason["error"]["detail"]["reason"] == "liability_not_set"
        # The feed lists only PICC's visible case.
        status, _, body = await get(http, server, "/api/v1/cases", picc)
        assert [c["case_id"] for c in json.loads(body)["cases"]] == [OURS]
        # Ping An insures A in both determined cases: it sees both, and not the early one.
        status, _, body = await get(http, server, "/api/v1/cases", pingan)
        assert sorted(c["case_id"] for c in json.loads(body)["cases"]) == sorted([OURS, THEIRS])
    trail = await server.app[db_key].case_trail(THEIRS)  # type: ignore[index]
    # Refused reads leave nothing in the other case's trail, but Ping An's listing is no read.
    assert [e for e in trail if e.what == "api_read"] == []


async def test_no_key_a_bad_key_and_a_revoked_key_are_refused(world: dict[str, Any]) -> None:
    server: InProcessServer = world["server"]
    keys = server.app[api_keys_key]  # type: ignore[index]
    key_id, picc = await key(world, "picc")
    async with aiohttp.ClientSession() as http:
        for token in (None, "kc_" + "x" * 43, "not a key"):
            status, _, body = await get(http, server, f"/api/v1/cases/{OURS}", token)
            assert status == 401 and error_code(body) == "not_authenticated"
        assert (await get(http, server, f"/api/v1/cases/{OURS}", picc))[0] == 200
        await keys.revoke(key_id)
        status, _, body = await get(http, server, f"/api/v1/cases/{OURS}", picc)
        assert status == 401 and json.loads(body)["error"]["detail"]["reason"] == "revoked"
        status, _, body = await get(http, server, "/api/v1/cases", picc)
        assert status == 401
    assert [k.revoked for k in await keys.list("picc") if k.id == key_id] == [True]


async def test_the_change_feed_pages_with_an_opaque_cursor(world: dict[str, Any]) -> None:
    server: InProcessServer = world["server"]
    _, token = await key(world, "pingan")
    async with aiohttp.ClientSession() as http:
        status, _, body = await get(http, server, "/api/v1/cases?limit=1", token)
        first = json.loads(body)
        assert status == 200 and len(first["cases"]) == 1 and first["has_more"] is True
        status, _, body = await get(
            http, server, f"/api/v1/cases?limit=1&cursor={first['next_cursor']}", token
        )
        second = json.loads(body)
        assert len(second["cases"]) == 1 and second["has_more"] is False
        assert second["cases"][0]["case_id"] != first["cases"][0]["case_id"]
        # Reading a case is not changing it: nothing changed since, an empty page that keeps
        # the cursor.
        assert (await get(http, server, f"/api/v1/cases/{OURS}", token))[0] == 200
        status, _, body = await get(
            http, server, f"/api/v1/cases?cursor={second['next_cursor']}", token
        )
        assert json.loads(body) == {
            "cases": [],
            "next_cursor": second["next_cursor"],
            "has_more": False,
        }
        # An unknown path or method under /api/v1 is a JSON error like every other.
        async with http.delete(f"{server.url}/api/v1/cases") as resp:
            assert resp.status == 405 and "GET" in resp.headers["Allow"]
            assert (await resp.json())["error"]["code"] == "method_not_allowed"
        status, _, body = await get(http, server, "/api/v1/nothing/here", token)
        assert status == 404 and error_code(body) == "not_found"
        for bad in (
            "limit=0",
            "limit=201",
            "limit=x",
            "limit=1&limit=2",
            "cursor=%21%21",
            "cursor=eyJ4IjoxfQ",
            "since=yesterday",
        ):
            status, _, body = await get(http, server, f"/api/v1/cases?{bad}", token)
            assert status == 400, (bad, body)
            assert error_code(body) in ("invalid_message", "invalid_cursor")
