"""Property-based fuzzing of every JSON-taking HTTP route, through the real server.

The routes come from the application's route table: every POST/PUT route whose handler
reads ``json_body``, so a JSON route added later is fuzzed too (and one that stops reading
JSON, or a new route of another kind, fails :func:`test_the_route_table_is_covered`). Each is
posted hypothesis-generated bodies as the supervisor (who may act on every case), with the
JSON content type and a same-site ``Origin`` as the console sends; the answer must never be
a 5xx and must always be JSON, an error with a code. The routes whose caller is not an
officer are posted as their own authorised caller (:data:`CALLERS`): the insurer's console
with an insurer's session, the open API with an insurer's API key, a photo report's upload
and send with that report's token; each on an object that caller may act on, so the bodies
reach the route's validation. The server is the fuzz folder's in-process one (conftest.py);
a test also fails when the server logged an exception while it ran.
"""

from __future__ import annotations

import collections
import inspect
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuaichu.accounts.web import COOKIE as SESSION_COOKIE
from sim.client import SimDriver
from tests.api.cases import determined_case, id_number, party, supervisor
from tests.casework.seed import case_id
from tests.fuzz.served import Served
from tests.insurers.seed import insurer_account

# Writing routes that take no JSON: the login form, logout, the phone still (an image body),
# the progress link's one-time code forms, and python-socketio's long-polling transport.
NOT_JSON = {
    ("POST", "/login"),
    ("POST", "/logout"),
    ("POST", "/api/calls/{call_id}/stills"),
    # A photo report's shot is an image body (tests/photoreports/test_upload.py, test_api.py).
    ("PUT", "/api/photo-reports/{call_id}/photo"),
    ("POST", "/p/{token}/code"),
    ("POST", "/p/{token}/verify"),
    ("POST", "/socket.io/"),
}
BODIES = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _handler_source(handler: Any) -> str:
    return inspect.getsource(inspect.unwrap(handler))


