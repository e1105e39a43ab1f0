"""The calls' HTTP side: a call's record for the console, and the ICE servers the pages use."""

from __future__ import annotations

from pathlib import PurePath

from aiohttp import web

from ..accounts.guards import require_officer
from ..accounts.model import Officer
from ..appkeys import casework_key, db_key, settings_key
from ..errors import NotFound
from .common import json_response


async def config(request: web.Request) -> web.Response:
    """The ICE servers for the pages' peer connections (public: the driver page needs them)."""
    s = request.app[settings_key]
    urls = [u.strip() for u in s.ice_servers.split(",") if u.strip()]
    return json_response({"ice_servers": [{"urls": u} for u in urls]})


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
