"""The parties' progress page, reached by the link in their SMS (no account): the page, its
status, the determination, a review request, and confirming or withdrawing an agreement."""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

from ..appkeys import casework_key
from ..casework import PartyLink
from ..errors import InvalidMessage, NotFound
from ..officer_ui import render_page
from .cases_api import document_response
from .common import json_body, json_response

_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


async def _party_link(request: web.Request) -> PartyLink:
    """The case and party behind the link's token: the party's only credential."""
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise NotFound("this link is not valid")
    return await request.app[casework_key].resolve_link(token)


async def progress_page(request: web.Request) -> web.Response:
    """The page itself; an unknown link gets a page too, not JSON."""
    try:
        await _party_link(request)
    except NotFound:
        # A phone opening an old or mistyped link gets a page, not JSON.
        return render_page(request, "link_invalid.html", {}, status=404)
    return render_page(request, "progress.html", {"token": request.match_info["token"]})


async def progress_status(request: web.Request) -> web.Response:
    """The case as this party sees it."""
    link = await _party_link(request)
    return json_response(await request.app[casework_key].party_view(link))


async def progress_document(request: web.Request) -> web.StreamResponse:
    """The latest determination, once one has been issued, as HTML or PDF."""
    link = await _party_link(request)
    work = request.app[casework_key]
    det = await work.party_document(link)
    kind = "pdf" if request.path.endswith(".pdf") else "html"
    return document_response(work, det, kind)


async def progress_review(request: web.Request) -> web.Response:
    """The party asks for the determination to be reviewed."""
    link = await _party_link(request)
    data = await json_body(request, "reason")
    entry = await request.app[casework_key].request_review(link, data.get("reason", ""))
    return json_response({"status": entry.to_state.value})


async def progress_agreement(request: web.Request) -> web.Response:
    """The party confirms or withdraws from the proposed agreement."""
    link = await _party_link(request)
    data = await json_body(request, "action")
    action = data.get("action")
    work = request.app[casework_key]
    if action == "confirm":
        entry = await work.confirm_agreement(link)
    elif action == "withdraw":
        entry = await work.withdraw_agreement(link)
    else:
        raise InvalidMessage("action must be confirm or withdraw", field="action")
    return json_response({"status": entry.to_state.value})


def setup_routes(app: web.Application) -> None:
    """Add the progress page's routes."""
    r = app.router
    r.add_get("/p/{token}", progress_page)
    r.add_get("/p/{token}/status", progress_status)
    r.add_get("/p/{token}/document", progress_document)
    r.add_get("/p/{token}/document.pdf", progress_document)
    r.add_post("/p/{token}/review", progress_review)
    r.add_post("/p/{token}/agreement", progress_agreement)
