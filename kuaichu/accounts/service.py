"""The Accounts service: officer accounts with Argon2id password hashes, and login sessions.

A login opens a session under an opaque random token; the database keeps only the token's
SHA-256, so a copied database does not hand out live sessions.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..clock import SystemClock
from ..errors import Conflict, InvalidMessage
from ..storage.db import Database
from ..storage.tables import officers, sessions
from .model import Officer, Role
from .passwords import PasswordPool
from .throttle import LoginPolicy, LoginThrottle

ROLES = tuple(role.value for role in Role)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _validate_username(username: str) -> str:
    username = username.strip()
    if not (2 <= len(username) <= 64) or not all(c.isalnum() or c in "._-" for c in username):
        raise InvalidMessage("username must be 2-64 letters, digits, '.', '_' or '-'")
    return username


def _officer(row: RowMapping) -> Officer:
    return Officer(
        row["id"],
        row["username"],
        row["display_name"],
        Role(row["role"]),
        row["insurer"],
        row["badge"],
    )


def validate_badge(badge: str | None) -> str | None:
    """A badge number (警号) as printed: 2-16 ASCII letters or digits; None or blank: none."""
    if badge is None or not badge.strip():
        return None
    badge = badge.strip().upper()
    if not (2 <= len(badge) <= 16 and badge.isascii() and badge.isalnum()):
        raise InvalidMessage("badge must be 2-16 letters or digits", field="badge")
    return badge


class Accounts:
    """Officer accounts and their sessions, over the application's database."""

    def __init__(
        self,
        db: Database,
        session_seconds: float,
        *,
        throttle: LoginThrottle | None = None,
        passwords: PasswordPool | None = None,
    ) -> None:
        self.db = db
        self.session_seconds = session_seconds
        self.throttle = throttle or LoginThrottle(LoginPolicy(), SystemClock())
        self.passwords = passwords or PasswordPool()

    @property
    def hashes(self) -> int:
        """How many Argon2 computations logins and password changes have cost so far."""
        return self.passwords.hashes

    def close(self) -> None:
        """Stop the hashing thread (at shutdown)."""
        self.passwords.close()

    async def add_officer(
        self,
        username: str,
        password: str,
        display_name: str = "",
        role: str = Role.OFFICER,
        insurer: str | None = None,
        badge: str | None = None,
    ) -> Officer:
        """Create an account; refuses a bad username, a short password or a taken name. An
        insurer's account (role ``insurer``) names its insurer's code, which the caller has
        checked against the configured insurers; no other role has one."""
        username = _validate_username(username)
        if role not in ROLES:
            raise InvalidMessage(f"role must be one of {', '.join(ROLES)}")
        if (role == Role.INSURER) != bool(insurer):
            raise InvalidMessage("an insurer account, and only one, needs --insurer CODE")
        if len(password) < 8:
            raise InvalidMessage("password must have at least 8 characters")
        display = (display_name or username).strip()[:64]
        badge = validate_badge(badge)
        if badge is not None and role == Role.INSURER:
            raise InvalidMessage("an insurer account has no badge number", field="badge")
        password_hash = await self.passwords.hash(password)
        try:
            async with self.db.engine.begin() as conn:
                result = await conn.execute(
                    insert(officers).values(
                        username=username,
                        display_name=display,
                        password_hash=password_hash,
                        role=Role(role).value,
                        created_at=time.time(),
                        disabled=0,
                        insurer=insurer or None,
                        badge=badge,
                    )
                )
                officer_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        except IntegrityError:
            raise Conflict(f"officer {username!r} already exists") from None
        return Officer(officer_id, username, display, Role(role), insurer or None, badge)

    async def set_badge(self, username: str, badge: str | None) -> None:
        """Set (or, with None/blank, clear) an officer's badge number."""
        value = validate_badge(badge)
        async with self.db.engine.begin() as conn:
            res = await conn.execute(
                update(officers)
                .where(officers.c.username == username, officers.c.role != Role.INSURER.value)
                .values(badge=value)
            )
            if res.rowcount == 0:
                raise InvalidMessage(f"no police officer {username!r}")

    async def set_password(self, username: str, password: str) -> None:
        """Change a password; this ends every session of that officer."""
        if len(password) < 8:
            raise InvalidMessage("password must have at least 8 characters")
        password_hash = await self.passwords.hash(password)
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
        """Every account, by username."""
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(officers).order_by(officers.c.username))).mappings()
            return [_officer(r) for r in rows]

    async def authenticate(self, username: str, password: str, address: str) -> Officer | None:
        """The enabled officer with this username and password, or None.

        Throttled per account and per client ``address`` first: a refused attempt raises
        :class:`~kuaichu.accounts.throttle.TooManyAttempts` and costs no hashing; a full
        hashing queue raises :class:`~kuaichu.accounts.passwords.LoginBusy`. An unknown
        username is verified against a dummy hash in the same pool, so it costs the same."""
        attempt = self.throttle.admit(username, address)
        ok = False
        tried = False
        try:
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
            stored = row["password_hash"] if row else None
            ok = await self.passwords.verify(stored, password) and row is not None
            tried = True
        finally:
            if ok:
                self.throttle.succeeded(attempt)
            elif tried:
                self.throttle.failed(attempt)
            else:  # not checked (pool full, database error, cancelled): count nothing
                self.throttle.cancelled(attempt)
        if not ok or row is None:
            return None
        return _officer(row)

    async def open_session(self, officer: Officer) -> str:
        """A new session token for the officer (expired sessions are swept on the way)."""
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
        """End the session with this token (logout)."""
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))

    async def officer_for_token(self, token: str | None) -> Officer | None:
        """The enabled officer whose unexpired session has this token, or None."""
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
        return _officer(row)
