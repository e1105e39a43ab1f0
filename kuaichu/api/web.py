"""The open API's HTTP edge: /api/v1/*, authenticated by an insurer's API key.

Every handler is thin: the key (``Authorization: Bearer``) is checked by :func:`require_key`,
each parameter is read by a typed, bounded reader below, and one :class:`~.service.OpenApi`
method answers. Errors are the application's JSON errors (``{"error": {"code", "message"}}``,
codes from :mod:`kuaichu.errors`), as the OpenAPI document (:mod:`.openapi`) declares them.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from aiohttp import web

from ..appkeys import api_keys_key, open_api_key
from ..errors import InvalidMessage, NotFound
from ..web.common import case_id_of, json_body, json_response
from .docs import docs_css, render_docs
from .keys import ApiKey
from .openapi import openapi_document
from .service import FileToSend

PREFIX: Final = "/api/v1"
_R = TypeVar("_R", bound=web.StreamResponse)
KeyHandler = Callable[[web.Request, ApiKey], Awaitable[_R]]
_INT: Final = re.compile(r"^[0-9]{1,9}$")


def require_key(handler: KeyHandler[_R]) -> Callable[[web.Request], Awaitable[_R]]:
    """A handler for an insurer's system: 401 without a valid, unrevoked key."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> _R:
        key = await request.app[api_keys_key].authenticate(request.headers.get("Authorization"))
        return await handler(request, key)

    return guarded


def only_params(request: web.Request, *names: str) -> None:
    """Refuse a query parameter the operation does not take (a typo must not pass silently)."""
    unknown = sorted({k[:40] for k in request.query} - set(names))
    if unknown:
        raise InvalidMessage(f"unknown query parameter(s): {', '.join(unknown[:5])}")


def int_param(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    """An integer query parameter within [low, high]; 400 naming it otherwise."""
    raw = request.query.getall(name, [])
    if not raw:
        return default
    if len(raw) > 1 or not _INT.match(raw[0]) or not low <= int(raw[0]) <= high:
        raise InvalidMessage(f"{name} must be one integer from {low} to {high}", field=name)
    return int(raw[0])


def str_param(request: web.Request, name: str, limit: int) -> str | None:
    raw = request.query.getall(name, [])
    if not raw:
        return None
    if len(raw) > 1 or not 0 < len(raw[0]) <= limit:
        raise InvalidMessage(f"{name} must be one value of 1 to {limit} characters", field=name)
    return raw[0]


def _int_path(request: web.Request, name: str, high: int) -> int:
    raw = request.match_info[name]
    if not _INT.match(raw) or not 1 <= int(raw) <= high:
        raise NotFound(f"no such {name}")
    return int(raw)


def _file(found: FileToSend) -> web.FileResponse:
    """The file, streamed, with its SHA-256 in two headers: ``X-Content-SHA256`` (hex) and
    RFC 9530's ``Repr-Digest``. FileResponse answers 404 itself if the file has gone."""
    digest = base64.b64encode(bytes.fromhex(found.sha256)).decode()
    return web.FileResponse(
        found.path,
        headers={
            "Content-Type": found.content_type,
            "Content-Disposition": f'attachment; filename="{found.name}"',
            "X-Content-SHA256": found.sha256,
            "Repr-Digest": f"sha-256=:{digest}:",
            "Cache-Control": "no-store",
        },
    )


@require_key
async def list_changes(request: web.Request, key: ApiKey) -> web.Response:
    only_params(request, "limit", "cursor")
    limit = int_param(request, "limit", 50, 1, 200)
    assert limit is not None
    cursor = str_param(request, "cursor", 200)
    return json_response(await request.app[open_api_key].changes(key, cursor, limit))


@require_key
async def get_case(request: web.Request, key: ApiKey) -> web.Response:
    only_params(request)
    return json_response(await request.app[open_api_key].case(key, case_id_of(request)))


@require_key
async def get_determination(request: web.Request, key: ApiKey) -> web.FileResponse:
    only_params(request, "version")
    version = int_param(request, "version", None, 1, 1000)
    api = request.app[open_api_key]
    return _file(await api.determination_pdf(key, case_id_of(request), version))


@require_key
async def get_agreement(request: web.Request, key: ApiKey) -> web.FileResponse:
    only_params(request, "version")
    version = int_param(request, "version", None, 1, 1000)
    api = request.app[open_api_key]
    return _file(await api.agreement_pdf(key, case_id_of(request), version))


@require_key
async def list_evidence(request: web.Request, key: ApiKey) -> web.Response:
    only_params(request)
    items = await request.app[open_api_key].evidence(key, case_id_of(request))
    return json_response({"evidence": items})


@require_key
async def get_evidence(request: web.Request, key: ApiKey) -> web.FileResponse:
    only_params(request)
    seq = _int_path(request, "seq", 1_000_000)
    return _file(await request.app[open_api_key].evidence_file(key, case_id_of(request), seq))


@require_key
async def get_manifest(request: web.Request, key: ApiKey) -> web.FileResponse:
    only_params(request)
    path = await request.app[open_api_key].manifest(key, case_id_of(request))
    return web.FileResponse(
        path, headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-store"}
    )


@require_key
async def post_claim(request: web.Request, key: ApiKey) -> web.Response:
    only_params(request)
    case_id = case_id_of(request)
    body = await json_body(request, "status", "amount", "reason", "assessor")
    return json_response(await request.app[open_api_key].update_claim(key, case_id, body))


async def get_openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


async def get_docs(request: web.Request) -> web.Response:
    return web.Response(
        text=render_docs(openapi_document()),
        content_type="text/html",
        charset="utf-8",
    )


async def get_docs_css(request: web.Request) -> web.Response:
    return web.Response(
        text=docs_css(), content_type="text/css", headers={"Cache-Control": "max-age=3600"}
    )


def routes() -> list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]]:
    """(method, path, handler) of every route, for setup and for the document's test."""
    p = PREFIX
    return [
        ("GET", f"{p}/openapi.json", get_openapi),
        ("GET", f"{p}/docs", get_docs),
        ("GET", f"{p}/docs.css", get_docs_css),
        ("GET", f"{p}/cases", list_changes),
        ("GET", f"{p}/cases/{{case_id}}", get_case),
        ("GET", f"{p}/cases/{{case_id}}/determination.pdf", get_determination),
        ("GET", f"{p}/cases/{{case_id}}/agreement.pdf", get_agreement),
        ("GET", f"{p}/cases/{{case_id}}/evidence", list_evidence),
        ("GET", f"{p}/cases/{{case_id}}/evidence/{{seq}}", get_evidence),
        ("GET", f"{p}/cases/{{case_id}}/manifest", get_manifest),
        ("POST", f"{p}/cases/{{case_id}}/claim", post_claim),
    ]


_HTTP_CODES: Final = {404: "not_found", 405: "method_not_allowed"}


@web.middleware
async def api_http_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Under /api/v1 an unknown path or method is a JSON error too (aiohttp's own answers
    are text): a client parses one error shape, whatever went wrong."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith(PREFIX + "/") or exc.status not in _HTTP_CODES:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        return web.json_response(
            {"error": {"code": _HTTP_CODES[exc.status], "message": exc.reason}},
            status=exc.status,
            headers=headers,
        )


def setup_routes(app: web.Application) -> None:
    for method, path, handler in routes():
        app.router.add_route(method, path, handler)
    app.middlewares.append(api_http_errors)
