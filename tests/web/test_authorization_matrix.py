"""Every route of the application × every identity × the identity's own case and another's.

The routes come from the app's own route table (``app.router.routes()``); what each kind of
route must answer is declared once, in ``RULES`` (route → class, and the body that gets past
its validation so the authorization is what answers) and ``EXPECTED`` (class × identity ×
own/other case → outcome). A route added without a line in ``RULES`` fails the test.

The identities: nobody; the officer who answered the case's call ("owner", case X); another
officer (who answered case Z); a supervisor; a party of X and a party of Z, each holding
only their progress link's token; an insurer's staff account (issue 13: PICC, whose
policyholder is a party of case Y, determined; X is no case of its). The cases are seeded
straight into the server's database (no media, no Argon2: the officers come from the template
database of tests/support and get their sessions from the Accounts service; Y's determination
is issued by the real CaseWork), so the whole matrix runs in a few seconds.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import CursorResult, insert

from kuaichu.accounts.model import Officer, Role
from kuaichu.accounts.web import COOKIE
from kuaichu.appkeys import accounts_key, db_key
from kuaichu.cases.states import AuditEntry, CaseEvent, apply
from kuaichu.settings import Settings
from kuaichu.storage.casefiles import CaseStore
from kuaichu.storage.tables import calls, captures, outbox, recordings
from tests.api.cases import determined_case, id_number, party
from tests.casework.seed import CST, case_id, insert_cases
from tests.conftest import ServerFactory
from tests.support.servers import InProcessServer


class Kind(Enum):
    """Who a route is for; ``EXPECTED`` says what each identity gets."""

    PUBLIC = "anyone, no session"
    OFFICER = "any logged-in officer, no case named"
    SUPERVISOR = "supervisors only, no case named"
    CASE = "the officer who answered the case's call, or a supervisor"
    CASE_SUPERVISOR = "a case, supervisors only (review decisions)"
    LINK = "two cases, the URL's and the body's: an officer must hold both; a supervisor any"
    PARTY = "a party, by their progress link's token (the URL names no case otherwise)"
    CALL_TOKEN = "the driver page, by the call's own token (no session grants it)"
    REPORTING_DEVICE = "a progress link's token and the live report's resume token together"
    OFFICER_PAGE = "a page for any officer; the browser goes to /login without a session"
    CASE_PAGE = "the case page's shell for any officer; the case API it calls authorizes"
    SUPERVISOR_PAGE = "a page for supervisors; an officer sees the forbidden page"
    LOGIN_FORM = "the login form's POST and the logout (public; no 5xx)"
    SOCKETIO = "socket.io's transport; its namespaces authorize on connect (tests/signaling)"
    INSURER = "an insurer's account only (police accounts 403; the insurer side: tests/insurers)"
    INSURER_LIST = "an insurer's account, no case named: its own work list"
    INSURER_PAGE = "the insurer's console: /login without a session, a police account to /console"
    API_KEY = "the open API (/api/v1): an insurer's API key only; no session or link grants it"


@dataclass(frozen=True)
class Rule:
    kind: Kind
    body: dict[str, Any] | None = None


# ONE line per route of the application (method, path template), HEAD counted with its GET.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/socket.io/"): Rule(Kind.SOCKETIO),
    ("POST", "/socket.io/"): Rule(Kind.SOCKETIO),
    ("OPTIONS", "/socket.io/"): Rule(Kind.SOCKETIO),
    ("POST", "/login"): Rule(Kind.LOGIN_FORM),
    ("POST", "/logout"): Rule(Kind.LOGIN_FORM),
    ("GET", "/api/config"): Rule(Kind.PUBLIC),
    ("GET", "/api/calls/{call_id}"): Rule(Kind.CASE),
    ("GET", "/verify"): Rule(Kind.PUBLIC),
    ("GET", "/v/{case_id}/{code}"): Rule(Kind.PUBLIC),
    ("GET", "/api/service"): Rule(Kind.PUBLIC),
    ("GET", "/healthz"): Rule(Kind.PUBLIC),
    ("GET", "/api/cases/{case_id}/captures"): Rule(Kind.CASE),
    ("GET", "/api/captures/{capture}"): Rule(Kind.CASE),
    ("PUT", "/api/captures/{capture}/annotation"): Rule(Kind.CASE, {"regions": [], "note": ""}),
    ("POST", "/api/calls/{call_id}/stills"): Rule(Kind.CALL_TOKEN),
    # issue 13, the photo channel: the driver page has no session; the report's own token.
    ("GET", "/api/photo-reports/availability"): Rule(Kind.PUBLIC),
    ("POST", "/api/photo-reports"): Rule(Kind.PUBLIC),
    ("PUT", "/api/photo-reports/{call_id}/photo"): Rule(Kind.CALL_TOKEN),
    ("POST", "/api/photo-reports/{call_id}/submit"): Rule(Kind.CALL_TOKEN, {}),
    ("GET", "/api/photo-reports"): Rule(Kind.OFFICER),
    # Any officer may take a waiting photo report (here: no such report, 404).
    ("POST", "/api/cases/{case_id}/photo-report/take"): Rule(Kind.OFFICER, {}),
    # The officer holding the case calls its driver back (here: not a photo report, 404).
    ("POST", "/api/cases/{case_id}/photo-report/callback"): Rule(Kind.CASE, {}),
    ("GET", "/api/calls/{call_id}/recording"): Rule(Kind.CASE),
    ("GET", "/api/cases/{case_id}/evidence/verify"): Rule(Kind.CASE),
    ("GET", "/api/keys/evidence.pem"): Rule(Kind.PUBLIC),
    ("GET", "/api/cases"): Rule(Kind.OFFICER),
    # issue 12: the to-do list and 我的案件 list only the caller's own cases (supervisors: also
    # the review requests, and every case with ?scope=all; an officer's scope=all is 403).
    ("GET", "/api/todo"): Rule(Kind.OFFICER),
    ("GET", "/api/case-list"): Rule(Kind.OFFICER),
    ("GET", "/api/cases/{case_id}"): Rule(Kind.CASE),
    ("PUT", "/api/cases/{case_id}/form"): Rule(Kind.CASE, {"revision": 0, "form": {}}),
    ("POST", "/api/cases/{case_id}/verify"): Rule(Kind.CASE, {"party": "A"}),
    ("POST", "/api/cases/{case_id}/decisions"): Rule(
        Kind.CASE, {"party": "A", "item": "licence", "decision": "accept", "reason": "seen"}
    ),
    ("POST", "/api/cases/{case_id}/information"): Rule(Kind.CASE, {}),
    ("POST", "/api/cases/{case_id}/leave-scene"): Rule(Kind.CASE, {}),
    ("POST", "/api/cases/{case_id}/determinations"): Rule(Kind.CASE, {}),
    ("GET", "/api/cases/{case_id}/documents/{name}"): Rule(Kind.CASE),
    ("POST", "/api/cases/{case_id}/agreement"): Rule(Kind.CASE, {}),
    ("POST", "/api/cases/{case_id}/agreement/decision"): Rule(Kind.CASE, {"approve": True}),
    ("POST", "/api/cases/{case_id}/review-decision"): Rule(
        Kind.CASE_SUPERVISOR, {"outcome": "upheld", "text": "checked"}
    ),
    # The body names the other identity's case (issue #10's IDOR). A report still waiting
    # for an officer is nobody's and may be linked by the officer holding the other case:
    # tests/e2e/test_case_branches.py.
    ("POST", "/api/cases/{case_id}/link"): Rule(Kind.LINK, {"case_id": "{other}"}),
    ("POST", "/api/cases/{case_id}/cancel"): Rule(Kind.CASE, {"reason": "authorization matrix"}),
    # issue 12: re-reports proposed for linking (tests/e2e/test_relink.py), the case's own.
    ("GET", "/api/cases/{case_id}/link-candidates"): Rule(Kind.CASE),
    ("GET", "/api/reviews"): Rule(Kind.SUPERVISOR),
    ("GET", "/api/metrics"): Rule(Kind.SUPERVISOR),
    ("GET", "/api/notices/failed"): Rule(Kind.OFFICER),  # each sees their own cases' (below)
    ("POST", "/api/notices/{message_id}/resend"): Rule(Kind.CASE, {}),
    ("GET", "/p/{token}"): Rule(Kind.PARTY),
    ("GET", "/p/{token}/status"): Rule(Kind.PARTY),
    ("GET", "/p/{token}/document"): Rule(Kind.PARTY),
    ("GET", "/p/{token}/document.pdf"): Rule(Kind.PARTY),
    ("POST", "/p/{token}/review"): Rule(Kind.PARTY, {"reason": "the other car braked"}),
    ("POST", "/p/{token}/agreement"): Rule(Kind.PARTY, {"action": "confirm"}),
    ("POST", "/p/{token}/code"): Rule(Kind.PARTY, {"send": "1"}),
    ("POST", "/p/{token}/verify"): Rule(Kind.PARTY, {"code": "000000"}),
    ("POST", "/p/{token}/device"): Rule(
        Kind.REPORTING_DEVICE, {"call_id": "{call}", "resume_token": "R" * 24}
    ),
    ("GET", "/static/{filename}"): Rule(Kind.PUBLIC),
    ("GET", "/"): Rule(Kind.PUBLIC),
    ("GET", "/driver"): Rule(Kind.PUBLIC),
    ("GET", "/console"): Rule(Kind.OFFICER_PAGE),
    ("GET", "/wallboard"): Rule(Kind.SUPERVISOR_PAGE),
    ("GET", "/login"): Rule(Kind.PUBLIC),
    ("GET", "/cases"): Rule(Kind.OFFICER_PAGE),
    ("GET", "/cases/{case_id}"): Rule(Kind.CASE_PAGE),
    ("GET", "/reviews"): Rule(Kind.SUPERVISOR_PAGE),
    # issue 13, insurers (kuaichu.insurers; their own identities: tests/insurers).
    ("GET", "/api/insurer/cases"): Rule(Kind.INSURER_LIST),
    ("GET", "/api/insurer/cases/{case_id}"): Rule(Kind.INSURER),
    ("GET", "/api/insurer/cases/{case_id}/evidence/{seq}"): Rule(Kind.INSURER),
    ("GET", "/api/insurer/cases/{case_id}/documents/{name}"): Rule(Kind.INSURER),
    ("POST", "/api/insurer/cases/{case_id}/claim"): Rule(Kind.INSURER, {"status": "received"}),
    ("GET", "/api/cases/{case_id}/claims"): Rule(Kind.CASE),
    ("POST", "/api/cases/{case_id}/handoff"): Rule(Kind.CASE, {}),
    ("GET", "/api/cases/{case_id}/agreement-documents/{name}"): Rule(Kind.CASE),
    ("GET", "/api/complaints"): Rule(Kind.SUPERVISOR),
    ("POST", "/api/complaints/{complaint_id}/callback"): Rule(
        Kind.SUPERVISOR, {"outcome": "called"}
    ),
    ("GET", "/p/{token}/claims"): Rule(Kind.PARTY),
    ("POST", "/p/{token}/claim"): Rule(Kind.PARTY, {}),
    ("POST", "/p/{token}/complaint"): Rule(Kind.PARTY, {"claim_id": 1, "text": "no answer"}),
    ("GET", "/p/{token}/agreement-document"): Rule(Kind.PARTY),
    ("GET", "/p/{token}/agreement-document.pdf"): Rule(Kind.PARTY),
    ("GET", "/insurer"): Rule(Kind.INSURER_PAGE),
    ("GET", "/complaints"): Rule(Kind.SUPERVISOR_PAGE),
    # issue 13, the open API (kuaichu.api; its keys' own scope: tests/api/test_access.py).
    ("GET", "/api/v1/openapi.json"): Rule(Kind.PUBLIC),
    ("GET", "/api/v1/docs"): Rule(Kind.PUBLIC),
    ("GET", "/api/v1/docs.css"): Rule(Kind.PUBLIC),
    ("GET", "/api/v1/cases"): Rule(Kind.API_KEY),
    ("GET", "/api/v1/cases/{case_id}"): Rule(Kind.API_KEY),
    ("GET", "/api/v1/cases/{case_id}/determination.pdf"): Rule(Kind.API_KEY),
    ("GET", "/api/v1/cases/{case_id}/agreement.pdf"): Rule(Kind.API_KEY),
    ("GET", "/api/v1/cases/{case_id}/evidence"): Rule(Kind.API_KEY),
    ("GET", "/api/v1/cases/{case_id}/evidence/{seq}"): Rule(Kind.API_KEY),
    ("GET", "/api/v1/cases/{case_id}/manifest"): Rule(Kind.API_KEY),
    ("POST", "/api/v1/cases/{case_id}/claim"): Rule(Kind.API_KEY, {"status": "received"}),
    # issue 12, rejoin links (kuaichu.web.rejoin): only the live call's own officer sends one
    # (any other officer gets 404 from the live-call registry; the seeded calls are not live:
    # tests/browser/test_rejoin.py); the link itself is the driver's only key.
    ("POST", "/api/calls/{call_id}/rejoin"): Rule(Kind.OFFICER, {}),
    ("GET", "/j/{token}"): Rule(Kind.PUBLIC),
    ("POST", "/j/{token}"): Rule(Kind.PUBLIC, {}),
    # issue 13, fraud signals (kuaichu.fraud).
    ("GET", "/api/cases/{case_id}/fraud"): Rule(Kind.CASE),
    ("GET", "/api/fraud/flagged"): Rule(Kind.SUPERVISOR),
    ("GET", "/fraud"): Rule(Kind.SUPERVISOR_PAGE),
}

ROLES = (
    "anonymous",
    "owner",
    "other_officer",
    "supervisor",
    "party_own",
    "party_other",
    "insurer",
)
OFFICERS = {"owner", "other_officer", "supervisor"}
PARTIES = {"party_own", "party_other"}
INSURER = "insurer"  # an insurer's staff (officer add --role insurer --insurer picc)

# Outcomes: "ok" (past authorization: anything but 401/403, a login redirect or a 5xx),
# 401/403/404 (exactly, with the JSON error for the API), "login" (302 to /login),
# "insurer_home" (302 to the insurer's console), "any" (whatever but a 5xx).
Outcome = str | int

# Police kinds: an insurer's account is refused by each (403 ``insurer_account`` for the API).
POLICE_API = {Kind.OFFICER, Kind.SUPERVISOR, Kind.CASE, Kind.CASE_SUPERVISOR, Kind.LINK}
POLICE_PAGES = {Kind.OFFICER_PAGE, Kind.CASE_PAGE, Kind.SUPERVISOR_PAGE}


def expected_for_insurer(kind: Kind, own: bool) -> Outcome:
    """What an insurer's staff account gets: its own console and API on its policyholders'
    determined case (Y), a refusal on any other case (X: no policyholder of its, no liability
    yet), and nothing of the police's, the parties' or the open API's."""
    if kind in POLICE_API:
        return 403
    if kind in POLICE_PAGES:
        return "insurer_home"
    if kind is Kind.INSURER:
        return "ok" if own else 403
    if kind in (Kind.INSURER_LIST, Kind.INSURER_PAGE):
        return "ok"
    if kind is Kind.PARTY:
        return 404  # a session is no progress link
    return expected(kind, "anonymous", own)  # public, tokens, the API key: as anyone


