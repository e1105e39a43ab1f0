"""The parties' progress page, reached by the link in their SMS (no account): the page, its
status, the determination, a review request, and confirming or withdrawing an agreement.

A link opens on the device that reported and on devices that proved the party's number with
a one-time code (:mod:`kuaichu.casework.links`); any other browser gets the code page, and
the JSON routes answer 403 ``device_unverified``. A replaced link (the party's phone was
corrected) gets a "this link was replaced" page and 404 ``link_replaced``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Final
from urllib.parse import parse_qs

from aiohttp import web

from ..appkeys import (
    casework_key,
    center_key,
    insurer_desk_key,
    secure_cookies_key,
    settings_key,
)
from ..casework import PartyLink
from ..casework.links import LinkAccess
from ..errors import Forbidden, InvalidMessage, KuaichuError, NotFound
from ..officer_ui import render_page
from .cases_api import document_response
from .common import json_body, json_response, read_body

_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_DEVICE: Final = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_CODE: Final = re.compile(r"^[0-9]{6}$")
DEVICE_COOKIE: Final = "kc_device"
_DEVICE_DAYS: Final = 90


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise NotFound("this link is not valid")
    return token


def _device(request: web.Request) -> str | None:
    value = request.cookies.get(DEVICE_COOKIE)
    return value if value and _DEVICE.match(value) else None


def _codes_required(request: web.Request) -> bool:
    return request.app[settings_key].progress_link_code


async def _party_link(request: web.Request) -> PartyLink:
    """The party behind the link's token, for a device allowed to open it: the party's only
    credential (404 unknown or replaced, 403 ``device_unverified``)."""
    return await request.app[casework_key].open_link(
        _token(request), _device(request), codes=_codes_required(request)
    )


def _with_device(request: web.Request, response: web.StreamResponse, device: str) -> None:
    """The browser's device cookie: only for the progress pages, never readable by scripts."""
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=_DEVICE_DAYS * 86400,
        path="/p/",
        httponly=True,
        samesite="Lax",
        secure=request.app[secure_cookies_key],
    )


async def progress_page(request: web.Request) -> web.Response:
    """The page itself; an unknown or replaced link gets a page too, not JSON; a device that
    has not proved the number gets the code page."""
    try:
        token = _token(request)
        access = await request.app[casework_key].link_access(token, _device(request))
    except NotFound as exc:
        replaced = exc.detail.get("reason") == "link_replaced"
        return render_page(
            request, "link_invalid.html", {"replaced": replaced}, status=410 if replaced else 404
        )
    if not access.allowed and _codes_required(request):
        return _code_page(request, access.masked_phone, None)
    return render_page(request, "progress.html", {"token": token})


def _code_page(
    request: web.Request, phone: str, message: str | None, status: int = 200
) -> web.Response:
    context: dict[str, Any] = {"token": request.match_info["token"], "phone": phone}
    context["message"] = message
    return render_page(request, "link_code.html", context, status=status)


async def _form_field(request: web.Request, name: str) -> str:
    """One field of a same-site form post (the code page works without scripts)."""
    # Browsers say where a request comes from in Sec-Fetch-Site; with the pages'
    # "Referrer-Policy: no-referrer" a same-site form's Origin is "null", so that is checked
    # only when the browser does not send Sec-Fetch-Site.
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise Forbidden("cross-site request refused")
    elif origin and origin.split("://", 1)[-1] != request.host:
        raise Forbidden("cross-site request refused")
    raw = await read_body(request, 4096, "form too large")
    values = parse_qs(raw.decode("utf-8", "replace"))
    return (values.get(name) or [""])[0].strip()


async def _code_form(request: web.Request, field: str) -> tuple[LinkAccess, str] | web.Response:
    """The link's access and the form's field, or the invalid-link page to answer with."""
    try:
        access = await request.app[casework_key].link_access(_token(request), _device(request))
    except NotFound:
        return render_page(request, "link_invalid.html", {"replaced": False}, status=404)
    return access, await _form_field(request, field)


async def progress_send_code(request: web.Request) -> web.Response:
    """Send a one-time code to the link's number; the code page again, saying so."""
    token = _token(request)
    work = request.app[casework_key]
    found = await _code_form(request, "send")
    if isinstance(found, web.Response):
        return found
    access = found[0]
    try:
        await work.send_link_code(token)
    except KuaichuError as exc:
        return _code_page(request, access.masked_phone, exc.code, status=exc.http_status)
    return _code_page(request, access.masked_phone, "code_sent")


async def progress_verify_code(request: web.Request) -> web.StreamResponse:
    """Check the code; right: the device cookie and on to the page, wrong: the code page."""
    token = _token(request)
    work = request.app[casework_key]
    found = await _code_form(request, "code")
    if isinstance(found, web.Response):
        return found
    access, code = found
    if not _CODE.match(code):
        return _code_page(request, access.masked_phone, "code_wrong", status=400)
    device = _device(request) or secrets.token_urlsafe(32)
    try:
        await work.verify_link_code(token, code, device)
    except KuaichuError as exc:
        reason = str(exc.detail.get("reason") or exc.code)
        return _code_page(request, access.masked_phone, reason, status=exc.http_status)
    response = web.Response(status=303, headers={"Location": f"/p/{token}"})
    _with_device(request, response, device)
    return response


