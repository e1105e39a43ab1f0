"""GET /api/todo: the officer's to-do list (issue 12, kuaichu.casework.todo)."""

from __future__ import annotations

from aiohttp import web

from ..accounts.guards import require_officer
from ..accounts.model import Officer
from ..appkeys import db_key
from ..casework.todo import todo
from ..storage.casefiles import CaseStore
from .common import json_response


@require_officer
async def get_todo(request: web.Request, officer: Officer) -> web.Response:
    """What waits for this officer (and, for a supervisor, the open review requests)."""
    items = await todo(CaseStore(request.app[db_key].engine), officer)
    return json_response({"items": items})


def setup_routes(app: web.Application) -> None:
    """Add the to-do route."""
    app.router.add_get("/api/todo", get_todo)
