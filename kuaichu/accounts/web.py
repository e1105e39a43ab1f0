"""Logging in and out over HTTP: the session cookie, the login/logout routes, and
:func:`current_officer` for every other edge (the API guards, the pages, socket.io)."""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from ..appkeys import accounts_key, secure_cookies_key
from .model import Officer
from .passwords import LoginBusy
from .throttle import TooManyAttempts

logger = logging.getLogger(__name__)

COOKIE: Final = "kuaichu_session"
_MAX_LOGIN_BYTES: Final = 4096


def token_from_cookie_header(header: str | None) -> str | None:
    """The session token in a raw ``Cookie`` header (socket.io hands us the WSGI environ)."""
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is simply "not logged in"
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


async def current_officer(request: web.Request) -> Officer | None:
    """The officer logged in with this request's session cookie, or None."""
    return await request.app[accounts_key].officer_for_token(request.cookies.get(COOKIE))


def safe_next(value: Any, default: str = "/console") -> str:
    """A post-login redirect target that stays on this site: never an open redirect
    (no scheme, no host, no ``//host``, no backslash tricks)."""
    nxt = str(value or default)
    parts = urlsplit(nxt)
    if (
        parts.scheme
        or parts.netloc
        or not nxt.startswith("/")
        or nxt.startswith("//")
        or "\\" in nxt
    ):
        return default
    return nxt[:200]


def _see_other(location: str) -> web.Response:
    # A plain 303 response: returning an HTTPSeeOther instance is deprecated in aiohttp.
    return web.Response(status=303, headers={"Location": location})


def _login_page(
    request: web.Request,
    error: str,
    nxt: str,
    status: int,
    retry_after: int | None = None,
    username: str = "",
) -> web.Response:
    """The form again with the reason; ``username`` keeps the name typed (issue 12)."""
    context = {"error": error, "next": nxt, "username": username}
    response = aiohttp_jinja2.render_template("login.html", request, context)
    response.set_status(status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def login_post(request: web.Request) -> web.StreamResponse:
    """Check the form's username and password; on success set the session cookie."""
    if request.content_length is not None and request.content_length > _MAX_LOGIN_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=_MAX_LOGIN_BYTES, actual_size=request.content_length
        )
    accounts = request.app[accounts_key]
    address = accounts.throttle.client_address(
        request.remote, request.headers.get("X-Forwarded-For")
    )
    nxt = safe_next(None)  # until the form is read
    try:
        # A locked-out address is refused before its form is read: a flood costs little.
        accounts.throttle.check_address(address)
        form = await request.post()
        username = str(form.get("username", ""))[:64].strip()
        password = str(form.get("password", ""))[:256]
        nxt = safe_next(form.get("next"))
        officer = await accounts.authenticate(username, password, address)
    except (TooManyAttempts, LoginBusy) as exc:
        # Refused before any hashing; not logged per attempt (a storm would flood the log:
        # the throttle logs each lock once).
        return _login_page(request, exc.code, nxt, exc.http_status, exc.retry_after)
    if officer is None:
        # Not the typed name: people type their password into the name field.
        logger.info("failed login from %s", address)
        return _login_page(request, "bad_credentials", nxt, 401, username=username)
    token = await accounts.open_session(officer)
    logger.info("officer %s logged in", officer.username)
    response = _see_other(nxt)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.app[secure_cookies_key],
        path="/",
        max_age=int(accounts.session_seconds),
    )
    return response


async def logout_post(request: web.Request) -> web.StreamResponse:
    """End this session and drop its cookie."""
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[accounts_key].close_session(token)
    response = _see_other("/login")
    response.del_cookie(COOKIE, path="/")
    return response


def setup_routes(app: web.Application, secure_cookies: bool) -> None:
    """Login routes. The Accounts service itself is put under ``accounts_key`` at start-up,
    once the database is open."""
    app[secure_cookies_key] = secure_cookies
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout_post)
