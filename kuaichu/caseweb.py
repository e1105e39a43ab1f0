"""The case workflow over HTTP: the officers' JSON API, the parties' progress page (reached
by the link in their SMS, no account), and the public authenticity check of a document.

The edge only: authenticate, validate the request's shape and size, call
:class:`kuaichu.casework.CaseWork`, translate errors (the app's middleware turns a
``KuaichuError`` into JSON with its code). docs/protocol.md lists the routes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

import aiohttp_jinja2
from aiohttp import web

from .appkeys import captures_key, casework_key, center_key
from .auth import Officer, current_officer
from .captures import MAX_STILL_BYTES, plate_check
from .casework import CaseWork
from .errors import Forbidden, InvalidMessage, MessageTooLarge, NotAuthenticated, NotFound

MAX_JSON_BYTES: Final = 64 * 1024
_CASE_ID = re.compile(r"^KC\d{8}[A-Z2-9]{6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_PARTY = re.compile(r"^[A-F]$")


def case_id_of(request: web.Request) -> str:
    case_id = request.match_info["case_id"]
    if not _CASE_ID.match(case_id):
        raise NotFound("no such case")
    return case_id


async def _officer(request: web.Request) -> Officer:
    officer = await current_officer(request)
    if officer is None:
        raise NotAuthenticated("log in first")
    return officer


async def _body(request: web.Request, *allowed: str) -> dict[str, Any]:
    """A JSON object body, at most 64 KiB, with only the named fields.

    Requiring ``application/json`` is also the CSRF guard for the cookie-authenticated
    routes: a cross-site form cannot send it without a CORS preflight, which we never grant;
    an ``Origin`` header from another site is refused outright."""
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:
        raise Forbidden("cross-site request refused")
    if request.content_type != "application/json":
        raise InvalidMessage("send a JSON object (Content-Type: application/json)")
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise MessageTooLarge(f"request body exceeds {MAX_JSON_BYTES} bytes")
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise MessageTooLarge(f"request body exceeds {MAX_JSON_BYTES} bytes")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidMessage("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidMessage("the body must be a JSON object")
    extra = sorted(str(k)[:40] for k in set(data) - set(allowed))
    if extra:
        raise InvalidMessage(f"unexpected field(s): {', '.join(extra[:5])}")
    return data


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data,
        status=status,
        headers={"Cache-Control": "no-store"},
        dumps=lambda v: json.dumps(v, ensure_ascii=False),
    )


def _party(data: dict[str, Any]) -> str:
    party = data.get("party")
    if not isinstance(party, str) or not _PARTY.match(party):
        raise InvalidMessage("party must be a party key (A–F)", field="party")
    return party


# -- officers -----------------------------------------------------------------------------


async def list_cases(request: web.Request) -> web.Response:
    officer = await _officer(request)
    scope = request.query.get("scope", "mine")
    if scope == "all" and not officer.is_supervisor:
        raise Forbidden("only a supervisor sees every case")
    work = request.app[casework_key]
    rows = await work.store.recent_cases(None if scope == "all" else officer.id, limit=100)
    return _json(
        {"cases": [{k: r[k] for k in ("id", "status", "created_at", "lat", "lng")} for r in rows]}
    )


async def get_case(request: web.Request) -> web.Response:
    officer = await _officer(request)
    return _json(await request.app[casework_key].officer_view(officer, case_id_of(request)))


async def put_form(request: web.Request) -> web.Response:
    officer = await _officer(request)
    case_id = case_id_of(request)
    data = await _body(request, "revision", "form")
    revision = data.get("revision")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise InvalidMessage("revision must be the form revision you edited", field="revision")
    stored = await request.app[casework_key].save_form(officer, case_id, revision, data.get("form"))
    from .cases.form import missing_for_information

    return _json(
        {
            "revision": stored.revision,
            "form": stored.form.to_dict(),
            "missing": missing_for_information(stored.form),
        }
    )


async def post_verify(request: web.Request) -> web.Response:
    officer = await _officer(request)
    data = await _body(request, "party")
    result = await request.app[casework_key].verify(officer, case_id_of(request), _party(data))
    return _json(result)


async def post_decision(request: web.Request) -> web.Response:
    officer = await _officer(request)
    data = await _body(request, "party", "item", "decision", "reason")
    await request.app[casework_key].decide_item(
        officer,
        case_id_of(request),
        _party(data),
        str(data.get("item", ""))[:20],
        str(data.get("decision", ""))[:20],
        data.get("reason", ""),
    )
    return _json({"ok": True})


async def post_information(request: web.Request) -> web.Response:
    officer = await _officer(request)
    await _body(request)
    entry = await request.app[casework_key].complete_information(officer, case_id_of(request))
    return _json({"status": entry.to_state.value})


async def post_leave_scene(request: web.Request) -> web.Response:
    officer = await _officer(request)
    await _body(request)
    return _json(await request.app[casework_key].leave_scene(officer, case_id_of(request)))


async def post_determination(request: web.Request) -> web.Response:
    officer = await _officer(request)
    case_id = case_id_of(request)
    data = await _body(request, "correction_reason")
    reason = data.get("correction_reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidMessage("correction_reason must be text", field="correction_reason")
    det = await request.app[casework_key].issue(officer, case_id, reason)
    return _json(
        {
            "number": det.number,
            "version": det.version,
            "code": det.code,
            "html_url": f"/api/cases/{case_id}/documents/{det.version}.html",
            "pdf_url": f"/api/cases/{case_id}/documents/{det.version}.pdf",
        },
        status=201,
    )


async def get_document(request: web.Request) -> web.StreamResponse:
    officer = await _officer(request)
    case_id = case_id_of(request)
    work = request.app[casework_key]
    await work.authorize(officer, case_id)
    name = request.match_info["name"]
    match = re.fullmatch(r"(\d{1,3})\.(html|pdf)", name)
    if match is None:
        raise NotFound("no such document")
    det = await work.document(case_id, int(match.group(1)))
    return _document_response(work, det, match.group(2))


def _document_response(work: CaseWork, det: Any, kind: str) -> web.StreamResponse:
    if kind == "html":
        return web.Response(
            text=work.document_html(det),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )
    path = work.pdf_path(det)
    if not path.is_file():
        raise NotFound("the PDF file is missing")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="determination-v{det.version}.pdf"',
            "Cache-Control": "no-store",
        },
    )


async def post_agreement(request: web.Request) -> web.Response:
    officer = await _officer(request)
    await _body(request)
    entry = await request.app[casework_key].propose_agreement(officer, case_id_of(request))
    return _json({"status": entry.to_state.value})


async def post_agreement_decision(request: web.Request) -> web.Response:
    officer = await _officer(request)
    data = await _body(request, "approve")
    approve = data.get("approve")
    if not isinstance(approve, bool):
        raise InvalidMessage("approve must be true or false", field="approve")
    entry = await request.app[casework_key].approve_agreement(officer, case_id_of(request), approve)
    return _json({"status": entry.to_state.value})


async def post_review_decision(request: web.Request) -> web.Response:
    officer = await _officer(request)
    data = await _body(request, "outcome", "text")
    entry = await request.app[casework_key].decide_review(
        officer, case_id_of(request), str(data.get("outcome", ""))[:20], data.get("text", "")
    )
    return _json({"status": entry.to_state.value})


async def post_link(request: web.Request) -> web.Response:
    officer = await _officer(request)
    data = await _body(request, "case_id")
    other = data.get("case_id")
    if not isinstance(other, str) or not _CASE_ID.match(other):
        raise InvalidMessage("case_id must be a case number", field="case_id")
    return _json(await request.app[casework_key].link(officer, case_id_of(request), other))


async def post_cancel(request: web.Request) -> web.Response:
    officer = await _officer(request)
    data = await _body(request, "reason")
    entry = await request.app[casework_key].cancel(
        officer, case_id_of(request), data.get("reason", "")
    )
    return _json({"status": entry.to_state.value})


async def get_reviews(request: web.Request) -> web.Response:
    officer = await _officer(request)
    if not officer.is_supervisor:
        raise Forbidden("the review queue is for supervisors")
    return _json({"reviews": await request.app[casework_key].review_queue()})


# -- evidence stills ------------------------------------------------------------------------


async def _capture_for(request: web.Request) -> dict[str, Any]:
    officer = await _officer(request)
    match = re.fullmatch(r"(\d{1,9})(\.jpg)?", request.match_info["capture"])
    if match is None:
        raise NotFound("no such capture")
    view = await request.app[captures_key].get(int(match.group(1)))
    await request.app[casework_key].authorize(officer, view["case_id"])
    return view


async def get_capture_file(request: web.Request) -> web.StreamResponse:
    view = await _capture_for(request)
    path = request.app[captures_key].file(view)
    if not path.is_file():
        raise NotFound("the file is missing")
    return web.FileResponse(
        path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=3600"}
    )


async def put_annotation(request: web.Request) -> web.Response:
    view = await _capture_for(request)
    officer = await _officer(request)
    data = await _body(request, "regions", "note")
    updated = await request.app[captures_key].annotate(
        view["id"], officer.id, data.get("regions", []), data.get("note", "")
    )
    return _json(updated)


async def list_captures(request: web.Request) -> web.Response:
    officer = await _officer(request)
    case_id = case_id_of(request)
    work = request.app[casework_key]
    await work.authorize(officer, case_id)
    views = await request.app[captures_key].for_case(case_id)
    parties = [p.to_dict() for p in (await work.store.form(case_id)).form.parties]
    for view in views:
        if view["plate"]:
            view["plate_check"] = plate_check(view["plate"], parties)
    return _json({"captures": views})


async def get_recording(request: web.Request) -> web.StreamResponse:
    """A call's recording for the console's player (range requests for seeking)."""
    officer = await _officer(request)
    call_id = request.match_info["call_id"]
    store = request.app[casework_key].store
    found = (
        await store.recording(call_id) if re.fullmatch(r"[A-Za-z0-9_-]{8,40}", call_id) else None
    )
    if found is None:
        raise NotFound("no recording for this call")
    await request.app[casework_key].authorize(officer, found["case_id"])
    # FileResponse answers 404 itself if the file has gone.
    path = Path(found["path"])
    kind = "video/mp4" if path.suffix == ".mp4" else "video/x-matroska"
    return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "private"})


async def post_still(request: web.Request) -> web.Response:
    """The driver page's photo upload: the body is the image, the call's resume token (the
    page's session for this call) is the ``X-Call-Token`` header."""
    call_id = request.match_info["call_id"]
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,40}", call_id):
        raise NotFound("no such call")
    token = request.headers.get("X-Call-Token", "")
    kind = request.query.get("kind", "")
    if not token or len(token) > 64:
        raise NotAuthenticated("the call's token is missing")
    if request.content_length is not None and request.content_length > MAX_STILL_BYTES:
        raise MessageTooLarge(f"a photo may have at most {MAX_STILL_BYTES} bytes")
    data = await request.content.read(MAX_STILL_BYTES + 1)
    if len(data) > MAX_STILL_BYTES:
        raise MessageTooLarge(f"a photo may have at most {MAX_STILL_BYTES} bytes")
    view = await request.app[center_key].phone_still(call_id, token, kind, data)
    return _json({"id": view["id"], "sha256": view["sha256"], "kind": view["kind"]}, status=201)


