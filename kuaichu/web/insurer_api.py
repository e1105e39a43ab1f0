"""Insurers over HTTP (issue 13, :mod:`kuaichu.insurers`).

- the insurer's console API (``/api/insurer/…``, insurer accounts only): the work list, one
  case, its evidence files and documents, the claim status;
- the officers' hand-off of a case to the insurers, the case's claims and the approved
  agreement's document (``/api/cases/{case_id}/…``);
- the supervisors' complaint queue and callbacks (``/api/complaints…``).

The parties' claim button, claim statuses and complaints are progress-page routes
(:mod:`kuaichu.web.progress`). Every handler is thin: the desk authorizes and audits.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

from ..accounts.guards import require_insurer, require_officer, require_supervisor
from ..accounts.model import Officer
from ..appkeys import casework_key, fraud_key, insurer_desk_key
from ..casework.context import Access
from ..errors import InvalidMessage, NotFound
from ..storage.documents import Determination
from .cases_api import document_response
from .common import case_id_of, json_body, json_response

_DOCUMENT: Final = re.compile(r"^(determination|agreement)\.(html|pdf)$")
_VERSION_DOC: Final = re.compile(r"^([1-9][0-9]{0,3})\.(html|pdf)$")
_NUMBER: Final = re.compile(r"^[1-9][0-9]{0,9}$")


def _number(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not _NUMBER.match(value):
        raise NotFound(f"no such {name}")
    return int(value)


# -- the insurer's console ------------------------------------------------------------------------


@require_insurer
async def insurer_cases(request: web.Request, account: Officer) -> web.Response:
    """The insurer's work queue and every case it may see (ids and states only)."""
    return json_response(await request.app[insurer_desk_key].work_list(account))


@require_insurer
async def insurer_case(request: web.Request, account: Officer) -> web.Response:
    """One case as the insurer sees it (an audited read)."""
    desk = request.app[insurer_desk_key]
    case_id = case_id_of(request)
    view = await desk.case_view(account, case_id)  # authorizes and audits
    fraud = request.app.get(fraud_key)
    # The fraud signals (kuaichu.fraud) the insurer sees too, without the other cases' ids:
    # those may be other insurers' cases.
    flags = await fraud.flags(case_id) if fraud is not None else []
    view["fraud_flags"] = [
        {**f, "detail": {k: v for k, v in (f.get("detail") or {}).items() if k != "cases"}}
        for f in flags
    ]
    return json_response(view)


@require_insurer
async def insurer_evidence(request: web.Request, account: Officer) -> web.StreamResponse:
    """One evidence file (an audited read), with its SHA-256 for the insurer's own check."""
    desk = request.app[insurer_desk_key]
    path, sha = await desk.evidence_file(account, case_id_of(request), _number(request, "seq"))
    return web.FileResponse(
        path,
        headers={
            "Cache-Control": "no-store",
            "X-Content-SHA256": sha,
            "Content-Disposition": f'inline; filename="{path.name}"',
        },
    )


@require_insurer
async def insurer_document(request: web.Request, account: Officer) -> web.StreamResponse:
    """The current determination or agreement document, as HTML or PDF (an audited read)."""
    match = _DOCUMENT.match(request.match_info["name"])
    if match is None:
        raise NotFound("no such document")
    kind, fmt = match.groups()
    desk = request.app[insurer_desk_key]
    doc = await desk.document(account, case_id_of(request), kind, fmt)
    return document_response(request.app[casework_key], doc, fmt)


@require_insurer
async def insurer_claim(request: web.Request, account: Officer) -> web.Response:
    """The insurer records its claim's status."""
    data = await json_body(request, "status", "amount", "reason", "assessor")
    desk = request.app[insurer_desk_key]
    return json_response(await desk.update_claim(desk.staff(account), case_id_of(request), data))


# -- the officers --------------------------------------------------------------------------------


@require_officer
async def case_claims(request: web.Request, officer: Officer) -> web.Response:
    """The case's claims, for its case page."""
    case_id = case_id_of(request)
    await request.app[casework_key].authorize(officer, case_id, action=Access.VIEW)
    desk = request.app[insurer_desk_key]
    docs = await desk.store.agreement_documents(case_id)
    return json_response(
        {
            "claims": await desk.case_claims(case_id),
            "agreement_documents": [{"number": d.number, "version": d.version} for d in docs],
        }
    )


@require_officer
async def case_handoff(request: web.Request, officer: Officer) -> web.Response:
    """The officer hands the case to its parties' insurers (or to the one named)."""
    data = await json_body(request, "insurer")
    insurer = data.get("insurer")
    if insurer is not None and not isinstance(insurer, str):
        raise InvalidMessage("insurer must be an insurer's code", field="insurer")
    desk = request.app[insurer_desk_key]
    claims = await desk.hand_off_by_officer(officer, case_id_of(request), insurer or None)
    return json_response({"claims": claims})


@require_officer
async def case_agreement_document(request: web.Request, officer: Officer) -> web.StreamResponse:
    """One version of the approved agreement's document, for an officer of the case."""
    case_id = case_id_of(request)
    match = _VERSION_DOC.match(request.match_info["name"])
    if match is None:
        raise NotFound("no such document")
    work = request.app[casework_key]
    await work.authorize(officer, case_id, action=Access.VIEW)
    docs = await request.app[insurer_desk_key].store.agreement_documents(case_id)
    return document_response(work, _version(docs, int(match.group(1))), match.group(2))


def _version(docs: list[Determination], version: int) -> Determination:
    for doc in docs:
        if doc.version == version:
            return doc
    raise NotFound("no such version of the agreement document")


# -- the supervisors -----------------------------------------------------------------------------


@require_supervisor
async def complaint_queue(request: web.Request, supervisor: Officer) -> web.Response:
    """Open complaints, earliest callback deadline first."""
    desk = request.app[insurer_desk_key]
    return json_response({"complaints": await desk.complaint_queue(supervisor)})


@require_supervisor
async def complaint_callback(request: web.Request, supervisor: Officer) -> web.Response:
    """The supervisor called the party back: the outcome."""
    data = await json_body(request, "outcome")
    desk = request.app[insurer_desk_key]
    done = await desk.call_back(
        supervisor, _number(request, "complaint_id"), data.get("outcome")
    )
    return json_response(done)


def setup_routes(app: web.Application) -> None:
    """Add the insurers' routes."""
    r = app.router
    r.add_get("/api/insurer/cases", insurer_cases)
    r.add_get("/api/insurer/cases/{case_id}", insurer_case)
    r.add_get("/api/insurer/cases/{case_id}/evidence/{seq}", insurer_evidence)
    r.add_get("/api/insurer/cases/{case_id}/documents/{name}", insurer_document)
    r.add_post("/api/insurer/cases/{case_id}/claim", insurer_claim)
    r.add_get("/api/cases/{case_id}/claims", case_claims)
    r.add_post("/api/cases/{case_id}/handoff", case_handoff)
    r.add_get("/api/cases/{case_id}/agreement-documents/{name}", case_agreement_document)
    r.add_get("/api/complaints", complaint_queue)
    r.add_post("/api/complaints/{complaint_id}/callback", complaint_callback)
