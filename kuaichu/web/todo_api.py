"""GET /api/todo: the officer's to-do list; GET /api/case-list: 我的案件 with the parties and
what needs action (issue 12, kuaichu.casework.todo)."""

from __future__ import annotations

from aiohttp import web

from ..accounts.guards import require_officer
from ..accounts.model import Officer
from ..appkeys import db_key
from ..casework.todo import case_list, todo
from ..errors import Forbidden
from ..storage.casefiles import CaseStore
from .common import json_response


@require_officer
async def get_todo(request: web.Request, officer: Officer) -> web.Response:
    """What waits for this officer (and, for a supervisor, the open review requests)."""
    items = await todo(CaseStore(request.app[db_key].engine), officer)
    return json_response({"items": items})


@require_officer
async def get_case_list(request: web.Request, officer: Officer) -> web.Response:
    """The officer's recent cases; ``?scope=all`` every case, for a supervisor."""
    every = request.query.get("scope", "mine") == "all"
    if every and not officer.is_supervisor:
        raise Forbidden("only a supervisor sees every case")
    store = CaseStore(request.app[db_key].engine)
    return json_response({"cases": await case_list(store, officer, every=every)})


def setup_routes(app: web.Application) -> None:
    """Add the to-do and case-list routes."""
    app.router.add_get("/api/todo", get_todo)
    app.router.add_get("/api/case-list", get_case_list)