def json_routes(app: web.Application) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path template, the fields its ``json_body`` allows) of every route that
    reads a JSON body."""
    found = []
    for route in app.router.routes():
        if route.method not in ("POST", "PUT", "PATCH", "DELETE") or route.resource is None:
            continue
        info = route.resource.get_info()
        template = info.get("path") or info.get("formatter") or ""
        call = re.search(r"json_body\(request((?:,\s*\"\w+\")*)\)", _handler_source(route.handler))
        if call is None:
            continue
        found.append((route.method, template, tuple(re.findall(r"\"(\w+)\"", call.group(1)))))
    # The routes that end or merge the case go last, so the others meet a live case.
    return sorted(found, key=lambda r: (r[1].endswith(("/cancel", "/link")), r))


def writing_routes(app: web.Application) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        if route.method in ("POST", "PUT", "PATCH", "DELETE") and route.resource is not None:
            info = route.resource.get_info()
            out.add((route.method, info.get("path") or info.get("formatter") or ""))
    return out


# --- what the routes' paths need: a case, a capture, a link ------------------------------


@dataclass
class Caller:
    """Who posts to a family of routes when it is not the supervisor: its credential (headers,
    sent without the supervisor's cookie) and the objects it may act on (path values)."""

    headers: dict[str, str]
    paths: dict[str, str]


# Route prefixes whose caller is not an officer, and the caller (World.callers) to use.
CALLERS = {
    "/api/insurer/": "insurer",  # an insurer's staff session (officer add --role insurer)
    "/api/v1/": "api_key",  # an insurer's system with its API key (apikey create)
    "/api/photo-reports/{call_id}/": "photo_report",  # the reporting page, X-Report-Token
}


@dataclass
class World:
    """The served app and the objects its routes' paths name."""

    served: Served
    driver: SimDriver
    paths: dict[str, str]
    callers: dict[str, Caller]
    bare: aiohttp.ClientSession  # no cookie jar: a caller's own credential only

    def caller(self, template: str) -> Caller | None:
        for prefix, name in CALLERS.items():
            if template.startswith(prefix):
                return self.callers[name]
        return None

    def url(self, template: str) -> str:
        caller = self.caller(template)
        paths = {**self.paths, **(caller.paths if caller else {})}
        # A placeholder without a made object (a notice's id) gets a well-formed id of nothing.
        return template.format_map(collections.defaultdict(lambda: "1", paths))

    def request(
        self, method: str, url: str, body: bytes, content_type: str, caller: Caller | None = None
    ) -> Any:
        return self.served.run(self._request(method, url, body, content_type, caller))

    async def _request(
        self, method: str, url: str, body: bytes, content_type: str, caller: Caller | None
    ) -> tuple[int, str, Any]:
        base = self.served.server.url
        headers = {"Content-Type": content_type, "Origin": base}
        http = self.served.http
        if caller is not None:
            headers.update(caller.headers)
            http = self.bare
        async with http.request(method, base + url, data=body, headers=headers) as resp:
            text = await resp.text(errors="replace")
            payload = json.loads(text) if resp.content_type == "application/json" else None
            return resp.status, resp.content_type, payload


async def _world(served: Served) -> World:
    from kuaichu.appkeys import accounts_key, captures_key
    from kuaichu.evidence.captures import CallFacts

    server, http = served.server, served.http
    assert server.app is not None
    # A driver's report makes a case (queued: nobody is available) and its progress link.
    driver = await SimDriver(server.url).connect()
    ack = await driver.report(phone="13800138000")
    assert ack["ok"], ack
    token = ack["progress_url"].rsplit("/", 1)[1]
    # The reporting page's browser opens its own link without a code (docs/protocol.md).
    claim = await http.post(
        f"{server.url}/p/{token}/device",
        json={"call_id": ack["call_id"], "resume_token": ack["resume_token"]},
        headers={"Origin": server.url},
    )
    assert claim.status in (200, 404), claim.status  # 404: a server without the claim
    # A still of that case, stored as the phone-still path stores one, for its annotation.
    supervisor = await server.app[accounts_key].officer_for_token(served.cookie.split("=", 1)[1])
    assert supervisor is not None
    facts = CallFacts(ack["call_id"], ack["case_id"], supervisor.id, None, None, None)
    view = await server.app[captures_key].phone_still(facts, "scene", _tiny_png())
    paths = {
        "case_id": ack["case_id"],
        "call_id": ack["call_id"],
        "capture": str(view["id"]),
        "token": token,
        "name": "1.html",
    }
    bare = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    return World(served, driver, paths, await _callers(served, bare), bare)


# A determined case whose parties' insurers (A: 平安, B: 人保) each hold a claim of it: the
# insurers' routes act on it. The photo report: eligible, with a mobile number.
CLAIMED = case_id(9001)
PHOTO_ELIGIBLE = {
    "injuries": False,
    "vehicles_movable": True,
    "vehicle_to_vehicle": True,
    "all_insured": True,
    "cause": "rear_end",
    "unlicensed": False,
    "drunk_driving": False,
    "hit_and_run": False,
}


async def _callers(served: Served, bare: aiohttp.ClientSession) -> dict[str, Caller]:
    from kuaichu.appkeys import api_keys_key, insurer_desk_key

    server = served.server
    app = server.app
    assert app is not None
    await determined_case(
        app,
        CLAIMED,
        [
            party(
                "A", "张三", "黑A·12345", "中国平安财产保险", liability="full",
                licence=id_number("23010319900101123"), phone="13800000001",
            ),
            party(
                "B", "李四", "黑A·67890", "中国人保财险", liability="none",
                licence=id_number("23010319920202234"), phone="13800000002",
            ),
        ],
    )  # fmt: skip
    claims = await app[insurer_desk_key].hand_off_by_officer(await supervisor(app), CLAIMED)
    assert {c["insurer"] for c in claims} >= {"picc", "pingan"}, claims
    # Two insurers, so the console's and the API's bodies each move a claim of their own.
    _, session = await insurer_account(server, "picc", "picc.fuzz")
    _, api_token = await app[api_keys_key].create("pingan", "fuzz")
    async with bare.post(
        server.url + "/api/photo-reports",
        json={"eligibility": PHOTO_ELIGIBLE, "phone": "13900139000"},
        headers={"Origin": server.url},
    ) as resp:
        assert resp.status == 201, await resp.text()
        report = await resp.json()
    return {
        "insurer": Caller({"Cookie": f"{SESSION_COOKIE}={session}"}, {"case_id": CLAIMED}),
        "api_key": Caller({"Authorization": f"Bearer {api_token}"}, {"case_id": CLAIMED}),
        "photo_report": Caller(
            {"X-Report-Token": report["token"]}, {"call_id": report["report_id"]}
        ),
    }


def _tiny_png() -> bytes:
    import io

    import av
    import numpy as np

    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8), format="rgb24")
    out = io.BytesIO()
    with av.open(out, "w", format="image2pipe") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    w = served.run(_world(served))
    yield w
    served.run(w.driver.close())
    served.run(w.bare.close())


