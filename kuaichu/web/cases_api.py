"""The officers' case API: /api/cases/* and the supervisors' /api/reviews.

The edge only: authenticate (the guards), validate the request's shape and size, call
:class:`kuaichu.casework.CaseWork`; the app's middleware turns a ``KuaichuError`` into JSON
with its code. docs/protocol.md lists the routes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from ..accounts.guards import require_officer, require_supervisor
from ..accounts.model import Officer
from ..appkeys import casework_key
from ..cases.form import missing_for_information
from ..cases.ids import CASE_ID_RE
from ..errors import InvalidMessage, NotFound
from ..storage.documents import Determination
from ..storage.numbers import stored_int
from .common import case_id_of, json_body, json_response, party_of
from .headers import FRAMED_BY_OWN_PAGES

if TYPE_CHECKING:
    from ..casework import CaseWork


@require_officer
async def list_cases(request: web.Request, officer: Officer) -> web.Response:
    """The officer's recent cases; ``?scope=all`` every case, for a supervisor."""
    every = request.query.get("scope", "mine") == "all"
    rows = await request.app[casework_key].recent_cases(officer, every=every)
    return json_response(
        {"cases": [{k: r[k] for k in ("id", "status", "created_at", "lat", "lng")} for r in rows]}
    )


@require_officer
async def get_case(request: web.Request, officer: Officer) -> web.Response:
    """The case as the officer's panel shows it."""
    return json_response(await request.app[casework_key].officer_view(officer, case_id_of(request)))


@require_officer
async def put_form(request: web.Request, officer: Officer) -> web.Response:
    """Save the case form at the revision the officer edited."""
    case_id = case_id_of(request)
    data = await json_body(request, "revision", "form")
    revision = stored_int(
        data.get("revision"), "revision", "revision must be the form revision you edited"
    )
    stored = await request.app[casework_key].save_form(officer, case_id, revision, data.get("form"))
    return json_response(
        {
            "revision": stored.revision,
            "form": stored.form.to_dict(),
            "missing": missing_for_information(stored.form),
        }
    )


@require_officer
async def post_verify(request: web.Request, officer: Officer) -> web.Response:
    """Check one party against the registry."""
    data = await json_body(request, "party")
    result = await request.app[casework_key].verify(officer, case_id_of(request), party_of(data))
    return json_response(result)


@require_officer
async def post_decision(request: web.Request, officer: Officer) -> web.Response:
    """The officer's decision on one verification item."""
    data = await json_body(request, "party", "item", "decision", "reason")
    await request.app[casework_key].decide_item(
        officer,
        case_id_of(request),
        party_of(data),
        str(data.get("item", ""))[:20],
        str(data.get("decision", ""))[:20],
        data.get("reason", ""),
    )
    return json_response({"ok": True})


@require_officer
async def post_information(request: web.Request, officer: Officer) -> web.Response:
    """Complete the information step."""
    await json_body(request)
    entry = await request.app[casework_key].complete_information(officer, case_id_of(request))
    return json_response({"status": entry.to_state.value})


@require_officer
async def post_leave_scene(request: web.Request, officer: Officer) -> web.Response:
    """Tell the parties to leave the scene."""
    await json_body(request)
    return json_response(await request.app[casework_key].leave_scene(officer, case_id_of(request)))


@require_officer
async def post_determination(request: web.Request, officer: Officer) -> web.Response:
    """Issue the determination (or a correction of it)."""
    case_id = case_id_of(request)
    data = await json_body(request, "correction_reason")
    reason = data.get("correction_reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidMessage("correction_reason must be text", field="correction_reason")
    det = await request.app[casework_key].issue(officer, case_id, reason)
    return json_response(
        {
            "number": det.number,
            "version": det.version,
            "code": det.code,
            "html_url": f"/api/cases/{case_id}/documents/{det.version}.html",
            "pdf_url": f"/api/cases/{case_id}/documents/{det.version}.pdf",
        },
        status=201,
    )


@require_officer
async def get_document(request: web.Request, officer: Officer) -> web.StreamResponse:
    """One issued version of the determination, as HTML or PDF."""
    case_id = case_id_of(request)
    work = request.app[casework_key]
    match = re.fullmatch(r"(\d{1,3})\.(html|pdf)", request.match_info["name"])
    if match is None:
        raise NotFound("no such document")
    det = await work.document(officer, case_id, int(match.group(1)))
    return document_response(work, det, match.group(2))


def document_response(work: CaseWork, det: Determination, kind: str) -> web.StreamResponse:
    """A determination as its HTML page or its stored PDF (``kind`` is "html" or "pdf")."""
    if kind == "html":
        return web.Response(
            text=work.document_html(det),
            content_type="text/html",
            # The progress page shows it in a frame.
            headers={"Cache-Control": "no-store", **FRAMED_BY_OWN_PAGES},
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


@require_officer
async def post_agreement(request: web.Request, officer: Officer) -> web.Response:
    """Propose that the parties settle by agreement."""
    await json_body(request)
    entry = await request.app[casework_key].propose_agreement(officer, case_id_of(request))
    return json_response({"status": entry.to_state.value})


@require_officer
async def post_agreement_decision(request: web.Request, officer: Officer) -> web.Response:
    """Approve or reject the agreement the parties confirmed."""
    data = await json_body(request, "approve")
    approve = data.get("approve")
    if not isinstance(approve, bool):
        raise InvalidMessage("approve must be true or false", field="approve")
    entry = await request.app[casework_key].approve_agreement(officer, case_id_of(request), approve)
    return json_response({"status": entry.to_state.value})


@require_officer
async def post_review_decision(request: web.Request, officer: Officer) -> web.Response:
    """Decide a party's review request."""
    data = await json_body(request, "outcome", "text")
    entry = await request.app[casework_key].decide_review(
        officer, case_id_of(request), str(data.get("outcome", ""))[:20], data.get("text", "")
    )
    return json_response({"status": entry.to_state.value})


@require_officer
async def post_link(request: web.Request, officer: Officer) -> web.Response:
    """Link another report of the same accident into this case."""
    data = await json_body(request, "case_id")
    other = data.get("case_id")
    if not isinstance(other, str) or not CASE_ID_RE.match(other):
        raise InvalidMessage("case_id must be a case number", field="case_id")
    return json_response(await request.app[casework_key].link(officer, case_id_of(request), other))


@require_officer
async def get_link_candidates(request: web.Request, officer: Officer) -> web.Response:
    """Open reports that look like the same accident as this case (issue 12)."""
    found = await request.app[casework_key].link_candidates(officer, case_id_of(request))
    return json_response({"candidates": found})


@require_officer
async def post_cancel(request: web.Request, officer: Officer) -> web.Response:
    """Cancel the case, with a reason."""
    data = await json_body(request, "reason")
    entry = await request.app[casework_key].cancel(
        officer, case_id_of(request), data.get("reason", "")
    )
    return json_response({"status": entry.to_state.value})


@require_supervisor
async def get_reviews(request: web.Request, officer: Officer) -> web.Response:
    """The supervisors' queue of review requests."""
    return json_response({"reviews": await request.app[casework_key].review_queue(officer)})


def setup_routes(app: web.Application) -> None:
    """Add the case API's routes."""
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
    r.add_get("/api/cases/{case_id}/link-candidates", get_link_candidates)
    r.add_post("/api/cases/{case_id}/cancel", post_cancel)
    r.add_get("/api/reviews", get_reviews)
