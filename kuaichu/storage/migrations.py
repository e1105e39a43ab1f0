"""Schema versions: create a fresh database at the newest version, upgrade an older one step
by step.

A small runner instead of Alembic: the schema is one module (tables.py) and every change so
far has been additive. A fresh database gets ``create_all`` and is stamped with
:data:`CURRENT`; an existing one runs each migration above its stamped version, in order,
each in its own transaction with the new stamp. A database from before versioning (the call
slice: tables but no ``schema_version``) counts as version 1.

To change the schema: edit tables.py, append a migration here that brings a version
``CURRENT`` database to the new shape (``ALTER TABLE`` for a new column; new tables need only
``create_all`` of themselves), and bump nothing else: ``CURRENT`` is the last migration's
version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from sqlalchemy import Connection, func, insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from .caseindex import backfill
from .tables import (
    agreement_documents,
    api_keys,
    captures,
    case_changes,
    case_files,
    case_index,
    claims,
    complaints,
    determinations,
    link_codes,
    link_devices,
    metadata,
    outbox,
    party_links,
    photo_reports,
    recordings,
    rejoin_links,
    schema_version,
    verifications,
    video_callbacks,
    webhook_attempts,
    webhook_events,
    webhooks,
)

logger = logging.getLogger(__name__)

Migration = Callable[[Connection], None]


def _v2_case_workflow(conn: Connection) -> None:
    # The case workflow (issue 3): new tables only.
    metadata.create_all(
        conn, tables=[case_files, party_links, verifications, determinations, outbox]
    )


def _v3_captures(conn: Connection) -> None:
    # Evidence stills (issue 4).
    metadata.create_all(conn, tables=[captures])


def _v4_link_privacy(conn: Connection) -> None:
    # Progress links that rotate, devices proven by a one-time code, resendable notices
    # (issue 10).
    # A database upgraded from version 1 got these tables from tables.py as they are now.
    for table, column, kind in (
        ("party_links", "revoked_at", "FLOAT"),
        ("outbox", "resent_as", "INTEGER"),
    ):
        if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
    metadata.create_all(conn, tables=[link_devices, link_codes])


def _v5_partial_recordings(conn: Connection) -> None:
    # Recordings cut short by a write error, e.g. a full disk (issue 10): registered, marked.
    if "recordings" not in inspect(conn).get_table_names():
        metadata.create_all(conn, tables=[recordings])  # made as tables.py has it now
        return
    have = {c["name"] for c in inspect(conn).get_columns("recordings")}
    for column, kind in (
        ("partial", "BOOLEAN NOT NULL DEFAULT 0"),
        ("failure", "VARCHAR(32)"),
    ):
        if column not in have:
            conn.execute(text(f"ALTER TABLE recordings ADD COLUMN {column} {kind}"))


def _v6_insurers(conn: Connection) -> None:
    # Insurers (issue 13): an account's insurer, claims, complaints, agreement documents.
    if "insurer" not in {c["name"] for c in inspect(conn).get_columns("officers")}:
        conn.execute(text("ALTER TABLE officers ADD COLUMN insurer VARCHAR(32)"))
    metadata.create_all(conn, tables=[claims, complaints, agreement_documents])


def _v8_photo_reports(conn: Connection) -> None:
    # The photo channel (issue 13): a shot and its EXIF evidence on a capture, photo reports,
    # the officers' video callbacks.
    have = {c["name"] for c in inspect(conn).get_columns("captures")}
    for column, kind in (
        ("shot", "VARCHAR(16)"),
        ("exif_taken_at", "FLOAT"),
        ("exif_time", "VARCHAR(40)"),
        ("exif_lat", "FLOAT"),
        ("exif_lng", "FLOAT"),
    ):
        if column not in have:
            conn.execute(text(f"ALTER TABLE captures ADD COLUMN {column} {kind}"))
    metadata.create_all(conn, tables=[photo_reports, video_callbacks])


def _v7_open_api(conn: Connection) -> None:
    # The insurers' open API (issue 13): keys, webhooks, their outbox and delivery log.
    metadata.create_all(conn, tables=[api_keys, webhooks, webhook_events, webhook_attempts])


def _v10_identity_index(conn: Connection) -> None:
    # The identity index and the change feed's order (issue 13, kuaichu.storage.caseindex),
    # filled from the stored forms and trails.
    metadata.create_all(conn, tables=[case_index, case_changes])
    count = backfill(conn)
    logger.info("identity index: %d case forms indexed", count)


def _v11_officer_badge(conn: Connection) -> None:
    # The officer's badge number (警号, issue 12) for the documents.
    if "badge" not in {c["name"] for c in inspect(conn).get_columns("officers")}:
        conn.execute(text("ALTER TABLE officers ADD COLUMN badge VARCHAR(16)"))


def _v12_rejoin_links(conn: Connection) -> None:
    # Rejoin links (issue 12) outlive a restart: a new table.
    metadata.create_all(conn, tables=[rejoin_links])


MIGRATIONS: Final[tuple[tuple[int, Migration], ...]] = (
    (2, _v2_case_workflow),
    (3, _v3_captures),
    (4, _v4_link_privacy),
    (5, _v5_partial_recordings),
    (6, _v6_insurers),
    (7, _v7_open_api),
    (8, _v8_photo_reports),
    (10, _v10_identity_index),
    (11, _v11_officer_badge),
    (12, _v12_rejoin_links),
)
CURRENT: Final = MIGRATIONS[-1][0]


def _stamped(conn: Connection) -> int | None:
    names = set(inspect(conn).get_table_names())
    if "schema_version" not in names:
        return 1 if "cases" in names else None
    return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 1)


def _applied(conn: Connection) -> set[int]:
    if "schema_version" not in set(inspect(conn).get_table_names()):
        return set()
    return {int(v) for v in conn.execute(select(schema_version.c.version)).scalars()}


def _stamp(conn: Connection, version: int) -> None:
    conn.execute(insert(schema_version).values(version=version, applied_at=time.time()))


async def migrate(engine: AsyncEngine) -> int:
    """Bring the database to :data:`CURRENT`; returns the version found before."""
    async with engine.begin() as conn:
        found = await conn.run_sync(_stamped)
        if found is None:
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(_stamp, CURRENT)
            logger.info("created the database schema (version %d)", CURRENT)
            return 0
        if found == 1:
            await conn.run_sync(lambda c: metadata.create_all(c, tables=[schema_version]))
        applied = await conn.run_sync(_applied)
    # Versions are assigned per piece of work and can land out of order (6 after 7 and 8):
    # one numbered below the newest stamp still runs if this database was first stamped
    # before it and never ran it. Every migration checks what exists, so none runs twice.
    first = min(applied, default=found)
    for version, step in MIGRATIONS:
        if version <= found and (version in applied or version <= first):
            continue
        async with engine.begin() as conn:
            await conn.run_sync(step)
            await conn.run_sync(_stamp, version)
        logger.info("upgraded the database schema to version %d", version)
    if found > CURRENT:
        logger.warning(
            "the database schema (version %d) is newer than this program (%d)", found, CURRENT
        )
    return found
