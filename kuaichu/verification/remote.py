"""The registry over HTTP: a client for a real upstream, and the same API served from any
:class:`~kuaichu.verification.model.Registry`.

The API (docs/verification.md has the full description)::

    POST {base}/verify      Authorization: Bearer TOKEN
    {"name": "张三", "licence_no": "110105199001011232", "plate": "京A·12345",
     "accident_date": "2025-05-01"}
    -> 200 {"items": [{"item": "licence", "status": "valid", "reason": null,
                       "detail": {...}, "source": "local"}, ...],
            "checked_at": "2025-05-01T10:00:00+00:00"}
    -> 400 / 401 {"code": "...", "message": "..."}
    GET {base}/healthz -> 200 {"status": "ok", "registry": "local"}

:class:`RemoteRegistry` never raises for upstream trouble. Each attempt has its own timeout;
connection errors, timeouts, 429 and 5xx are retried with exponential back-off and jitter, all
within one overall deadline; any other status and any malformed answer are final. When it
gives up, every item is UNAVAILABLE with ``upstream_timeout`` (the last attempt timed out) or
``upstream_error``. Log lines carry the attempt, the status and the error class, never the
party's name, ID number or plate, and never the URL (it may carry credentials).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import time
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

import aiohttp
from aiohttp import web

from kuaichu.errors import InvalidMessage, KuaichuError, NotAuthenticated

from .model import PartyFacts, Reason, Registry, VerificationResult, unavailable

logger = logging.getLogger(__name__)

SOURCE: Final = "upstream"
MAX_RESPONSE: Final = 256 * 1024
MAX_REQUEST: Final = 16 * 1024


class _Failure(Exception):
    def __init__(
        self, reason: Reason, retry: bool, what: str, http_status: int | None = None
    ) -> None:
        super().__init__(what)
        self.reason = reason
        self.retry = retry
        self.what = what  # for the log line: "timeout", "HTTP 503", "ClientConnectorError"
        self.http_status = http_status


class RemoteRegistry:
    """A :class:`Registry` over HTTP. Owns its :class:`aiohttp.ClientSession` (created on
    first use, inside the running loop) and closes it in :meth:`close`.

    ``timeout`` bounds each attempt (connect, send, and reading the whole answer);
    ``retries`` is the number of attempts after the first; ``deadline`` bounds the whole
    check, back-off included (default ``timeout * (retries + 1)``), so an officer never waits
    longer than that for the UNAVAILABLE verdict."""

    name = "upstream"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 3.0,
        retries: int = 2,
        token: str | None = None,
        deadline: float | None = None,
        backoff: float = 0.2,
    ) -> None:
        if timeout <= 0 or retries < 0:
            raise ValueError("timeout must be positive and retries not negative")
        self.url = base_url.rstrip("/") + "/verify"
        self.timeout = timeout
        self.retries = retries
        self.deadline = deadline if deadline is not None else timeout * (retries + 1)
        self.backoff = backoff
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None
        self._rng = random.Random()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def verify(self, facts: PartyFacts) -> VerificationResult:
        started = time.monotonic()
        end = started + self.deadline
        attempts = self.retries + 1
        last = _Failure(Reason.UPSTREAM_TIMEOUT, True, "deadline")
        made = 0
        for attempt in range(1, attempts + 1):
            remaining = end - time.monotonic()
            if remaining <= 0.001:
                break
            made = attempt
            try:
                result = await self._attempt(facts, min(self.timeout, remaining))
            except _Failure as failure:
                last = failure
                logger.warning(
                    "registry upstream attempt %d/%d failed: %s (%.2f s)",
                    attempt,
                    attempts,
                    failure.what,
                    time.monotonic() - started,
                )
                if not failure.retry:
                    break
            else:
                if attempt > 1:
                    logger.info("registry upstream answered on attempt %d", attempt)
                return result
            if attempt < attempts:
                # Exponential back-off with jitter, so a recovering upstream is not hit by
                # every waiting call at the same instant; never past the deadline.
                pause = self.backoff * 2 ** (attempt - 1) * (0.5 + self._rng.random())
                pause = min(pause, end - time.monotonic())
                if pause > 0:
                    await asyncio.sleep(pause)
        logger.error(
            "registry upstream unavailable after %d attempt(s): %s", made, last.reason.value
        )
        detail: dict[str, Any] = {"attempts": made}
        if last.http_status is not None:
            detail["http_status"] = last.http_status
        return unavailable(last.reason, SOURCE, datetime.now(UTC), **detail)

    async def _attempt(self, facts: PartyFacts, limit: float) -> VerificationResult:
        try:
            async with asyncio.timeout(limit):
                async with self._client().post(self.url, json=facts.to_dict()) as resp:
                    status = resp.status
                    if status == 429 or status >= 500:
                        raise _Failure(Reason.UPSTREAM_ERROR, True, f"HTTP {status}", status)
                    if status != 200:
                        raise _Failure(Reason.UPSTREAM_ERROR, False, f"HTTP {status}", status)
                    body = await _read_answer(resp)
        except TimeoutError:
            raise _Failure(Reason.UPSTREAM_TIMEOUT, True, f"timeout after {limit:.2f} s") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise _Failure(Reason.UPSTREAM_ERROR, True, type(exc).__name__) from None
        except aiohttp.ClientError as exc:
            raise _Failure(Reason.UPSTREAM_ERROR, False, type(exc).__name__) from None
        try:
            result = VerificationResult.from_dict(json.loads(body))
        except RecursionError:
            raise _Failure(
                Reason.UPSTREAM_ERROR, False, "malformed response: nested too deep", 200
            ) from None
        except (ValueError, InvalidMessage) as exc:
            # ValueError covers bad UTF-8 and bad JSON; the message says which rule failed
            # and never echoes the content.
            what = exc.message if isinstance(exc, InvalidMessage) else "not JSON"
            raise _Failure(
                Reason.UPSTREAM_ERROR, False, f"malformed response: {what}", 200
            ) from None
        # From the officer's side the verdict came from upstream, whatever the upstream
        # calls its own store.
        return replace(result, items=tuple(replace(r, source=SOURCE) for r in result.items))


async def _read_answer(resp: aiohttp.ClientResponse) -> bytes:
    """The whole answer, however many pieces it came in; an answer over ``MAX_RESPONSE``
    (declared or as it arrives) is final, and no more of it than that is held."""
    if resp.content_length is not None and resp.content_length > MAX_RESPONSE:
        raise _Failure(Reason.UPSTREAM_ERROR, False, "response too large", 200)
    body = bytearray()
    async for piece in resp.content.iter_any():
        body += piece
        if len(body) > MAX_RESPONSE:
            raise _Failure(Reason.UPSTREAM_ERROR, False, "response too large", 200)
    return bytes(body)


# -- the API served from any registry -----------------------------------------------------

REGISTRY_KEY: Final = web.AppKey("registry", Registry)
TOKEN_KEY: Final = web.AppKey("registry_token", str)

_json = partial(web.json_response, dumps=partial(json.dumps, ensure_ascii=False))


def _error(exc: KuaichuError) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return _json(exc.as_dict(), status=exc.http_status, headers=headers)


async def _verify(request: web.Request) -> web.Response:
    token = request.app[TOKEN_KEY]
    if token:
        # Header text may hold any character, surrogates included (aiohttp keeps undecodable
        # bytes that way): compared as bytes that always encode, so no header makes this raise.
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            return _error(NotAuthenticated("a valid bearer token is required"))
    try:
        raw = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _error(InvalidMessage("the body must be a JSON object"))
    try:
        facts = PartyFacts.from_dict(raw)
    except InvalidMessage as exc:
        return _error(exc)
    result = await request.app[REGISTRY_KEY].verify(facts)
    return _json(result.to_dict())


async def _health(request: web.Request) -> web.Response:
    return _json({"status": "ok", "registry": request.app[REGISTRY_KEY].name})


def make_registry_app(registry: Registry, token: str | None = None) -> web.Application:
    """The registry HTTP API over ``registry``: a stand-in upstream an operator can run
    (``registry serve``), and the real :class:`LocalRegistry` behind real HTTP in tests. The
    caller owns ``registry`` and closes it."""
    app = web.Application(client_max_size=MAX_REQUEST)
    app[REGISTRY_KEY] = registry
    app[TOKEN_KEY] = token or ""
    app.router.add_post("/verify", _verify)
    app.router.add_get("/healthz", _health)
    return app
