"""Schema migrations (moved from tests/cases/test_form.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


async def test_a_database_from_before_versions_is_upgraded(tmp_path: Path) -> None:
    from kuaichu.storage.db import create_schema, make_engine
    from kuaichu.storage.migrations import CURRENT
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
    stamped = [r[0] for r in db.execute("select version from schema_version order by version")]
    assert stamped == list(range(2, CURRENT + 1))
    assert "captures" in names
