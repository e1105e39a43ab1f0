"""Insurers' API keys: created, listed and revoked by the administrator's command
(``python server.py apikey create --insurer picc``), presented as ``Authorization: Bearer``.

A token is 32 random bytes (``kc_`` + URL-safe base64); only its SHA-256 is stored, so a
leaked database holds no usable key, and the token is shown once, at creation. A key belongs
to one insurer; a revoked key stays listed (who had access when) and is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import InvalidMessage, NotAuthenticated, NotFound
from ..insurers.model import InsurerDirectory
from ..storage.tables import api_keys

logger = logging.getLogger(__name__)

TOKEN_PREFIX: Final = "kc_"
# kc_ + 43 characters of base64url: anything else is refused before hashing.
_TOKEN: Final = re.compile(r"^kc_[A-Za-z0-9_-]{43}$")
MAX_LABEL: Final = 100
# How often a key's last use is written (every request would make each read a write).
_TOUCH_EVERY: Final = 60.0


def token_hash(token: str) -> str:
    """What is stored of a key: the SHA-256 of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A key as listed (never the token)."""

    id: int
    insurer: str
    label: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def actor(self) -> str:
        """The audit trail's actor for reads made with this key."""
        return f"api:{self.insurer}:{self.id}"


class ApiKeys:
    """The keys table: create, list, revoke, and the check of a presented token."""

    def __init__(self, engine: AsyncEngine, insurers: InsurerDirectory) -> None:
        self.engine = engine
        self.insurers = insurers

    async def create(self, insurer: str, label: str = "") -> tuple[ApiKey, str]:
        """A new key for ``insurer`` (a configured code); returns it and its token, which
        is not stored and cannot be shown again."""
        self.insurers.require(insurer)
        label = label.strip()
        if len(label) > MAX_LABEL:
            raise InvalidMessage(f"a label has at most {MAX_LABEL} characters", field="label")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(api_keys).values(
                    insurer=insurer, token_hash=token_hash(token), label=label, created_at=now
                )
            )
            key = result.inserted_primary_key
            assert key is not None
        logger.info("API key %d created for insurer %s", key[0], insurer)
        return ApiKey(int(key[0]), insurer, label, now, None, None), token

    async def list(self, insurer: str | None = None) -> list[ApiKey]:
        """Every key (of one insurer), oldest first, revoked ones included."""
        query = select(api_keys).order_by(api_keys.c.id)
        if insurer is not None:
            query = query.where(api_keys.c.insurer == insurer)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            ApiKey(
                r["id"], r["insurer"], r["label"], r["created_at"], r["revoked_at"],
                r["last_used_at"],
            )
            for r in rows
        ]

    async def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key (at once: the next request with it is refused). Revoking a revoked
        key keeps its first revocation time."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        found = [k for k in await self.list() if k.id == key_id]
        if not found:
            raise NotFound(f"no API key {key_id}")
        logger.info("API key %d of insurer %s revoked", key_id, found[0].insurer)
        return found[0]

    async def authenticate(self, authorization: str | None) -> ApiKey:
        """The key of an ``Authorization: Bearer <token>`` header, or NotAuthenticated
        (missing, malformed, unknown, revoked, or of an insurer no longer configured)."""
        if not authorization or not authorization.startswith("Bearer "):
            raise NotAuthenticated("send an API key: Authorization: Bearer <key>")
        token = authorization[len("Bearer ") :].strip()
        if not _TOKEN.match(token):
            raise NotAuthenticated("the API key is not valid")
        digest = token_hash(token)
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(api_keys).where(api_keys.c.token_hash == digest)))
                .mappings()
                .first()
            )
        # The lookup is by hash (an index); the compare is constant-time all the same.
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            raise NotAuthenticated("the API key is not valid")
        if row["revoked_at"] is not None:
            logger.info("revoked API key %d of %s refused", row["id"], row["insurer"])
            raise NotAuthenticated("this API key has been revoked", reason="revoked")
        if self.insurers.get(row["insurer"]) is None:
            raise NotAuthenticated("this API key's insurer is no longer configured")
        now = time.time()
        if row["last_used_at"] is None or now - row["last_used_at"] > _TOUCH_EVERY:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(api_keys).where(api_keys.c.id == row["id"]).values(last_used_at=now)
                )
        return ApiKey(
            row["id"], row["insurer"], row["label"], row["created_at"], None, now
        )
