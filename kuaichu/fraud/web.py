"""The fraud signals' HTTP edge: a case's flags for the officers who may see the case, and the
supervisors' page of flagged cases (the insurers get the flags in the open API's case)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from ..accounts.guards import require_officer, require_officer_page, require_supervisor
from ..accounts.model import Officer
from ..appkeys import casework_key, fraud_key
from ..casework.context import Access
from ..errors import InvalidMessage
from ..web.common import case_id_of, json_response

MAX_DAYS: Final = 366
DEFAULT_DAYS: Final = 30


def _days(request: web.Request) -> int:
    raw = request.query.get("days", str(DEFAULT_DAYS))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise InvalidMessage(f"days must be a whole number from 1 to {MAX_DAYS}", field="days")
    return int(raw)


@require_officer
async def case_flags(request: web.Request, officer: Officer) -> web.Response:
    case_id = case_id_of(request)
    await request.app[casework_key].authorize(officer, case_id, action=Access.VIEW)
    return json_response({"case_id": case_id, "flags": await request.app[fraud_key].flags(case_id)})


@require_supervisor
async def flagged_cases(request: web.Request, officer: Officer) -> web.Response:
    days = _days(request)
    return json_response({"days": days, "cases": await request.app[fraud_key].flagged(days)})


@require_officer_page
async def flagged_page(request: web.Request, officer: Officer) -> web.Response:
    # Imported here: officer_ui imports the web package's helpers at import time.
    from ..officer_ui import render_page

    if not officer.is_supervisor:
        return render_page(request, "forbidden.html", {"officer": officer}, status=403)
    try:
        days = _days(request)
    except InvalidMessage:
        days = DEFAULT_DAYS
    found = await request.app[fraud_key].flagged(days)
    return render_page(
        request, "fraud.html", {"officer": officer, "days": days, "flagged": found}
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/cases/{case_id}/fraud", case_flags)
    app.router.add_get("/api/fraud/flagged", flagged_cases)
    app.router.add_get("/fraud", flagged_page, name="fraud")