# -- parties: the progress page -----------------------------------------------------------


async def _party_link(request: web.Request) -> tuple[str, str]:
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise NotFound("this link is not valid")
    return await request.app[casework_key].store.resolve_link(token)


async def progress_page(request: web.Request) -> web.Response:
    from .officer_ui import render_page

    try:
        await _party_link(request)
    except NotFound:
        # A phone opening an old or mistyped link gets a page, not JSON.
        return render_page(request, "link_invalid.html", {}, status=404)
    return render_page(request, "progress.html", {"token": request.match_info["token"]})


async def progress_status(request: web.Request) -> web.Response:
    case_id, party = await _party_link(request)
    return _json(await request.app[casework_key].party_view(case_id, party))


async def progress_document(request: web.Request) -> web.StreamResponse:
    case_id, _party_key = await _party_link(request)
    work = request.app[casework_key]
    view = await work.party_view(case_id, _party_key)
    if view["determination"] is None:
        raise NotFound("no determination has been issued yet")
    det = await work.document(case_id, None)
    kind = "pdf" if request.path.endswith(".pdf") else "html"
    return _document_response(work, det, kind)


async def progress_review(request: web.Request) -> web.Response:
    case_id, party = await _party_link(request)
    data = await _body(request, "reason")
    entry = await request.app[casework_key].request_review(case_id, party, data.get("reason", ""))
    return _json({"status": entry.to_state.value})


