"""The photo channel over HTTP (docs/protocol.md, "Photo reports").

The driver page (no session; the report's token in ``X-Report-Token`` is its credential):

- ``GET /api/photo-reports/availability``: whether video works now, and if not why
- ``POST /api/photo-reports``: a new report (eligibility answers, location, mobile number,
  the page's own reason if any); answers the report id, its token and the progress link,
  and trusts this browser for the progress link (no one-time code needed here)
- ``PUT /api/photo-reports/{call_id}/photo?shot=<shot>``: one photo, the body is the image;
  read to its end and bounded, refused before reading with a wrong token or an unknown shot
- ``POST /api/photo-reports/{call_id}/submit``: every shot is in: leave the scene

``{call_id}`` is the report's id (its one ``calls`` row).

The officers: ``GET /api/photo-reports`` (the queue),
``POST /api/cases/{case_id}/photo-report/take`` and
``POST /api/cases/{case_id}/photo-report/callback`` (an SMS link that opens the driver page
straight into a video call of the case: kuaichu.photoreports.callbacks).
"""

from __future__ import annotations

import secrets
from typing import Final

from aiohttp import web

from ..accounts.guards import require_officer
from ..accounts.model import Officer
from ..appkeys import casework_key, photo_reports_key
from ..errors import InvalidMessage, NotAuthenticated, NotFound
from ..signaling.schemas import parse_eligibility, parse_location
from ..web.common import case_id_of, is_call_id, json_body, json_response, read_body

# The progress pages' device cookie: the reporting browser opens its link without a code.
from ..web.progress import _device as device_cookie
from ..web.progress import _with_device as set_device_cookie
from .model import normalise_mobile
from .upload import MAX_PHOTO_BYTES

_TOKEN_HEADER: Final = "X-Report-Token"
_TOO_LARGE: Final = f"a photo may have at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB"


def _report_id(request: web.Request) -> str:
    call_id = request.match_info["call_id"]
    if not is_call_id(call_id):
        raise NotFound("no such photo report")
    return call_id


def _token(request: web.Request) -> str:
    token = request.headers.get(_TOKEN_HEADER, "")
    if not token or len(token) > 64:
        raise NotAuthenticated("the report's token is missing")
    return token


async def availability(request: web.Request) -> web.Response:
    return json_response(request.app[photo_reports_key].availability())


async def create_report(request: web.Request) -> web.Response:
    data = await json_body(request, "eligibility", "location", "phone", "reason")
    if "eligibility" not in data:
        raise InvalidMessage("eligibility is required", field="eligibility")
    answers = parse_eligibility(data["eligibility"])
    location = parse_location(data["location"]) if data.get("location") is not None else None
    phone = normalise_mobile(data.get("phone"))
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidMessage("reason must be text", field="reason")
    made = await request.app[photo_reports_key].report(answers, location, phone, reason)
    device = device_cookie(request) or secrets.token_urlsafe(32)
    await request.app[casework_key].trust_reporting_device(made.progress_token, device)
    response = json_response(
        {
            "report_id": made.call_id,
            "case_id": made.case_id,
            "token": made.token,
            "progress_url": f"/p/{made.progress_token}",
        },
        status=201,
    )
    set_device_cookie(request, response, device)
    return response


async def put_photo(request: web.Request) -> web.Response:
    token = _token(request)
    call_id = _report_id(request)
    reports = request.app[photo_reports_key]
    shot = reports.check_upload(request.query.get("shot", ""))
    # Refused before the body is read: a wrong token, a report already sent.
    await reports.authorize_upload(call_id, token)
    data = await read_body(request, MAX_PHOTO_BYTES, _TOO_LARGE)
    view = await reports.photo(call_id, token, shot, data)
    return json_response(
        {
            "id": view["id"],
            "shot": view["shot"],
            "kind": view["kind"],
            "sha256": view["sha256"],
            "width": view["width"],
            "height": view["height"],
            "plate": view["plate"]["plate"] if view["plate"] else None,
            "exif": {
                "taken_at": view["exif_taken_at"],
                "time": view["exif_time"],
                "lat": view["exif_lat"],
                "lng": view["exif_lng"],
            },
        },
        status=201,
    )


async def submit(request: web.Request) -> web.Response:
    token = _token(request)
    call_id = _report_id(request)
    await json_body(request)
    return json_response(await request.app[photo_reports_key].submit(call_id, token))


@require_officer
async def photo_queue(request: web.Request, officer: Officer) -> web.Response:
    return json_response({"reports": await request.app[photo_reports_key].queue(officer)})


@require_officer
async def callback(request: web.Request, officer: Officer) -> web.Response:
    case_id = case_id_of(request)
    await json_body(request)
    return json_response(await request.app[photo_reports_key].callback(officer, case_id))


@require_officer
async def take(request: web.Request, officer: Officer) -> web.Response:
    case_id = case_id_of(request)
    await json_body(request)
    return json_response(await request.app[photo_reports_key].take(officer, case_id))


def setup_routes(app: web.Application) -> None:
    """Add the photo channel's routes."""
    r = app.router
    r.add_get("/api/photo-reports/availability", availability)
    r.add_post("/api/photo-reports", create_report)
    r.add_get("/api/photo-reports", photo_queue)
    r.add_put("/api/photo-reports/{call_id}/photo", put_photo)
    r.add_post("/api/photo-reports/{call_id}/submit", submit)
    r.add_post("/api/cases/{case_id}/photo-report/take", take)
    r.add_post("/api/cases/{case_id}/photo-report/callback", callback)