# --- bodies -----------------------------------------------------------------------------

EDGE_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "\x00",
            "\x85\x9b",
            "\u202e\u2066",
            "\U0001f697" * 10,
            "１２３",
            "x" * 3000,
            "KC20260101ABCDEF",
            "A",
            "confirm",
            "withdraw",
            "full",
            "rear_end",
        ]
    ),
)
NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([10**30, -(10**30), 2**63, 2**64, -1, 0, 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
VALUES = st.recursive(
    st.one_of(st.none(), NUMBERS, EDGE_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _nested(depth: int, as_list: bool) -> bytes:
    return (b"[" * depth + b"]" * depth) if as_list else (b'{"a":' * depth + b"1" + b"}" * depth)


# JSON text the json module cannot write: NaN, Infinity, huge numbers, lone surrogates.
RAW_JSON = st.sampled_from(
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"x"',
        b"1e999",
        b'{"a": NaN}',
        b'{"a": Infinity, "b": -Infinity}',
        b'{"a": 1' + b"0" * 5000 + b"}",
        b'{"\\ud800": "\\udfff"}',
        b'{"a": "\\ud800"}',
        b"\xff\xfe{}",
        b'{"a": 1, "a": 2}',
        b"\xef\xbb\xbf{}",
        b'{"a": "\x00"}',
        b"{}" * 10,
        b" " * 70_000,
    ]
)
DEEP = st.builds(
    _nested, st.sampled_from([20, 500, sys.getrecursionlimit() + 10, 20_000]), st.booleans()
)


PARTY = st.fixed_dictionaries(
    {"key": st.sampled_from("ABCDEF")},
    optional={
        "plate": st.sampled_from(["京A12345", "黑A·D12345", "京A１２３４５", "\u202e京A12345"]),
        "phone": st.sampled_from(["13800138000", "+8613900000000", "1380013800\x00"]),
        "name": EDGE_TEXT,
        "liability": st.sampled_from(["full", "none", "equal", "全部", "?", None]),
        "licence_no": st.sampled_from(["11010519491231002X", "110105194912310021"]),
        "vehicle_type": st.sampled_from(["small_car", "tank"]),
        "reporter": st.booleans(),
    },
)
FORM = st.fixed_dictionaries(
    {},
    optional={
        "cause": st.sampled_from(["rear_end", "other", "", None]),
        "occurred_at": st.sampled_from(
            ["2026-11-30T08:00:00+08:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59"]
        ),
        "address": EDGE_TEXT,
        "lat": st.floats(-100, 100),
        "lng": st.floats(-200, 200),
        "description": EDGE_TEXT,
        "parties": st.lists(PARTY, max_size=4),
    },
)
REGION = st.fixed_dictionaries(
    {name: st.one_of(st.floats(-0.5, 1.5), NUMBERS) for name in ("x", "y", "w", "h")}
)
# Plausible values of each field a route takes: with them a body gets past the shape checks
# into the service (its state rules, the form's validation, the annotation's rectangles).
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "party": st.sampled_from("ABCDEFG"),
    "approve": st.booleans(),
    "action": st.sampled_from(["confirm", "withdraw"]),
    "revision": st.integers(0, 3),
    "form": FORM,
    "regions": st.lists(REGION, max_size=4),
    "case_id": st.sampled_from(["KC20260101ABCDEF", "KC2026010"]),
    "item": st.sampled_from(["licence", "plate", "insurance", "x"]),
    "decision": st.sampled_from(["confirmed", "rejected", "x"]),
    "outcome": st.sampled_from(["upheld", "revised", "x"]),
    # An insurer's claim status (the console's and the open API's claim routes).
    "status": st.sampled_from(
        ["received", "assessor_assigned", "assessed", "paid", "refused", "handed_off", "x"]
    ),
    "amount": st.one_of(
        st.integers(-5, 10**7), st.sampled_from(["1234.50", "0.001", "1e3", "", "NaN"]), NUMBERS
    ),
}


@st.composite
def bodies(draw: st.DrawFn, fields: tuple[str, ...]) -> tuple[bytes, str]:
    """A body and its content type: mostly objects with the route's own fields holding
    hostile values, also foreign fields, non-objects, broken and deeply nested JSON, and now
    and then another content type."""
    kind = draw(st.sampled_from(["fields"] * 6 + ["extra", "value", "raw", "deep"]))
    if kind == "fields":
        names = draw(st.lists(st.sampled_from(fields), unique=True)) if fields else []
        body = _dumps(
            {
                name: draw(
                    st.one_of(
                        PLAUSIBLE.get(name, EDGE_TEXT), PLAUSIBLE.get(name, EDGE_TEXT), VALUES
                    ),
                    label=name,
                )
                for name in names
            }
        )
        # The form route: a form-shaped object with hostile leaves.
        if "form" in names and draw(st.booleans()):
            form = draw(
                st.dictionaries(
                    st.sampled_from(
                        ["cause", "occurred_at", "address", "lat", "lng", "parties", "x"]
                    ),
                    VALUES,
                )
            )
            if draw(st.booleans()):
                form["parties"] = draw(
                    st.lists(
                        st.dictionaries(
                            st.sampled_from(["key", "plate", "phone", "liability", "name"]),
                            VALUES,
                        ),
                        max_size=3,
                    )
                )
            body = _dumps({"revision": draw(NUMBERS), "form": form})
    elif kind == "extra":
        body = _dumps(draw(st.dictionaries(EDGE_TEXT, VALUES, min_size=1, max_size=3)))
    elif kind == "value":
        body = _dumps(draw(VALUES))
    elif kind == "raw":
        body = draw(RAW_JSON)
    else:
        body = draw(DEEP)
    content_type = draw(
        st.sampled_from(["application/json"] * 9 + ["text/plain", "application/json; charset=x"])
    )
    return body, content_type


# --- the tests -------------------------------------------------------------------------------


def _app_routes() -> tuple[list[tuple[str, str, tuple[str, ...]]], set[tuple[str, str]]]:
    from kuaichu.app import create_app
    from kuaichu.settings import Settings

    app = create_app(Settings(data_dir=Path("/nonexistent/kuaichu-fuzz")))
    return json_routes(app), writing_routes(app)


ROUTES, WRITING = _app_routes()


def test_the_route_table_is_covered() -> None:
    """Every writing route either takes JSON (and is fuzzed below) or is a known other kind."""
    assert len(ROUTES) >= 15
    assert {(m, t) for m, t, _ in ROUTES} | NOT_JSON == WRITING


@pytest.mark.parametrize(("method", "template", "fields"), ROUTES, ids=lambda v: str(v))
def test_hostile_bodies_never_get_a_5xx(
    world: World, method: str, template: str, fields: tuple[str, ...]
) -> None:
    url = world.url(template)
    caller = world.caller(template)
    seen: list[int] = []

    @BODIES
    @given(bodies(fields))
    def post(body_and_type: tuple[bytes, str]) -> None:
        body, content_type = body_and_type
        status, answer_type, answer = world.request(method, url, body, content_type, caller)
        seen.append(status)
        assert status < 500, (status, answer)
        assert answer_type == "application/json", (status, answer_type)
        if status >= 400:
            assert isinstance(answer, dict) and answer["error"]["code"], answer
            assert answer["error"]["code"] != "internal", answer

    post()
    print(template, collections.Counter(seen))
    assert not world.served.server.problems(), world.served.server.problems()
    # The bodies got past the guards: some were refused by validation, not only 401/403/404.
    assert any(s in (200, 201, 400, 409, 413) for s in seen), seen


def test_a_nan_in_a_body_is_refused_or_ignored(world: World) -> None:
    # json.loads reads NaN; nothing must store it (the form's lat would break to_dict's JSON).
    url = "/api/cases/{case_id}/form".format(**world.paths)
    body = b'{"revision": 0, "form": {"lat": NaN, "lng": 1}}'
    status, _type, answer = world.request("PUT", url, body, "application/json")
    assert status < 500 and (status >= 400 or not math.isnan(answer["form"]["lat"])), answer
