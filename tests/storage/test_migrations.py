"""Schema migrations (moved from tests/cases/test_form.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


async def test_a_database_from_before_versions_is_upgraded(tmp_path: Path) -> None:
    from kuaichu.storage.db import create_schema, make_engine
    from kuaichu.storage.migrations import CURRENT, MIGRATIONS
    from kuaichu.storage.tables import calls, case_audit, cases, metadata, officers

    path = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:  # the call slice's schema, no version table
        await conn.run_sync(
            lambda c: metadata.create_all(c, tables=[officers, cases, calls, case_audit])
        )
    await create_schema(engine)
    await create_schema(engine)  # idempotent
    await engine.dispose()
    db = sqlite3.connect(path)
    names = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert {"case_files", "outbox", "determinations", "party_links"} <= names
    # Version 1 (the call slice) is implied; each migration after it stamped its version.
    # (Versions are assigned per piece of work: one may not have landed yet.)
    stamped = [r[0] for r in db.execute("select version from schema_version order by version")]
    assert stamped == [version for version, _step in MIGRATIONS]
    assert stamped[-1] == CURRENT
    assert "captures" in names


async def test_a_migration_that_landed_below_the_stamp_still_runs(tmp_path: Path) -> None:
    # A database made at version 5 and upgraded to 7 and 8 before migration 6 existed
    # (issue 13's versions landed out of order): 6 runs on the next start, once.
    from sqlalchemy import delete, text

    from kuaichu.storage.db import create_schema, make_engine
    from kuaichu.storage.tables import agreement_documents, claims, complaints, schema_version

    path = tmp_path / "gap.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)  # fresh: everything, stamped CURRENT
    async with engine.begin() as conn:
        await conn.execute(delete(schema_version))
        for version in (5, 7, 8):
            await conn.execute(schema_version.insert().values(version=version, applied_at=0.0))
        await conn.run_sync(
            lambda c: [t.drop(c) for t in (complaints, agreement_documents, claims)]
        )
        await conn.execute(text("ALTER TABLE officers DROP COLUMN insurer"))
    await create_schema(engine)
    await create_schema(engine)
    await engine.dispose()
    db = sqlite3.connect(path)
    names = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert {"claims", "complaints", "agreement_documents"} <= names
    assert "insurer" in {r[1] for r in db.execute("pragma table_info(officers)")}
    stamped = [r[0] for r in db.execute("select version from schema_version order by version")]
    assert stamped[:4] == [5, 6, 7, 8]