async def progress_claim_device(request: web.Request) -> web.Response:
    """The reporting page hands its report's resume token over: this browser then opens the
    link without a code."""
    token = _token(request)
    data = await json_body(request, "call_id", "resume_token")
    call_id, resume = data.get("call_id"), data.get("resume_token")
    if not isinstance(call_id, str) or not isinstance(resume, str):
        raise InvalidMessage("call_id and resume_token are required")
    call = request.app[center_key].sessions.get(call_id)
    if (
        call is None
        or call.progress_token is None
        or not secrets.compare_digest(call.resume_token.encode(), resume.encode())
        or not secrets.compare_digest(call.progress_token.encode(), token.encode())
    ):
        raise Forbidden("not the reporting device")
    device = _device(request) or secrets.token_urlsafe(32)
    await request.app[casework_key].trust_reporting_device(token, device)
    response = json_response({"trusted": True})
    _with_device(request, response, device)
    return response


async def progress_status(request: web.Request) -> web.Response:
    """The case as this party sees it."""
    link = await _party_link(request)
    return json_response(await request.app[casework_key].party_view(link))


async def progress_document(request: web.Request) -> web.StreamResponse:
    """The latest determination, once one has been issued, as HTML or PDF."""
    link = await _party_link(request)
    work = request.app[casework_key]
    det = await work.party_document(link)
    kind = "pdf" if request.path.endswith(".pdf") else "html"
    return document_response(work, det, kind)


async def progress_review(request: web.Request) -> web.Response:
    """The party asks for the determination to be reviewed."""
    link = await _party_link(request)
    data = await json_body(request, "reason")
    entry = await request.app[casework_key].request_review(link, data.get("reason", ""))
    return json_response({"status": entry.to_state.value})


async def progress_agreement(request: web.Request) -> web.Response:
    """The party confirms or withdraws from the proposed agreement."""
    link = await _party_link(request)
    data = await json_body(request, "action")
    action = data.get("action")
    work = request.app[casework_key]
    if action == "confirm":
        entry = await work.confirm_agreement(link)
    elif action == "withdraw":
        entry = await work.withdraw_agreement(link)
    else:
        raise InvalidMessage("action must be confirm or withdraw", field="action")
    return json_response({"status": entry.to_state.value})


# -- the claim (定损理赔) and the complaint line (issue 13, kuaichu.insurers) ------------------


async def progress_claims(request: web.Request) -> web.Response:
    """The case's claims as this party sees them, and what it may do about them."""
    link = await _party_link(request)
    return json_response(await request.app[insurer_desk_key].party_claims(link))


async def progress_claim(request: web.Request) -> web.Response:
    """The party's 定损理赔 button: the case goes to its parties' insurers."""
    link = await _party_link(request)
    await json_body(request)
    desk = request.app[insurer_desk_key]
    await desk.hand_off_by_party(link)
    return json_response(await desk.party_claims(link))


async def progress_complaint(request: web.Request) -> web.Response:
    """The party complains that the other party's insurer has not acted on the claim."""
    link = await _party_link(request)
    data = await json_body(request, "claim_id", "text")
    desk = request.app[insurer_desk_key]
    return json_response(await desk.file_complaint(link, data.get("claim_id"), data.get("text")))


async def progress_agreement_document(request: web.Request) -> web.StreamResponse:
    """The approved agreement's document (协议书), as HTML or PDF."""
    link = await _party_link(request)
    doc = await request.app[insurer_desk_key].party_agreement_document(link)
    kind = "pdf" if request.path.endswith(".pdf") else "html"
    return document_response(request.app[casework_key], doc, kind)


def setup_routes(app: web.Application) -> None:
    """Add the progress page's routes."""
    r = app.router
    r.add_get("/p/{token}", progress_page)
    r.add_get("/p/{token}/status", progress_status)
    r.add_get("/p/{token}/document", progress_document)
    r.add_get("/p/{token}/document.pdf", progress_document)
    r.add_post("/p/{token}/review", progress_review)
    r.add_post("/p/{token}/agreement", progress_agreement)
    r.add_post("/p/{token}/code", progress_send_code)
    r.add_post("/p/{token}/verify", progress_verify_code)
    r.add_post("/p/{token}/device", progress_claim_device)
    r.add_get("/p/{token}/claims", progress_claims)
    r.add_post("/p/{token}/claim", progress_claim)
    r.add_post("/p/{token}/complaint", progress_complaint)
    r.add_get("/p/{token}/agreement-document", progress_agreement_document)
    r.add_get("/p/{token}/agreement-document.pdf", progress_agreement_document)
