"""Evidence over HTTP: the case's stills and their annotations, call recordings, the driver
page's photo upload, the check of a case's evidence folder, and the server's public key."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from ..accounts.guards import require_officer
from ..accounts.model import Officer
from ..appkeys import call_capture_key, captures_key, casework_key, server_key_key, settings_key
from ..errors import NotAuthenticated, NotFound
from ..evidence.captures import CaptureView
from ..evidence.manifest.verify import verify_case_folder
from ..evidence.plate_check import plate_check
from ..evidence.stills import MAX_STILL_BYTES
from .common import case_id_of, is_call_id, json_body, json_response, read_body


async def _capture_for(request: web.Request, officer: Officer) -> CaptureView:
    """The still named in the path, if the officer may see its case."""
    match = re.fullmatch(r"(\d{1,9})(\.jpg)?", request.match_info["capture"])
    if match is None:
        raise NotFound("no such capture")
    view = await request.app[captures_key].get(int(match.group(1)))
    await request.app[casework_key].authorize(officer, view["case_id"])
    return view


@require_officer
async def get_capture_file(request: web.Request, officer: Officer) -> web.StreamResponse:
    """A still's JPEG."""
    view = await _capture_for(request, officer)
    path = request.app[captures_key].file(view)
    if not path.is_file():
        raise NotFound("the file is missing")
    return web.FileResponse(
        path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=3600"}
    )


@require_officer
async def put_annotation(request: web.Request, officer: Officer) -> web.Response:
    """Replace a still's damage rectangles and note."""
    view = await _capture_for(request, officer)
    data = await json_body(request, "regions", "note")
    updated = await request.app[captures_key].annotate(
        view["id"], officer.id, data.get("regions", []), data.get("note", "")
    )
    return json_response(updated)


@require_officer
async def list_captures(request: web.Request, officer: Officer) -> web.Response:
    """A case's stills, each plate checked against the plates in the form."""
    case_id = case_id_of(request)
    parties = await request.app[casework_key].parties(officer, case_id)  # authorizes
    views = await request.app[captures_key].for_case(case_id)
    for view in views:
        if view["plate"]:
            view["plate_check"] = plate_check(view["plate"], parties)
    return json_response({"captures": views})


@require_officer
async def get_recording(request: web.Request, officer: Officer) -> web.StreamResponse:
    """A call's recording for the console's player (range requests for seeking)."""
    call_id = request.match_info["call_id"]
    if not is_call_id(call_id):
        raise NotFound("no recording for this call")
    found = await request.app[casework_key].recording(officer, call_id)  # authorizes
    # FileResponse answers 404 itself if the file has gone.
    path = Path(found["path"])
    kind = "video/mp4" if path.suffix == ".mp4" else "video/x-matroska"
    return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "private"})


async def post_still(request: web.Request) -> web.Response:
    """The driver page's photo upload: the body is the image, the call's resume token (the
    page's session for this call) is the ``X-Call-Token`` header. No officer session. Only
    the answer to an open request of the officer's is taken; the body is read whole."""
    call_id = request.match_info["call_id"]
    if not is_call_id(call_id):
        raise NotFound("no such call")
    token = request.headers.get("X-Call-Token", "")
    kind = request.query.get("kind", "")
    if not token or len(token) > 64:
        raise NotAuthenticated("the call's token is missing")
    capture = request.app[call_capture_key]
    # Refused before the body is read: a wrong token, or a photo nobody asked for.
    capture.expect_still(call_id, token, kind)
    data = await read_body(
        request, MAX_STILL_BYTES, f"a photo may have at most {MAX_STILL_BYTES} bytes"
    )
    view = await capture.phone_still(call_id, token, kind, data)
    return json_response(
        {"id": view["id"], "sha256": view["sha256"], "kind": view["kind"]}, status=201
    )


@require_officer
async def evidence_verification(request: web.Request, officer: Officer) -> web.Response:
    """Check a case's evidence folder against its signed manifest (docs/evidence-manifest.md)."""
    case_id = case_id_of(request)
    await request.app[casework_key].authorize(officer, case_id)
    key = request.app[server_key_key]
    folder = request.app[settings_key].recordings_path / case_id
    report = await asyncio.to_thread(verify_case_folder, folder, key.public_key)
    body = {**report.to_dict(), "case_id": case_id, "key_id": key.key_id}
    del body["case_dir"]  # server paths stay on the server
    return json_response(body)


async def public_key(request: web.Request) -> web.Response:
    """The server's Ed25519 public key: anyone holding an evidence folder can check its
    manifest's signatures against it."""
    key = request.app[server_key_key]
    return web.Response(
        text=key.public_key_pem,
        content_type="application/x-pem-file",
        headers={"X-Key-Id": key.key_id},
    )


def setup_routes(app: web.Application) -> None:
    """Add the evidence routes."""
    r = app.router
    r.add_get("/api/cases/{case_id}/captures", list_captures)
    r.add_get("/api/captures/{capture}", get_capture_file)
    r.add_put("/api/captures/{capture}/annotation", put_annotation)
    r.add_post("/api/calls/{call_id}/stills", post_still)
    r.add_get("/api/calls/{call_id}/recording", get_recording)
    r.add_get("/api/cases/{case_id}/evidence/verify", evidence_verification)
    r.add_get("/api/keys/evidence.pem", public_key)
