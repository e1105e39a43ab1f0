"""Every /api route answers 401 JSON without a session, except an explicit public list.

The routes come from the application's own route table, so a route added later without a
guard fails here. The app runs in-process (aiohttp's test server); officers are created
through the Accounts service, not the CLI.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kuaichu.accounts.model import Role
from kuaichu.accounts.web import COOKIE
from kuaichu.app import create_app
from kuaichu.appkeys import accounts_key
from kuaichu.settings import Settings

# Routes anyone may call: the pages' ICE configuration, the service hours, the public key,
# and the driver's photo upload (authorized by the call's own token, not a session).
PUBLIC = {
    ("GET", "/api/config"),
    ("GET", "/api/service"),
    ("GET", "/api/keys/evidence.pem"),
    ("POST", "/api/calls/{call_id}/stills"),
    # issue 13: the photo channel's driver side (a new report, and whether video works now).
    ("GET", "/api/photo-reports/availability"),
    ("POST", "/api/photo-reports"),
    # issue 13: the open API's document and docs page (its data routes want an API key: 401).
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("GET", "/api/v1/docs.css"),
}
# A well-formed value for every path placeholder, so a guard is what answers, not a validator.
SAMPLES = {
    "case_id": "KC20260101ABCDEF",
    "call_id": "abcdefgh1234",
    "capture": "1",
    "name": "1.html",
    "token": "a" * 20,
    "message_id": "1",
    "seq": "1",
    "complaint_id": "1",
}


def api_routes(app: web.Application) -> list[tuple[str, str, str]]:
    """(method, path template, concrete URL) of every /api route in the route table."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("path") or info.get("formatter")
        if route.method == "HEAD" or not template or not template.startswith("/api/"):
            continue
        names = re.findall(r"{(\w+)}", template)
        url = template.format(**{n: SAMPLES[n] for n in names})
        found.append((route.method, template, url))
    return found


async def unguarded(client: TestClient, app: web.Application) -> list[str]:
    """The non-public /api routes that do not answer 401 JSON to a request without a session."""
    bad = []
    for method, template, url in api_routes(app):
        if (method, template) in PUBLIC:
            continue
        response = await client.request(method, url, json={})
        body = await response.json() if response.content_type == "application/json" else None
        if response.status != 401 or not body or body["error"]["code"] != "not_authenticated":
            bad.append(f"{method} {template} -> {response.status}")
    return bad


def _app(data_dir: Path) -> web.Application:
    return create_app(Settings(data_dir=data_dir))


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(_app(tmp_path))) as client:
        yield client


async def _session(client: TestClient, username: str, role: Role) -> dict[str, str]:
    accounts = client.app[accounts_key]
    officer = await accounts.add_officer(username, f"{username}-password", role=role)
    return {COOKIE: await accounts.open_session(officer)}


async def test_every_api_route_needs_a_session_except_the_public_ones(client: TestClient) -> None:
    routes = api_routes(client.app)
    assert len(routes) > 20
    templates = {(method, template) for method, template, _ in routes}
    assert templates >= PUBLIC, "a public route was removed: update the list"
    assert await unguarded(client, client.app) == []


async def test_a_route_without_a_guard_is_caught(tmp_path: Path) -> None:
    async def leak(_request: web.Request) -> web.Response:
        return web.json_response({"secret": True})

    app = _app(tmp_path)
    app.router.add_get("/api/leak", leak)
    async with TestClient(TestServer(app)) as client:
        assert await unguarded(client, app) == ["GET /api/leak -> 200"]


async def test_public_routes_answer_without_a_session(client: TestClient) -> None:
    assert (await client.get("/api/config")).status == 200
    assert (await client.get("/api/service")).status == 200
    key = await client.get("/api/keys/evidence.pem")
    assert key.status == 200 and "PUBLIC KEY" in await key.text()


async def test_supervisor_only_routes_refuse_an_officer(client: TestClient) -> None:
    officer = await _session(client, "li", Role.OFFICER)
    supervisor = await _session(client, "chen", Role.SUPERVISOR)
    refused = await client.get("/api/reviews", cookies=officer)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "forbidden"
    allowed = await client.get("/api/reviews", cookies=supervisor)
    assert allowed.status == 200 and (await allowed.json()) == {"reviews": []}
    every = await client.get("/api/cases?scope=all", cookies=officer)
    assert every.status == 403


async def test_call_info_answers_json_errors(client: TestClient) -> None:
    anonymous = await client.get("/api/calls/abcdefghijkl")
    assert anonymous.status == 401
    assert (await anonymous.json())["error"]["code"] == "not_authenticated"
    officer = await _session(client, "li", Role.OFFICER)
    missing = await client.get("/api/calls/abcdefghijkl", cookies=officer)
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"


async def test_pages_show_supervisor_links_by_role(client: TestClient) -> None:
    officer = await _session(client, "li", Role.OFFICER)
    supervisor = await _session(client, "chen", Role.SUPERVISOR)
    own = await (await client.get("/cases", cookies=officer)).text()
    every = await (await client.get("/cases", cookies=supervisor)).text()
    assert 'data-supervisor="false"' in own and 'href="/reviews"' not in own
    assert 'data-supervisor="true"' in every and 'href="/reviews"' in every
    console = await (await client.get("/console", cookies=supervisor)).text()
    assert 'id="link-reviews"' in console
    assert 'id="link-reviews"' not in await (await client.get("/console", cookies=officer)).text()
