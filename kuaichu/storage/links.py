"""Queries of the parties' progress links beyond minting and resolving them
(:class:`~.casefiles.CaseStore`): revoking a party's links, the devices allowed to open them,
and the one-time codes that admit a new device.

Only hashes are stored: of a link's token, of a device's cookie, of a code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .tables import link_codes, link_devices, party_links


def secret_hash(secret: str) -> str:
    """What is stored of a device cookie or a one-time code: its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """A progress link as stored: whose it is, the number it went to, whether it was
    replaced."""

    case_id: str
    party: str
    phone: str | None
    revoked: bool


@dataclass(frozen=True)
class LinkCode:
    """The live one-time code of a party (the newest row)."""

    id: int
    phone: str
    code_hash: str
    created_at: float
    expires_at: float
    failures: int
    next_try_at: float
    used_at: float | None


class LinkStore:
    """Progress links' revocation, trusted devices and one-time codes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def link(self, token_hash: str) -> Link | None:
        """The link behind a token's hash, revoked or not (``None`` if unknown)."""
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(party_links).where(party_links.c.token_hash == token_hash)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return Link(row["case_id"], row["party"], row["phone"], row["revoked_at"] is not None)

    async def revoke(self, conn: AsyncConnection, case_id: str, party: str, at: float) -> int:
        """Inside the caller's transaction: every live link of the party stops working."""
        done = await conn.execute(
            update(party_links)
            .where(
                party_links.c.case_id == case_id,
                party_links.c.party == party,
                party_links.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        return int(done.rowcount or 0)

    async def trusted(self, device_hash: str, case_id: str, party: str, phone: str | None) -> bool:
        """Whether this device may open the party's links: it reported the case, or it
        entered a code sent to ``phone`` (the number the party's links now go to)."""
        async with self.engine.connect() as conn:
            row = await conn.execute(
                select(link_devices.c.id)
                .where(
                    link_devices.c.device_hash == device_hash,
                    link_devices.c.case_id == case_id,
                    link_devices.c.party == party,
                    or_(link_devices.c.phone.is_(None), link_devices.c.phone == phone),
                )
                .limit(1)
            )
            return row.first() is not None

    async def trust(
        self, device_hash: str, case_id: str, party: str, phone: str | None, at: float
    ) -> None:
        """Admit a device to the party's links (``phone=None``: the reporting device)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(link_devices).values(
                    device_hash=device_hash,
                    case_id=case_id,
                    party=party,
                    phone=phone,
                    created_at=at,
                )
            )

    async def latest_code(self, case_id: str, party: str) -> LinkCode | None:
        """The party's newest code, used or not."""
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(link_codes)
                        .where(and_(link_codes.c.case_id == case_id, link_codes.c.party == party))
                        .order_by(link_codes.c.id.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return LinkCode(
            id=row["id"],
            phone=row["phone"],
            code_hash=row["code_hash"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            failures=row["failures"],
            next_try_at=row["next_try_at"],
            used_at=row["used_at"],
        )

    async def add_code(
        self,
        conn: AsyncConnection,
        case_id: str,
        party: str,
        phone: str,
        code_hash: str,
        at: float,
        expires_at: float,
    ) -> int:
        """Inside the caller's transaction (the code's SMS goes in the same one)."""
        result = await conn.execute(
            insert(link_codes).values(
                case_id=case_id,
                party=party,
                phone=phone,
                code_hash=code_hash,
                created_at=at,
                expires_at=expires_at,
                failures=0,
                next_try_at=0.0,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    async def code_failed(self, code_id: int, failures: int, next_try_at: float) -> None:
        """A wrong code was entered."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(link_codes)
                .where(link_codes.c.id == code_id)
                .values(failures=failures, next_try_at=next_try_at)
            )

    async def code_used(self, code_id: int, at: float) -> bool:
        """Mark the code used; ``False`` if another request used it first."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(link_codes)
                .where(link_codes.c.id == code_id, link_codes.c.used_at.is_(None))
                .values(used_at=at)
            )
            return bool(done.rowcount == 1)
