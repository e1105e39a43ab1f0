"""Migration 8 (the photo channel) brings a version-7 database to the new shape, keeping the
stills it had."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kuaichu.storage.db import create_schema, make_engine

NEW_COLUMNS = ("shot", "exif_taken_at", "exif_time", "exif_lat", "exif_lng")


async def test_a_version_7_database_gets_the_photo_tables_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "v7.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    await engine.dispose()
    # Back to the shape of version 7: without what migration 8 adds, one still stored.
    db = sqlite3.connect(path)
    db.execute("pragma foreign_keys = off")
    for table in ("photo_reports", "video_callbacks"):
        db.execute(f"drop table {table}")
    db.execute("drop index if exists ix_photo_reports_status")
    for column in NEW_COLUMNS:
        db.execute(f"alter table captures drop column {column}")
    db.execute(
        "insert into captures (case_id, call_id, kind, source, path, sha256, width, height,"
        " captured_at, regions, note) values ('KC1', 'c1', 'plate', 'video_frame', 'KC1/a.jpg',"
        " 'ab', 1, 1, 0, '[]', '')"
    )
    db.execute("delete from schema_version where version > 7")
    db.commit()
    db.close()

    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    await engine.dispose()
    db = sqlite3.connect(path)
    names = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert {"photo_reports", "video_callbacks"} <= names
    columns = [r[1] for r in db.execute("pragma table_info(captures)")]
    assert set(NEW_COLUMNS) <= set(columns)
    assert db.execute("select kind, shot, exif_lat from captures").fetchall() == [
        ("plate", None, None)
    ]
    assert db.execute("select max(version) from schema_version").fetchone()[0] >= 8
