"""Failed notices: the list of messages the gateway refused or that ran out of attempts (a
supervisor sees all, an officer those of their own cases), and resending one."""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

from ..accounts.guards import require_officer
from ..accounts.model import Officer
from ..appkeys import casework_key
from ..errors import NotFound
from .common import json_body, json_response

_ID: Final = re.compile(r"^[1-9][0-9]{0,17}$")


@require_officer
async def failed_notices(request: web.Request, officer: Officer) -> web.Response:
    """Failed messages not yet resent, oldest first (``legal`` marks the legal notices)."""
    items = await request.app[casework_key].failed_notices(officer)
    return json_response({"notices": items})


@require_officer
async def resend_notice(request: web.Request, officer: Officer) -> web.Response:
    """Send a failed message again to the party's current number (a new outbox row)."""
    raw = request.match_info["message_id"]
    if not _ID.match(raw):
        raise NotFound("no such notice")
    await json_body(request)  # the CSRF guard: a JSON POST from our own pages
    result = await request.app[casework_key].resend_notice(officer, int(raw))
    return json_response(result, status=201)


def setup_routes(app: web.Application) -> None:
    """Add the failed notices' routes."""
    app.router.add_get("/api/notices/failed", failed_notices)
    app.router.add_post("/api/notices/{message_id}/resend", resend_notice)