def expected(kind: Kind, role: str, own: bool) -> Outcome:
    """What ``role`` gets from a route of ``kind`` on its own case (``own``) or another's.
    The "own" case of the owner and of party_own is X, of other_officer and party_other Z;
    the target is the case the URL names (for a party: the case of the token it holds)."""
    if role == INSURER and kind not in (Kind.LOGIN_FORM, Kind.SOCKETIO):
        return expected_for_insurer(kind, own)
    officer = role in OFFICERS
    if kind in (Kind.LOGIN_FORM, Kind.SOCKETIO):
        return "any"  # their own tests say what they answer; here: never a 5xx
    if kind is Kind.PUBLIC:
        return "ok"
    if kind is Kind.CALL_TOKEN:
        return 401  # a session or a progress link is no call token
    if kind is Kind.REPORTING_DEVICE:
        return 403  # nobody here holds the live report's resume token
    if kind in (Kind.INSURER, Kind.INSURER_LIST):
        return 403 if officer else 401
    if kind is Kind.API_KEY:
        return 401  # a session cookie or a progress link is no API key
    if kind is Kind.INSURER_PAGE:
        return 302 if officer else "login"
    if kind is Kind.PARTY:
        return "ok" if role in PARTIES else 404  # without a token: a link that does not exist
    if kind in (Kind.OFFICER_PAGE, Kind.CASE_PAGE, Kind.SUPERVISOR_PAGE):
        if not officer:
            return "login"
        if kind is Kind.SUPERVISOR_PAGE and role != "supervisor":
            return 403
        return "ok"
    if not officer:
        return 401
    if kind is Kind.OFFICER:
        return "ok"
    if kind in (Kind.SUPERVISOR, Kind.CASE_SUPERVISOR, Kind.LINK):
        return "ok" if role == "supervisor" else 403
    assert kind is Kind.CASE
    return "ok" if role == "supervisor" or own else 403


