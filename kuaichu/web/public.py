"""What anyone may ask without an account: the authenticity check of a determination, the
service hours and area (the driver page warns before its questions), and the health check."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from aiohttp import web

from ..appkeys import casework_key, insurer_desk_key, rules_key, zone_key
from ..cases.eligibility import WEEKDAYS
from ..cases.ids import CASE_ID_RE
from ..documents import render_verify_page
from .common import json_response

_CODE_RE: Final = re.compile(r"\A[A-Z2-9]{8}\Z")  # kuaichu.cases.ids.new_code's shape


async def verify_page(request: web.Request) -> web.Response:
    """The public check of a determination's number and verification code."""
    number = request.query.get("n", "").strip()[:64]
    code = request.query.get("c", "").strip()[:16]
    if not number and not code:
        html = render_verify_page({})
    else:
        result = await request.app[casework_key].authenticity(number, code)
        if not result.get("found"):
            # An approved agreement's document (协议书, issue 13) is checked here too.
            result = await request.app[insurer_desk_key].authenticity(number, code) or result
        html = render_verify_page(result)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


async def short_verify_page(request: web.Request) -> web.Response:
    """The printed short address of a determination (/v/<case id>/<code>, issue 12)."""
    case_id = request.match_info["case_id"].strip().upper()
    code = request.match_info["code"].strip().upper()
    if CASE_ID_RE.match(case_id) and _CODE_RE.match(code):
        result = await request.app[casework_key].authenticity_by_case(case_id, code)
    else:
        result = {"found": False, "number": case_id[:32]}
    html = render_verify_page(result)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


async def service(request: web.Request) -> web.Response:
    """Service hours and area, so the driver page can warn before the questions. The
    report is checked again on the server whatever the page shows."""
    rules = request.app[rules_key]
    now = datetime.now(request.app[zone_key])
    body: dict[str, object] = {
        "always_open": rules.hours is None,
        "open_now": True,
        "today": None,
        "next_open": None,
        "next_open_text": None,
        "weekly": None,
        "area_limited": rules.area is not None,
        "areas": [f.name for f in rules.area.features if f.include] if rules.area else [],
    }
    hours = rules.hours
    if hours is not None:
        opening = hours.next_opening(now)
        is_open = hours.is_open(now)
        body.update(
            open_now=is_open,
            today=hours.describe(now),
            next_open=None if is_open or opening is None else opening.isoformat(),
            next_open_text=(
                None if is_open or opening is None else opening.strftime("%Y-%m-%d %H:%M")
            ),
            weekly={
                day: [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in windows]
                for day, windows in zip(WEEKDAYS, hours.weekly, strict=True)
            },
        )
    return json_response(body)


async def healthz(_request: web.Request) -> web.Response:
    """Liveness for a load balancer or a test harness."""
    return web.Response(text="ok")


def setup_routes(app: web.Application) -> None:
    """Add the public routes."""
    app.router.add_get("/verify", verify_page)
    app.router.add_get("/v/{case_id}/{code}", short_verify_page)
    app.router.add_get("/api/service", service)
    app.router.add_get("/healthz", healthz)
