"""What every HTTP edge shares: the JSON body reader (also the CSRF guard), the JSON
response, and the validators of the ids in a route's path."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from aiohttp import web

from ..calls.ids import CALL_ID_RE
from ..cases.ids import CASE_ID_RE
from ..errors import Forbidden, InvalidMessage, MessageTooLarge, NotFound

MAX_JSON_BYTES: Final = 64 * 1024
# Deeper than any body we accept (a form is three levels), far below Python's recursion limit.
MAX_JSON_DEPTH: Final = 16
# How much of a body is taken from the socket at a time: what is buffered never exceeds the
# limit by more than this.
_READ_CHUNK: Final = 64 * 1024
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# The shape of a call id (a socket.io payload's call_id is checked against the same shape).
_PARTY: Final = re.compile(r"^[A-F]$")


def case_id_of(request: web.Request) -> str:
    """The ``{case_id}`` of the path; a malformed one is a case that does not exist."""
    case_id = request.match_info["case_id"]
    if not CASE_ID_RE.match(case_id):
        raise NotFound("no such case")
    return case_id


def is_call_id(value: str) -> bool:
    """Whether ``value`` has the shape of a call id."""
    return CALL_ID_RE.match(value) is not None


def party_of(data: dict[str, Any]) -> str:
    """The ``party`` field of a request body: a party key, A to F."""
    party = data.get("party")
    if not isinstance(party, str) or not _PARTY.match(party):
        raise InvalidMessage("party must be a party key (A–F)", field="party")
    return party


async def read_body(request: web.Request, limit: int, too_large: str) -> bytes:
    """The whole body, read to its end (a body arrives in as many pieces as the client sent),
    refused with ``too_large`` as soon as it is known to exceed ``limit``: by its declared
    length before anything is read, else by what has arrived, never holding more than the
    limit and one piece."""
    if request.content_length is not None and request.content_length > limit:
        raise MessageTooLarge(too_large)
    pieces: list[bytes] = []
    size = 0
    while True:
        piece = await request.content.read(min(_READ_CHUNK, limit + 1 - size))
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > limit:
            raise MessageTooLarge(too_large)
        pieces.append(piece)


def _check_json(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse decoded JSON nested more than ``limit`` arrays/objects deep, or holding text
    with a lone surrogate (JSON's ``\\ud800`` escape makes one: it is not Unicode text, and
    any ``encode()`` of it raises), naming where. Walked without recursion, so a hostile
    shape cannot exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                where = path or "the body"
                raise InvalidMessage(
                    f"{where} holds text with a lone surrogate (not valid Unicode)",
                    field=where,
                )
        elif isinstance(item, dict | list):
            if depth > limit:
                raise InvalidMessage(f"the body nests deeper than {limit} levels")
            if isinstance(item, list):
                stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
                continue
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if _SURROGATE.search(key):
                    raise InvalidMessage(
                        "a field name holds a lone surrogate (not valid Unicode)",
                        field=path or "the body",
                    )
                stack.append((child, name[:200], depth + 1))


def parse_json(raw: bytes) -> Any:
    """Decoded JSON, or InvalidMessage: not UTF-8 JSON, nested deeper than
    ``MAX_JSON_DEPTH`` (the decoder's own recursion limit would otherwise be a 500), or
    holding a lone surrogate."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise InvalidMessage(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidMessage("the body is not valid JSON") from None
    _check_json(data)
    return data


async def json_body(request: web.Request, *allowed: str) -> dict[str, Any]:
    """A JSON object body, at most 64 KiB, with only the named fields.

    Requiring ``application/json`` is also the CSRF guard for the cookie-authenticated
    routes: a cross-site form cannot send it without a CORS preflight, which we never grant;
    an ``Origin`` header from another site is refused outright."""
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:
        raise Forbidden("cross-site request refused")
    if request.content_type != "application/json":
        raise InvalidMessage("send a JSON object (Content-Type: application/json)")
    raw = await read_body(request, MAX_JSON_BYTES, f"request body exceeds {MAX_JSON_BYTES} bytes")
    data = parse_json(raw or b"{}")
    if not isinstance(data, dict):
        raise InvalidMessage("the body must be a JSON object")
    extra = sorted(str(k)[:40] for k in set(data) - set(allowed))
    if extra:
        raise InvalidMessage(f"unexpected field(s): {', '.join(extra[:5])}")
    return data


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON answer that no cache keeps, with Chinese text left readable."""
    return web.json_response(
        data,
        status=status,
        headers={"Cache-Control": "no-store"},
        dumps=lambda v: json.dumps(v, ensure_ascii=False),
    )
