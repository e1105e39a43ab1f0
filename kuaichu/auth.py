"""Officer accounts, password hashing and login sessions.

Passwords are hashed with Argon2id. A login sets an opaque random cookie; the database keeps
only its SHA-256, so a copied database does not hand out live sessions.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .errors import Conflict, InvalidMessage
from .storage.db import Database
from .storage.tables import officers, sessions

logger = logging.getLogger(__name__)

COOKIE = "kuaichu_session"
ROLES = ("officer", "supervisor")
_hasher = PasswordHasher()
# Verifying against a dummy hash when the user does not exist keeps the timing of a wrong
# username the same as a wrong password.
_DUMMY_HASH = _hasher.hash("kuaichu-dummy-password")


@dataclass(frozen=True)
class Officer:
    id: int
    username: str
    display_name: str
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


async def _hash(password: str) -> str:
    # Argon2 costs tens of milliseconds of CPU on purpose: on the event loop that would
    # stall every bridged call's media for the length of a login.
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _validate_username(username: str) -> str:
    username = username.strip()
    if not (2 <= len(username) <= 64) or not all(c.isalnum() or c in "._-" for c in username):
        raise InvalidMessage("username must be 2-64 letters, digits, '.', '_' or '-'")
    return username


class Accounts:
    def __init__(self, db: Database, session_seconds: float) -> None:
        self.db = db
        self.session_seconds = session_seconds

    async def add_officer(
        self, username: str, password: str, display_name: str = "", role: str = "officer"
    ) -> Officer:
        username = _validate_username(username)
        if role not in ROLES:
            raise InvalidMessage(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise InvalidMessage("password must have at least 8 characters")
        display = (display_name or username).strip()[:64]
        password_hash = await _hash(password)
        try:
            async with self.db.engine.begin() as conn:
                result = await conn.execute(
                    insert(officers).values(
                        username=username,
                        display_name=display,
                        password_hash=password_hash,
                        role=role,
                        created_at=time.time(),
                        disabled=0,
                    )
                )
                officer_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        except IntegrityError:
            raise Conflict(f"officer {username!r} already exists") from None
        return Officer(officer_id, username, display, role)

    async def set_password(self, username: str, password: str) -> None:
        if len(password) < 8:
            raise InvalidMessage("password must have at least 8 characters")
        password_hash = await _hash(password)
        async with self.db.engine.begin() as conn:
            res = await conn.execute(
                update(officers)
                .where(officers.c.username == username)
                .values(password_hash=password_hash)
            )
            if res.rowcount == 0:
                raise InvalidMessage(f"no officer {username!r}")
            # A password change logs the officer out everywhere.
            oid = (
                await conn.execute(select(officers.c.id).where(officers.c.username == username))
            ).scalar_one()
            await conn.execute(delete(sessions).where(sessions.c.officer_id == oid))

    async def list_officers(self) -> list[Officer]:
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(officers).order_by(officers.c.username))).mappings()
            return [Officer(r["id"], r["username"], r["display_name"], r["role"]) for r in rows]

    async def authenticate(self, username: str, password: str) -> Officer | None:
        async with self.db.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(officers).where(
                            officers.c.username == username, officers.c.disabled == 0
                        )
                    )
                )
                .mappings()
                .first()
            )
        stored = row["password_hash"] if row else _DUMMY_HASH
        if not await asyncio.to_thread(_verify, stored, password):
            return None
        if row is None:
            return None
        return Officer(row["id"], row["username"], row["display_name"], row["role"])

    async def open_session(self, officer: Officer) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.expires_at < now))
            await conn.execute(
                insert(sessions).values(
                    token_hash=_token_hash(token),
                    officer_id=officer.id,
                    created_at=now,
                    expires_at=now + self.session_seconds,
                )
            )
        return token

    async def close_session(self, token: str) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))

    async def officer_for_token(self, token: str | None) -> Officer | None:
        if not token or len(token) > 128:
            return None
        async with self.db.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(officers)
                        .join(sessions, sessions.c.officer_id == officers.c.id)
                        .where(
                            sessions.c.token_hash == _token_hash(token),
                            sessions.c.expires_at > time.time(),
                            officers.c.disabled == 0,
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return Officer(row["id"], row["username"], row["display_name"], row["role"])


from .appkeys import accounts_key, secure_cookies_key  # noqa: E402


def token_from_cookie_header(header: str | None) -> str | None:
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


async def login_post(request: web.Request) -> web.StreamResponse:
    if request.content_length is not None and request.content_length > 4096:
        raise web.HTTPRequestEntityTooLarge(max_size=4096, actual_size=request.content_length)
    form = await request.post()
    username = str(form.get("username", ""))[:64].strip()
    password = str(form.get("password", ""))[:256]
    nxt = safe_next(form.get("next"))
    officer = await request.app[accounts_key].authenticate(username, password)
    if officer is None:
        logger.info("failed login for %r from %s", username, request.remote)
        response = aiohttp_jinja2.render_template(
            "login.html", request, {"error": "bad_credentials", "next": nxt}
        )
        response.set_status(401)
        return response
    token = await request.app[accounts_key].open_session(officer)
    logger.info("officer %s logged in", officer.username)
    response = web.HTTPSeeOther(nxt)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.app[secure_cookies_key],
        path="/",
        max_age=int(request.app[accounts_key].session_seconds),
    )
    return response


async def logout_post(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[accounts_key].close_session(token)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    return response


def setup_routes(app: web.Application, secure_cookies: bool) -> None:
    """Login routes. The Accounts service itself is put under ``accounts_key`` at start-up,
    once the database is open."""
    app[secure_cookies_key] = secure_cookies
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout_post)