# --- the seeded world ------------------------------------------------------------------------


@dataclass
class World:
    server: InProcessServer
    people: dict[str, Officer]  # role -> officer
    cookies: dict[str, str]  # role -> session token
    cases: dict[str, str]  # "X", "Z", "Y" -> case id
    calls: dict[str, str]  # "X", "Z", "Y" -> call id
    captures: dict[str, int]
    notices: dict[str, int]  # "X", "Z", "Y" -> a failed SMS of the case
    tokens: dict[str, str]  # "X", "Z", "Y" -> progress-link token of party A


def in_call_trail(at: datetime, officer_id: int) -> list[AuditEntry]:
    trail = [apply([], CaseEvent.REPORT, "driver", at, zone=CST)]
    trail.append(apply(trail, CaseEvent.QUEUE, "system", at, zone=CST))
    trail.append(apply(trail, CaseEvent.ANSWER, f"officer:{officer_id}", at, zone=CST))
    return trail


def new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def seed(server: InProcessServer) -> World:
    assert server.app is not None
    accounts = server.app[accounts_key]
    by_name = {o.username: o for o in await accounts.list_officers()}
    people = {
        "owner": by_name[server.officer_username],
        "other_officer": by_name[server.extra_officers[0][0]],
        "supervisor": by_name[server.supervisor_username],
    }
    people[INSURER] = await accounts.add_officer(
        "matrix.picc", "insurer-pass-1", "人保理赔员", Role.INSURER, "picc"
    )
    cookies = {role: await accounts.open_session(o) for role, o in people.items()}
    engine = server.app[db_key].engine
    now = datetime.now(CST)
    ids = {"X": case_id(101), "Z": case_id(102), "Y": case_id(103)}
    holders = {"X": people["owner"].id, "Z": people["other_officer"].id, "Y": people["owner"].id}
    await insert_cases(
        engine, {ids[k]: in_call_trail(now, holders[k]) for k in ids if k != "Y"}
    )
    # Y: determined by the real CaseWork; party B is insured by PICC (the insurer's case).
    await determined_case(
        server.app,
        ids["Y"],
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
    call_ids = {k: f"matrixcall{k}{k}" for k in ids}
    store = CaseStore(engine)
    tokens: dict[str, str] = {}
    capture_ids: dict[str, int] = {}
    notice_ids: dict[str, int] = {}
    async with engine.begin() as conn:
        for k, cid in ids.items():
            await conn.execute(
                insert(calls).values(
                    id=call_ids[k],
                    case_id=cid,
                    state="in_call" if k != "Y" else "ended",
                    queued_at=time.time(),
                    officer_id=holders[k],
                )
            )
        for n, k in enumerate(("X", "Z", "Y"), start=1):
            tokens[k] = await store.new_link(conn, ids[k], "A", f"1380000000{n}")
            await conn.execute(
                insert(recordings).values(
                    call_id=call_ids[k],
                    path=str(server.data_dir / "recordings" / ids[k] / "gone.mp4"),
                    sha256="0" * 64,
                    size_bytes=1,
                    duration_s=1.0,
                    started_at=time.time(),
                    ended_at=time.time(),
                    streams="[]",
                )
            )
            found = await conn.execute(
                insert(captures).values(
                    case_id=ids[k],
                    call_id=call_ids[k],
                    kind="scene",
                    source="video_frame",
                    path=f"{ids[k]}/gone.jpg",
                    sha256="0" * 64,
                    width=1,
                    height=1,
                    captured_at=time.time(),
                    officer_id=holders[k],
                )
            )
            capture_ids[k] = new_id(found)
            found = await conn.execute(
                insert(outbox).values(
                    case_id=ids[k],
                    party="A",
                    phone=f"1380000000{n}",
                    template="queued",
                    params="{}",
                    body="matrix",
                    dedupe_key=f"matrix:{k}",
                    status="failed",
                    attempts=5,
                    next_attempt_at=0.0,
                    last_error="gateway said no",
                    created_at=time.time(),
                )
            )
            notice_ids[k] = new_id(found)
    return World(server, people, cookies, ids, call_ids, capture_ids, notice_ids, tokens)


# --- the requests ------------------------------------------------------------------------------


def route_table(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route; HEAD is its GET's twin and is asked as such."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("path") or info.get("formatter")
        if template is None and "prefix" in info:
            template = f"{info['prefix']}/{{filename}}"  # the static folder
        if route.method == "HEAD" or template is None:
            continue
        found.append((route.method, str(template)))
    return found


def own_case(role: str) -> str:
    if role == INSURER:
        return "Y"
    return "X" if role in ("owner", "party_own", "anonymous", "supervisor") else "Z"


def targets(role: str) -> tuple[str, str]:
    """The cases a role is asked about: its own, and another's (the insurer: Y, and X)."""
    return ("Y", "X") if role == INSURER else ("X", "Z")


def url_for(world: World, template: str, role: str, target: str) -> str:
    names = set(re.findall(r"{(\w+)}", template))
    values = {
        "case_id": world.cases[target],
        "call_id": world.calls[target],
        "capture": str(world.captures[target]),
        "message_id": str(world.notices[target]),
        "seq": "1",
        "complaint_id": "1",
        # The insurer's document route names the kind; the officers' a version.
        "name": "determination.html" if template.startswith("/api/insurer/") else "1.html",
        "code": "ABCDEFGH",
        "filename": "common.js",
        # A party holds its own case's token; anyone else a well-formed one that is nobody's.
        "token": world.tokens[own_case(role)] if role in PARTIES else "N" * 24,
    }
    return template.format(**{n: values[n] for n in names})


def body_for(world: World, rule: Rule, target: str) -> str | None:
    if rule.body is None:
        return None
    other = "Z" if target == "X" else "X"  # Y's link: only the insurer asks, refused first
    text = json.dumps(rule.body).replace("{other}", world.cases[other])
    return text.replace("{call}", world.calls[target])


def matches(want: Outcome, status: int, location: str | None) -> bool:
    """Whether an answer is the outcome declared for it."""
    if status >= 500:
        return False
    if want == "any":
        return True
    login = status == 302 and (location or "").startswith("/login")
    if want == "login":
        return login
    if want == "insurer_home":
        return status == 302 and location == "/insurer"
    if want == "ok":
        # Past the authorization: whatever the case's state makes of it (200, 201, 400, 404
        # for a file or a document not there, 409), but not a refusal.
        return status not in (401, 403) and not login
    return status == want


async def ask(
    http: aiohttp.ClientSession,
    world: World,
    method: str,
    template: str,
    role: str,
    target: str,
    want: Outcome,
) -> tuple[bool, str]:
    """Whether the route answers ``role`` on ``target`` as ``want``; and what it said."""
    rule = RULES[(method, template)]
    url = world.server.url + url_for(world, template, role, target)
    if rule.kind is Kind.SOCKETIO:
        url += "?EIO=4&transport=polling&sid=nosuchsession"  # well-formed, opens nothing
    headers = {"Content-Type": "application/json"} if rule.body is not None else {}
    if role in world.cookies:
        headers["Cookie"] = f"{COOKIE}={world.cookies[role]}"
    async with http.request(
        method, url, data=body_for(world, rule, target), headers=headers, allow_redirects=False
    ) as resp:
        body: Any = None
        if resp.content_type == "application/json":
            body = await resp.json()
        else:
            await resp.read()
        ok = matches(want, resp.status, resp.headers.get("Location"))
        if ok and want in (401, 403) and template.startswith("/api/"):
            # The API's refusals are its JSON errors, not a page or an empty answer.
            code = {401: "not_authenticated", 403: "forbidden"}[int(want)]
            ok = isinstance(body, dict) and body.get("error", {}).get("code") == code
            if ok and role == INSURER and RULES[(method, template)].kind in POLICE_API:
                # Refused as an insurer's account, before any case is looked at.
                ok = body["error"].get("detail", {}).get("reason") == "insurer_account"
        detail = f"{resp.status} {str(body)[:120] if body is not None else ''}"
        if template == "/logout" and role in world.cookies:
            assert world.server.app is not None
            # The session just ended: the role logs in again for the routes after this one.
            world.cookies[role] = await world.server.app[accounts_key].open_session(
                world.people[role]
            )
        if method == "GET" and role == "party_own" and template == "/p/{token}/status":
            # The token's case, and only it.
            assert body["case_id"] == world.cases[own_case(role)], body
        return ok, detail


# The parties open their links on a device the server already trusts: which devices may open a
# link is tests/web/test_progress_links.py's subject; here, which case a token reaches.
TRUSTED_DEVICES = (
    {"progress_link_code": False}
    if "progress_link_code" in {f.name for f in fields(Settings)}
    else {}
)


@pytest.fixture
async def world(server_factory: ServerFactory) -> World:
    return await seed(await server_factory(**TRUSTED_DEVICES))


async def test_every_route_is_declared(world: World) -> None:
    assert world.server.app is not None
    routes = set(route_table(world.server.app))
    assert len(routes) > 40
    assert routes - set(RULES) == set(), "a route without a line in RULES: declare who may call it"
    assert set(RULES) - routes == set(), "RULES names a route the app no longer has"


async def test_every_route_every_identity_own_and_other_case(world: World) -> None:
    assert world.server.app is not None
    wrong = []
    asked = 0
    async with aiohttp.ClientSession() as http:
        # The link last: by then both cases are cancelled and the supervisor's link is refused
        # after its authorization. An accepted link would move the other case's call, and with
        # it who holds which case, under the routes still to come.
        routes = route_table(world.server.app)
        for method, template in sorted(routes, key=lambda r: RULES[r].kind is Kind.LINK):
            kind = RULES[(method, template)].kind
            for role in ROLES:
                for target in targets(role):
                    want = expected(kind, role, own=own_case(role) == target)
                    ok, detail = await ask(http, world, method, template, role, target, want)
                    asked += 1
                    if not ok:
                        wrong.append(
                            f"{method} {template} as {role} on {target}: want {want}, got {detail}"
                        )
    assert asked > 500
    assert wrong == [], "\n".join(wrong)
    # The owner's own actions went through (their case moved), the other officer's did not
    # touch it: X's trail has only the owner's and the system's entries.
    who = {
        r[0]
        for r in world.server.rows("select who from case_audit where case_id = ?", world.cases["X"])
    }
    other = next(
        o.id
        for o in await world.server.app[accounts_key].list_officers()
        if o.username == world.server.extra_officers[0][0]
    )
    assert f"officer:{other}" not in who
