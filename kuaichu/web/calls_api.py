"""The calls' HTTP side: a call's record for the console, and the ICE servers the pages use."""

from __future__ import annotations

import secrets
import time
from pathlib import PurePath

from aiohttp import web

from ..accounts.guards import require_officer
from ..accounts.model import Officer
from ..accounts.throttle import address_key
from ..accounts.web import current_officer
from ..appkeys import (
    accounts_key,
    casework_key,
    center_key,
    db_key,
    ice_handouts_key,
    ice_key,
)
from ..errors import Forbidden, NotFound
from ..media.ice import browser_ice_servers
from .common import json_response

_MAX_HEADER = 128


async def config(request: web.Request) -> web.Response:
    """The ICE servers for the pages' peer connections, with fresh TURN credentials and
    their expiry (``expires_at``, unix seconds) when TURN is configured.

    STUN URLs are public. TURN credentials go to a logged-in officer, to a driver naming a
    live call with its resume token (``X-Call-Id`` / ``X-Call-Token``, as a still upload
    does), and otherwise (the driver page as it stands, which asks before it holds a token
    it could send) to at most a few per client address and ten minutes (HandoutLimit): a
    driver is anonymous by nature, so the limit, the credentials' short life and coturn
    relaying only to this server (docs/deployment.md) are what keep strangers from using the
    TURN server as a free relay."""
    ice = request.app[ice_key]
    now = time.time()
    if not ice.turn_urls:
        return json_response(browser_ice_servers(ice, now, "", with_turn=False))
    tag = await _caller_tag(request)
    if tag is None:
        address = request.app[accounts_key].throttle.client_address(
            request.remote, request.headers.get("X-Forwarded-For")
        )
        request.app[ice_handouts_key].take(address_key(address), time.monotonic())
        tag = "page"
    return json_response(browser_ice_servers(ice, now, tag))


async def _caller_tag(request: web.Request) -> str | None:
    """Who asks: "officer<id>", "driver" (a live call's token), or None (nobody known).
    A call id or token that does not match is refused, not treated as anonymous."""
    call_id = request.headers.get("X-Call-Id")
    token = request.headers.get("X-Call-Token")
    if call_id is not None or token is not None:
        call = request.app[center_key].sessions.get(call_id or "")
        if (
            call is None
            or call.ended
            or token is None
            or len(token) > _MAX_HEADER
            or not token.isascii()
            or not secrets.compare_digest(call.resume_token.encode(), token.encode())
        ):
            raise Forbidden("not a live call's token")
        return "driver"
    officer = await current_officer(request)
    if officer is not None:
        return f"officer{officer.id}"
    return None


@require_officer
async def call_info(request: web.Request, officer: Officer) -> web.Response:
    """A call's record (a console reloaded mid-call learns its case from it); a supervisor
    sees any call, an officer those of the cases they hold."""
    info = await request.app[db_key].get_call(request.match_info["call_id"])
    if info is None:
        raise NotFound("no such call")
    # Whoever may see the call's case sees its calls (the case page lists them all): one
    # answered by another officer after a re-queue, one linked in before anyone answered it.
    await request.app[casework_key].authorize(officer, info["case_id"])
    # Server paths stay on the server: a recording is named as in its case's folder.
    recordings = [{**r, "path": PurePath(r["path"]).name} for r in info["recordings"]]
    return json_response({**info, "recordings": recordings})


def setup_routes(app: web.Application) -> None:
    """Add the call routes."""
    app.router.add_get("/api/config", config)
    app.router.add_get("/api/calls/{call_id}", call_info)