async def progress_agreement(request: web.Request) -> web.Response:
    case_id, party = await _party_link(request)
    data = await _body(request, "action")
    action = data.get("action")
    work = request.app[casework_key]
    if action == "confirm":
        entry = await work.confirm_agreement(case_id, party)
    elif action == "withdraw":
        entry = await work.withdraw_agreement(case_id, party)
    else:
        raise InvalidMessage("action must be confirm or withdraw", field="action")
    return _json({"status": entry.to_state.value})


# -- public -------------------------------------------------------------------------------


async def verify_page(request: web.Request) -> web.Response:
    from .documents import render_verify_page

    number = request.query.get("n", "").strip()[:64]
    code = request.query.get("c", "").strip()[:16]
    if not number and not code:
        html = render_verify_page({})
    else:
        html = render_verify_page(await request.app[casework_key].authenticity(number, code))
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/cases", list_cases)
    r.add_get("/api/cases/{case_id}", get_case)
    r.add_put("/api/cases/{case_id}/form", put_form)
    r.add_post("/api/cases/{case_id}/verify", post_verify)
    r.add_post("/api/cases/{case_id}/decisions", post_decision)
    r.add_post("/api/cases/{case_id}/information", post_information)
    r.add_post("/api/cases/{case_id}/leave-scene", post_leave_scene)
    r.add_post("/api/cases/{case_id}/determinations", post_determination)
    r.add_get("/api/cases/{case_id}/documents/{name}", get_document)
    r.add_post("/api/cases/{case_id}/agreement", post_agreement)
    r.add_post("/api/cases/{case_id}/agreement/decision", post_agreement_decision)
    r.add_post("/api/cases/{case_id}/review-decision", post_review_decision)
    r.add_post("/api/cases/{case_id}/link", post_link)
    r.add_post("/api/cases/{case_id}/cancel", post_cancel)
    r.add_get("/api/reviews", get_reviews)
    r.add_get("/api/cases/{case_id}/captures", list_captures)
    r.add_get("/api/captures/{capture}", get_capture_file)
    r.add_put("/api/captures/{capture}/annotation", put_annotation)
    r.add_post("/api/calls/{call_id}/stills", post_still)
    r.add_get("/api/calls/{call_id}/recording", get_recording)
    r.add_get("/p/{token}", progress_page)
    r.add_get("/p/{token}/status", progress_status)
    r.add_get("/p/{token}/document", progress_document)
    r.add_get("/p/{token}/document.pdf", progress_document)
    r.add_post("/p/{token}/review", progress_review)
    r.add_post("/p/{token}/agreement", progress_agreement)
    r.add_get("/verify", verify_page)
    _ = aiohttp_jinja2
