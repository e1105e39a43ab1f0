"""Rejoin links over HTTP (kuaichu.calls.rejoin): the officer sends one, the driver opens it.

``POST /api/calls/{call_id}/rejoin`` (the call's officer) queues the SMS. ``GET /j/{token}``
is the driver page with a "back to the call" button; the tap (``POST /j/{token}``) spends the
link and answers the call's id and resume token, with which the page resumes the call as a
reloaded page does. The GET spends nothing: a link preview or a virus scanner fetching the
address must not use the driver's only link up.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

from ..accounts.guards import require_officer
from ..accounts.model import Officer
from ..appkeys import center_key
from ..calls.ids import CALL_ID_RE
from ..errors import NotFound
from ..officer_ui import render_page
from .common import json_body, json_response

_TOKEN: Final = re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z")


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise NotFound("this link is not valid")
    return token


@require_officer
async def send_rejoin(request: web.Request, officer: Officer) -> web.Response:
    """The call's officer sends its dropped driver a rejoin link by SMS."""
    call_id = request.match_info["call_id"]
    if not CALL_ID_RE.match(call_id):
        raise NotFound("no such call")
    await json_body(request)
    return json_response(await request.app[center_key].send_rejoin(officer, call_id))


async def rejoin_page(request: web.Request) -> web.Response:
    """The driver page, showing the "back to the call" button for a live link."""
    token = request.match_info["token"]
    center = request.app[center_key]
    if not _TOKEN.match(token) or center.rejoin is None or not await center.rejoin.valid(token):
        return render_page(request, "link_invalid.html", {"replaced": False}, status=404)
    return render_page(request, "driver.html", {"rejoin_token": token})


async def redeem(request: web.Request) -> web.Response:
    """The tap: the link is spent; the page gets what resumes the call."""
    token = _token(request)
    await json_body(request)
    target = await request.app[center_key].redeem_rejoin(token)
    return json_response(
        {"call_id": target.call_id, "resume_token": target.resume_token, "case_id": target.case_id}
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/calls/{call_id}/rejoin", send_rejoin)
    app.router.add_get("/j/{token}", rejoin_page)
    app.router.add_post("/j/{token}", redeem)
